package io.deferredspans.store;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.deferredspans.otlp.json.ReceivedSpan;
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.testing.TestExporters;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.KillSession;
import org.apache.curator.test.TestingCluster;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;

/** ZooKeeper itself misbehaves: servers, the leader, the quorum and sessions are lost under load. */
class ZooKeeperFaultTest {
  private static final Duration WAIT = Duration.ofSeconds(90);
  private static final String BASE = "/deferred-spans";

  private static TestHost host(String name, String connect, OtlpTestReceiver receiver) throws Exception {
    return TestHost.start(name, connect, BASE, TestHost.httpExporter(receiver.httpEndpoint()),
        store -> store.operationTimeout(Duration.ofSeconds(5)));
  }

  private static void awaitMoreBegun(ContinuousWorkload workload, int more) {
    int target = workload.begunCount() + more;
    await().atMost(WAIT).until(() -> workload.begunCount() >= target);
  }

  /** Exports everything recovery still holds, then compares the wire with what was begun. */
  private static void assertExactlyOnce(String fault, Map<String, String> begun, TestHost recoverer,
      OtlpTestReceiver receiver, int failuresSeen) throws Exception {
    assertExactlyOnce(fault, begun, recoverer, receiver, failuresSeen, key -> List.of());
  }

  private static void assertExactlyOnce(String fault, Map<String, String> begun, TestHost recoverer,
      OtlpTestReceiver receiver, int failuresSeen, java.util.function.Function<String, List<String>> history)
      throws Exception {
    try (DeferredSpanRecovery recovery =
        DeferredSpanRecovery.builder(recoverer.store).gracePeriod(Duration.ZERO).build()) {
      await().atMost(WAIT).ignoreExceptions().until(() -> {
        recovery.scanNow();
        return recoverer.storedFinishedSpans() == 0;
      });
    }
    try {
      receiver.awaitSpans(begun.size(), WAIT);
    } catch (AssertionError tooFew) {
      Set<String> arrived = new HashSet<>();
      receiver.spans().forEach(s -> arrived.add(s.spanId()));
      StringBuilder why = new StringBuilder(fault + ": lost spans:");
      for (Map.Entry<String, String> span : begun.entrySet()) {
        if (!arrived.contains(span.getValue())) {
          String open = recoverer.store.core().layout().openPath(span.getKey());
          String ended = recoverer.store.core().layout().endedPath(span.getValue());
          why.append("\n  ").append(span.getKey()).append(" span ").append(span.getValue())
              .append(" open=").append(recoverer.client.checkExists().forPath(open) != null)
              .append(" ended=").append(recoverer.client.checkExists().forPath(ended) != null)
              .append(" item=").append(recoverer.client.checkExists().forPath("/items/" + span.getKey()) != null)
              .append(" history=").append(history.apply(span.getKey()));
        }
      }
      throw new AssertionError(why.toString(), tooFew);
    }
    Set<String> exported = new HashSet<>();
    List<String> duplicates = new ArrayList<>();
    for (ReceivedSpan span : receiver.spans()) {
      if (!exported.add(span.spanId())) {
        duplicates.add(span.spanId());
      }
    }
    // Who sent each copy of a duplicate, in arrival order: names the window it came through.
    List<String> duplicateSources = duplicates.stream().map(id -> id + " from " + receiver.spans().stream()
        .filter(s -> s.spanId().equals(id)).map(s -> s.resourceAttributes().get("service.instance.id") + "/"
            + s.attributes().get("deferred_span.ended_by")).toList()).toList();
    long lost = begun.values().stream().filter(id -> !exported.contains(id)).count();
    // Every begun span was ended by the workload: none may be left open (e.g. ended as NO_RECORD on a stale read).
    assertEquals(0, recoverer.openRecords(), "spans left open");
    assertEquals(0, recoverer.store.stats().abandoned(), "spans only recovery could end");
    System.out.printf("fault: %s begun=%d exported=%d duplicates=%d lost=%d failed-calls-during-fault=%d%n",
        fault, begun.size(), receiver.spans().size(), duplicates.size(), lost, failuresSeen);
    assertEquals(0, lost, "lost");
    assertEquals(List.of(), duplicateSources, "duplicates");
  }

