package io.deferredspans.store;

import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredSpanRecordCodec;
import io.deferredspans.sdk.DeferredSpanRecordException;
import io.deferredspans.sdk.FinishedDeferredSpan;
import io.deferredspans.sdk.UnsupportedRecordVersionException;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.Meter;
import java.io.Closeable;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.recipes.watch.PersistentWatcher;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finishes what hosts could not: exports ended spans whose ending host died (or whose exporter failed) before
 * an exporter acknowledged them, and ends abandoned spans so no trace keeps a parent that never arrives.
 *
 * <p>Run one on every host that has a {@link DeferredSpanStore}; a Curator {@link LeaderLatch} makes one of
 * them active at a time. Leadership is only an efficiency: every write is fenced by ZooKeeper itself (an
 * ephemeral claim that only one session can create, versioned deletes), so even two workers that both believe
 * they lead cannot export a span twice or end it twice.
 *
 * <h2>What a scan does</h2>
 *
 * <ul>
 *   <li><b>Unclaimed finished spans</b> (their claim vanished with the ending host's session, or was released
 *       after an export failure, or another implementation ended the span without one) are claimed and exported
 *       through this host's pipeline, once they have been seen unclaimed for the claim grace period (which gives
 *       a host that is merely slow time to finish), or at once when ZooKeeper reports the claim's deletion or a
 *       claim-less span's creation.
 *   <li><b>Orphans</b>: an open record whose owner znode is gone (seen twice, a grace period apart), or whose
 *       span is older than the maximum age, is ended with an error status and {@code deferred_span.abandoned}.
 *   <li><b>A bounded backlog</b>: if an exporter outage leaves more than {@code maxRetainedSpans} finished spans
 *       waiting, the oldest undelivered ones are dropped with an ERROR log and a counter, never silently.
 *   <li><b>Unreadable records</b> are moved to the quarantine znode, so they neither block the scan nor get
 *       lost; a record of a newer format version is left for a newer host until it exceeds the maximum age.
 * </ul>
 *
 * <h2>What it costs</h2>
 *
 * The leader's ZooKeeper reads follow change, not the number of open spans. A persistent recursive watch on the
 * finished spans reports each claim that vanishes, and only that span is looked at; all finished spans are
 * listed only when this worker becomes leader, after the watch is reset by a reconnection, and every {@code
 * fullScanInterval} as a safety net. Open spans are swept a few shards per tick, paced so that one pass takes
 * about {@code sweepPeriod} within a read budget ({@link Builder#sweep}); {@link StoreStats#recoveryReads()}
 * counts what the scans read. {@link #scanNow()} is the exception: everything, at once.
 *
 * <h2>Connection states</h2>
 *
 * On SUSPENDED or LOST the latch drops leadership and scans stop; on RECONNECTED it contends again, and the
 * watch, which Curator re-registers, triggers a full scan of finished spans for the events it may have missed. A
 * scan that fails part-way is logged and retried at the next interval. Explicit lifecycle: {@link #start()}, {@link
 * #close()}.
 */
public final class DeferredSpanRecovery implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(DeferredSpanRecovery.class);
  // Long enough for the claim event of an end that wrote one to arrive, short against the 1 s end-to-export goal.
  private static final long CLAIMLESS_DELAY_MILLIS = 50;

  private final DeferredSpanStore store;
  private final CuratorFramework client;
  private final ZNodeLayout layout;
  private final Duration scanInterval;
  private final Duration gracePeriod;
  private final Duration maxAge;
  private final int maxRetainedSpans;
  private final LeaderLatch latch;
  private final ScheduledExecutorService scheduler;
  private final AtomicBoolean started = new AtomicBoolean();
  private final AtomicBoolean closed = new AtomicBoolean();
  // Only touched by scans, which never overlap (one scheduler thread, scanNow is synchronized).
  private final Map<String, Long> unclaimedSince = new HashMap<>();
  private final LongAdder reads;
  private final Map<String, Long> ownerMissingSince = new HashMap<>();
  // Finished spans this worker exported that came back unclaimed (their export failed): attempts so far and the
  // earliest next one. Backing off keeps a failing or hung collector from getting the whole backlog every scan.
  private final Map<String, long[]> retryNotBefore = new HashMap<>();
  private final Duration retryBackoff;
  private final Duration maxRetryBackoff;
  private final Duration sweepPeriod;
  private final double maxSweepReadsPerSecond;
  private final Duration fullScanInterval;
  private final LongSupplier nanoTime;
  // Claims under ended/ that vanished (session expired, or released after a failed export): their spans are
  // looked at as soon as the event arrives, instead of polling every finished span.
  private final PersistentWatcher endedWatcher;
  private final Set<String> unclaimedEvents = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean fullScanDue = new AtomicBoolean(true);
  // The paced sweep of open spans, only touched by the scheduler thread (under this object's lock).
  private long lastTickNanos;
  private long nextFullScanNanos;
  private int sweepShard;
  private double sweepCredit;
  private long passReads;
  private long lastPassReads;
  private double passEstimate = ZNodeLayout.SHARDS;
  private boolean passEstimated;
  private OpenTally sweepTally = new OpenTally();
  // What the last complete pass over open spans and the last full scan of finished spans saw: the leader's
  // gauges. Null until there is one.
  private volatile OpenTally lastOpenTally;
  private volatile long lastWaitingForExport = -1;
  private final List<AutoCloseable> gauges = new ArrayList<>();

  private DeferredSpanRecovery(Builder builder) {
    this.store = builder.store;
    this.client = store.client();
    this.layout = store.layout();
    this.scanInterval = builder.scanInterval;
    this.gracePeriod = builder.gracePeriod;
    this.maxAge = builder.maxAge;
    this.maxRetainedSpans = builder.maxRetainedSpans;
    this.retryBackoff = builder.retryBackoff;
    this.maxRetryBackoff = builder.maxRetryBackoff;
    this.sweepPeriod = builder.sweepPeriod;
    this.maxSweepReadsPerSecond = builder.maxSweepReadsPerSecond;
    this.fullScanInterval = builder.fullScanInterval;
    this.nanoTime = builder.nanoTime;
    this.endedWatcher = new PersistentWatcher(client, layout.endedRoot(), true);
    this.reads = store.counters().recoveryReads;
    this.latch = new LeaderLatch(client, layout.recoveryLeaderPath(), store.tracing().getHostName());
    this.scheduler = Executors.newSingleThreadScheduledExecutor(Threads.daemon("deferred-span-recovery"));
  }

  public static Builder builder(DeferredSpanStore store) {
    return new Builder(store);
  }

  /** Joins the leader election and scans every scan interval while leading. */
  public void start() throws Exception {
    if (!started.compareAndSet(false, true)) {
      throw new IllegalStateException("already started");
    }
    registerGauges();
    endedWatcher.getListenable().addListener(this::onEndedEvent);
    // After a reconnection or a new session the watch may have missed events: the next tick scans fully.
    endedWatcher.getResetListenable().addListener(() -> fullScanDue.set(true));
    endedWatcher.start();
    latch.addListener(new LeaderLatchListener() {
      @Override
      public void isLeader() {
        fullScanDue.set(true); // events from before this worker led were not its to handle
      }

      @Override
      public void notLeader() {}
    });
    latch.start();
    long millis = scanInterval.toMillis();
    scheduler.scheduleWithFixedDelay(this::tickIfLeader, millis, millis, TimeUnit.MILLISECONDS);
  }

  /**
   * Gauges only the leader reports (every worker would otherwise report the same spans), from its last complete
   * pass over open spans and its last full scan of finished spans.
   */
  private void registerGauges() {
    Meter meter = store.metrics().meter();
    gauges.add(meter.gaugeBuilder("deferred_span.open").ofLongs().setUnit("{span}")
        .setDescription("Open deferred spans by name, as of the leader's last pass over them")
        .buildWithCallback(m -> {
          OpenTally tally = lastOpenTally;
          if (tally != null && latch.hasLeadership()) {
            tally.byName.forEach((name, count) -> m.record(count, Attributes.of(StoreMetrics.SPAN_NAME, name)));
          }
        }));
    gauges.add(meter.gaugeBuilder("deferred_span.open.oldest_age").setUnit("s")
        .setDescription("Age of the oldest open deferred span, as of the leader's last pass")
        .buildWithCallback(m -> {
          OpenTally tally = lastOpenTally;
          if (tally != null && tally.oldestStartNanos != Long.MAX_VALUE && latch.hasLeadership()) {
            m.record((store.tracing().getClock().now() - tally.oldestStartNanos) / 1e9);
          }
        }));
    gauges.add(meter.gaugeBuilder("deferred_span.export.waiting").ofLongs().setUnit("{span}")
        .setDescription("Finished spans stored in ZooKeeper, waiting for an exporter, as of the last full scan")
        .buildWithCallback(m -> {
          long waiting = lastWaitingForExport;
          if (waiting >= 0 && latch.hasLeadership()) {
            m.record(waiting);
          }
        }));
  }

  private void onEndedEvent(WatchedEvent event) {
    String path = event.getPath();
    if (event.getType() == Watcher.Event.EventType.NodeCreated && path != null) {
      onEndedCreated(path);
      return;
    }
    if (event.getType() != Watcher.Event.EventType.NodeDeleted || path == null) {
      return;
    }
    if (!ZKPaths.getNodeFromPath(path).equals(ZNodeLayout.CLAIM)) {
      // The span itself is gone (exported and removed with its claim, in one transaction, as almost every end
      // is): nothing to look at, and no read spent on it.
      unclaimedEvents.remove(path);
      return;
    }
    unclaimedEvents.add(ZKPaths.getPathAndNode(path).getPath());
    try {
      scheduler.execute(this::tickIfLeader);
    } catch (java.util.concurrent.RejectedExecutionException closing) {
      // closed meanwhile
    }
  }

  /**
   * A finished span written without a claim (another implementation's end, docs/record-format.md section 4) has
   * nobody exporting it: it is taken as soon as it appears. A Java end creates its claim in the same transaction,
   * whose event follows at once and withdraws the span before the short delay is over, so it costs no read.
   */
  private void onEndedCreated(String path) {
    ZKPaths.PathAndNode parent = ZKPaths.getPathAndNode(path);
    if (parent.getNode().equals(ZNodeLayout.CLAIM)) {
      unclaimedEvents.remove(parent.getPath());
      return;
    }
    if (!ZKPaths.getPathAndNode(parent.getPath()).getPath().equals(layout.endedRoot())) {
      return; // a shard, not a span
    }
    unclaimedEvents.add(path);
    try {
      scheduler.schedule(() -> {
        if (unclaimedEvents.contains(path)) {
          tickIfLeader();
        }
      }, CLAIMLESS_DELAY_MILLIS, TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException closing) {
      // closed meanwhile
    }
  }

  @Override
  public void close() throws IOException {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    scheduler.shutdownNow();
    if (started.get()) {
      for (AutoCloseable gauge : gauges) {
        try {
          gauge.close();
        } catch (Exception e) {
          log.debug("closing a gauge", e);
        }
      }
      endedWatcher.close();
      latch.close();
    }
  }

  /** Whether this worker is the active one right now. */
  public boolean hasLeadership() {
    return latch.hasLeadership();
  }

  private void tickIfLeader() {
    if (!latch.hasLeadership()) {
      unclaimedEvents.clear(); // the leader, whoever it is, gets the same events
      return;
    }
    try {
      tick();
    } catch (Exception e) {
      if (closed.get()) {
        return; // close() interrupted the scan: nothing failed, and nothing is half-done (each write is atomic)
      }
      log.warn("recovery scan failed; retrying in {}", scanInterval, e);
    }
  }

  /**
   * Runs one scan now, leader or not (safe: writes are fenced by ZooKeeper, not by leadership). For operators
   * and tests; normally scans run on their own.
   */
  public synchronized ScanResult scanNow() throws Exception {
    ScanResult result = new ScanResult();
    scanFinished(result);
    scanOpen(result);
    clearTombstones();
    return result;
  }

  /**
   * What the leader does every scan interval. Its ZooKeeper reads follow what changes, not how many spans are
   * open: finished spans are looked at when their claim's deletion is reported (a full scan of them only after a
   * watch reset and every {@code fullScanInterval}); open spans are swept a few shards per tick, paced so that
   * one pass takes about {@code sweepPeriod} and never reads faster than {@code maxSweepReadsPerSecond}; an
   * owner seen missing is checked again once its grace period is over, not a pass later.
   */
  synchronized ScanResult tick() throws Exception {
    ScanResult result = new ScanResult();
    long now = nanoTime.getAsLong();
    if (fullScanDue.getAndSet(false) || now - nextFullScanNanos >= 0) {
      nextFullScanNanos = now + fullScanInterval.toNanos();
      unclaimedEvents.clear();
      scanFinished(result);
      // Unclaimed spans the events missed are taken on the next tick, not after another full scan.
      unclaimedEvents.addAll(unclaimedSince.keySet());
      clearTombstones();
    } else {
      recoverUnclaimed(result, now);
    }
    recheckMissingOwners(result);
    sweepOpen(result, now);
    return result;
  }

  /** Spans whose claim was reported gone, and earlier failures whose retry is due. */
  private void recoverUnclaimed(ScanResult result, long now) throws Exception {
    Set<String> candidates = new HashSet<>(unclaimedEvents);
    unclaimedEvents.removeAll(candidates);
    retryNotBefore.forEach((path, retry) -> {
      if (now - retry[1] >= 0) {
        candidates.add(path);
      }
    });
    for (String endedPath : candidates) {
      long[] retry = retryNotBefore.get(endedPath);
      if (retry != null && now - retry[1] < 0) {
        result.backedOff++;
        continue;
      }
      reads.increment();
      if (client.checkExists().forPath(endedPath) == null) {
        retryNotBefore.remove(endedPath); // exported and removed
        continue;
      }
      // A claim is deleted only with its span, by its session's end, or by a release after a failed export:
      // an unclaimed span seen here has nobody left to deliver it, so no grace period applies.
      if (recoverFinished(endedPath)) {
        result.recovered++;
        scheduleRetry(endedPath, now);
      }
    }
  }

  /**
   * What the coming pass will read: one listing per shard, and a record read plus an owner check per record.
   * ZooKeeper counts every node below {@code open/} in one call (shards, records and their markers: 256 + 2 per
   * record), which is exactly that; a server too old for the call gets the last pass's count.
   */
  private double estimatePassReads() {
    try {
      reads.increment();
      return Math.max(ZNodeLayout.SHARDS, client.getZookeeperClient().getZooKeeper()
          .getAllChildrenNumber(ZKPaths.fixForNamespace(client.getNamespace(), layout.openRoot())));
    } catch (Exception olderServerOrNoAnswer) {
      return Math.max(ZNodeLayout.SHARDS, lastPassReads);
    }
  }

  /** Open records whose owner was seen missing: checked again once the grace period is over. */
  private void recheckMissingOwners(ScanResult result) throws Exception {
    long nowNanos = store.tracing().getClock().now();
    long elapsed = System.nanoTime();
    for (Map.Entry<String, Long> missing : new ArrayList<>(ownerMissingSince.entrySet())) {
      if (elapsed - missing.getValue() >= gracePeriod.toNanos()) {
        sweepRecord(missing.getKey(), nowNanos, result, null);
      }
    }
  }

  /**
   * Sweeps whole shards of open spans while this tick's read credit lasts. The credit grows at the rate that
   * spreads one pass (its reads counted by ZooKeeper when the pass starts) over {@code sweepPeriod}, capped by
   * {@code maxSweepReadsPerSecond}; a shard bigger than the credit is swept anyway and the debt paid by later
   * ticks.
   */
  private void sweepOpen(ScanResult result, long now) throws Exception {
    long elapsed = lastTickNanos == 0 ? scanInterval.toNanos() : now - lastTickNanos;
    lastTickNanos = now;
    if (!passEstimated) {
      passEstimate = estimatePassReads();
      passEstimated = true;
    }
    double rate = Math.min(maxSweepReadsPerSecond, passEstimate / (sweepPeriod.toNanos() / 1e9));
    double tickCredit = rate * scanInterval.toNanos() / 1e9;
    sweepCredit = Math.min(sweepCredit + rate * elapsed / 1e9, Math.max(tickCredit, 1));
    List<String> shards = layout.openShards();
    long nowNanos = store.tracing().getClock().now();
    while (sweepCredit > 0) {
      long before = reads.sum();
      for (String child : children(shards.get(sweepShard))) {
        sweepRecord(ZKPaths.makePath(shards.get(sweepShard), child), nowNanos, result, sweepTally);
      }
      long spent = reads.sum() - before;
      sweepCredit -= spent;
      passReads += spent;
      sweepShard++;
      if (sweepShard == ZNodeLayout.SHARDS) {
        sweepShard = 0;
        lastPassReads = passReads;
        passReads = 0;
        passEstimated = false;
        lastOpenTally = sweepTally;
        sweepTally = new OpenTally();
        result.sweepsCompleted++;
        break; // the next pass starts on the next tick, at the rate this pass set
      }
    }
  }

  private void scanFinished(ScanResult result) throws Exception {
    List<String> unclaimed = new ArrayList<>();
    int stored = 0;
    for (String shard : layout.endedShards()) {
      for (String spanId : children(shard)) {
        String endedPath = ZKPaths.makePath(shard, spanId);
        stored++;
        reads.increment();
        if (client.checkExists().forPath(ZNodeLayout.claimPath(endedPath)) == null) {
          unclaimed.add(endedPath);
        }
      }
    }
    lastWaitingForExport = stored;
    if (stored > maxRetainedSpans) {
      unclaimed.removeAll(dropOldest(unclaimed, stored - maxRetainedSpans, result));
    }
    unclaimedSince.keySet().retainAll(unclaimed);
    retryNotBefore.keySet().retainAll(unclaimed);
    long now = System.nanoTime();
    for (String endedPath : unclaimed) {
      long[] retry = retryNotBefore.get(endedPath);
      if (retry != null && now - retry[1] < 0) {
        result.backedOff++;
        continue;
      }
      if (graceElapsed(unclaimedSince, endedPath) && recoverFinished(endedPath)) {
        unclaimedSince.remove(endedPath);
        result.recovered++;
        scheduleRetry(endedPath, now);
      }
    }
  }

  /** Should this export fail too, the next attempt waits twice as long as the last, up to the maximum. */
  private void scheduleRetry(String endedPath, long now) {
    long[] retry = retryNotBefore.computeIfAbsent(endedPath, path -> new long[2]);
    int attempts = (int) Math.min(30, retry[0]++);
    long delay = Math.min(maxRetryBackoff.toNanos(), retryBackoff.toNanos() << attempts);
    retry[1] = now + Math.max(0, delay);
  }

  /**
   * The exporter has been failing for long enough that more finished spans wait in ZooKeeper than allowed:
   * drop the oldest unclaimed ones, loudly, so that ZooKeeper itself is never put at risk by a tracing outage.
   */
  private List<String> dropOldest(List<String> unclaimed, int excess, ScanResult result) throws Exception {
    List<Map.Entry<String, Stat>> byAge = new ArrayList<>();
    for (String path : unclaimed) {
      Stat stat = client.checkExists().forPath(path);
      if (stat != null) {
        byAge.add(Map.entry(path, stat));
      }
    }
    byAge.sort(Comparator.comparingLong(entry -> entry.getValue().getCzxid()));
    List<String> dropped = new ArrayList<>();
    for (Map.Entry<String, Stat> entry : byAge.subList(0, Math.min(excess, byAge.size()))) {
      try {
        client.delete().withVersion(entry.getValue().getVersion()).forPath(entry.getKey());
        dropped.add(entry.getKey());
      } catch (KeeperException.NoNodeException | KeeperException.NotEmptyException
          | KeeperException.BadVersionException exportedOrClaimedMeanwhile) {
        // someone is delivering it after all
      }
    }
    if (!dropped.isEmpty()) {
      store.counters().recordDropped(dropped.size());
      result.dropped += dropped.size();
      log.error("exporter backlog: {} finished spans waited in ZooKeeper, more than maxRetainedSpans={}; "
          + "dropped the {} oldest undelivered spans", unclaimed.size() + excess, maxRetainedSpans, dropped.size());
    }
    return dropped;
  }

  /**
   * Claims and exports one unclaimed finished span; false if someone else got there first. The claim carries a
   * nonce, so a create whose reply was lost and that Curator retried into "exists" is still known as ours; a claim
   * this worker cannot follow through (unreadable span, failed read) is given back at once, never left to block the
   * span for as long as this host lives.
   */
  private boolean recoverFinished(String endedPath) throws Exception {
    String claimPath = ZNodeLayout.claimPath(endedPath);
    byte[] claim = store.endTransaction().claimData();
    ClaimSession session = store.sessions().current();
    try {
      client.create().withMode(CreateMode.EPHEMERAL).forPath(claimPath, claim);
    } catch (KeeperException.NoNodeException exportedMeanwhile) {
      return false;
    } catch (KeeperException.NodeExistsException exists) {
      Stat owner = new Stat();
      byte[] held = store.reads().data(claimPath, owner);
      if (!Arrays.equals(held, claim) || owner.getEphemeralOwner() != session.id()) {
        return false; // another worker's claim
      }
    }
    FinishedDeferredSpan finished;
    try {
      Stat stat = new Stat();
      byte[] data = client.getData().storingStatIn(stat).forPath(endedPath);
      try {
        finished = DeferredSpanRecordCodec.decodeFinished(data, endedPath);
      } catch (DeferredSpanRecordException e) {
        log.error("{}; moving it to quarantine", e.getMessage());
        quarantine(endedPath, stat, data, null); // deletes our claim with it
        return false;
      }
    } catch (Exception e) {
      store.exportedSpans().giveBack(endedPath, session);
      throw e;
    }
    log.info("exporting {} ({}), ended by {} whose export did not complete",
        finished.getRecord().getName(), finished.getRecord().getSpanContext().getSpanId(),
        finished.getEndedBy());
    store.counters().recordRecovered();
    store.exportedSpans().export(finished, endedPath, session);
    return true;
  }

  private void scanOpen(ScanResult result) throws Exception {
    Set<String> seen = new HashSet<>();
    long nowNanos = store.tracing().getClock().now();
    OpenTally tally = new OpenTally();
    for (String shard : layout.openShards()) {
      for (String child : children(shard)) {
        String path = ZKPaths.makePath(shard, child);
        seen.add(path);
        sweepRecord(path, nowNanos, result, tally);
      }
    }
    ownerMissingSince.keySet().retainAll(seen);
    lastOpenTally = tally;
  }

  /** Open spans seen in one pass, by name, and the oldest start: what the leader's gauges report. */
  private static final class OpenTally {
    final Map<String, Long> byName = new HashMap<>();
    long oldestStartNanos = Long.MAX_VALUE;

    void add(DeferredSpanRecord record) {
      byName.merge(record.getName(), 1L, Long::sum);
      oldestStartNanos = Math.min(oldestStartNanos, record.getStartEpochNanos());
    }
  }

  /** Reads one open record and ends it as abandoned if its owner is gone or it is too old. */
  private void sweepRecord(String path, long nowNanos, ScanResult result, OpenTally tally) throws Exception {
    Stat stat = new Stat();
    byte[] data;
    try {
      reads.increment();
      data = client.getData().storingStatIn(stat).forPath(path);
    } catch (KeeperException.NoNodeException endedMeanwhile) {
      ownerMissingSince.remove(path);
      return;
    }
    Optional<DeferredSpanRecord> record = readOrQuarantine(path, stat, data, result);
    if (record.isEmpty()) {
      return;
    }
    String reason = abandonReason(path, record.get(), nowNanos);
    if (reason == null && tally != null) {
      tally.add(record.get());
    }
    if (reason != null) {
      FinishedDeferredSpan abandoned = store.tracing().abandon(record.get(), reason);
      EndResult end = store.endTransaction().commit(path, stat, data, abandoned,
          store.endTransaction().tombstoneOps(path, record.get()));
      if (end.getOutcome() == EndResult.Outcome.ENDED) {
        log.warn("ended abandoned span {} ({}): {}", record.get().getName(), path, reason);
        store.counters().recordAbandoned(reason);
        result.abandoned++;
      }
      ownerMissingSince.remove(path);
    }
  }

  private Optional<DeferredSpanRecord> readOrQuarantine(String path, Stat stat, byte[] data, ScanResult result)
      throws Exception {
    try {
      return Optional.of(DeferredSpanRecordCodec.decodeRecord(data, path));
    } catch (UnsupportedRecordVersionException e) {
      if (System.currentTimeMillis() - stat.getCtime() < maxAge.toMillis()) {
        return Optional.empty(); // a newer host may still end it
      }
      log.error("{}; older than {}, moving it to quarantine", e.getMessage(), maxAge);
    } catch (DeferredSpanRecordException e) {
      log.error("{}; moving it to quarantine", e.getMessage());
    }
    quarantine(path, stat, data, result);
    return Optional.empty();
  }

  /**
   * Deletes tombstones of abandoned spans that no dequeue can still need: their owner is gone, or they are older
   * than the maximum age (at least a day).
   */
  private void clearTombstones() throws Exception {
    for (String name : children(layout.abandonedRoot())) {
      String path = ZKPaths.makePath(layout.abandonedRoot(), name);
      Stat stat = new Stat();
      byte[] data;
      try {
        reads.increment();
        data = client.getData().storingStatIn(stat).forPath(path);
      } catch (KeeperException.NoNodeException dequeuedMeanwhile) {
        continue;
      }
      String text = new String(data, java.nio.charset.StandardCharsets.UTF_8);
      String owner = text.indexOf('\n') >= 0 ? text.substring(text.indexOf('\n') + 1) : "";
      // A dequeue may come as late as a span may live, and never sooner than a day.
      long retentionMillis = Math.max(maxAge.toMillis(), Duration.ofDays(1).toMillis());
      boolean expired = System.currentTimeMillis() - stat.getCtime() > retentionMillis;
      if (expired || owner.isEmpty() || client.checkExists().forPath(owner) == null) {
        try {
          client.delete().withVersion(stat.getVersion()).forPath(path);
        } catch (KeeperException.NoNodeException | KeeperException.BadVersionException changed) {
          // dequeued or replaced meanwhile
        }
      }
    }
  }

  /** Moves unreadable bytes to quarantine, unless the node changed meanwhile (then there is nothing to move). */
  private void quarantine(String path, Stat stat, byte[] data, ScanResult result) throws Exception {
    try {
      client.transaction().forOperations(store.endTransaction().quarantineOps(path, stat, data));
    } catch (EndTransaction.RecordChangedException | KeeperException.NoNodeException
        | KeeperException.BadVersionException | KeeperException.NotEmptyException changed) {
      return; // ended or replaced meanwhile
    }
    store.counters().recordQuarantined();
    if (result != null) {
      result.quarantined++;
    }
  }

  private String abandonReason(String path, DeferredSpanRecord record, long nowNanos) throws Exception {
    if (nowNanos - record.getStartEpochNanos() > maxAge.toNanos()) {
      return "max_age_exceeded";
    }
    Optional<String> owner = record.getOwner();
    if (owner.isPresent()) {
      reads.increment();
    }
    if (owner.isEmpty() || client.checkExists().forPath(owner.get()) != null) {
      ownerMissingSince.remove(path);
      return null;
    }
    // The owner may be deleted just before the end that removes the record: wait out the grace period.
    return graceElapsed(ownerMissingSince, path) ? "owner_deleted" : null;
  }

  private boolean graceElapsed(Map<String, Long> firstSeen, String path) {
    long now = System.nanoTime();
    Long since = firstSeen.putIfAbsent(path, now);
    return since != null && now - since >= gracePeriod.toNanos();
  }

  private List<String> children(String path) throws Exception {
    reads.increment();
    try {
      return client.getChildren().forPath(path);
    } catch (KeeperException.NoNodeException e) {
      return List.of();
    }
  }

  /** What one scan did. */
  public static final class ScanResult {
    private int recovered;
    private int abandoned;
    private int quarantined;
    private int dropped;
    private int backedOff;
    private int sweepsCompleted;

    ScanResult() {}

    /** Finished spans exported on behalf of a host that did not. */
    public int recovered() {
      return recovered;
    }

    /** Open spans ended as abandoned. */
    public int abandoned() {
      return abandoned;
    }

    /** Unreadable records moved to quarantine. */
    public int quarantined() {
      return quarantined;
    }

    /** Undelivered finished spans dropped because more than {@code maxRetainedSpans} were waiting. */
    public int dropped() {
      return dropped;
    }

    /** Finished spans whose earlier recovery failed, left alone this scan because their retry is not due. */
    public int backedOff() {
      return backedOff;
    }

    /** Passes over all open spans that this tick completed (0 or 1). */
    int sweepsCompleted() {
      return sweepsCompleted;
    }

    @Override
    public String toString() {
      return "ScanResult{recovered=" + recovered + ", abandoned=" + abandoned + ", quarantined=" + quarantined
          + ", dropped=" + dropped + ", backedOff=" + backedOff + "}";
    }
  }

  /** Builder for {@link DeferredSpanRecovery}. */
  public static final class Builder {
    private final DeferredSpanStore store;
    private Duration scanInterval = Duration.ofSeconds(10);
    private Duration gracePeriod = Duration.ofSeconds(30);
    private Duration maxAge = Duration.ofDays(7);
    private int maxRetainedSpans = 100_000;
    private Duration retryBackoff = Duration.ofSeconds(30);
    private Duration maxRetryBackoff = Duration.ofMinutes(15);
    private Duration sweepPeriod = Duration.ofHours(1);
    private double maxSweepReadsPerSecond = 100;
    private Duration fullScanInterval = Duration.ofMinutes(30);
    private LongSupplier nanoTime = System::nanoTime;

    private Builder(DeferredSpanStore store) {
      this.store = Objects.requireNonNull(store, "store");
    }

    /**
     * How often the leader advances its sweep of open spans and retries failed exports that are due. Finished
     * spans whose claim vanished are handled when ZooKeeper reports it, not at this interval. Default 10 s.
     */
    public Builder scanInterval(Duration scanInterval) {
      this.scanInterval = DeferredSpanStore.Builder.requirePositive(scanInterval, "scanInterval");
      return this;
    }

    /**
     * How long a finished span must stay unclaimed, or an owner stay missing, before the worker acts. Longer
     * than a slow host's end-to-export time. Default 30 s.
     */
    public Builder gracePeriod(Duration gracePeriod) {
      if (gracePeriod == null || gracePeriod.isNegative()) {
        throw new IllegalArgumentException("gracePeriod must not be negative");
      }
      this.gracePeriod = gracePeriod;
      return this;
    }

    /** Spans open longer than this are ended as abandoned. Default 7 days. */
    public Builder maxAge(Duration maxAge) {
      this.maxAge = DeferredSpanStore.Builder.requirePositive(maxAge, "maxAge");
      return this;
    }

    /**
     * The most finished spans that may wait in ZooKeeper for an exporter that keeps failing. Beyond it the
     * oldest undelivered ones are dropped, with an ERROR log and {@link StoreStats#droppedAtBound()}, so a long
     * tracing outage can never fill ZooKeeper. Default 100,000 (about 30 MB of znodes).
     */
    public Builder maxRetainedSpans(int maxRetainedSpans) {
      if (maxRetainedSpans < 1) {
        throw new IllegalArgumentException("maxRetainedSpans must be positive");
      }
      this.maxRetainedSpans = maxRetainedSpans;
      return this;
    }

    /**
     * How long to wait before exporting again a span whose recovery export failed; doubled after each further
     * failure, up to {@code max}. A collector that is down, or hung and timing exporters out while it keeps the
     * data, then sees each span a few times an hour rather than once per scan. Defaults 30 s and 15 min.
     */
    public Builder retryBackoff(Duration initial, Duration max) {
      this.retryBackoff = DeferredSpanStore.Builder.requirePositive(initial, "retryBackoff");
      this.maxRetryBackoff = DeferredSpanStore.Builder.requirePositive(max, "maxRetryBackoff");
      return this;
    }

    /**
     * Open spans (orphans, maximum age) are not urgent: the leader sweeps them a few shards at a time so that one
     * pass over all of them takes about this long, spending about {@code (256 + 2 × open spans) / period} reads
     * per second, and at most {@code maxReadsPerSecond}; with more open spans than that allows, a pass takes
     * longer instead. Defaults 1 h and 100 reads/s: a pass over 100,000 open spans takes about 34 min at 100
     * reads/s, over 10,000 about an hour at 5.6 reads/s.
     */
    public Builder sweep(Duration period, double maxReadsPerSecond) {
      this.sweepPeriod = DeferredSpanStore.Builder.requirePositive(period, "sweep period");
      if (!(maxReadsPerSecond > 0)) {
        throw new IllegalArgumentException("maxReadsPerSecond must be positive");
      }
      this.maxSweepReadsPerSecond = maxReadsPerSecond;
      return this;
    }

    /**
     * How often the leader lists every finished span as a safety net for watch events it might have missed
     * (a full scan also runs after every reconnection and whenever this worker becomes leader). Default 30 min.
     */
    public Builder fullScanInterval(Duration fullScanInterval) {
      this.fullScanInterval = DeferredSpanStore.Builder.requirePositive(fullScanInterval, "fullScanInterval");
      return this;
    }

    /** For tests: the ticker that paces the sweep. */
    Builder nanoTime(LongSupplier nanoTime) {
      this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
      return this;
    }

    public DeferredSpanRecovery build() {
      return new DeferredSpanRecovery(this);
    }
  }
}
