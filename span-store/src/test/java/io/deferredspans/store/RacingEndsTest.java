package io.deferredspans.store;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.deferredspans.otlp.json.ReceivedSpan;
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;

/** Several hosts race to end the same spans: each is ended, and exported, exactly once. */
class RacingEndsTest {
  private static final int SPANS = 200;
  private static final int HOSTS = 3;
  private static final int THREADS_PER_HOST = 4;

  @Test
  void everySpanIsEndedAndExportedExactlyOnce() throws Exception {
    try (TestingServer zookeeper = new TestingServer(true);
        OtlpTestReceiver receiver = OtlpTestReceiver.start()) {
      String connect = zookeeper.getConnectString();
      List<TestHost> hosts = new ArrayList<>();
      for (int h = 0; h < HOSTS; h++) {
        hosts.add(TestHost.start("host-" + h, connect, "/deferred-spans",
            TestHost.httpExporter(receiver.httpEndpoint())));
      }
      try {
        TestHost beginner = hosts.get(0);
        beginner.client.createContainers("/items");
        Set<String> begunSpanIds = new HashSet<>();
        for (int i = 0; i < SPANS; i++) {
          DeferredSpanRecord record = beginner.tracing.spanBuilder("QueueItem").setNoParent().begin();
          beginner.store.beginDeferredSpan("item-" + i, record,
              beginner.client.transactionOp().create().forPath("/items/item-" + i));
          begunSpanIds.add(record.getSpanContext().getSpanId());
        }

        Map<String, AtomicInteger> wins = new ConcurrentHashMap<>();
        AtomicInteger losses = new AtomicInteger();
        CountDownLatch go = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(HOSTS * THREADS_PER_HOST);
        List<Future<?>> racers = new ArrayList<>();
        for (int t = 0; t < HOSTS * THREADS_PER_HOST; t++) {
          TestHost host = hosts.get(t % HOSTS);
          List<Integer> order = new ArrayList<>();
          for (int i = 0; i < SPANS; i++) {
            order.add(i);
          }
          Collections.shuffle(order, new Random(t));
          racers.add(pool.submit(() -> {
            go.await();
            for (int i : order) {
              String key = "item-" + i;
              CuratorOp dequeue = host.client.transactionOp().delete().forPath("/items/" + key);
              try {
                EndResult result = host.store.endDeferredSpan(key, DeferredSpanEnding.now(), dequeue);
                if (result.getOutcome() == EndResult.Outcome.ENDED) {
                  wins.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
                } else {
                  losses.incrementAndGet();
                }
              } catch (DeferredSpanStoreException itemAlreadyDequeued) {
                losses.incrementAndGet(); // NO_RECORD and the caller's delete of the item failed: also a loss
              }
            }
            return null;
          }));
        }
        go.countDown();
        for (Future<?> racer : racers) {
          racer.get();
        }
        pool.shutdown();

        assertEquals(SPANS, wins.size(), "every span ended");
        wins.forEach((key, count) -> assertEquals(1, count.get(), key + " ended once"));
        assertEquals(SPANS * (HOSTS * THREADS_PER_HOST - 1), losses.get());

        List<ReceivedSpan> exported = receiver.awaitSpans(SPANS, Duration.ofSeconds(30));
        hosts.forEach(TestHost::flush);
        Set<String> exportedIds = new HashSet<>();
        for (ReceivedSpan span : receiver.spans()) {
          exportedIds.add(span.spanId());
        }
        System.out.printf("racing ends: %d spans, %d racers, %d exported, %d distinct, %d lost races%n",
            SPANS, HOSTS * THREADS_PER_HOST, receiver.spans().size(), exportedIds.size(), losses.get());
        assertEquals(SPANS, receiver.spans().size(), "no duplicates on the wire");
        assertEquals(begunSpanIds, exportedIds, "nothing lost");
        assertEquals(SPANS, exported.size());
      } finally {
        hosts.forEach(TestHost::close);
      }
    }
  }
}