  @Test
  void followerAndLeaderLossUnderContinuousLoadLoseAndDoubleNothing() throws Exception {
    try (TestingCluster cluster = EnsembleRoles.threeServers();
        OtlpTestReceiver receiver = OtlpTestReceiver.start()) {
      cluster.start();
      try (TestHost a = host("host-a", cluster.getConnectString(), receiver);
          TestHost b = host("host-b", cluster.getConnectString(), receiver);
          ContinuousWorkload workload = new ContinuousWorkload(a, b, "/items")) {
        awaitMoreBegun(workload, 30);

        InstanceSpec follower = EnsembleRoles.follower(cluster);
        cluster.killServer(follower);
        awaitMoreBegun(workload, 30);
        cluster.restartServer(follower);
        awaitMoreBegun(workload, 30);

        InstanceSpec leader = EnsembleRoles.leader(cluster);
        cluster.killServer(leader);
        awaitMoreBegun(workload, 30);
        cluster.restartServer(leader);
        awaitMoreBegun(workload, 30);

        Map<String, String> begun = workload.finish();
        a.flush();
        b.flush();
        assertExactlyOnce("ensemble-follower-and-leader-killed", begun, a, receiver, workload.failures(),
            workload::history);
      }
    }
  }

  @Test
  void quorumLossFailsFastAndEverythingPendingEndsOnceItIsBack() throws Exception {
    try (TestingCluster cluster = EnsembleRoles.threeServers();
        OtlpTestReceiver receiver = OtlpTestReceiver.start()) {
      cluster.start();
      try (TestHost a = host("host-a", cluster.getConnectString(), receiver);
          TestHost b = host("host-b", cluster.getConnectString(), receiver)) {
        a.client.createContainers("/items");
        Map<String, String> begun = new java.util.HashMap<>();
        for (int i = 0; i < 20; i++) {
          DeferredSpanRecord record = a.tracing.spanBuilder("QueueItem").setNoParent().begin();
          a.store.beginDeferredSpan("q-" + i, record, a.client.transactionOp().create().forPath("/items/q-" + i));
          begun.put("q-" + i, record.getSpanContext().getSpanId());
        }

        List<InstanceSpec> stopped = new ArrayList<>(cluster.getInstances()).subList(0, 2);
        for (InstanceSpec spec : stopped) {
          cluster.killServer(spec);
        }
        await().atMost(WAIT).until(() -> !b.client.getZookeeperClient().isConnected());
        DeferredSpanStoreUnavailableException failure = assertThrows(DeferredSpanStoreUnavailableException.class,
            () -> b.store.endDeferredSpan("q-0", DeferredSpanEnding.now(),
                b.client.transactionOp().delete().forPath("/items/q-0")));
        assertFalse(failure.isOutcomeUnknown(), "failed before sending anything");

        for (InstanceSpec spec : stopped) {
          cluster.restartServer(spec);
        }
        await().atMost(WAIT).until(() -> b.client.getZookeeperClient().isConnected());
        for (String key : begun.keySet()) {
          EndResult result = await().atMost(WAIT).ignoreExceptions().until(
              () -> b.store.endDeferredSpan(key, DeferredSpanEnding.now(),
                  b.client.transactionOp().delete().forPath("/items/" + key)),
              r -> true);
          assertEquals(EndResult.Outcome.ENDED, result.getOutcome(), key);
        }
        b.flush();
        assertExactlyOnce("quorum-lost-then-back", begun, a, receiver, 1);
      }
    }
  }

