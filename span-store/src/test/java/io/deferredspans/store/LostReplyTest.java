package io.deferredspans.store;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.deferredspans.otlp.json.ReceivedSpan;
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;

/**
 * The hazard the end transaction is built around: ZooKeeper applies the winning multi, its reply is lost,
 * Curator retries the same multi, and the retry fails because the record is already gone. The store must still
 * report ENDED (the caller's operations were applied) and export the span once.
 */
class LostReplyTest {

  @Test
  void endWhoseReplyIsLostWhileCuratorGivesUpIsStillExportedOnce() throws Exception {
    try (TestingServer zookeeper = new TestingServer(true);
        OtlpTestReceiver receiver = OtlpTestReceiver.start();
        ReplyDroppingProxy proxy = new ReplyDroppingProxy(zookeeper.getConnectString());
        TestHost a = TestHost.start("host-a", zookeeper.getConnectString(), "/ds",
            TestHost.httpExporter(receiver.httpEndpoint()));
        org.apache.curator.framework.CuratorFramework impatient =
            org.apache.curator.framework.CuratorFrameworkFactory.newClient(proxy.connectString(), 30_000, 300,
                new org.apache.curator.retry.RetryOneTime(50))) {
      impatient.start();
      impatient.blockUntilConnected(30, java.util.concurrent.TimeUnit.SECONDS);
      io.deferredspans.sdk.DeferredTracing tracingB = io.deferredspans.sdk.DeferredTracing.builder()
          .setHostName("host-b").addSpanExporter(TestHost.httpExporter(receiver.httpEndpoint())).build();
      try (DeferredSpanStore storeB = DeferredSpanStore.builder(impatient, tracingB).basePath("/ds")
          .operationTimeout(Duration.ofSeconds(30)).build()) {
        storeB.start();
        DeferredSpanRecord record = a.tracing.spanBuilder("QueueItem").begin();
        a.store.beginDeferredSpan("item-1", record);

        // Curator's single retry finds no server (the proxy refuses for 10 s) and gives up; the session lives on.
        proxy.dropNextReplyThenRefuseConnections(Duration.ofSeconds(10));
        EndResult result = storeB.endDeferredSpan("item-1", DeferredSpanEnding.now());

        assertEquals(EndResult.Outcome.ENDED, result.getOutcome());
        System.out.println("lost-reply-refused: " + storeB.stats());
        assertEquals(record.getSpanContext().getSpanId(), receiver.awaitSpans(1, Duration.ofSeconds(30)).get(0).spanId());
        tracingB.getTracerProvider().orElseThrow().forceFlush().join(10, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(1, receiver.spans().size());
      } finally {
        tracingB.getTracerProvider().orElseThrow().shutdown().join(10, java.util.concurrent.TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void winnerWhoseReplyWasLostStillKnowsItWon() throws Exception {
    try (HostBehindProxy hosts = new HostBehindProxy()) {
      TestHost a = hosts.a;
      TestHost b = hosts.b;
      ReplyDroppingProxy proxy = hosts.proxy;
      OtlpTestReceiver receiver = hosts.receiver;
      a.client.create().forPath("/item-1");
      DeferredSpanRecord record = a.tracing.spanBuilder("QueueItem").setOwner("/item-1").begin();
      a.store.beginDeferredSpan("item-1", record);

      proxy.dropNextReply();
      EndResult result = b.store.endDeferredSpan(
          "item-1", DeferredSpanEnding.now(), b.client.transactionOp().delete().forPath("/item-1"));

      assertTrue(proxy.awaitReplyDropped(Duration.ofSeconds(1)), "the reply really was lost");
      assertEquals(EndResult.Outcome.ENDED, result.getOutcome());
      assertTrue(result.callerOperationsApplied());
      assertNull(a.client.checkExists().forPath("/item-1"));
      assertEquals(1, b.store.stats().retriedWinners(), "won on the first attempt, learned it on the retry");

      List<ReceivedSpan> spans = receiver.awaitSpans(1, Duration.ofSeconds(20));
      assertEquals(record.getSpanContext().getSpanId(), spans.get(0).spanId());
      b.flush();
      assertEquals(1, receiver.spans().size());
    }
  }

  /**
   * An end applied, its reply lost, and while its host is cut off another writer deletes that session's liveness
   * node: recovery takes the span the session held, exports it and removes it. The host, back on the same session,
   * finds neither its span nor the record. Before the fix it said ALREADY_ENDED ("another end committed first")
   * although its own dequeue had been applied.
   */
  @Test
  void endWhoseHolderLostItsLivenessNodeWhileUnansweredSaysOutcomeUnknown() throws Exception {
    try (HostBehindProxy hosts = new HostBehindProxy();
        DeferredSpanRecovery recovery = DeferredSpanRecovery.builder(hosts.a.store).gracePeriod(Duration.ZERO)
            .scanInterval(Duration.ofHours(1)).fullScanInterval(Duration.ofDays(1)).build()) {
      TestHost a = hosts.a;
      TestHost b = hosts.b;
      ReplyDroppingProxy proxy = hosts.proxy;
      OtlpTestReceiver receiver = hosts.receiver;
      recovery.start();
      await().atMost(Duration.ofSeconds(30)).until(recovery::hasLeadership);
      // b's first end creates its session's liveness node; this one is exported and removed as usual.
      a.store.beginDeferredSpan("item-0", a.tracing.spanBuilder("QueueItem").begin());
      assertEquals(EndResult.Outcome.ENDED, b.store.endDeferredSpan("item-0", DeferredSpanEnding.now()).getOutcome());
      receiver.awaitSpans(1, Duration.ofSeconds(30));
      await().atMost(Duration.ofSeconds(30)).until(() -> a.storedFinishedSpans() == 0);
      a.client.create().forPath("/item-1");
      DeferredSpanRecord record = a.tracing.spanBuilder("QueueItem").setOwner("/item-1").begin();
      a.store.beginDeferredSpan("item-1", record);
      String live = b.store.core().layout().livePath(b.client.getZookeeperClient().getZooKeeper().getSessionId());

      proxy.dropNextReplyAndHoldConnections();
      CompletableFuture<EndResult> end = CompletableFuture.supplyAsync(() -> {
        try {
          return b.store.endDeferredSpan(
              "item-1", DeferredSpanEnding.now(), b.client.transactionOp().delete().forPath("/item-1"));
        } catch (Exception e) {
          throw new CompletionException(e);
        }
      });
      assertTrue(proxy.awaitReplyDropped(Duration.ofSeconds(10)), "the end's reply really was lost");
      assertNull(a.client.checkExists().forPath("/item-1"), "the end applied");
      a.client.delete().forPath(live);
      receiver.awaitSpans(2, Duration.ofSeconds(30)); // recovery took the span held by a session without its node
      await().atMost(Duration.ofSeconds(30)).until(() -> a.storedFinishedSpans() == 0);
      proxy.releaseConnections();

      Throwable failed = end.handle((result, error) -> error).join();
      assertNotNull(failed, () -> "the end returned " + end.join().getOutcome());
      DeferredSpanStoreUnavailableException unknown =
          assertInstanceOf(DeferredSpanStoreUnavailableException.class, failed.getCause());
      assertTrue(unknown.isOutcomeUnknown(), unknown.getMessage());
      b.flush();
      assertEquals(2, receiver.spans().size());
      assertEquals(record.getSpanContext().getSpanId(), receiver.spans().get(1).spanId());
    }
  }

  /** A ZooKeeper server and a receiver; host a connects directly, host b through a reply-dropping proxy. */
  private static final class HostBehindProxy implements AutoCloseable {
    final TestingServer zookeeper;
    final OtlpTestReceiver receiver;
    final ReplyDroppingProxy proxy;
    final TestHost a;
    final TestHost b;

    HostBehindProxy() throws Exception {
      zookeeper = new TestingServer(true);
      receiver = OtlpTestReceiver.start();
      proxy = new ReplyDroppingProxy(zookeeper.getConnectString());
      a = TestHost.start("host-a", zookeeper.getConnectString(), "/ds", TestHost.httpExporter(receiver.httpEndpoint()));
      b = TestHost.start("host-b", proxy.connectString(), "/ds", TestHost.httpExporter(receiver.httpEndpoint()));
    }

    @Override
    public void close() throws Exception {
      b.close();
      a.close();
      proxy.close();
      receiver.close();
      zookeeper.close();
    }
  }
}
