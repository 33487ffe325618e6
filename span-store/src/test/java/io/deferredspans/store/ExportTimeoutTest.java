package io.deferredspans.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.deferredspans.otlp.json.ReceivedSpan;
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Exports that do not end in an answer: a collector that hangs (keeps what it was sent, answers after the
 * exporter's timeout), and a span that no exporter took within the store's acknowledgement timeout. Counted on
 * the OTLP wire, real exporter to the project's receiver.
 */
class ExportTimeoutTest implements StoreTestHelpers {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final Duration HANG = Duration.ofSeconds(30);
  private static final Duration EXPORTER_TIMEOUT = Duration.ofSeconds(2);
  @RegisterExtension static final StoreServers SERVERS = new StoreServers("export-timeout");

  private final OtlpTestReceiver receiver = SERVERS.receiver();

  @Override
  public StoreServers servers() {
    return SERVERS;
  }

  /** Counts the spans a host's batch processor handed to its real exporter, so a workload can pace itself. */
  private static final class CountingExporter implements SpanExporter {
    final SpanExporter delegate;
    final AtomicInteger spans = new AtomicInteger();

    CountingExporter(SpanExporter delegate) {
      this.delegate = delegate;
    }

    @Override
    public CompletableResultCode export(Collection<SpanData> batch) {
      spans.addAndGet(batch.size());
      return delegate.export(batch);
    }

    @Override
    public CompletableResultCode flush() {
      return delegate.flush();
    }

    @Override
    public CompletableResultCode shutdown() {
      return delegate.shutdown();
    }
  }

  /** The OTLP/HTTP exporter as a host would configure it (its retries on), with a short timeout. */
  private SpanExporter realExporter() {
    return OtlpHttpSpanExporter.builder().setEndpoint(receiver.httpEndpoint()).setTimeout(EXPORTER_TIMEOUT).build();
  }

  private Map<String, Long> copiesBySpanId() {
    return receiver.spans().stream().collect(Collectors.groupingBy(ReceivedSpan::spanId, Collectors.counting()));
  }

  // ---------------------------------------------------------------- a hung collector (issue 15 §3)

  /**
   * A collector hangs for 30 s while a host keeps ending spans: every batch sent meanwhile times out at the
   * exporter, although the collector keeps it. Such a span may arrive twice (OTLP is at-least-once), but no more:
   * nothing re-sends it while the collector still hangs. Before the fix the host handed every timed-out span to
   * recovery at once, which sent it into the same hang and then again after its backoff: 3 copies.
   */
  @Test
  void hungCollectorGetsAtMostTwoCopiesOfASpan() throws Exception {
    CountingExporter endersExporter = new CountingExporter(realExporter());
    TestHost ender = host("ender", endersExporter, UnaryOperator.identity(), Duration.ofMillis(20));
    TestHost recoverer = host("recoverer", realExporter(), UnaryOperator.identity(), Duration.ofMillis(20));
    // Recovery as a host runs it by default; the claim-vanished events drive it, not its scan interval.
    DeferredSpanRecovery recovery = SERVERS.closeAfterTest(DeferredSpanRecovery.builder(recoverer.store).build());
    recovery.start();
    await().atMost(WAIT).until(recovery::hasLeadership);

    List<String> keys = new ArrayList<>();
    for (int i = 0; i < 400; i++) {
      keys.add("hang-" + i);
      enqueue(recoverer, "hang-" + i);
    }
    AtomicInteger next = new AtomicInteger();
    Runnable round = () -> {
      // Ten ends, then wait until the batch processor handed them to the exporter: during the hang that is
      // once the previous batch timed out, so the workload runs at the pace a blocked pipeline allows.
      try {
        for (int i = 0; i < 10; i++) {
          assertEquals(EndResult.Outcome.ENDED, dequeue(ender, keys.get(next.getAndIncrement())).getOutcome());
        }
      } catch (Exception e) {
        throw new AssertionError(e);
      }
      await().atMost(WAIT).until(() -> endersExporter.spans.get() >= next.get());
    };
    for (int i = 0; i < 3; i++) {
      round.run();
    }
    receiver.hang(HANG);
    while (receiver.isHung()) {
      round.run();
    }
    for (int i = 0; i < 3; i++) {
      round.run(); // the collector answers again
    }
    await().atMost(Duration.ofMinutes(3)).until(() -> ender.storedFinishedSpans() == 0);
    ender.flush();
    recoverer.flush();

    Map<String, Long> copies = copiesBySpanId();
    Set<String> sentDuringHang =
        receiver.spansReceivedWhileHung().stream().map(ReceivedSpan::spanId).collect(Collectors.toSet());
    long duplicatesOfHung = sentDuringHang.stream().mapToLong(id -> copies.get(id) - 1).sum();
    long maxCopies = copies.values().stream().mapToLong(Long::longValue).max().orElse(0);
    System.out.printf("fault: hung-collector hang=%ds exporter-timeout=%ds ended=%d on-wire=%d distinct=%d "
        + "sent-during-hang=%d duplicates-of-those=%d (%.2f per span sent during the hang) max-copies=%d "
        + "timed-out-exports=%d%n", HANG.toSeconds(), EXPORTER_TIMEOUT.toSeconds(), next.get(), receiver.spans().size(),
        copies.size(), sentDuringHang.size(), duplicatesOfHung,
        sentDuringHang.isEmpty() ? 0.0 : (double) duplicatesOfHung / sentDuringHang.size(), maxCopies,
        ender.store.stats().exportsTimedOut() + recoverer.store.stats().exportsTimedOut());
    assertEquals(next.get(), copies.size(), "every ended span reached the collector");
    assertThat(sentDuringHang).as("the hang caught some batches").isNotEmpty();
    assertThat(ender.store.stats().exportsTimedOut()).as("the real exporter's timeouts, told from refusals")
        .isPositive();
    assertThat(maxCopies).as("copies of one span").isLessThanOrEqualTo(2);
    copies.forEach((id, n) -> {
      if (!sentDuringHang.contains(id)) {
        assertEquals(1, n, id + " was never sent into the hang");
      }
    });
  }

  /** A host that ends one span into a hang and nothing after it: no answer ever proves the collector back. */
  private String endOneIntoAHang(TestHost ender, TestHost other) throws Exception {
    DeferredSpanRecord record = enqueue(other, "lone");
    receiver.holdReplies();
    assertEquals(EndResult.Outcome.ENDED, dequeue(ender, "lone").getOutcome());
    await().atMost(WAIT).until(() -> ender.store.stats().exportsTimedOut() == 1);
    return ender.store.core().layout().endedPath(record.getSpanContext().getSpanId());
  }

  @Test
  void timedOutSpanGoesBackToRecoveryAfterTheBackoffWhenNoAnswerComesSooner() throws Exception {
    TestHost ender = host("lone-ender", realExporter(),
        options -> options.timedOutExportBackoff(Duration.ofSeconds(3)), Duration.ofMillis(20));
    TestHost other = host("other", realExporter(), UnaryOperator.identity(), Duration.ofMillis(20));
    String endedPath = endOneIntoAHang(ender, other);

    await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(2))
        .until(() -> ender.heldForExport(endedPath)); // kept: the collector may have it
    await().atMost(WAIT).until(() -> !ender.heldForExport(endedPath)); // then handed back
    assertEquals(1, ender.store.stats().exportFailed());
    receiver.releaseReplies();
  }

  @Test
  void shutdownHandsATimedOutSpanBackAtOnce() throws Exception {
    TestHost ender = host("leaving", realExporter(),
        options -> options.timedOutExportBackoff(Duration.ofHours(1)), Duration.ofMillis(20));
    TestHost other = host("other", realExporter(), UnaryOperator.identity(), Duration.ofMillis(20));
    String endedPath = endOneIntoAHang(ender, other);

    assertThat(ender.store.shutdown().join(WAIT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS).isSuccess())
        .as("settled: the claim went back, not held for the hour").isTrue();
    assertThat(other.heldForExport(endedPath)).isFalse();
    receiver.releaseReplies();
  }

  // ---------------------------------------------------------------- the acknowledgement timeout (issue 15 §2.13)

  /**
   * A span that is only slow to reach the exporter (its batch processor still queues it, it did not drop it) is
   * handed to recovery by the acknowledgement timeout: from then on it is recovery's to export. Before the fix,
   * the queue later sent it as well, past the fence and counted nowhere: two copies.
   */
  @Test
  void spanStillQueuedAtTheAcknowledgementTimeoutIsNotExportedAgainByItsHost() throws Exception {
    // Five minutes between batches: the span is still queued when the acknowledgement timeout passes.
    TestHost ender = host("slow-queue", TestHost.httpExporter(receiver.httpEndpoint()),
        options -> options.acknowledgementTimeout(Duration.ofMillis(300)), Duration.ofMinutes(5));
    TestHost other = host("other", TestHost.httpExporter(receiver.httpEndpoint()), UnaryOperator.identity(),
        Duration.ofMillis(20));
    DeferredSpanRecord record = enqueue(other, "queued");
    assertEquals(EndResult.Outcome.ENDED, dequeue(ender, "queued").getOutcome());
    String endedPath = ender.store.core().layout().endedPath(record.getSpanContext().getSpanId());
    await().atMost(WAIT).until(() -> !ender.heldForExport(endedPath)); // handed to recovery

    DeferredSpanRecovery recovery = SERVERS.closeAfterTest(
        DeferredSpanRecovery.builder(other.store).gracePeriod(Duration.ZERO).build());
    await().atMost(WAIT).until(() -> {
      recovery.scanNow();
      return other.storedFinishedSpans() == 0;
    });
    other.flush();
    assertEquals(1, receiver.awaitSpans(1, WAIT).size(), "recovery exported it");

    ender.flush(); // the queue reaches the exporter at last
    assertEquals(1, receiver.spans().size(), "the queued copy was not sent");
    assertEquals(0, ender.store.stats().exportAcknowledged());
    assertEquals(1, ender.store.stats().exportFailed());
  }
}
