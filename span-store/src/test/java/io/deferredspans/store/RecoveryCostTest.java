package io.deferredspans.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.FinishedDeferredSpan;
import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import io.deferredspans.sdk.internal.DeferredTracingUtil;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import java.time.Duration;
import java.util.function.UnaryOperator;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The recovery worker's background load follows what changes, not how many spans are open: counted in ZooKeeper
 * reads (the worker counts every read its scans issue), with the sweep's clock driven by the test, never timed.
 */
class RecoveryCostTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final Duration TICK = Duration.ofSeconds(10);

  private TestingServer zookeeper;
  private OtlpTestReceiver receiver;

  @BeforeEach
  void start() throws Exception {
    zookeeper = new TestingServer(true);
    receiver = OtlpTestReceiver.start();
  }

  @AfterEach
  void stop() throws Exception {
    receiver.close();
    zookeeper.close();
  }

  private static DeferredSpanRecord enqueue(TestHost host, String key) throws Exception {
    String item = HostProcessMain.ITEMS + "/" + key;
    DeferredSpanRecord record = host.tracing.spanBuilder("QueueItem").setNoParent().setOwner(item).begin();
    host.store.beginDeferredSpan(key, record, host.client.transactionOp().create().forPath(item));
    return record;
  }

  @Test
  void idleOpenSpansCostLessThanOneReadPerSecondPerThousandAndTheOrphanIsStillFound() throws Exception {
    int open = 1_000;
    try (TestHost host = TestHost.start("host", zookeeper.getConnectString(), "/ds",
        TestHost.httpExporter(receiver.httpEndpoint()))) {
      host.client.createContainers(HostProcessMain.ITEMS);
      for (int i = 0; i < open; i++) {
        enqueue(host, "idle-" + i);
      }
      host.client.delete().forPath(HostProcessMain.ITEMS + "/idle-7"); // dequeued without an end: an orphan

      TestClock clock = new TestClock();
      try (DeferredSpanRecovery recovery = DeferredSpanRecovery.builder(host.store)
          .gracePeriod(Duration.ZERO).scanInterval(TICK).clock(clock).build()) {
        long readsBefore = host.store.stats().recoveryReads();
        int abandoned = 0;
        int sweeps = 0;
        // The default sweep period is an hour; 70 minutes leave room for the first pass's slow start.
        Duration span = Duration.ofMinutes(70);
        for (Duration t = Duration.ZERO; t.compareTo(span) < 0; t = t.plus(TICK)) {
          DeferredSpanRecovery.ScanResult result = recovery.tick();
          clock.advance(TICK);
          abandoned += result.abandoned();
          sweeps += result.sweepsCompleted();
        }
        long reads = host.store.stats().recoveryReads() - readsBefore;
        System.out.printf("cost: recovery over %d simulated minutes with %d idle open spans: %d reads (%.2f/s), "
            + "%d full sweep(s), %d abandoned%n", span.toMinutes(), open, reads, reads / (double) span.toSeconds(),
            sweeps, abandoned);
        // Scanning everything every 10 s, as before, would be 6 × 70 × (256 + 2 × 1000) = 947,520 reads.
        assertThat(reads).as("reads").isLessThanOrEqualTo(span.toSeconds() * open / 1_000);
        assertThat(sweeps).as("every open span was looked at").isGreaterThanOrEqualTo(1);
        assertEquals(1, abandoned, "the orphan was found by the paced sweep");
      }
      assertEquals(1, receiver.awaitSpans(1, WAIT).size());
    }
  }

  @Test
  void theSweepNeverReadsFasterThanItsBudget() throws Exception {
    int open = 600;
    try (TestHost host = TestHost.start("host", zookeeper.getConnectString(), "/ds",
        TestHost.httpExporter(receiver.httpEndpoint()))) {
      host.client.createContainers(HostProcessMain.ITEMS);
      for (int i = 0; i < open; i++) {
        enqueue(host, "busy-" + i);
      }
      TestClock clock = new TestClock();
      // Asked to sweep everything every minute, but allowed 10 reads/s: the budget wins.
      try (DeferredSpanRecovery recovery = DeferredSpanRecovery.builder(host.store).scanInterval(TICK)
          .sweep(Duration.ofMinutes(1), 10).fullScanInterval(Duration.ofDays(1)).clock(clock).build()) {
        recovery.tick(); // the first tick also lists every finished-span shard once
        long readsBefore = host.store.stats().recoveryReads();
        int ticks = 60;
        for (int i = 1; i <= ticks; i++) {
          clock.advance(TICK);
          recovery.tick();
        }
        long reads = host.store.stats().recoveryReads() - readsBefore;
        double budget = 10.0 * TICK.toSeconds() * ticks;
        // One shard can overdraw by its own size (a shard is swept whole): about 2 × 600 / 256 + 1 reads.
        assertThat((double) reads).isBetween(budget * 0.8, budget + 2.0 * open / ZNodeLayout.SHARDS * 4 + 1);
      }
    }
  }

  @Test
  void claimLostWithItsSessionIsRecoveredWhenZooKeeperReportsItNotAtTheNextPoll() throws Exception {
    try (TestHost recoverer = TestHost.start("recoverer", zookeeper.getConnectString(), "/ds",
            TestHost.httpExporter(receiver.httpEndpoint()));
        // Its batch processor would hold the span for an hour: only recovery can deliver it in time.
        TestHost ender = TestHost.start("ender", zookeeper.getConnectString(), "/ds",
            TestHost.httpExporter(receiver.httpEndpoint()), UnaryOperator.identity(), Duration.ofHours(1));
        DeferredSpanRecovery recovery = DeferredSpanRecovery.builder(recoverer.store)
            .scanInterval(Duration.ofHours(1)).fullScanInterval(Duration.ofHours(1)).build()) {
      recovery.start();
      await().atMost(WAIT).until(recovery::hasLeadership);
      recoverer.client.createContainers(HostProcessMain.ITEMS);
      DeferredSpanRecord record = enqueue(recoverer, "item");
      recovery.tick(); // the full scan a new leader starts with, out of the way
      long readsBefore = recoverer.store.stats().recoveryReads();

      assertEquals(EndResult.Outcome.ENDED, ender.store.endDeferredSpan("item", DeferredSpanEnding.now(),
          ender.client.transactionOp().delete().forPath(HostProcessMain.ITEMS + "/item")).getOutcome());
      ender.expireSession(zookeeper.getConnectString());

      assertEquals(record.getSpanContext().getSpanId(), receiver.awaitSpans(1, WAIT).get(0).spanId());
      await().atMost(WAIT).until(() -> recoverer.storedFinishedSpans() == 0);
      ender.flush(); // the ender's copy is fenced: its session is gone
      assertEquals(1, receiver.spans().size());
      assertThat(recoverer.store.stats().recoveryReads() - readsBefore)
          .as("reads for one lost claim, with open spans listed nowhere").isLessThanOrEqualTo(3);
    }
  }
  @Test
  void finishedSpanAnotherImplementationWroteWithoutAClaimIsExportedWhenItAppears() throws Exception {
    try (TestHost recoverer = TestHost.start("recoverer", zookeeper.getConnectString(), "/ds",
            TestHost.httpExporter(receiver.httpEndpoint()));
        DeferredSpanRecovery recovery = DeferredSpanRecovery.builder(recoverer.store)
            .scanInterval(Duration.ofHours(1)).fullScanInterval(Duration.ofHours(1)).build()) {
      recovery.start();
      await().atMost(WAIT).until(recovery::hasLeadership);
      recoverer.client.createContainers(HostProcessMain.ITEMS);
      DeferredSpanRecord record = enqueue(recoverer, "item");
      recovery.tick(); // the full scan a new leader starts with, out of the way
      long readsBefore = recoverer.store.stats().recoveryReads();

      // What a Python ender writes with claim=False (docs/record-format.md section 4): no claim, nobody exporting.
      String open = recoverer.store.core().layout().openPath("item");
      String spanId = record.getSpanContext().getSpanId();
      FinishedDeferredSpan finished = DeferredTracingUtil.finish(recoverer.tracing, record, DeferredSpanEnding.now());
      recoverer.client.transaction().forOperations(
          recoverer.client.transactionOp().delete().forPath(ZNodeLayout.markerPath(open, spanId)),
          recoverer.client.transactionOp().delete().withVersion(0).forPath(open),
          recoverer.client.transactionOp().create().forPath(recoverer.store.core().layout().endedPath(spanId),
              DeferredSpanRecordCodec.encode(finished)),
          recoverer.client.transactionOp().delete().forPath(HostProcessMain.ITEMS + "/item"));

      assertEquals(spanId, receiver.awaitSpans(1, WAIT).get(0).spanId());
      await().atMost(WAIT).until(() -> recoverer.storedFinishedSpans() == 0);
      assertEquals(1, receiver.spans().size());
      assertThat(recoverer.store.stats().recoveryReads() - readsBefore)
          .as("reads for one claim-less finished span").isLessThanOrEqualTo(3);
    }
  }
  @Test
  void aJavaEndHeldByItsTokenCostsTheWatchAFewReadsAndNoWrite() throws Exception {
    try (TestHost recoverer = TestHost.start("recoverer", zookeeper.getConnectString(), "/ds",
            TestHost.httpExporter(receiver.httpEndpoint()));
        // Its batch processor holds the span for an hour: it stays in ended/, claimed by the ender.
        TestHost ender = TestHost.start("ender", zookeeper.getConnectString(), "/ds",
            TestHost.httpExporter(receiver.httpEndpoint()), UnaryOperator.identity(), Duration.ofHours(1));
        DeferredSpanRecovery recovery = DeferredSpanRecovery.builder(recoverer.store)
            .scanInterval(Duration.ofHours(1)).fullScanInterval(Duration.ofHours(1)).build()) {
      recovery.start();
      await().atMost(WAIT).until(recovery::hasLeadership);
      recoverer.client.createContainers(HostProcessMain.ITEMS);
      enqueue(recoverer, "item");
      recovery.tick(); // the full scan a new leader starts with, out of the way
      // The watches register in the background: a first end, seen by the leader, then count from there.
      enqueue(recoverer, "probe");
      recoverer.store.endDeferredSpan("probe", DeferredSpanEnding.now(),
          recoverer.client.transactionOp().delete().forPath(HostProcessMain.ITEMS + "/probe"));
      await().atMost(WAIT).until(() -> recovery.watchEvents() >= 2 && recoverer.storedFinishedSpans() == 0);
      long[] reads = {recoverer.store.stats().recoveryReads()};
      await().during(Duration.ofMillis(500)).atMost(WAIT).until(() -> {
        long now = recoverer.store.stats().recoveryReads();
        boolean still = now == reads[0];
        reads[0] = now;
        return still;
      });
      long readsBefore = recoverer.store.stats().recoveryReads();

      assertEquals(EndResult.Outcome.ENDED, ender.store.endDeferredSpan("item", DeferredSpanEnding.now(),
          ender.client.transactionOp().delete().forPath(HostProcessMain.ITEMS + "/item")).getOutcome());

      // The span's creation is reported; 50 ms later the leader reads it (its holder token) and the holder's
      // liveness node, and leaves it to its ender.
      await().atMost(Duration.ofSeconds(5)).until(() -> recoverer.store.stats().recoveryReads() > readsBefore);
      long[] seen = {readsBefore};
      await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5)).until(() -> {
        long now = recoverer.store.stats().recoveryReads();
        boolean still = now == seen[0];
        seen[0] = now;
        return still;
      });
      // Two of them are the span and its holder's liveness node; the tick they run in reads as any tick does.
      assertThat(seen[0] - readsBefore).as("reads for one span held by its ender").isBetween(2L, 4L);
      assertEquals(1, recoverer.storedFinishedSpans());
      assertEquals(0, recoverer.store.stats().recovered(), "left to its ender");
      assertEquals(1, receiver.spans().size(), "the probe alone");
    }
  }
}
