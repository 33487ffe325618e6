package io.deferredspans.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.sdk.FinishedDeferredSpan;
import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import io.deferredspans.sdk.internal.DeferredTracingUtil;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;
import java.util.function.UnaryOperator;
import org.apache.curator.utils.ZKPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The recovery holes of issue 15, section 2, each attacked on its own against a real ZooKeeper and counted on the
 * OTLP wire. Recovery's clock is driven by the test where time matters (grace periods, backoffs, the paced sweep);
 * several leaders in a row are separate workers on the same store, as separate hosts would be. Every test here
 * failed on the code before the fix it names.
 */
class RecoveryHolesTest implements StoreTestHelpers {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final Duration TICK = Duration.ofSeconds(10);
  @RegisterExtension static final StoreServers SERVERS = new StoreServers("recovery-holes");

  private final OtlpTestReceiver receiver = SERVERS.receiver();
  private final String base = SERVERS.base();
  private final String items = SERVERS.items();

  @Override
  public StoreServers servers() {
    return SERVERS;
  }

  private static int shardOf(String openPath) {
    return Integer.parseInt(ZKPaths.getNodeFromPath(ZKPaths.getPathAndNode(openPath).getPath()), 16);
  }

  /** A key of this test whose record lands in a shard that {@code shard} accepts. */
  private static String keyInShard(TestHost host, String prefix, IntPredicate shard) {
    for (int i = 0; ; i++) {
      String key = prefix + "-" + i;
      if (shard.test(shardOf(host.store.layout().openPath(key)))) {
        return key;
      }
    }
  }

  /** Writes a record as another writer would: bytes and span marker, no caller item. */
  private static String writeRecord(TestHost host, String key, byte[] bytes, String spanId) throws Exception {
    String path = host.store.layout().openPath(key);
    host.client.create().forPath(path, bytes);
    host.client.create().forPath(ZNodeLayout.markerPath(path, spanId), new byte[0]);
    return path;
  }

  /** An orphan: a span whose owner is deleted without its end. */
  private DeferredSpanRecord orphan(TestHost host, String key) throws Exception {
    DeferredSpanRecord record = enqueue(host, key);
    host.client.delete().forPath(item(key));
    return record;
  }

  // ---------------------------------------------------------------- 2.1 an owner that is not a znode path

  @Test
  void recordWhoseOwnerIsNotAnAbsolutePathNeitherStopsTheSweepNorIsEndedForIt() throws Exception {
    TestHost host = host("host");
    String badKey = keyInShard(host, "relative", shard -> shard < 0x40);
    DeferredSpanRecord bad = host.tracing.spanBuilder("Stray").setNoParent().setOwner("/placeholder").begin();
    // Another writer's record: the same bytes, with an owner that is no znode path.
    byte[] bytes = new String(DeferredSpanRecordCodec.encode(bad), StandardCharsets.UTF_8)
        .replace("\"/placeholder\"", "\"relative/item\"").getBytes(StandardCharsets.UTF_8);
    String badPath = writeRecord(host, badKey, bytes, bad.getSpanContext().getSpanId());
    DeferredSpanRecord orphan = orphan(host, keyInShard(host, "orphan", shard -> shard > 0xc0));
    DeferredSpanRecovery recovery = recovery(host, UnaryOperator.identity());

    int abandoned = 0;
    for (int scan = 0; scan < 2; scan++) {
      abandoned += recovery.scanNow().abandoned(); // threw IllegalArgumentException ("Path must start with /")
    }

    assertEquals(1, abandoned, "the orphan in a later shard was ended");
    assertEquals(orphan.getSpanContext().getSpanId(), receiver.awaitSpans(1, WAIT).get(0).spanId());
    // Left for the maximum age (this codec reads it), or quarantined (a codec that refuses such owners).
    boolean left = host.client.checkExists().forPath(badPath) != null;
    boolean quarantined = !host.client.getChildren().forPath(host.store.layout().quarantineRoot()).isEmpty();
    assertThat(left || quarantined).as("the bad record is left or quarantined, never lost").isTrue();
  }

  // ---------------------------------------------------------------- 2.2 one record's failure stops nothing

