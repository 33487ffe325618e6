package io.deferredspans.store;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.deferredspans.otlp.json.ReceivedSpan;
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 15 §1: a call that reported "outcome unknown" must never apply anything afterwards. A host sends a
 * transaction, is cut off (paused) before it hears the answer, its session expires, and it wakes up: nothing of
 * the call that already returned may be sent again, on the old session or on the new one Curator opened.
 */
class OutcomeUnknownTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  @RegisterExtension static final StoreServers SERVERS = new StoreServers("outcome-unknown");

  private String items;

  @BeforeEach
  void freshPaths() {
    items = SERVERS.items();
  }

  private TestHost host(String name) throws Exception {
    TestHost host = SERVERS.closeAfterTest(TestHost.start(name, SERVERS.zookeeper().getConnectString(),
        SERVERS.base(), TestHost.httpExporter(SERVERS.receiver().httpEndpoint())));
    host.client.createContainers(items);
    return host;
  }

  /**
   * A host behind {@code proxy} whose Curator client retries for minutes, as production clients are configured,
   * and whose calls give up after a second.
   */
  private TestHost pausableHost(ReplyDroppingProxy proxy) throws Exception {
    return SERVERS.closeAfterTest(TestHost.start("paused", proxy.connectString(), SERVERS.base(),
        TestHost.httpExporter(SERVERS.receiver().httpEndpoint()),
        store -> store.operationTimeout(Duration.ofSeconds(1)), Duration.ofMillis(20),
        new RetryNTimes(1_000, 100)));
  }

  /** A proxy between a host and the server that can drop one request or reply and hold the connections. */
  private static ReplyDroppingProxy proxy() throws Exception {
    return SERVERS.closeAfterTest(new ReplyDroppingProxy(SERVERS.zookeeper().getConnectString()));
  }

  /**
   * Runs {@code call} with its reply dropped and the host cut off before it hears it, and checks that the caller
   * was told "outcome unknown".
   */
  private static void replyLost(ReplyDroppingProxy proxy, Executable call) throws InterruptedException {
    proxy.dropNextReplyAndHoldConnections();
    DeferredSpanStoreUnavailableException unknown = assertThrows(DeferredSpanStoreUnavailableException.class, call);
    assertTrue(unknown.isOutcomeUnknown(), unknown.getMessage());
    assertTrue(proxy.awaitReplyDropped(WAIT), "the reply really was lost");
  }

  /** Ends the session of {@code handle} on the server, as the ensemble does for a host paused past its timeout. */
  private static void expireOnServer(ZooKeeper handle) throws Exception {
    CountDownLatch joined = new CountDownLatch(1);
    ZooKeeper twin = new ZooKeeper(SERVERS.zookeeper().getConnectString(), TestHost.TIMING.session(), event -> {
      if (event.getState() == Watcher.Event.KeeperState.SyncConnected) {
        joined.countDown();
      }
    }, handle.getSessionId(), handle.getSessionPasswd());
    assertTrue(joined.await(WAIT.toSeconds(), TimeUnit.SECONDS), "joined the paused host's session");
    twin.close();
  }

  /** Waits until the woken host is connected again and none of its calls is still working in the background. */
  private static void awaitWokenAndIdle(TestHost host) {
    await().atMost(WAIT).until(() -> host.client.getZookeeperClient().isConnected() && host.store.callsInFlight() == 0);
  }

  private static long copies(String spanId) {
    return SERVERS.receiver().spans().stream().map(ReceivedSpan::spanId).filter(spanId::equals).count();
  }

  @Test
  void beginWhoseReplyIsLostIsNotAppliedAgainAfterAnotherHostDequeuedIt() throws Exception {
    TestHost other = host("other");
    ReplyDroppingProxy proxy = proxy();
    TestHost paused = pausableHost(proxy);
    String item = items + "/job-1";
    DeferredSpanRecord record = paused.tracing.spanBuilder("QueueItem").setNoParent().setOwner(item).begin();
    ZooKeeper session = paused.client.getZookeeperClient().getZooKeeper();

    replyLost(proxy,
        () -> paused.store.beginDeferredSpan("job-1", record, paused.client.transactionOp().create().forPath(item)));

    // The begin had committed. The host stays cut off past its session's expiry; another host dequeues the item.
    expireOnServer(session);
    EndResult dequeued = other.store.endDeferredSpan("job-1", DeferredSpanEnding.now(),
        other.client.transactionOp().delete().forPath(item));
    assertEquals(EndResult.Outcome.ENDED, dequeued.getOutcome());
    proxy.releaseConnections();
    awaitWokenAndIdle(paused);

    assertNull(other.client.checkExists().forPath(item), "the dequeued item was created again");
    assertTrue(other.store.read("job-1").isEmpty(), "the span was begun again");
    String spanId = record.getSpanContext().getSpanId();
    SERVERS.receiver().awaitSpans(1, WAIT);
    other.flush();
    paused.flush();
    assertEquals(1, copies(spanId), "ended and exported once");
  }

  @Test
  void endWhoseRequestIsLostIsNotAppliedAfterTheCallReturned() throws Exception {
    TestHost other = host("other");
    ReplyDroppingProxy proxy = proxy();
    TestHost paused = pausableHost(proxy);
    String item = items + "/job-2";
    DeferredSpanRecord record = other.tracing.spanBuilder("QueueItem").setNoParent().setOwner(item).begin();
    other.store.beginDeferredSpan("job-2", record, other.client.transactionOp().create().forPath(item));
    ZooKeeper session = paused.client.getZookeeperClient().getZooKeeper();

    proxy.dropNextRequestAndHoldConnections();
    DeferredSpanStoreUnavailableException unknown = assertThrows(DeferredSpanStoreUnavailableException.class,
        () -> paused.store.endDeferredSpan("job-2", DeferredSpanEnding.now(),
            paused.client.transactionOp().delete().forPath(item)));
    assertTrue(proxy.awaitReplyDropped(WAIT), "the end's request really was lost");
    expireOnServer(session);
    proxy.releaseConnections();
    awaitWokenAndIdle(paused);

    assertNotNull(other.client.checkExists().forPath(item), "the item was dequeued after the call returned ("
        + unknown.getMessage() + ")");
    assertTrue(other.store.read("job-2").isPresent(), "the span was ended after the call returned");
    // What embedding.md tells a caller to do with an unknown end: run the same end again.
    EndResult again = paused.store.endDeferredSpan("job-2", DeferredSpanEnding.now(),
        paused.client.transactionOp().delete().forPath(item));
    assertEquals(EndResult.Outcome.ENDED, again.getOutcome());
    SERVERS.receiver().awaitSpans(1, WAIT);
    paused.flush();
    assertEquals(1, copies(record.getSpanContext().getSpanId()));
  }

  @Test
  void endWhoseReplyIsLostPastTheSessionsExpiryIsExportedOnceByRecovery() throws Exception {
    TestHost other = host("other");
    ReplyDroppingProxy proxy = proxy();
    TestHost paused = pausableHost(proxy);
    String item = items + "/job-3";
    DeferredSpanRecord record = other.tracing.spanBuilder("QueueItem").setNoParent().setOwner(item).begin();
    other.store.beginDeferredSpan("job-3", record, other.client.transactionOp().create().forPath(item));
    ZooKeeper session = paused.client.getZookeeperClient().getZooKeeper();

    replyLost(proxy,
        () -> paused.store.endDeferredSpan("job-3", DeferredSpanEnding.now(),
            paused.client.transactionOp().delete().forPath(item)));
    expireOnServer(session); // the end's claim goes with the session: recovery owns the span
    DeferredSpanRecovery recovery = SERVERS.closeAfterTest(
        DeferredSpanRecovery.builder(other.store).gracePeriod(Duration.ZERO).build());
    await().atMost(WAIT).until(() -> {
      recovery.scanNow();
      return other.storedFinishedSpans() == 0;
    });
    proxy.releaseConnections();
    awaitWokenAndIdle(paused);

    assertNull(other.client.checkExists().forPath(item));
    // The caller, told "unknown", runs the end again: it applied, so the dequeue reports the item gone.
    EndResult again = paused.store.endDeferredSpan("job-3", DeferredSpanEnding.now(),
        paused.client.transactionOp().delete().forPath(item));
    assertEquals(EndResult.Outcome.CALLER_OPERATIONS_FAILED, again.getOutcome());
    other.flush();
    paused.flush();
    assertEquals(1, copies(record.getSpanContext().getSpanId()), "exported once, by recovery");
    assertEquals(0, other.storedFinishedSpans());
  }

  @Test
  void embeddedEndWhoseReplyIsLostIsExportedOnceAfterItsCallerStoppedWaiting() throws Exception {
    // The embedded end waits for its transaction on the caller's own thread: once the caller is told "unknown",
    // what settles the transaction's late outcome is no longer a store thread that was waiting anyway.
    TestHost other = host("other");
    ReplyDroppingProxy proxy = proxy();
    TestHost paused = pausableHost(proxy);
    String item = items + "/job-embedded";
    DeferredSpanRecord record = other.tracing.spanBuilder("QueueItem").setNoParent().begin();
    other.client.create().forPath(item, record.toBytes());

    replyLost(proxy,
        () -> paused.store.endEmbeddedSpan(item, record.toBytes(), DeferredSpanEnding.now(),
            paused.client.transactionOp().delete().withVersion(0).forPath(item)));
    proxy.releaseConnections(); // the same session comes back, its claim with it: nobody else may export the span
    awaitWokenAndIdle(paused);

    assertNull(other.client.checkExists().forPath(item));
    String spanId = record.getSpanContext().getSpanId();
    SERVERS.receiver().awaitSpans(1, WAIT);
    await().atMost(WAIT).until(() -> other.storedFinishedSpans() == 0); // exported and removed, without recovery
    EndResult again = paused.store.endEmbeddedSpan(item, record.toBytes(), DeferredSpanEnding.now(),
        paused.client.transactionOp().delete().withVersion(0).forPath(item));
    assertEquals(EndResult.Outcome.CALLER_OPERATIONS_FAILED, again.getOutcome());
    paused.flush();
    assertEquals(1, copies(spanId), "exported once, by the host whose caller stopped waiting");
  }

  @Test
  void recoveryClaimWhoseReplyIsLostIsNotCreatedAgainOnTheNewSession() throws Exception {
    TestHost ender = host("ender");
    String item = items + "/job-4";
    DeferredSpanRecord record = ender.tracing.spanBuilder("QueueItem").setNoParent().setOwner(item).begin();
    ender.store.beginDeferredSpan("job-4", record, ender.client.transactionOp().create().forPath(item));
    SERVERS.receiver().setFailing(true); // the ender's export fails: it releases its claim, recovery takes over
    assertEquals(EndResult.Outcome.ENDED, ender.store.endDeferredSpan("job-4", DeferredSpanEnding.now(),
        ender.client.transactionOp().delete().forPath(item)).getOutcome());
    String endedPath = ender.store.core().layout().endedPath(record.getSpanContext().getSpanId());
    await().atMost(WAIT).until(() -> !ender.heldForExport(endedPath));
    SERVERS.receiver().setFailing(false);

    ReplyDroppingProxy proxy = proxy();
    // A long host name makes the claim's create large enough for the proxy to drop its reply.
    TestHost recoverer = SERVERS.closeAfterTest(TestHost.start("recovery-" + "r".repeat(100), proxy.connectString(),
        SERVERS.base(), TestHost.httpExporter(SERVERS.receiver().httpEndpoint()), UnaryOperator.identity(),
        Duration.ofMillis(20), new RetryNTimes(1_000, 100)));
    DeferredSpanRecovery paused = SERVERS.closeAfterTest(
        DeferredSpanRecovery.builder(recoverer.store).gracePeriod(Duration.ZERO).build());
    paused.scanNow(); // first sighting of the unclaimed span
    ZooKeeper session = recoverer.client.getZookeeperClient().getZooKeeper();
    proxy.dropNextReplyAndHoldConnections();
    java.util.concurrent.CompletableFuture<Void> claiming = java.util.concurrent.CompletableFuture.runAsync(() -> {
      try {
        paused.scanNow(); // claims it: the create applies, its answer is lost, the host is cut off
      } catch (Exception e) {
        throw new java.util.concurrent.CompletionException(e);
      }
    });
    assertTrue(proxy.awaitReplyDropped(WAIT), "the claim's reply really was lost");
    expireOnServer(session); // the claim goes with the session
    proxy.releaseConnections();
    await().atMost(WAIT).until(claiming::isDone);

    // Another worker (or this one, on its new session) must find the span unclaimed and export it once.
    DeferredSpanRecovery other = SERVERS.closeAfterTest(
        DeferredSpanRecovery.builder(ender.store).gracePeriod(Duration.ZERO).build());
    await().atMost(WAIT).until(() -> {
      other.scanNow();
      return ender.storedFinishedSpans() == 0;
    });
    ender.flush();
    recoverer.flush();
    assertEquals(1, copies(record.getSpanContext().getSpanId()), "exported once");
  }
}
