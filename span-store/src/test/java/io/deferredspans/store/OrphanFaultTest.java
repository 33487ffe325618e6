package io.deferredspans.store;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.deferredspans.otlp.json.ReceivedSpan;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;

/** Spans nobody ends: their items vanish, or they simply outlive the maximum age. */
class OrphanFaultTest {
  private static final Duration WAIT = Duration.ofSeconds(60);

  @Test
  void orphansAreEndedAsAbandonedOnceAndLiveSpansAreLeftAlone() throws Exception {
    try (TestingServer zookeeper = new TestingServer(true);
        OtlpTestReceiver receiver = OtlpTestReceiver.start();
        TestHost a = TestHost.start("host-a", zookeeper.getConnectString(), "/ds",
            TestHost.httpExporter(receiver.httpEndpoint()));
        DeferredSpanRecovery recovery = DeferredSpanRecovery.builder(a.store)
            .gracePeriod(Duration.ZERO).maxAge(Duration.ofHours(6)).build()) {
      a.client.createContainers("/items");
      Set<String> ownerDeleted = new HashSet<>();
      Set<String> tooOld = new HashSet<>();
      for (int i = 0; i < 60; i++) {
        String item = "/items/i-" + i;
        var builder = a.tracing.spanBuilder("QueueItem").setNoParent().setOwner(item);
        if (i % 3 == 1) {
          builder.setStartTimestamp(Instant.now().minus(Duration.ofDays(1)));
        }
        DeferredSpanRecord record = builder.begin();
        a.store.beginDeferredSpan("i-" + i, record, a.client.transactionOp().create().forPath(item));
        if (i % 3 == 0) {
          a.client.delete().forPath(item); // dequeued without an end
          ownerDeleted.add(record.getSpanContext().getSpanId());
        } else if (i % 3 == 1) {
          tooOld.add(record.getSpanContext().getSpanId());
        }
      }

      int abandoned = recovery.scanNow().abandoned() + recovery.scanNow().abandoned();
      assertEquals(0, recovery.scanNow().abandoned(), "each orphan is ended once");
      List<ReceivedSpan> spans = receiver.awaitSpans(40, WAIT);
      a.flush();
      Map<Object, Set<String>> byReason = receiver.spans().stream().collect(Collectors.groupingBy(
          s -> s.attributes().get("deferred_span.abandon_reason"),
          Collectors.mapping(ReceivedSpan::spanId, Collectors.toSet())));
      System.out.printf("fault: orphans begun=60 owner-deleted=%d too-old=%d live=20 abandoned=%d exported=%d%n",
          ownerDeleted.size(), tooOld.size(), abandoned, receiver.spans().size());
      assertEquals(40, abandoned);
      assertEquals(40, receiver.spans().size());
      assertEquals(ownerDeleted, byReason.get("owner_deleted"));
      assertEquals(tooOld, byReason.get("max_age_exceeded"));
      spans.forEach(s -> assertEquals("STATUS_CODE_ERROR", s.statusCode()));
      Set<String> stillOpen = new HashSet<>();
      for (String shard : a.client.getChildren().forPath("/ds/open")) {
        stillOpen.addAll(a.client.getChildren().forPath("/ds/open/" + shard));
      }
      assertEquals(20, stillOpen.size(), "live spans stay open");
      // Recovery ends spans, never the caller's data: the too-old items are still there for their owner.
      assertEquals(40, a.client.getChildren().forPath("/items").size());
    }
  }
}