  @Test
  void recordWhoseAbandonAlwaysFailsDoesNotStopTheTicksFromEndingOthers() throws Exception {
    TestHost host = host("host");
    // A record within the format's 512 KiB, written by another writer, whose owner is a 500 KiB znode path. Its
    // abandoning end carries the owner twice, in the finished span and in the tombstone a later dequeue reads:
    // about 1 MiB, more than one transaction may take, so that end is refused before it is sent, each time.
    // (A record larger than the format allows, the old way to make an abandon fail, is quarantined instead.)
    String hugeOwner = item("huge-owner-" + "x".repeat(500 * 1024));
    DeferredSpanRecord huge = host.tracing.spanBuilder("Huge").setNoParent().setOwner(hugeOwner).begin();
    byte[] hugeBytes = DeferredSpanRecordCodec.encode(huge);
    assertThat(hugeBytes.length).as("a record the format allows").isLessThanOrEqualTo(
        DeferredSpanRecordCodec.MAX_RECORD_BYTES);
    String hugePath = writeRecord(host, keyInShard(host, "huge", shard -> shard < 0x40), hugeBytes,
        huge.getSpanContext().getSpanId());
    String laterKey = keyInShard(host, "later", shard -> shard > 0xc0);
    DeferredSpanRecord later = enqueue(host, laterKey);
    TestClock clock = new TestClock();
    // One pass per tick, so every tick reaches every shard.
    DeferredSpanRecovery recovery = recovery(host, options -> options.scanInterval(TICK).clock(clock)
        .sweep(TICK, 1_000_000).fullScanInterval(Duration.ofDays(1)));

    recovery.tick(); // the huge record's owner is seen missing
    host.client.delete().forPath(item(laterKey)); // now the other one is an orphan too
    int abandoned = 0;
    int skipped = 0;
    for (int tick = 0; tick < 4; tick++) {
      clock.advance(TICK);
      DeferredSpanRecovery.ScanResult result = recovery.tick(); // threw DeferredSpanLimitException, every tick
      abandoned += result.abandoned();
      skipped += result.skipped();
    }

    assertEquals(1, abandoned);
    assertEquals(later.getSpanContext().getSpanId(), receiver.awaitSpans(1, WAIT).get(0).spanId());
    assertThat(skipped).as("the huge record's abandon failed on the ticks that tried it").isPositive();
    assertNotNull(host.client.checkExists().forPath(hugePath), "left where it is, never lost");
  }

  // ---------------------------------------------------------------- 2.3 a newer format is left where it is

  @Test
  void finishedSpanOfANewerFormatVersionIsLeftWhereItIsNotQuarantined() throws Exception {
    TestHost host = host("host");
    DeferredSpanRecord record = host.tracing.spanBuilder("FromANewerHost").setNoParent().begin();
    FinishedDeferredSpan finished = DeferredTracingUtil.finish(host.tracing, record, DeferredSpanEnding.now());
    byte[] newer = new String(DeferredSpanRecordCodec.encode(finished), StandardCharsets.UTF_8)
        .replaceFirst("\"v\":1", "\"v\":2").getBytes(StandardCharsets.UTF_8);
    String endedPath = host.store.layout().endedPath(record.getSpanContext().getSpanId());
    host.client.create().creatingParentsIfNeeded().forPath(endedPath, newer); // unclaimed: its host is gone
    DeferredSpanRecovery recovery = recovery(host, UnaryOperator.identity());

    for (int scan = 0; scan < 3; scan++) {
      recovery.scanNow();
    }

    assertNotNull(host.client.checkExists().forPath(endedPath), "left for a host that reads version 2");
    assertThat(host.client.getChildren().forPath(host.store.layout().quarantineRoot())).isEmpty();
    await().atMost(WAIT).until(() -> host.client.checkExists().forPath(ZNodeLayout.claimPath(endedPath)) == null);
    assertEquals(0, host.store.stats().quarantined());
  }

  // ---------------------------------------------------------------- 2.4 no recovery without an exporter