  @Test
  void sessionExpiryUnderLoadAndOfAnEnderBeforeExportLosesNothing() throws Exception {
    try (TestingServer zookeeper = new TestingServer(true);
        OtlpTestReceiver receiver = OtlpTestReceiver.start();
        TestHost a = host("host-a", zookeeper.getConnectString(), receiver);
        TestHost b = host("host-b", zookeeper.getConnectString(), receiver);
        TestHost silent = TestHost.start("host-silent", zookeeper.getConnectString(), BASE,
            TestExporters.neverAnswering())) {
      // An ender whose export never completes loses its session: its claims go, recovery exports its spans.
      a.client.createContainers("/items");
      Map<String, String> begun = new java.util.HashMap<>();
      for (int i = 0; i < 10; i++) {
        DeferredSpanRecord record = a.tracing.spanBuilder("QueueItem").setNoParent().begin();
        a.store.beginDeferredSpan("s-" + i, record);
        assertEquals(EndResult.Outcome.ENDED,
            silent.store.endDeferredSpan("s-" + i, DeferredSpanEnding.now()).getOutcome());
        begun.put("s-" + i, record.getSpanContext().getSpanId());
      }
      KillSession.kill(silent.client.getZookeeperClient().getZooKeeper());

      // Meanwhile, sessions of the beginning and the ending host expire under continuous load.
      try (ContinuousWorkload workload = new ContinuousWorkload(a, b, "/items")) {
        awaitMoreBegun(workload, 30);
        KillSession.kill(b.client.getZookeeperClient().getZooKeeper());
        awaitMoreBegun(workload, 30);
        KillSession.kill(a.client.getZookeeperClient().getZooKeeper());
        awaitMoreBegun(workload, 30);
        begun.putAll(workload.finish());
        a.flush();
        b.flush();
        assertExactlyOnce("session-expiry", begun, a, receiver, workload.failures(), workload::history);
      }
    }
  }

  @Test
  void recoveryLeadershipIsNotStuckAfterTheLeadersSessionExpires() throws Exception {
    try (TestingServer zookeeper = new TestingServer(true);
        OtlpTestReceiver receiver = OtlpTestReceiver.start();
        TestHost a = host("host-a", zookeeper.getConnectString(), receiver);
        TestHost b = host("host-b", zookeeper.getConnectString(), receiver);
        TestHost silent = TestHost.start("host-silent", zookeeper.getConnectString(), BASE,
            TestExporters.neverAnswering());
        DeferredSpanRecovery first = DeferredSpanRecovery.builder(a.store)
            .scanInterval(Duration.ofMillis(100)).gracePeriod(Duration.ZERO).build();
        DeferredSpanRecovery second = DeferredSpanRecovery.builder(b.store)
            .scanInterval(Duration.ofMillis(100)).gracePeriod(Duration.ZERO).build()) {
      first.start();
      second.start();
      await().atMost(WAIT).until(() -> first.hasLeadership() ^ second.hasLeadership());
      TestHost leaderHost = first.hasLeadership() ? a : b;
      KillSession.kill(leaderHost.client.getZookeeperClient().getZooKeeper());
      await().atMost(WAIT).until(() -> first.hasLeadership() ^ second.hasLeadership());

      // Whoever leads now really works: a span stranded by a dead ender is exported. (The host whose session was
      // killed fails fast until it has reconnected, as it should.)
      await().atMost(WAIT).until(() -> leaderHost.client.getZookeeperClient().isConnected());
      DeferredSpanRecord record = a.tracing.spanBuilder("QueueItem").begin();
      a.store.beginDeferredSpan("stranded", record);
      silent.store.endDeferredSpan("stranded", DeferredSpanEnding.now());
      silent.client.close();
      ReceivedSpan span = receiver.awaitSpans(1, WAIT).get(0);
      assertEquals(record.getSpanContext().getSpanId(), span.spanId());
      silent.store.close();
    }
  }
}
