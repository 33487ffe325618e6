package io.deferredspans.store;

import static io.deferredspans.store.RecoveryFixture.TICK;
import static io.deferredspans.store.RecoveryFixture.WAIT;
import static io.deferredspans.store.RecoveryFixture.onlyEndedPath;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.FinishedDeferredSpan;
import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import io.deferredspans.sdk.internal.DeferredTracingUtil;
import io.deferredspans.otlp.json.ReceivedSpan;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link FinishedSpanRecovery}: unclaimed finished spans claimed and exported, with backoff across leaders and
 * the bounded backlog, against a real ZooKeeper and counted on the OTLP wire (issue 15, sections 2 and 3: each
 * test here failed on the code before the fix it names).
 */
class FinishedSpanRecoveryTest {
  @RegisterExtension static final StoreServers SERVERS = new StoreServers("finished-span-recovery");

  private final OtlpTestReceiver receiver = SERVERS.receiver();
  private final RecoveryFixture fixture = new RecoveryFixture(SERVERS);

  // ---------------------------------------------------------------- 2.3 a newer format is left where it is

  @Test
  void finishedSpanOfANewerFormatVersionIsLeftWhereItIsNotQuarantined() throws Exception {
    TestHost host = fixture.host("host");
    DeferredSpanRecord record = host.tracing.spanBuilder("FromANewerHost").setNoParent().begin();
    FinishedDeferredSpan finished = DeferredTracingUtil.finish(host.tracing, record, DeferredSpanEnding.now());
    byte[] newer = new String(DeferredSpanRecordCodec.encode(finished), StandardCharsets.UTF_8)
        .replaceFirst("\"v\":1", "\"v\":2").getBytes(StandardCharsets.UTF_8);
    String endedPath = host.store.core().layout().endedPath(record.getSpanContext().getSpanId());
    host.client.create().creatingParentsIfNeeded().forPath(endedPath, newer); // unclaimed: its host is gone
    DeferredSpanRecovery recovery = fixture.recovery(host, UnaryOperator.identity());

    for (int scan = 0; scan < 3; scan++) {
      recovery.scanNow();
    }

    assertNotNull(host.client.checkExists().forPath(endedPath), "left for a host that reads version 2");
    assertThat(host.client.getChildren().forPath(host.store.core().layout().quarantineRoot())).isEmpty();
    await().atMost(WAIT).until(() -> !host.heldForExport(endedPath));
    assertEquals(0, host.store.stats().quarantined());
  }

  // ---------------------------------------------------------------- 2.8 the retention bound, as spans arrive

  /** A leading recovery worker on {@code host} that retains at most 10 finished spans, its first scan done. */
  private DeferredSpanRecovery leaderBoundTo10(TestHost host) throws Exception {
    DeferredSpanRecovery recovery = fixture.recovery(host, options -> options.maxRetainedSpans(10)
        .scanInterval(Duration.ofHours(1)).fullScanInterval(Duration.ofDays(1)));
    recovery.start();
    await().atMost(WAIT).until(recovery::hasLeadership);
    recovery.tick(); // the full scan a new leader starts with, out of the way
    return recovery;
  }

  /**
   * A span a Java end wrote has no claim child: its ender's session holds it through its token and liveness
   * node. The bound must still never drop it while that session lives (it would be lost: its ender exports it
   * from memory and then finds nothing to remove, and nobody exports it again if the export fails).
   */
  @Test
  void retentionBoundNeverDropsSpansTheirEndersSessionStillHolds() throws Exception {
    TestHost ender = holdingEnder();
    TestHost other = fixture.host("other");
    DeferredSpanRecovery recovery = leaderBoundTo10(other);
    for (int i = 0; i < 30; i++) {
      endHeld(ender, other, "held-" + i);
    }

    recovery.tick(); // enforces the bound over the 30 the watch reported
    await().during(Duration.ofSeconds(1)).atMost(WAIT).until(() -> ender.storedFinishedSpans() == 30);
    assertEquals(0, other.store.stats().droppedAtBound());
    assertEquals(0, recovery.scanNow().dropped(), "a full scan does not drop them either");
  }