  @Test
  void recoveryRefusesToRunWhereItWouldDeleteOtherHostsSpansUnexported() throws Exception {
    TestHost host = host("host");
    DeferredSpanStore disabled = DeferredSpanStore.builder(host.client, DeferredTracing.noop()).basePath(base).build();
    IllegalStateException noTracing =
        assertThrows(IllegalStateException.class, () -> DeferredSpanRecovery.builder(disabled).build());
    assertThat(noTracing).hasMessageContaining("tracing enabled").hasMessageContaining("OTEL_SDK_DISABLED");

    DeferredTracing noExporter = DeferredTracing.builder().setHostName("no-exporter").build();
    DeferredSpanStore exportsNowhere = DeferredSpanStore.builder(host.client, noExporter).basePath(base).build();
    IllegalStateException nowhere =
        assertThrows(IllegalStateException.class, () -> DeferredSpanRecovery.builder(exportsNowhere).build());
    assertThat(nowhere).hasMessageContaining("exporter").hasMessageContaining("OTEL_TRACES_EXPORTER=none");
  }

  // ---------------------------------------------------------------- 2.8 the retention bound, as spans arrive

  @Test
  void retentionBoundHoldsAsSpansArriveNotOnlyAtTheNextFullScan() throws Exception {
    TestHost host = host("host");
    DeferredSpanRecovery recovery = recovery(host, options -> options.maxRetainedSpans(10)
        .scanInterval(Duration.ofHours(1)).fullScanInterval(Duration.ofDays(1)));
    recovery.start();
    await().atMost(WAIT).until(recovery::hasLeadership);
    recovery.tick(); // the full scan a new leader starts with, out of the way
    for (int i = 0; i < 30; i++) {
      enqueue(host, "outage-" + i);
    }
    receiver.setFailing(true);

    for (int i = 0; i < 30; i++) {
      assertEquals(EndResult.Outcome.ENDED, host.store.endDeferredSpan("outage-" + i, DeferredSpanEnding.now(),
          host.client.transactionOp().delete().forPath(item("outage-" + i))).getOutcome());
    }

    await().atMost(WAIT).until(() -> host.storedFinishedSpans() <= 10); // 30 stayed
    assertThat(host.store.stats().droppedAtBound()).isGreaterThanOrEqualTo(20);
  }

  // ---------------------------------------------------------------- 2.9 the sweep survives leadership changes

  @Test
  void orphanInALateShardIsEndedThoughLeadershipMovesMoreOftenThanOnePass() throws Exception {
    TestHost host = host("host");
    for (int i = 0; i < 300; i++) {
      enqueue(host, "idle-" + i);
    }
    DeferredSpanRecord orphan = orphan(host, keyInShard(host, "late", shard -> shard >= 0xf0));
    TestClock clock = new TestClock();
    int abandoned = 0;
    // A pass takes about 100 ticks; each leader leads for 20 of them, then another worker takes over.
    for (int leader = 0; leader < 12 && abandoned == 0; leader++) {
      DeferredSpanRecovery recovery = recovery(host, options -> options.scanInterval(TICK).clock(clock)
          .sweep(Duration.ofSeconds(1_000), 100));
      for (int tick = 0; tick < 20; tick++) {
        abandoned += recovery.tick().abandoned();
        clock.advance(TICK);
      }
      recovery.close();
    }

    assertEquals(1, abandoned, "every new leader started at shard 00 and never got past the early shards");
    assertEquals(orphan.getSpanContext().getSpanId(), receiver.awaitSpans(1, WAIT).get(0).spanId());
  }

  // ---------------------------------------------------------------- 2.10 backoff across leaders

  @Test
  void exportBackoffHoldsAcrossSuccessiveLeaders() throws Exception {
    TestHost ender = host("ender");
    TestHost other = host("other");
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
    TestHost ender = hostTimingOutAfter("ender", Duration.ofSeconds(1));
    TestHost other = hostTimingOutAfter("other", Duration.ofSeconds(1));
    receiver.holdReplies();
    TestClock clock = new TestClock();

    int recovered = recoverThroughFiveLeaders(ender, other, clock);

    assertEquals(1, recovered);
    assertEquals(2, receiver.spans().size(), "copies the hung collector kept: the host's and one of recovery's");
    assertEquals(2, ender.store.stats().exportsTimedOut() + other.store.stats().exportsTimedOut());
    receiver.releaseReplies();
    clock.advance(Duration.ofMinutes(1)); // recovery's backoff is over
    DeferredSpanRecovery sixth = recovery(other, options -> options.clock(clock).scanInterval(TICK)
        .retryBackoff(Duration.ofMinutes(1), Duration.ofMinutes(10)));
    assertEquals(1, sixth.tick().recovered());
    await().atMost(WAIT).until(() -> other.storedFinishedSpans() == 0);
    assertEquals(3, receiver.spans().size(), "the third copy, answered: exported and removed");
  }

