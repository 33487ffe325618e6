package io.deferredspans.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.deferredspans.otlp.json.ReceivedSpan;
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanLimitException;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.sdk.FinishedDeferredSpan;
import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import io.deferredspans.sdk.internal.DeferredTracingUtil;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.trace.ReadWriteSpan;
import io.opentelemetry.sdk.trace.ReadableSpan;
import io.opentelemetry.sdk.trace.SpanProcessor;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.test.KillSession;
import org.apache.curator.test.TestingServer;
import org.apache.zookeeper.CreateMode;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Each hole of the fault review (issue 8) attacked on its own, counted on the OTLP wire. Every test here failed on
 * the code before the fix it names.
 */
class ExactlyOnceTest implements StoreTestHelpers {
  private static final Duration WAIT = Duration.ofSeconds(30);
  @RegisterExtension static final StoreServers SERVERS = new StoreServers("exactly-once");

  private final TestingServer zookeeper = SERVERS.zookeeper();
  private final OtlpTestReceiver receiver = SERVERS.receiver();
  private final String base = SERVERS.base();

  @Override
  public StoreServers servers() {
    return SERVERS;
  }

  /** Scans from {@code host} until no finished span waits in ZooKeeper, then flushes its pipeline. */
  private void recoverEverything(TestHost host) throws Exception {
    DeferredSpanRecovery recovery = recovery(host, UnaryOperator.identity());
    await().atMost(WAIT).until(() -> {
      recovery.scanNow();
      return host.storedFinishedSpans() == 0;
    });
    host.flush();
  }

  private Map<String, Long> copiesBySpanId() {
    return receiver.spans().stream().collect(Collectors.groupingBy(ReceivedSpan::spanId, Collectors.counting()));
  }

  // ---------------------------------------------------------------- 1. graceful shutdown

  @Test
  void rollingRestartUnderLoadExportsEverySpanOnce() throws Exception {
    TestHost beginner = host("beginner");
    List<String> spanIds = new ArrayList<>();
    for (int i = 0; i < 150; i++) {
      spanIds.add(enqueue(beginner, "roll-" + i).getSpanContext().getSpanId());
    }
    // Three enders, one after the other, each shut down in the documented order (store, SDK, Curator) right
    // after its last end, while its batch processor still holds spans: a rolling deploy under load.
    for (int round = 0; round < 3; round++) {
      TestHost ender = TestHost.start("ender-" + round, zookeeper.getConnectString(), base,
          TestHost.httpExporter(receiver.httpEndpoint()), UnaryOperator.identity(), Duration.ofMillis(400));
      for (int i = round * 50; i < (round + 1) * 50; i++) {
        assertEquals(EndResult.Outcome.ENDED, dequeue(ender, "roll-" + i, DeferredSpanEnding.now()).getOutcome());
      }
      ender.close();
    }
    recoverEverything(beginner);

    Map<String, Long> copies = copiesBySpanId();
    assertThat(copies.keySet()).containsExactlyInAnyOrderElementsOf(spanIds);
    assertThat(copies.values()).as("copies per span").allMatch(n -> n == 1);
    assertEquals(0, beginner.storedFinishedSpans());
  }

  // ---------------------------------------------------------------- 2. racers that write identical bytes