  /**
   * Another writer (an operator's {@code deleteall}, a hostile client) deletes a live session's liveness node.
   * Recovery takes what the session held, which its host exports too: that window is the lost session's. But the
   * session must create its node again before it ends more, or recovery takes, and exports a second time, every
   * span it ends for the rest of its life (10 of 10 below, before the fix).
   */
  @Test
  void aLivenessNodeDeletedByAnotherWriterIsCreatedAgainBeforeTheSessionEndsMore() throws Exception {
    TestHost ender = holdingEnder();
    TestHost other = fixture.host("other");
    DeferredSpanRecovery recovery = leaderBoundTo10(other);
    List<String> before = List.of(endHeld(ender, other, "before"));
    String live = ender.store.core().layout().livePath(ender.client.getZookeeperClient().getZooKeeper()
        .getSessionId());

    other.client.delete().forPath(live);
    receiver.awaitSpans(1, WAIT); // recovery took the span the session held
    // The session's next request (every end's first step) creates its node again once it heard of the delete.
    await().atMost(Duration.ofSeconds(10)).until(() -> {
      ender.store.core().sessions().current();
      return other.client.checkExists().forPath(live) != null;
    });
    List<String> after = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      after.add(endHeld(ender, other, "after-" + i));
    }
    recovery.tick();