  private TestHost hostTimingOutAfter(String name, Duration timeout) throws Exception {
    return host(name,
        OtlpHttpSpanExporter.builder().setEndpoint(receiver.httpEndpoint()).setTimeout(timeout)
            .setRetryPolicy(null).build(),
        store -> store.timedOutExportBackoff(Duration.ofSeconds(2)), Duration.ofMillis(20));
  }

  /**
   * Ends a span whose export fails, then lets five workers lead in turn, each for two ticks a second apart, with
   * a one-minute backoff; each waits until the export it started (if any) has failed and its host handed the span
   * back.
   *
   * @return how many recoveries the five leaders started
   */
  private int recoverThroughFiveLeaders(TestHost ender, TestHost other, TestClock clock) throws Exception {
    enqueue(other, "failing");
    assertEquals(EndResult.Outcome.ENDED, ender.store.endDeferredSpan("failing", DeferredSpanEnding.now(),
        ender.client.transactionOp().delete().forPath(item("failing"))).getOutcome());
    String claim = ZNodeLayout.claimPath(onlyEndedPath(ender));
    await().atMost(WAIT).until(() -> ender.client.checkExists().forPath(claim) == null); // export failed
    int recovered = 0;
    for (int leader = 0; leader < 5; leader++) {
      DeferredSpanRecovery recovery = recovery(other, options -> options.clock(clock).scanInterval(TICK)
          .retryBackoff(Duration.ofMinutes(1), Duration.ofMinutes(10)));
      for (int tick = 0; tick < 2; tick++) {
        recovered += recovery.tick().recovered();
        clock.advance(Duration.ofSeconds(1));
      }
      await().atMost(WAIT).until(() -> other.client.checkExists().forPath(claim) == null); // and failed again
      recovery.close();
    }
    return recovered;
  }

  private static String onlyEndedPath(TestHost host) throws Exception {
    for (String shard : host.store.layout().endedShards()) {
      List<String> spans = host.client.getChildren().forPath(shard);
      if (!spans.isEmpty()) {
        return ZKPaths.makePath(shard, spans.get(0));
      }
    }
    throw new AssertionError("no finished span stored");
  }

  // ---------------------------------------------------------------- 2.11 and 2.13: true reports

  @Test
  void recordRecoveryQuarantinesIsNeverReportedAbandonedAndIsCountedAsQuarantined() throws Exception {
    TestHost host = host("host");
    String key = "markerless";
    String owner = items + "-owner";
    host.client.create().forPath(owner);
    DeferredSpanRecord record = host.tracing.spanBuilder("QueueItem").setNoParent().setOwner(owner).begin();
    host.store.beginDeferredSpan(key, record, host.client.transactionOp().create().forPath(item(key)));
    String path = host.store.layout().openPath(key);
    host.client.delete().forPath(ZNodeLayout.markerPath(path, record.getSpanContext().getSpanId()));
    host.client.delete().forPath(owner);
    DeferredSpanRecovery recovery = recovery(host, UnaryOperator.identity());

    int quarantined = 0;
    for (int scan = 0; scan < 2; scan++) {
      quarantined += recovery.scanNow().quarantined(); // 0: the end quarantined it, the scan did not count it
    }
    EndResult dequeue = host.store.endDeferredSpan(key, DeferredSpanEnding.now(),
        host.client.transactionOp().delete().forPath(item(key)));

    assertEquals(1, quarantined);
    assertNotEquals(EndResult.Outcome.ABANDONED, dequeue.getOutcome(), "ABANDONED says it was exported: it was not");
    host.flush();
    assertThat(receiver.spans()).isEmpty();
  }

  @Test
  void recordWithAnExtraChildIsQuarantinedForThatReason() throws Exception {
    TestHost host = host("host");
    String key = "extra-child";
    orphan(host, key);
    String path = host.store.layout().openPath(key);
    host.client.create().forPath(ZKPaths.makePath(path, "stray"));
    DeferredSpanRecovery recovery = recovery(host, UnaryOperator.identity());

    String log = stderrOf(() -> {
      recovery.scanNow();
      recovery.scanNow();
    });

    assertThat(host.client.checkExists().forPath(path)).isNull();
    assertThat(log).contains("children other than its span marker: [stray]").doesNotContain("already ended");
  }