  @Test
  void racersWithTheSameHostNameAndEndTimeEndEachSpanOnce() throws Exception {
    TestHost beginner = host("beginner");
    TestHost twin1 = host("twin");
    TestHost twin2 = host("twin");
    int keys = 100;
    for (int i = 0; i < keys; i++) {
      enqueue(beginner, "twin-" + i);
    }
    // The dequeue event's time as the end time: both racers write byte-identical finished spans.
    DeferredSpanEnding ending = DeferredSpanEnding.builder()
        .setEndTimestamp(System.currentTimeMillis(), TimeUnit.MILLISECONDS).build();
    Map<String, List<EndResult.Outcome>> outcomes = new ConcurrentHashMap<>();
    ExecutorService racers = Executors.newFixedThreadPool(4);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int i = 0; i < keys; i++) {
        String key = "twin-" + i;
        CyclicBarrier start = new CyclicBarrier(4);
        for (TestHost twin : List.of(twin1, twin1, twin2, twin2)) {
          done.add(racers.submit(() -> {
            start.await();
            EndResult result = dequeue(twin, key, ending);
            outcomes.computeIfAbsent(key, k -> new CopyOnWriteArrayList<>()).add(result.getOutcome());
            return null;
          }));
        }
      }
      for (Future<?> future : done) {
        future.get(WAIT.toSeconds(), TimeUnit.SECONDS);
      }
    } finally {
      racers.shutdownNow();
    }
    for (Map.Entry<String, List<EndResult.Outcome>> entry : outcomes.entrySet()) {
      assertEquals(1, entry.getValue().stream().filter(o -> o == EndResult.Outcome.ENDED).count(),
          entry.getKey() + " " + entry.getValue());
    }
    receiver.awaitSpans(keys, WAIT);
    twin1.flush();
    twin2.flush();
    assertEquals(keys, receiver.spans().size());
    assertThat(copiesBySpanId().values()).allMatch(n -> n == 1);
  }

  // ---------------------------------------------------------------- 3. a slow export is not timed out

  @Test
  void slowExportIsNotHandedToRecoveryByTheAcknowledgementTimeout() throws Exception {
    TestHost ender = host("slow-exporter",
        options -> options.acknowledgementTimeout(Duration.ofMillis(200)), Duration.ofMillis(20));
    TestHost other = host("other");
    DeferredSpanRecovery recovery = recovery(other, UnaryOperator.identity());
    enqueue(other, "slow");
    receiver.holdReplies(); // the collector takes the span, and answers only much later
    assertEquals(EndResult.Outcome.ENDED, dequeue(ender, "slow", DeferredSpanEnding.now()).getOutcome());
    receiver.awaitSpans(1, WAIT);

    // Ten acknowledgement timeouts pass while recovery keeps scanning: the export in flight keeps its claim.
    await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).until(() -> {
      recovery.scanNow();
      return receiver.spans().size() == 1;
    });
    receiver.releaseReplies();
    await().atMost(WAIT).until(() -> ender.storedFinishedSpans() == 0);
    ender.flush();
    other.flush();
    assertEquals(1, receiver.spans().size());
  }

  // ---------------------------------------------------------------- 4. a paused host is fenced

  @Test
  void hostWhoseSessionExpiredBeforeItsBatchWentOutDoesNotExportAgain() throws Exception {
    // A long batch delay keeps the ended span in the pipeline, as in a host paused right after the end.
    TestHost paused = host("paused", UnaryOperator.identity(), Duration.ofMinutes(5));
    TestHost other = host("other");
    enqueue(other, "paused-item");
    assertEquals(EndResult.Outcome.ENDED, dequeue(paused, "paused-item", DeferredSpanEnding.now()).getOutcome());

    paused.expireSession(zookeeper.getConnectString());
    recoverEverything(other);
    assertEquals(1, receiver.awaitSpans(1, WAIT).size(), "recovery exported it");

    paused.flush(); // the host wakes up and its batch processor exports what it held
    assertEquals(1, receiver.spans().size(), "the woken host's copy was fenced off");
    assertThat(paused.store.stats().fencedExports()).isPositive();
  }

  @Test
  void hostThatGaveUpItsSessionBeforeTheServerDidStillRemovesWhatItExported() throws Exception {
    // The client declares its session expired while the server still holds it (and its claims) a while longer.
    TestHost ender = host("ender", UnaryOperator.identity(), Duration.ofMinutes(5));
    TestHost other = host("other");
    enqueue(other, "late-removal");
    assertEquals(EndResult.Outcome.ENDED, dequeue(ender, "late-removal", DeferredSpanEnding.now()).getOutcome());
    receiver.holdReplies();
    java.util.concurrent.CompletableFuture<Void> flushed =
        java.util.concurrent.CompletableFuture.runAsync(ender::flush);
    receiver.awaitSpans(1, WAIT); // past the fence and on the wire; the collector's answer is held

    KillSession.kill(ender.client.getZookeeperClient().getZooKeeper()); // client-side expiry
    receiver.releaseReplies();
    flushed.get(WAIT.toSeconds(), TimeUnit.SECONDS);

    // Exported, so its stored copy must go now, not stay for recovery to export again once the server expires
    // the old session and its claim.
    await().atMost(Duration.ofSeconds(10)).until(() -> other.storedFinishedSpans() == 0);
    recoverEverything(other);
    assertEquals(1, receiver.spans().size());
  }

  // ---------------------------------------------------------------- 5. recovery backs off

  @Test
  void recoveryBacksOffFromACollectorThatKeepsFailing() throws Exception {
    TestHost ender = host("ender");
    TestHost other = host("other");
    enqueue(other, "failing");
    receiver.setFailing(true);
    assertEquals(EndResult.Outcome.ENDED, dequeue(ender, "failing", DeferredSpanEnding.now()).getOutcome());
    String endedPath = ender.store.core().layout().endedPath(onlyEndedSpanId(ender));
    await().atMost(WAIT).until(() -> !ender.heldForExport(endedPath)); // export failed

    DeferredSpanRecovery recovery = recovery(other, options -> options.retryBackoff(Duration.ofMinutes(1),
        Duration.ofMinutes(10)));
    int recovered = 0;
    for (int scan = 0; scan < 5; scan++) {
      recovered += recovery.scanNow().recovered();
      await().atMost(WAIT).until(() -> !other.heldForExport(endedPath)); // and failed again
    }
    assertEquals(1, recovered, "one attempt, then the next waits for its backoff");
    receiver.setFailing(false);
  }

  private String onlyEndedSpanId(TestHost host) throws Exception {
    String ended = ZKPaths.makePath(host.store.core().layout().base(), "ended");
    for (String shard : host.client.getChildren().forPath(ended)) {
      List<String> spans = host.client.getChildren().forPath(ZKPaths.makePath(ended, shard));
      if (!spans.isEmpty()) {
        return spans.get(0);
      }
    }
    throw new AssertionError("no finished span stored");
  }

  // ---------------------------------------------------------------- 6. ends larger than ZooKeeper accepts

  @Test
  void endWithMoreEventsThanTheSpanLimitsIsTrimmedNotStuck() throws Exception {
    TestHost host = host("host");
    List<ConnectionState> states = new CopyOnWriteArrayList<>();
    host.client.getConnectionStateListenable().addListener((c, state) -> states.add(state));
    enqueue(host, "eventful");
    DeferredSpanEnding.Builder ending = DeferredSpanEnding.builder();
    for (int i = 0; i < 200; i++) {
      ending.addEvent("step-" + i, System.currentTimeMillis() * 1_000_000,
          Attributes.builder().put("log", "x".repeat(6_000)).build());
    }
    EndResult result = dequeue(host, "eventful", ending.build());

    assertEquals(EndResult.Outcome.ENDED, result.getOutcome());
    FinishedDeferredSpan span = result.getSpan().orElseThrow();
    assertEquals(128, span.getEvents().size(), "SpanLimits' default event count");
    assertEquals(72, span.getDroppedEvents());
    assertEquals(128, receiver.awaitSpans(1, WAIT).get(0).events().size());
    assertThat(states).doesNotContain(ConnectionState.SUSPENDED);
  }

  @Test
  void endLargerThanATransactionIsRefusedBeforeAnythingIsSent() throws Exception {
    TestHost host = host("host");
    List<ConnectionState> states = new CopyOnWriteArrayList<>();
    host.client.getConnectionStateListenable().addListener((c, state) -> states.add(state));
    enqueue(host, "huge");
    DeferredSpanEnding.Builder ending = DeferredSpanEnding.builder();
    for (int i = 0; i < 128; i++) {
      ending.addEvent("step-" + i, System.currentTimeMillis() * 1_000_000,
          Attributes.builder().put("log", "y".repeat(8_500)).build());
    }
    DeferredSpanLimitException refused =
        assertThrows(DeferredSpanLimitException.class, () -> dequeue(host, "huge", ending.build()));

    assertThat(refused.getMessage()).contains("nothing was sent");
    assertTrue(host.store.read("huge").isPresent(), "the span is still open");
    assertTrue(host.client.checkExists().forPath(item("huge")) != null, "the item was not dequeued");
    assertThat(states).doesNotContain(ConnectionState.SUSPENDED);
    assertEquals(EndResult.Outcome.ENDED, dequeue(host, "huge", DeferredSpanEnding.now()).getOutcome());
  }

  // ---------------------------------------------------------------- 7. recovery's claim loses its reply

  @Test
  void recoveryWhoseClaimReplyIsLostStillExportsTheSpan() throws Exception {
    TestHost ender = host("ender");
    enqueue(ender, "lost-claim");
    receiver.setFailing(true);
    assertEquals(EndResult.Outcome.ENDED, dequeue(ender, "lost-claim", DeferredSpanEnding.now()).getOutcome());
    String endedPath = ender.store.core().layout().endedPath(onlyEndedSpanId(ender));
    await().atMost(WAIT).until(() -> !ender.heldForExport(endedPath));
    receiver.setFailing(false);
    receiver.reset();

    try (ReplyDroppingProxy proxy = new ReplyDroppingProxy(zookeeper.getConnectString())) {
      // A long host name makes the claim's create the first request large enough for the proxy to drop.
      TestHost recoverer = TestHost.start("recovery-host-" + "r".repeat(100), proxy.connectString(), base,
          TestHost.httpExporter(receiver.httpEndpoint()));
      SERVERS.closeAfterTest(recoverer);
      DeferredSpanRecovery recovery = recovery(recoverer, UnaryOperator.identity());
      recovery.scanNow(); // first sighting of the unclaimed span
      proxy.dropNextReply();
      recovery.scanNow(); // claims it: the create's reply is lost, Curator's retry finds the claim existing
      assertTrue(proxy.awaitReplyDropped(Duration.ofSeconds(5)), "the claim's reply really was lost");
      await().atMost(WAIT).until(() -> {
        recovery.scanNow();
        return receiver.spans().size() == 1;
      });
      await().atMost(WAIT).until(() -> recoverer.storedFinishedSpans() == 0);
    }
  }

  // ---------------------------------------------------------------- 9. a record without its marker

  @Test
  void recordWithoutItsMarkerIsQuarantinedAndTheDequeueApplied() throws Exception {
    TestHost host = host("host");
    DeferredSpanRecord record = enqueue(host, "no-marker");
    String path = host.store.core().layout().openPath("no-marker");
    host.client.delete().forPath(ZNodeLayout.markerPath(path, record.getSpanContext().getSpanId()));

    EndResult result = dequeue(host, "no-marker", DeferredSpanEnding.now());

    assertEquals(EndResult.Outcome.REJECTED_RECORD, result.getOutcome());
    assertThat(result.getRecordError().orElseThrow().getMessage()).contains("no span marker");
    assertNull(host.client.checkExists().forPath(item("no-marker")), "the item was dequeued");
    assertNull(host.client.checkExists().forPath(path), "the record is gone from open/");
    assertEquals(1, host.client.getChildren().forPath(ZKPaths.makePath(base, "quarantine")).size());
  }

  @Test
  void recordWithAnExtraChildIsQuarantinedForThatReasonAndTheDequeueApplied() throws Exception {
    TestHost host = host("host");
    enqueue(host, "extra-child");
    String path = host.store.core().layout().openPath("extra-child");
    host.client.create().forPath(ZKPaths.makePath(path, "not-a-marker"));

    EndResult result = dequeue(host, "extra-child", DeferredSpanEnding.now());

    assertEquals(EndResult.Outcome.REJECTED_RECORD, result.getOutcome());
    assertThat(result.getRecordError().orElseThrow().getMessage())
        .contains("it has children other than its span marker");
    assertNull(host.client.checkExists().forPath(item("extra-child")), "the item was dequeued");
    assertNull(host.client.checkExists().forPath(path), "the record and its children are gone from open/");
    assertEquals(1, host.client.getChildren().forPath(ZKPaths.makePath(base, "quarantine")).size());
  }

  @Test
  void ephemeralRecordIsQuarantinedForThatReason() throws Exception {
    TestHost host = host("host");
    DeferredSpanRecord record = host.tracing.spanBuilder("QueueItem").setNoParent().begin();
    String path = host.store.core().layout().openPath("ephemeral");
    // A writer that ignored the specification: ZooKeeper gives an ephemeral znode no children, so no marker.
    host.client.create().creatingParentsIfNeeded().withMode(CreateMode.EPHEMERAL)
        .forPath(path, DeferredSpanRecordCodec.encode(record));

    EndResult result = host.store.endDeferredSpan("ephemeral", DeferredSpanEnding.now());

    assertEquals(EndResult.Outcome.REJECTED_RECORD, result.getOutcome());
    assertThat(result.getRecordError().orElseThrow().getMessage())
        .contains("it is ephemeral (records must be persistent)");
    assertNull(host.client.checkExists().forPath(path));
  }

  // ---------------------------------------------------------------- 10. the loser of a race

  @Test
  void loserOfARaceGetsAnOutcomeNotAnException() throws Exception {
    TestHost winner = host("winner");
    TestHost loser = host("loser");
    enqueue(winner, "raced");
    assertEquals(EndResult.Outcome.ENDED, dequeue(winner, "raced", DeferredSpanEnding.now()).getOutcome());

    // The loser reads after the winner removed the record, then tries the dequeue the winner already did.
    EndResult result = dequeue(loser, "raced", DeferredSpanEnding.now());

    assertEquals(EndResult.Outcome.CALLER_OPERATIONS_FAILED, result.getOutcome());
    assertFalse(result.callerOperationsApplied());
    assertEquals(KeeperException.Code.NONODE, result.getCallerOperationFailure().orElseThrow().getCode());
  }

  // ---------------------------------------------------------------- 11. recovery abandoned it first

  @Test
  void dequeueThatLosesToRecoveryAbandoningTheSpanStillDequeues() throws Exception {
    TestHost dequeuer = host("dequeuer");
    TestHost reaper = host("reaper");
    enqueue(dequeuer, "old");
    // The dequeuer reads the record and finishes the span...
    String path = dequeuer.store.core().layout().openPath("old");
    Stat stat = new Stat();
    byte[] bytes = dequeuer.client.getData().storingStatIn(stat).forPath(path);
    FinishedDeferredSpan finished =
        DeferredTracingUtil.finish(
            dequeuer.tracing, dequeuer.store.read("old").orElseThrow(), DeferredSpanEnding.now());
    // ...while recovery ends it as abandoned (it outlived the maximum age)...
    DeferredSpanRecovery recovery = recovery(reaper, options -> options.maxAge(Duration.ofNanos(1)));
    assertEquals(1, recovery.scanNow().abandoned());

    // ...and then commits its end with the dequeue.
    EndResult result = dequeuer.store.core().endTransaction().commit(path, stat, bytes, finished,
        List.of(dequeuer.client.transactionOp().delete().forPath(item("old"))));

    assertEquals(EndResult.Outcome.ABANDONED, result.getOutcome());
    assertTrue(result.callerOperationsApplied());
    assertNull(dequeuer.client.checkExists().forPath(item("old")), "no host holds the item any more");
  }

  // ---------------------------------------------------------------- 12. smaller holes

  @Test
  void callerOnlyTransactionWhoseReplyIsLostIsReportedAsUnknown() throws Exception {
    try (ReplyDroppingProxy proxy = new ReplyDroppingProxy(zookeeper.getConnectString())) {
      TestHost host = TestHost.start("host", proxy.connectString(), base,
          TestHost.httpExporter(receiver.httpEndpoint()));
      SERVERS.closeAfterTest(host);
      // No record under the key; the item's long path makes the dequeue the first request the proxy drops.
      String longItem = item("k".repeat(120));
      host.client.create().creatingParentsIfNeeded().forPath(longItem);

      proxy.dropNextReply();
      DeferredSpanStoreUnavailableException unknown =
          assertThrows(DeferredSpanStoreUnavailableException.class, () -> host.store.endDeferredSpan(
              "short", DeferredSpanEnding.now(), host.client.transactionOp().delete().forPath(longItem)));

      assertTrue(unknown.isOutcomeUnknown(), unknown.getMessage());
      assertTrue(proxy.awaitReplyDropped(Duration.ofSeconds(5)));
      await().atMost(WAIT).ignoreExceptions()
          .until(() -> host.client.checkExists().forPath(longItem) == null); // applied, as the exception allows
      EndResult retry = host.store.endDeferredSpan(
          "short", DeferredSpanEnding.now(), host.client.transactionOp().delete().forPath(longItem));
      assertEquals(EndResult.Outcome.CALLER_OPERATIONS_FAILED, retry.getOutcome(), "a retry says so");
    }
  }

  @Test
  void processorThatThrowsAfterTheCommitDoesNotMisleadTheCaller() throws Exception {
    TestHost other = host("other");
    CuratorFramework client = CuratorFrameworkFactory.newClient(
        zookeeper.getConnectString(), new ExponentialBackoffRetry(100, 3));
    client.start();
    SERVERS.closeAfterTest(client);
    DeferredTracing throwing = DeferredTracing.builder()
        .setHostName("throwing")
        .addSpanProcessor(new SpanProcessor() {
          @Override
          public void onStart(Context parentContext, ReadWriteSpan span) {}

          @Override
          public boolean isStartRequired() {
            return false;
          }

          @Override
          public void onEnd(ReadableSpan span) {
            throw new IllegalStateException("processor bug");
          }

          @Override
          public boolean isEndRequired() {
            return true;
          }
        })
        .addSpanExporter(TestHost.httpExporter(receiver.httpEndpoint()),
            exporter -> BatchSpanProcessor.builder(exporter).setScheduleDelay(Duration.ofMillis(20)).build())
        .build();
    DeferredSpanStore store = DeferredSpanStore.builder(client, throwing).basePath(base).build();
    store.start();
    SERVERS.closeAfterTest(() -> throwing.getTracerProvider().orElseThrow().shutdown().join(10, TimeUnit.SECONDS));
    SERVERS.closeAfterTest(store);
    enqueue(other, "buggy");

    EndResult result = store.endDeferredSpan("buggy", DeferredSpanEnding.now(),
        client.transactionOp().delete().forPath(item("buggy")));

    assertEquals(EndResult.Outcome.ENDED, result.getOutcome());
    recoverEverything(other);
    assertEquals(1, receiver.awaitSpans(1, WAIT).size(), "recovery exported what the processor dropped");
  }

  @Test
  void unsampledEndWritesNothingForExport() throws Exception {
    TestHost host = host("host");
    DeferredTracing unsampling = DeferredTracing.builder().setSampler(Sampler.alwaysOff()).setHostName("off")
        .build();
    DeferredSpanRecord record = unsampling.spanBuilder("QueueItem").setNoParent().begin();
    host.store.beginDeferredSpan("unsampled", record);
    String shard = ZKPaths.getPathAndNode(host.store.core().layout().endedPath(record.getSpanContext().getSpanId()))
        .getPath();
    int childChangesBefore = host.client.checkExists().forPath(shard).getCversion();

    assertEquals(EndResult.Outcome.ENDED,
        host.store.endDeferredSpan("unsampled", DeferredSpanEnding.now()).getOutcome());

    assertEquals(childChangesBefore, host.client.checkExists().forPath(shard).getCversion(),
        "no finished span nor claim was written and deleted");
    assertTrue(host.store.read("unsampled").isEmpty());
  }
}