    await().during(Duration.ofSeconds(1)).atMost(WAIT).until(() -> ender.storedFinishedSpans() == 10);
    ender.flush();
    receiver.awaitSpans(12, WAIT); // the 10 once each, and the one it held at the delete twice (the window)
    Map<String, Long> copies = receiver.spans().stream()
        .collect(Collectors.groupingBy(ReceivedSpan::spanId, Collectors.counting()));
    after.forEach(spanId -> assertEquals(1L, copies.get(spanId), "copies of a span ended after the delete"));
    assertEquals(2L, copies.get(before.get(0)), "copies of the span held at the delete");
  }

  /** A host whose batch processor holds every span for an hour: they wait in ended/, held by its live session. */
  private TestHost holdingEnder() throws Exception {
    return fixture.host("holding", TestHost.httpExporter(receiver.httpEndpoint()), UnaryOperator.identity(),
        Duration.ofHours(1));
  }

  /** Begins {@code key} on {@code begin}'s host and ends it on {@code ender}; its span ID. */
  private String endHeld(TestHost ender, TestHost begin, String key) throws Exception {
    DeferredSpanRecord record = fixture.enqueue(begin, key);
    assertEquals(EndResult.Outcome.ENDED, ender.store.endDeferredSpan(key, DeferredSpanEnding.now(),
        ender.client.transactionOp().delete().forPath(fixture.item(key))).getOutcome());
    return record.getSpanContext().getSpanId();
  }

  @Test
  void retentionBoundHoldsAsSpansArriveNotOnlyAtTheNextFullScan() throws Exception {
    TestHost host = fixture.host("host");
    DeferredSpanRecovery recovery = leaderBoundTo10(host);
    for (int i = 0; i < 30; i++) {
      fixture.enqueue(host, "outage-" + i);
    }
    receiver.setFailing(true);

    for (int i = 0; i < 30; i++) {
      assertEquals(EndResult.Outcome.ENDED, host.store.endDeferredSpan("outage-" + i, DeferredSpanEnding.now(),
          host.client.transactionOp().delete().forPath(fixture.item("outage-" + i))).getOutcome());
    }

    await().atMost(WAIT).until(() -> host.storedFinishedSpans() <= 10); // 30 stayed
    assertThat(host.store.stats().droppedAtBound()).isGreaterThanOrEqualTo(20);
  }

  // ---------------------------------------------------------------- 2.10 backoff across leaders

  @Test
  void exportBackoffHoldsAcrossSuccessiveLeaders() throws Exception {
    TestHost ender = fixture.host("ender");
    TestHost other = fixture.host("other");
    receiver.setFailing(true);
    int before = receiver.rejectedRequestCount();

    int recovered = recoverThroughFiveLeaders(ender, other, new TestClock());

    assertEquals(1, recovered, "one attempt, then every later leader waits for its backoff");
    await().atMost(WAIT).until(() -> receiver.rejectedRequestCount() - before >= 2);
    assertEquals(2, receiver.rejectedRequestCount() - before, "the host's own request and one of recovery's");
    receiver.setFailing(false);
  }

  /**
   * Section 3: a collector that keeps the data but answers too late; the export timed out, not refused. Two bounds
   * apply one after the other: the host that sent the span (the ender, then recovery's host) keeps its claim until
   * its exporter is answered again, or for its {@code timedOutExportBackoff} (2 s here, so that it hands the span
   * back during the hang), and recovery then sends it again no sooner than the backoff it keeps in
   * {@code recovery-progress} allows, whichever worker leads. Once the collector answers and that backoff is over,
   * the next leader delivers it: held, never stuck.
   */
  @Test
  void timedOutExportIsBackedOffAcrossSuccessiveLeaders() throws Exception {
    TestHost ender = fixture.hostTimingOutAfter("ender", Duration.ofSeconds(1));
    TestHost other = fixture.hostTimingOutAfter("other", Duration.ofSeconds(1));
    receiver.holdReplies();
    TestClock clock = new TestClock();

    int recovered = recoverThroughFiveLeaders(ender, other, clock);

    assertEquals(1, recovered);
    assertEquals(2, receiver.spans().size(), "copies the hung collector kept: the host's and one of recovery's");
    assertEquals(2, ender.store.stats().exportsTimedOut() + other.store.stats().exportsTimedOut());
    receiver.releaseReplies();
    clock.advance(Duration.ofMinutes(1)); // recovery's backoff is over
    DeferredSpanRecovery sixth = fixture.recovery(other, options -> options.clock(clock).scanInterval(TICK)
        .retryBackoff(Duration.ofMinutes(1), Duration.ofMinutes(10)));
    assertEquals(1, sixth.tick().recovered());
    await().atMost(WAIT).until(() -> other.storedFinishedSpans() == 0);
    assertEquals(3, receiver.spans().size(), "the third copy, answered: exported and removed");
  }

  /**
   * Ends a span whose export fails, then lets five workers lead in turn, each for two ticks a second apart, with
   * a one-minute backoff; each waits until the export it started (if any) has failed and its host handed the span
   * back.
   *
   * @return how many recoveries the five leaders started
   */
  private int recoverThroughFiveLeaders(TestHost ender, TestHost other, TestClock clock) throws Exception {
    fixture.enqueue(other, "failing");
    assertEquals(EndResult.Outcome.ENDED, ender.store.endDeferredSpan("failing", DeferredSpanEnding.now(),
        ender.client.transactionOp().delete().forPath(fixture.item("failing"))).getOutcome());
    String endedPath = onlyEndedPath(ender);
    await().atMost(WAIT).until(() -> !ender.heldForExport(endedPath)); // export failed
    int recovered = 0;
    for (int leader = 0; leader < 5; leader++) {
      DeferredSpanRecovery recovery = fixture.recovery(other, options -> options.clock(clock).scanInterval(TICK)
          .retryBackoff(Duration.ofMinutes(1), Duration.ofMinutes(10)));
      for (int tick = 0; tick < 2; tick++) {
        recovered += recovery.tick().recovered();
        clock.advance(Duration.ofSeconds(1));
      }
      await().atMost(WAIT).until(() -> !other.heldForExport(endedPath)); // and failed again
      recovery.close();
    }
    return recovered;
  }

  // ---------------------------------------------------------------- the safety net waits the grace period

  @Test
  void safetyNetScanWaitsTheGracePeriodBeforeRecoveringWhatItFound() throws Exception {
    TestHost ender = fixture.host("ender");
    TestHost recoverer = fixture.host("recoverer");
    fixture.enqueue(ender, "slow");
    receiver.setFailing(true);
    assertEquals(EndResult.Outcome.ENDED, ender.store.endDeferredSpan("slow", DeferredSpanEnding.now(),
        ender.client.transactionOp().delete().forPath(fixture.item("slow"))).getOutcome());
    String endedPath = onlyEndedPath(ender);
    await().atMost(WAIT).until(() -> !ender.heldForExport(endedPath));
    receiver.setFailing(false);
    TestClock clock = new TestClock();
    DeferredSpanRecovery recovery = DeferredSpanRecovery.builder(recoverer.store).gracePeriod(Duration.ofSeconds(30))
        .scanInterval(TICK).clock(clock).build();
    SERVERS.closeAfterTest(recovery);

    List<Integer> recovered = new ArrayList<>();
    for (int tick = 0; tick <= 3; tick++) { // at 0, 10, 20 and 30 s
      recovered.add(recovery.tick().recovered());
      clock.advance(TICK);
    }

    assertEquals(List.of(0, 0, 0, 1), recovered, "recovered 10 s after the safety net found it, grace 30 s");
  }
}
