package io.deferredspans.store;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.deferredspans.otlp.json.ReceivedSpan;
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.sdk.common.export.RetryPolicy;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;

/** The OTLP receiver is down for longer than the exporter keeps retrying, then comes back. */
class ExporterOutageTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String BASE = "/deferred-spans";

  /** A real exporter that does retry, briefly, so the outage outlasts its retries within a short test. */
  private static OtlpHttpSpanExporter retryingExporter(OtlpTestReceiver receiver) {
    return OtlpHttpSpanExporter.builder().setEndpoint(receiver.httpEndpoint())
        .setRetryPolicy(RetryPolicy.builder().setMaxAttempts(3).setInitialBackoff(Duration.ofMillis(50))
            .setMaxBackoff(Duration.ofMillis(100)).build())
        .build();
  }

  private static Set<String> endDuringOutage(TestHost beginner, TestHost ender, String prefix, int count) {
    Set<String> spanIds = new HashSet<>();
    for (int i = 0; i < count; i++) {
      DeferredSpanRecord record = beginner.tracing.spanBuilder("QueueItem").setNoParent().begin();
      beginner.store.beginDeferredSpan(prefix + i, record);
      assertEquals(EndResult.Outcome.ENDED,
          ender.store.endDeferredSpan(prefix + i, DeferredSpanEnding.now()).getOutcome());
      spanIds.add(record.getSpanContext().getSpanId());
    }
    return spanIds;
  }

  @Test
  void everySpanEndedDuringTheOutageIsDeliveredOnceItEnds() throws Exception {
    try (TestingServer zookeeper = new TestingServer(true);
        OtlpTestReceiver receiver = OtlpTestReceiver.start();
        TestHost a = TestHost.start("host-a", zookeeper.getConnectString(), BASE, retryingExporter(receiver));
        TestHost b = TestHost.start("host-b", zookeeper.getConnectString(), BASE, retryingExporter(receiver));
        DeferredSpanRecovery recovery = DeferredSpanRecovery.builder(a.store)
            .scanInterval(Duration.ofMillis(100)).gracePeriod(Duration.ZERO)
            // Backoff keeps its shape, scaled down so the outage's end is seen within the test.
            .retryBackoff(Duration.ofMillis(100), Duration.ofSeconds(1)).build()) {
      receiver.setFailing(true);
      Set<String> ended = endDuringOutage(a, b, "item-", 100);
      await().atMost(WAIT).until(() -> b.store.stats().exportFailed() == 100);
      recovery.start();
      // The outage outlasts several recovery attempts too: none of them may lose or double anything.
      await().atMost(WAIT).until(() -> a.store.stats().exportFailed() >= 100);
      assertEquals(100, a.storedFinishedSpans(), "all kept in ZooKeeper while undeliverable");

      receiver.setFailing(false);
      List<ReceivedSpan> delivered = receiver.awaitSpans(100, WAIT);
      await().atMost(WAIT).until(() -> a.storedFinishedSpans() == 0);
      a.flush();
      b.flush();
      Set<String> distinct = new HashSet<>();
      receiver.spans().forEach(s -> distinct.add(s.spanId()));
      System.out.printf("fault: exporter-outage ended=%d rejected-requests=%d delivered=%d duplicates=%d lost=%d%n",
          ended.size(), receiver.rejectedRequestCount(), receiver.spans().size(),
          receiver.spans().size() - distinct.size(), ended.size() - distinct.size());
      assertEquals(ended, distinct);
      assertEquals(100, receiver.spans().size());
      assertEquals(100, delivered.size());
    }
  }

  @Test
  void backlogAboveTheBoundDropsTheOldestLoudlyAndDeliversTheRest() throws Exception {
    try (TestingServer zookeeper = new TestingServer(true);
        OtlpTestReceiver receiver = OtlpTestReceiver.start();
        TestHost a = TestHost.start("host-a", zookeeper.getConnectString(), BASE, retryingExporter(receiver));
        DeferredSpanRecovery recovery = DeferredSpanRecovery.builder(a.store)
            .gracePeriod(Duration.ZERO).maxRetainedSpans(10).build()) {
      receiver.setFailing(true);
      endDuringOutage(a, a, "old-", 20);
      await().atMost(WAIT).until(() -> a.store.stats().exportFailed() == 20);
      Set<String> newest = endDuringOutage(a, a, "new-", 10);
      await().atMost(WAIT).until(() -> a.store.stats().exportFailed() == 30);

      assertEquals(20, recovery.scanNow().dropped());
      assertEquals(20, a.store.stats().droppedAtBound());
      assertEquals(10, a.storedFinishedSpans());

      receiver.setFailing(false);
      await().atMost(WAIT).until(() -> {
        recovery.scanNow();
        return a.storedFinishedSpans() == 0;
      });
      a.flush();
      Set<String> delivered = new HashSet<>();
      receiver.awaitSpans(10, WAIT).forEach(s -> delivered.add(s.spanId()));
      System.out.printf("fault: exporter-backlog-bound bound=10 ended=30 dropped-oldest=%d delivered=%d%n",
          a.store.stats().droppedAtBound(), receiver.spans().size());
      assertEquals(newest, delivered, "the newest survive");
      assertEquals(10, receiver.spans().size());
    }
  }
}
