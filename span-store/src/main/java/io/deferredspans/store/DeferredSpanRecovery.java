package io.deferredspans.store;

import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredSpanRecordCodec;
import io.deferredspans.sdk.DeferredSpanRecordException;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.sdk.FinishedDeferredSpan;
import io.deferredspans.sdk.UnsupportedRecordVersionException;
import io.deferredspans.store.RecoveryGauges.OpenTally;
import io.opentelemetry.sdk.common.Clock;
import java.io.Closeable;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
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
import java.util.concurrent.atomic.AtomicReference;
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
 *       waiting, the oldest undelivered ones are dropped with an ERROR log and a counter, never silently, as
 *       they arrive (the leader counts them from its watch), not only at the next full scan.
 *   <li><b>Unreadable records</b>, and records no end can remove (no span marker, other children), are moved to
 *       the quarantine znode, so they neither block the scan nor get lost; a record or finished span of a newer
 *       format version is left where it is for a newer host (an open one until it exceeds the maximum age).
 * </ul>
 *
 * <h2>One record never stops the others</h2>
 *
 * Each step on one record is isolated: a failure of that record alone (an owner that is no znode path, an end
 * larger than a transaction, ...) is logged, counted in {@link ScanResult#skipped()} and tried again later, and the
 * scan goes on. Only what fails for every record (no connection, a closed worker) ends a scan.
 *
 * <h2>Leadership changes</h2>
 *
 * What the leader has learnt is kept in ZooKeeper ({@code BASE/recovery-progress}, versioned): where the sweep of
 * open spans has got to, since when each owner is missing, and each export's backoff. A new leader reads it and
 * goes on from there, so late shards are swept and a backed-off span is not sent again by every new leader. Only
 * the leader holds the watch on finished spans: it is added when a worker starts leading and removed when it stops.
 * Recovery refuses to be built on a store whose tracing exports nothing ({@link Builder#build()}).
 *
 * <h2>What it costs</h2>
 *
 * The leader's ZooKeeper reads follow change, not the number of open spans. A persistent recursive watch on the
 * finished spans reports each claim that vanishes, and only that span is looked at (a span the safety-net scan
 * finds unclaimed waits out the grace period first); all finished spans are
 * listed only when this worker becomes leader, after the watch is reset by a reconnection, and every {@code
 * fullScanInterval} as a safety net. Open spans are swept a few shards per tick, paced so that one pass takes
 * about {@code sweepPeriod} within a read budget ({@link Builder#sweep}); {@link StoreStats#recoveryReads()}
 * counts what the scans read. {@link #scanNow()} is the exception: everything, at once.
 *
 * <h2>Connection states</h2>
 *
 * On SUSPENDED or LOST the latch drops leadership, scans stop and the watch is removed; on RECONNECTED it contends
 * again, and a worker that leads again adds the watch anew, whose registration triggers a full scan of finished
 * spans for the events it may have missed. A
 * scan that fails part-way is logged and retried at the next interval. Explicit lifecycle: {@link #start()} once,
 * then {@link #close()}; a closed worker cannot be started again.
 */
public final class DeferredSpanRecovery implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(DeferredSpanRecovery.class);
  // Long enough for the claim event of an end that wrote one to arrive, short against the 1 s end-to-export goal.
  private static final long CLAIMLESS_DELAY_MILLIS = 50;

  /** Each step once, in this order, as Curator's recipes keep their lifecycle. */
  private enum State {
    LATENT,
    STARTED,
    CLOSED
  }

  private final DeferredSpanStore store;
  private final CuratorFramework client;
  private final ZNodeLayout layout;
  private final Duration scanInterval;
  private final Duration gracePeriod;
  private final Duration maxAge;
  private final LeaderLatch latch;
  private final ScheduledExecutorService scheduler;
  private final AtomicReference<State> state = new AtomicReference<>(State.LATENT);
  // The one clock of recovery: sweep pacing, grace periods, backoffs and ages all read it (epoch nanos, so that
  // what one leader persisted means the same to the next).
  private final Clock clock;
  private final LongAdder reads;
  // Only touched by scans, which never overlap (one scheduler thread; scanNow and tick are synchronized).
  private final Map<String, Long> unclaimedSince = new HashMap<>();
  private final RecoveryProgress progress;
  private final RetainedSpans retained;
  private final Duration retryBackoff;
  private final Duration maxRetryBackoff;
  private final Duration fullScanInterval;
  // The persistent recursive watch on ended/, held only while leading: a worker that does not lead has nothing to
  // do with its events, and every end would cost each of them four notifications.
  private final Object watchLock = new Object();
  private PersistentWatcher endedWatcher; // guarded by watchLock; null while not leading
  private final LongAdder watchEvents = new LongAdder();
  // Claims under ended/ that vanished (session expired, or released after a failed export): their spans are
  // looked at as soon as the event arrives, instead of polling every finished span.
  private final Set<String> unclaimedEvents = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean fullScanDue = new AtomicBoolean(true);
  // The paced sweep of open spans, only touched by the scans (its position is in the persisted progress).
  private long nextFullScanNanos;
  private final SweepPace pace;
  private OpenTally sweepTally = new OpenTally();
  private boolean sweepTallyWhole; // this worker swept the current pass from shard 00: its tally is complete
  private final RecoveryGauges gauges = new RecoveryGauges();

  private DeferredSpanRecovery(Builder builder) {
    this.store = builder.store;
    requireExportingPipeline(store.tracing());
    this.client = store.client();
    this.layout = store.layout();
    this.scanInterval = builder.scanInterval;
    this.gracePeriod = builder.gracePeriod;
    this.maxAge = builder.maxAge;
    this.retryBackoff = builder.retryBackoff;
    this.maxRetryBackoff = builder.maxRetryBackoff;
    this.pace = new SweepPace(scanInterval, builder.sweepPeriod, builder.maxSweepReadsPerSecond,
        this::estimatePassReads);
    this.fullScanInterval = builder.fullScanInterval;
    this.clock = builder.clock != null ? builder.clock : store.tracing().getClock();
    this.reads = store.counters().recoveryReads;
    this.progress = new RecoveryProgress(client, layout, reads);
    this.retained = new RetainedSpans(client, builder.maxRetainedSpans, reads);
    this.latch = new LeaderLatch(client, layout.recoveryLeaderPath(), store.tracing().getHostName());
    this.scheduler = Executors.newSingleThreadScheduledExecutor(Threads.daemon("deferred-span-recovery"));
  }

  /**
   * Recovery exports other hosts' spans and then deletes their stored copies: through a pipeline that exports
   * nothing (tracing disabled, or no exporter) it would delete them unexported, as {@code serve} refuses to.
   */
  private static void requireExportingPipeline(DeferredTracing tracing) {
    if (!tracing.isEnabled()) {
      throw new IllegalStateException("DeferredSpanRecovery needs tracing enabled: with DeferredTracing.noop() "
          + "(OTEL_SDK_DISABLED=true) it would delete other hosts' finished spans without exporting them. Run "
          + "recovery only on hosts that export");
    }
    if (!tracing.acknowledgesExports()) {
      throw new IllegalStateException("DeferredSpanRecovery needs a span exporter that acknowledges exports "
          + "(DeferredTracingBuilder.addSpanExporter, or autoconfigure with OTEL_TRACES_EXPORTER set): without one "
          + "(OTEL_TRACES_EXPORTER=none?) it would delete other hosts' finished spans as soon as it handed them to "
          + "the span processors. Run recovery only on hosts that export");
    }
  }

  public static Builder builder(DeferredSpanStore store) {
    return new Builder(store);
  }

  /**
   * Joins the leader election and scans every scan interval while leading.
   *
   * @throws IllegalStateException if already started, or closed
   */
  public void start() throws Exception {
    if (!state.compareAndSet(State.LATENT, State.STARTED)) {
      throw new IllegalStateException("already started or closed");
    }
    gauges.register(store.metrics().meter(), clock, latch::hasLeadership);
    latch.addListener(new LeaderLatchListener() {
      @Override
      public void isLeader() {
        progress.invalidate(); // scans of this worker may run now: they go on from the last leader's progress
        startWatching();
      }

      @Override
      public void notLeader() {
        stopWatching();
      }
    });
    latch.start();
    long millis = scanInterval.toMillis();
    scheduler.scheduleWithFixedDelay(this::tickIfLeader, millis, millis, TimeUnit.MILLISECONDS);
  }

  /** Watches ended/ while leading; each (re)registration of the watch is followed by a full scan. */
  private void startWatching() {
    synchronized (watchLock) {
      if (endedWatcher != null || state.get() == State.CLOSED) {
        return;
      }
      PersistentWatcher watcher = new PersistentWatcher(client, layout.endedRoot(), true);
      watcher.getListenable().addListener(this::onEndedEvent);
      // Once the watch is in place (and after a reconnection, when it may have missed events): scan fully.
      watcher.getResetListenable().addListener(() -> fullScanDue.set(true));
      watcher.start();
      endedWatcher = watcher;
    }
  }

  private void stopWatching() {
    synchronized (watchLock) {
      if (endedWatcher != null) {
        endedWatcher.close();
        endedWatcher = null;
      }
      unclaimedEvents.clear(); // the next leader gets its own events
      retained.clear();
    }
  }

  private void onEndedEvent(WatchedEvent event) {
    watchEvents.increment();
    String path = event.getPath();
    if (path == null || !path.startsWith(layout.endedRoot() + "/")) {
      return;
    }
    // ended/YY/SPANID is a finished span, ended/YY/SPANID/claim its claim.
    int depth = path.substring(layout.endedRoot().length() + 1).split("/", -1).length;
    if (depth == 2) {
      if (event.getType() == Watcher.Event.EventType.NodeCreated) {
        retained.arrived(path);
        if (retained.overBound()) {
          scheduleTick(); // the bound holds as spans arrive, not only at the next full scan
        }
        takeIfStillUnclaimed(path);
      } else if (event.getType() == Watcher.Event.EventType.NodeDeleted) {
        // Exported and removed with its claim, in one transaction, as almost every end is: nothing to look at.
        retained.removed(path);
        unclaimedEvents.remove(path);
      }
      return;
    }
    if (depth == 3 && event.getType() == Watcher.Event.EventType.NodeCreated
        && ZKPaths.getNodeFromPath(path).equals(ZNodeLayout.CLAIM)) {
      unclaimedEvents.remove(ZKPaths.getPathAndNode(path).getPath()); // its ender claimed it: not ours to take
      return;
    }
    if (depth == 3 && event.getType() == Watcher.Event.EventType.NodeDeleted
        && ZKPaths.getNodeFromPath(path).equals(ZNodeLayout.CLAIM)) {
      unclaimedEvents.add(ZKPaths.getPathAndNode(path).getPath());
      scheduleTick();
    }
  }

  private void scheduleTick() {
    try {
      scheduler.execute(this::tickIfLeader);
    } catch (java.util.concurrent.RejectedExecutionException closing) {
      // closed meanwhile
    }
  }

  /** Watch notifications this worker received (for tests: only the leader holds the watch). */
  long watchEvents() {
    return watchEvents.sum();
  }

  /**
   * A finished span written without a claim (another implementation's end, docs/record-format.md section 4) has
   * nobody exporting it: it is taken as soon as it appears. A Java end creates its claim in the same transaction,
   * whose event follows at once and withdraws the span before the short delay is over, so it costs no read.
   */
  private void takeIfStillUnclaimed(String path) {
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

  /** Stops scanning and leaves the election. Idempotent; a closed worker cannot be started again. */
  @Override
  public void close() throws IOException {
    State was = state.getAndSet(State.CLOSED);
    if (was == State.CLOSED) {
      return;
    }
    scheduler.shutdownNow();
    if (was == State.STARTED) {
      gauges.close();
      latch.close();
      stopWatching();
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
      if (state.get() == State.CLOSED) {
        return; // close() interrupted the scan: nothing failed, and nothing is half-done (each write is atomic)
      }
      log.warn("recovery scan failed; retrying in {}", scanInterval, e);
    }
  }

  /**
   * Runs one scan now, leader or not (safe: writes are fenced by ZooKeeper, not by leadership). For operators
   * and tests; normally scans run on their own. Finished spans are recovered once they have stayed unclaimed for
   * the grace period, as in the safety-net scan.
   */
  public synchronized ScanResult scanNow() throws Exception {
    ScanResult result = new ScanResult();
    long now = clock.now();
    progress.loadIfStale();
    scanFinished(result, now);
    scanOpen(result, now);
    clearTombstones(result, now);
    progress.saveIfChanged();
    return result;
  }

  /**
   * What the leader does every scan interval. Its ZooKeeper reads follow what changes, not how many spans are
   * open: finished spans are looked at when their claim's deletion is reported (a full scan of them only after a
   * watch reset and every {@code fullScanInterval}); open spans are swept a few shards per tick, paced so that
   * one pass takes about {@code sweepPeriod} and never reads faster than {@code maxSweepReadsPerSecond}; an
   * owner seen missing is checked again once its grace period is over, not a pass later. Where the sweep is,
   * which owners are missing since when and which exports back off until when is kept in ZooKeeper, so the next
   * leader goes on from there.
   */
  synchronized ScanResult tick() throws Exception {
    ScanResult result = new ScanResult();
    long now = clock.now();
    progress.loadIfStale();
    boolean fullScan = fullScanDue.getAndSet(false) || now - nextFullScanNanos >= 0;
    if (!fullScan && retained.overBound()) {
      dropBeyondBound(result); // a full scan below enforces the bound itself
    }
    recoverUnclaimed(result, now);
    recheckMissingOwners(result, now);
    sweepOpen(result, now);
    // Kept before the full scan, which reads every shard of ended/ and can outlast a short leadership: a leader
    // that loses it during the scan leaves the next one this tick's sweep, owners and backoffs all the same.
    progress.saveIfChanged();
    if (fullScan) {
      try {
        scanFinished(result, now);
        clearTombstones(result, now);
      } catch (Exception | Error e) {
        fullScanDue.set(true); // not done: the next tick (or the next leader's first) scans again
        throw e;
      }
      nextFullScanNanos = now + fullScanInterval.toNanos();
      progress.saveIfChanged();
    }
    return result;
  }

  /**
   * Spans whose claim was reported gone, spans the safety net found unclaimed whose grace period is over, and
   * earlier failures whose retry is due.
   */
  private void recoverUnclaimed(ScanResult result, long now) throws Exception {
    Set<String> candidates = new HashSet<>(unclaimedEvents);
    unclaimedEvents.removeAll(candidates);
    candidates.addAll(progress.backoffsDue(now));
    unclaimedSince.forEach((endedPath, since) -> {
      if (now - since >= gracePeriod.toNanos()) {
        candidates.add(endedPath);
      }
    });
    for (String endedPath : candidates) {
      if (progress.backedOff(endedPath, now)) {
        result.backedOff++;
        continue;
      }
      isolated(endedPath, result, () -> {
        reads.increment();
        if (client.checkExists().forPath(endedPath) == null) {
          forgetFinished(endedPath); // exported and removed
          return;
        }
        // A claim is deleted only with its span, by its session's end, or by a release after a failed export:
        // an unclaimed span seen here has nobody left to deliver it, so no further grace period applies.
        unclaimedSince.remove(endedPath);
        recoverWithBackoff(endedPath, now, result);
      }, () -> backOffAfterFailure(endedPath, now));
    }
  }

  /** A span whose recovery failed here is tried again after its backoff, not at every tick. */
  private void backOffAfterFailure(String endedPath, long now) {
    if (!progress.backedOff(endedPath, now)) {
      progress.attempted(endedPath, now, retryBackoff.toNanos(), maxRetryBackoff.toNanos());
    }
  }

  /** A finished span is gone: nothing of it to remember. */
  private void forgetFinished(String endedPath) {
    unclaimedSince.remove(endedPath);
    progress.forgetSpan(endedPath);
  }

  /**
   * Exports an unclaimed span, and backs it off: should this export fail too (refused, or timed out by a
   * collector that may still have kept it), the next attempt waits, whichever worker leads by then.
   */
  private void recoverWithBackoff(String endedPath, long now, ScanResult result) throws Exception {
    progress.attempted(endedPath, now, retryBackoff.toNanos(), maxRetryBackoff.toNanos());
    // Kept before the export is sent, not at the end of the tick: a leader that loses leadership (or is closed)
    // right after sending would otherwise leave the next leader no backoff, and it would send again at once.
    progress.saveIfChanged();
    if (recoverFinished(endedPath, result)) {
      result.recovered++;
    }
  }

  /**
   * What the coming pass will read: one listing per shard, and a record read plus an owner check per record.
   * ZooKeeper counts every node below {@code open/} in one call (shards, records and their markers: 256 + 2 per
   * record), which is exactly that; a server too old for the call gets the last pass's count.
   */
  private double estimatePassReads(LongSupplier lastPassReads) {
    try {
      reads.increment();
      return Math.max(ZNodeLayout.SHARDS, client.getZookeeperClient().getZooKeeper()
          .getAllChildrenNumber(ZKPaths.fixForNamespace(client.getNamespace(), layout.openRoot())));
    } catch (Exception olderServerOrNoAnswer) {
      return Math.max(ZNodeLayout.SHARDS, lastPassReads.getAsLong());
    }
  }

  /** Open records whose owner was seen missing: checked again once the grace period is over. */
  private void recheckMissingOwners(ScanResult result, long now) throws Exception {
    for (String path : progress.ownersMissingFor(gracePeriod.toNanos(), now)) {
      sweepRecordIsolated(path, now, result, null);
    }
  }

  /**
   * Sweeps whole shards of open spans while this tick's read credit lasts ({@link SweepPace}). The position is the
   * persisted progress's, so a new leader goes on where the last one stopped.
   */
  private void sweepOpen(ScanResult result, long now) throws Exception {
    pace.tick(now);
    List<String> shards = layout.openShards();
    while (pace.hasCredit()) {
      int shard = progress.sweepShard();
      if (shard == 0) {
        sweepTallyWhole = true;
      }
      long before = reads.sum();
      for (String child : children(shards.get(shard))) {
        sweepRecordIsolated(ZKPaths.makePath(shards.get(shard), child), now, result, sweepTally);
      }
      pace.spent(reads.sum() - before);
      progress.sweepShard((shard + 1) % ZNodeLayout.SHARDS);
      if (shard + 1 == ZNodeLayout.SHARDS) {
        pace.passCompleted();
        if (sweepTallyWhole) {
          gauges.passCompleted(sweepTally); // a pass begun by another leader counted only part of the open spans
        }
        sweepTally = new OpenTally();
        sweepTallyWhole = false;
        result.sweepsCompleted++;
        break; // the next pass starts on the next tick, at the rate this pass set
      }
    }
  }

  private void scanFinished(ScanResult result, long now) throws Exception {
    List<String> listed = new ArrayList<>();
    List<String> unclaimed = new ArrayList<>();
    long mark = retained.mark();
    for (String shard : layout.endedShards()) {
      for (String spanId : children(shard)) {
        String endedPath = ZKPaths.makePath(shard, spanId);
        listed.add(endedPath);
        reads.increment();
        if (client.checkExists().forPath(ZNodeLayout.claimPath(endedPath)) == null) {
          unclaimed.add(endedPath);
        }
      }
    }
    gauges.waitingForExport(listed.size());
    retained.listed(listed, mark);
    if (retained.overBound()) {
      unclaimed.removeAll(dropBeyondBound(result));
    }
    unclaimedSince.keySet().retainAll(unclaimed);
    progress.retainSpans(listed);
    for (String endedPath : unclaimed) {
      if (progress.backedOff(endedPath, now)) {
        result.backedOff++;
        continue;
      }
      // Found by listing, not reported by the watch: wait out the grace period (its host may be merely slow).
      if (graceElapsed(unclaimedSince, endedPath, now)) {
        unclaimedSince.remove(endedPath);
        isolated(endedPath, result, () -> recoverWithBackoff(endedPath, now, result),
            () -> backOffAfterFailure(endedPath, now));
      }
    }
  }

  /**
   * The exporter has been failing for long enough that more finished spans wait in ZooKeeper than allowed:
   * drop the oldest unclaimed ones, loudly, so that ZooKeeper itself is never put at risk by a tracing outage.
   */
  private List<String> dropBeyondBound(ScanResult result) throws Exception {
    List<String> dropped = retained.dropBeyondBound();
    if (!dropped.isEmpty()) {
      dropped.forEach(this::forgetFinished);
      store.counters().recordDropped(dropped.size());
      result.dropped += dropped.size();
    }
    return dropped;
  }

  /**
   * Claims and exports one unclaimed finished span; false if someone else got there first, or if it cannot be
   * exported here. The claim carries a nonce, so a create whose reply was lost is known as ours by reading it back
   * on the same session; a claim this worker cannot follow through (a span of a newer format, an unreadable span, a
   * failed read) is given back at once, never left to block the span for as long as this host lives.
   */
  private boolean recoverFinished(String endedPath, ScanResult result) throws Exception {
    String claimPath = ZNodeLayout.claimPath(endedPath);
    byte[] claim = store.endTransaction().claimData();
    ClaimSession session = store.sessions().current();
    // Sent once, on the session the export is then fenced by: never by Curator's retry onto a newer one.
    SessionFencedCall fence = store.fences().on("claim " + endedPath, session);
    try {
      fence.multi(List.of(client.transactionOp().create().withMode(CreateMode.EPHEMERAL).forPath(claimPath, claim)));
    } catch (SessionFencedCall.Refused exportedOrClaimedMeanwhile) {
      return false;
    } catch (KeeperException unanswered) {
      Stat owner = new Stat();
      byte[] held;
      try {
        held = fence.data(claimPath, owner); // on the same session: it shows whether the create applied
      } catch (Exception e) {
        store.exportedSpans().giveBack(endedPath, session); // it may be ours: never left held by a live session
        throw e;
      }
      if (!Arrays.equals(held, claim) || owner.getEphemeralOwner() != session.id()) {
        return false; // not applied, or another worker's claim
      }
    } catch (InterruptedException | RuntimeException stoppedWhileSending) {
      // close() (leadership given up) interrupted the create, which may have applied: a claim of this live
      // session that nobody exports would keep the span from every other worker for as long as this host runs.
      store.exportedSpans().giveBack(endedPath, session);
      throw stoppedWhileSending;
    }
    FinishedDeferredSpan finished;
    try {
      Stat stat = new Stat();
      byte[] data = client.getData().storingStatIn(stat).forPath(endedPath);
      try {
        finished = DeferredSpanRecordCodec.decodeFinished(data, endedPath);
      } catch (UnsupportedRecordVersionException newer) {
        // record-format §5: a reader MUST leave it where it is; a host that reads its version exports it.
        log.warn("{}; leaving it for a host that reads that version", newer.getMessage());
        store.exportedSpans().giveBack(endedPath, session);
        result.leftForNewerHosts++;
        return false;
      } catch (DeferredSpanRecordException e) {
        log.error("{}; moving it to quarantine", e.getMessage());
        if (quarantine(endedPath, stat, data, result)) { // deletes our claim with it
          forgetFinished(endedPath);
        }
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

  private void scanOpen(ScanResult result, long now) throws Exception {
    Set<String> seen = new HashSet<>();
    OpenTally tally = new OpenTally();
    for (String shard : layout.openShards()) {
      for (String child : children(shard)) {
        String path = ZKPaths.makePath(shard, child);
        seen.add(path);
        sweepRecordIsolated(path, now, result, tally);
      }
    }
    progress.retainOpen(seen);
    gauges.passCompleted(tally);
  }

  /** One record's work whose failure must not stop the work on the others. */
  private interface RecordStep {
    void run() throws Exception;
  }

  /**
   * Runs one record's step; a failure of that record alone (its bytes, its size, its owner path, a limit) is
   * logged and counted, and {@code onFailure} decides when it is tried again, while the scan goes on with the next
   * record. What makes every record fail (no connection, a closed worker) still ends the scan.
   */
  private void isolated(String path, ScanResult result, RecordStep step, Runnable onFailure) throws Exception {
    try {
      step.run();
    } catch (InterruptedException e) {
      throw e;
    } catch (KeeperException e) {
      if (KeeperErrors.isConnectionProblem(e) || state.get() == State.CLOSED) {
        throw e;
      }
      skipped(path, result, e, onFailure);
    } catch (Exception e) {
      if (state.get() == State.CLOSED || e instanceof DeferredSpanStoreUnavailableException) {
        throw e;
      }
      skipped(path, result, e, onFailure);
    }
  }

  private static void skipped(String path, ScanResult result, Exception e, Runnable onFailure) {
    log.warn("recovery skipped {} this time: {}; the scan goes on with the others", path, e.toString());
    result.skipped++;
    onFailure.run();
  }

  private void sweepRecordIsolated(String path, long now, ScanResult result, OpenTally tally) throws Exception {
    // Failed: forget the sighting, so the record is tried again at the next pass, not at every tick.
    isolated(path, result, () -> sweepRecord(path, now, result, tally), () -> progress.ownerPresent(path));
  }

  /** Reads one open record and ends it as abandoned if its owner is gone or it is too old. */
  private void sweepRecord(String path, long now, ScanResult result, OpenTally tally) throws Exception {
    Stat stat = new Stat();
    byte[] data;
    try {
      reads.increment();
      data = client.getData().storingStatIn(stat).forPath(path);
    } catch (KeeperException.NoNodeException endedMeanwhile) {
      progress.ownerPresent(path);
      return;
    }
    Optional<DeferredSpanRecord> record = readOrQuarantine(path, stat, data, result, now);
    if (record.isEmpty()) {
      progress.ownerPresent(path);
      return;
    }
    String reason = abandonReason(path, record.get(), now);
    if (reason == null && tally != null) {
      tally.add(record.get());
    }
    if (reason != null) {
      Optional<String> unendable = unendable(path, record.get());
      if (unendable.isPresent()) {
        // The end would fail and quarantine it with the tombstone: a later dequeue would then be told ABANDONED,
        // "exported with an error status", of a span that was never exported.
        log.error("deferred span record {}: not a record this store can end: {}; moving it to quarantine", path,
            unendable.get());
        quarantine(path, stat, data, result);
        progress.ownerPresent(path);
        return;
      }
      FinishedDeferredSpan abandoned = store.tracing().abandon(record.get(), reason);
      EndResult end = store.endTransaction().commit(path, stat, data, abandoned,
          store.endTransaction().tombstoneOps(path, record.get()));
      if (end.getOutcome() == EndResult.Outcome.ENDED) {
        log.warn("ended abandoned span {} ({}): {}", record.get().getName(), path, reason);
        store.counters().recordAbandoned(reason);
        result.abandoned++;
      } else if (end.getOutcome() == EndResult.Outcome.REJECTED_RECORD) {
        result.quarantined++; // the end found it unendable after all (and counted it in the store's stats)
      }
      progress.ownerPresent(path);
    }
  }

  /**
   * Why an end can never remove this record, if it cannot: its children are not exactly its own span marker (an
   * end deletes the marker and then the record, which fails on any other child).
   */
  private Optional<String> unendable(String path, DeferredSpanRecord record) throws Exception {
    List<String> children = children(path);
    String marker = ZNodeLayout.MARKER_PREFIX + record.getSpanContext().getSpanId();
    if (!children.contains(marker)) {
      return Optional.of("it has no span marker '" + marker + "'");
    }
    if (children.size() > 1) {
      List<String> others = new ArrayList<>(children);
      others.remove(marker);
      return Optional.of("it has children other than its span marker: " + others);
    }
    return Optional.empty();
  }

  private Optional<DeferredSpanRecord> readOrQuarantine(
      String path, Stat stat, byte[] data, ScanResult result, long now) throws Exception {
    try {
      return Optional.of(DeferredSpanRecordCodec.decodeRecord(data, path));
    } catch (UnsupportedRecordVersionException e) {
      if (TimeUnit.NANOSECONDS.toMillis(now) - stat.getCtime() < maxAge.toMillis()) {
        result.leftForNewerHosts++;
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
  private void clearTombstones(ScanResult result, long now) throws Exception {
    for (String name : children(layout.abandonedRoot())) {
      String path = ZKPaths.makePath(layout.abandonedRoot(), name);
      isolated(path, result, () -> clearTombstone(path, now), () -> { });
    }
  }

  private void clearTombstone(String path, long now) throws Exception {
    Stat stat = new Stat();
    byte[] data;
    try {
      reads.increment();
      data = client.getData().storingStatIn(stat).forPath(path);
    } catch (KeeperException.NoNodeException dequeuedMeanwhile) {
      return;
    }
    String owner = ZNodeLayout.tombstoneOwner(data);
    // A dequeue may come as late as a span may live, and never sooner than a day.
    long retentionMillis = Math.max(maxAge.toMillis(), Duration.ofDays(1).toMillis());
    boolean expired = TimeUnit.NANOSECONDS.toMillis(now) - stat.getCtime() > retentionMillis;
    if (expired || !ZNodeLayout.isZnodePath(owner) || client.checkExists().forPath(owner) == null) {
      try {
        client.delete().withVersion(stat.getVersion()).forPath(path);
      } catch (KeeperException.NoNodeException | KeeperException.BadVersionException changed) {
        // dequeued or replaced meanwhile
      }
    }
  }

  /**
   * Moves unreadable bytes to quarantine, unless the node changed meanwhile (then there is nothing to move).
   *
   * @return whether this call moved them
   */
  private boolean quarantine(String path, Stat stat, byte[] data, ScanResult result) throws Exception {
    try {
      store.fences().open("quarantine " + path).multi(store.endTransaction().quarantineOps(path, stat, data));
    } catch (EndTransaction.RecordChangedException | SessionFencedCall.Refused changed) {
      return false; // ended or replaced meanwhile
    }
    store.counters().recordQuarantined();
    result.quarantined++;
    return true;
  }

  private String abandonReason(String path, DeferredSpanRecord record, long now) throws Exception {
    if (now - record.getStartEpochNanos() > maxAge.toNanos()) {
      return "max_age_exceeded";
    }
    Optional<String> owner = record.getOwner();
    if (owner.isPresent() && !ZNodeLayout.isZnodePath(owner.get())) {
      // Written by another writer: there is no znode to check, so only the maximum age ends this span.
      log.warn("deferred span record {}: its owner '{}' is not an absolute znode path; it is ended only at the "
          + "maximum age ({})", path, owner.get(), maxAge);
      progress.ownerPresent(path);
      return null;
    }
    if (owner.isPresent()) {
      reads.increment();
    }
    if (owner.isEmpty() || client.checkExists().forPath(owner.get()) != null) {
      progress.ownerPresent(path);
      return null;
    }
    // The owner may be deleted just before the end that removes the record: wait out the grace period.
    Long since = progress.ownerMissingSince(path);
    if (since == null) {
      progress.ownerSeenMissing(path, now);
      return null;
    }
    return now - since >= gracePeriod.toNanos() ? "owner_deleted" : null;
  }

  /** Whether {@code path} has been seen (at least twice) for the grace period; records the first sighting. */
  private boolean graceElapsed(Map<String, Long> firstSeen, String path, long now) {
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
    private int skipped;
    private int leftForNewerHosts;
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

    /** Records moved to quarantine: unreadable, or records no end can remove. */
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

    /**
     * Records this scan could not act on (a failure of that record alone, logged at WARN); the scan went on with
     * the others, and they are tried again later (a finished span after its backoff, an open one at the next
     * pass).
     */
    public int skipped() {
      return skipped;
    }

    /** Records and finished spans of a newer format version, left where they are for a host that reads them. */
    public int leftForNewerHosts() {
      return leftForNewerHosts;
    }

    /** Passes over all open spans that this tick completed (0 or 1). */
    int sweepsCompleted() {
      return sweepsCompleted;
    }

    @Override
    public String toString() {
      return "ScanResult{recovered=" + recovered + ", abandoned=" + abandoned + ", quarantined=" + quarantined
          + ", dropped=" + dropped + ", backedOff=" + backedOff + ", skipped=" + skipped + ", leftForNewerHosts="
          + leftForNewerHosts + "}";
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
    private Clock clock; // null: the tracing's clock

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

    /** For tests: recovery's one clock (pacing, grace periods, backoffs, ages). Default: the tracing's clock. */
    Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * @throws IllegalStateException if the store's tracing is disabled or has no exporter that acknowledges
     *     exports: recovery would delete other hosts' spans unexported
     */
    public DeferredSpanRecovery build() {
      return new DeferredSpanRecovery(this);
    }
  }
}