  private interface Step {
    void run() throws Exception;
  }

  /** What the store logged (slf4j-simple writes to System.err) while {@code step} ran. */
  private static String stderrOf(Step step) throws Exception {
    PrintStream original = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      step.run();
    } finally {
      System.setErr(original);
    }
    return captured.toString(StandardCharsets.UTF_8);
  }

  @Test
  void safetyNetScanWaitsTheGracePeriodBeforeRecoveringWhatItFound() throws Exception {
    TestHost ender = host("ender");
    TestHost recoverer = host("recoverer");
    enqueue(ender, "slow");
    receiver.setFailing(true);
    assertEquals(EndResult.Outcome.ENDED, ender.store.endDeferredSpan("slow", DeferredSpanEnding.now(),
        ender.client.transactionOp().delete().forPath(item("slow"))).getOutcome());
    String claim = ZNodeLayout.claimPath(onlyEndedPath(ender));
    await().atMost(WAIT).until(() -> ender.client.checkExists().forPath(claim) == null);
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

  // ---------------------------------------------------------------- 2.12 only the leader watches

  @Test
  void onlyTheLeaderIsNotifiedOfEnds() throws Exception {
    List<TestHost> hosts = new ArrayList<>();
    List<DeferredSpanRecovery> workers = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      TestHost host = host("worker-" + i);
      hosts.add(host);
      DeferredSpanRecovery worker = recovery(host, options -> options.scanInterval(Duration.ofHours(1)));
      worker.start();
      workers.add(worker);
    }
    await().atMost(WAIT).until(() -> workers.stream().filter(DeferredSpanRecovery::hasLeadership).count() == 1);
    DeferredSpanRecovery leader = workers.stream().filter(DeferredSpanRecovery::hasLeadership).findFirst()
        .orElseThrow();
    TestHost ender = hosts.get(0);
    int ends = 200;
    for (int i = 0; i < ends; i++) {
      enqueue(ender, "end-" + i);
    }
    // The watch registers in the background: one end first, seen by the leader, then count from there.
    enqueue(ender, "probe");
    ender.store.endDeferredSpan("probe", DeferredSpanEnding.now(),
        ender.client.transactionOp().delete().forPath(item("probe")));
    await().atMost(WAIT).until(() -> leader.watchEvents() >= 4);
    receiver.awaitSpans(1, WAIT);
    await().atMost(WAIT).until(() -> ender.storedFinishedSpans() == 0);
    long[] before = workers.stream().mapToLong(DeferredSpanRecovery::watchEvents).toArray();

    for (int i = 0; i < ends; i++) {
      assertEquals(EndResult.Outcome.ENDED, ender.store.endDeferredSpan("end-" + i, DeferredSpanEnding.now(),
          ender.client.transactionOp().delete().forPath(item("end-" + i))).getOutcome());
    }
    receiver.awaitSpans(ends + 1, WAIT);
    await().atMost(WAIT).until(() -> ender.storedFinishedSpans() == 0);
    // Span created, claim created, claim deleted, span deleted: four per end, to the leader only.
    int leaderIndex = workers.indexOf(leader);
    await().atMost(WAIT).until(() -> leader.watchEvents() - before[leaderIndex] >= 4L * ends);

    for (int i = 0; i < workers.size(); i++) {
      long got = workers.get(i).watchEvents() - before[i];
      System.out.printf("watch: %s %d got %d notifications for %d ends%n", i == leaderIndex ? "leader" : "follower",
          i, got, ends);
      if (i != leaderIndex) {
        assertEquals(0, got, "a follower holds no watch"); // 800 each
      }
    }
    assertEquals(4L * ends, leader.watchEvents() - before[leaderIndex]);
  }

  // ---------------------------------------------------------------- lifecycle

  @Test
  void closedWorkerCannotBeStartedAgain() throws Exception {
    DeferredSpanRecovery recovery = recovery(host("host"), UnaryOperator.identity());
    recovery.close();

    assertThrows(IllegalStateException.class, recovery::start);
    assertThat(recovery.hasLeadership()).isFalse();
  }
}
