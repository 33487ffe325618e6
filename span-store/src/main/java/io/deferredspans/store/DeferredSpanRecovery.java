package io.deferredspans.store;

import io.opentelemetry.sdk.common.Clock;
import java.io.Closeable;
import java.io.IOException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
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
 * then {@link #close()}; a closed worker cannot be started again. {@link #addLeadershipListener} tells when this
 * worker starts or stops leading.
 *
 * <h2>Its parts</h2>
 *
 * This class is the shell, in the way of Curator's recipes: the leader latch, the watch on finished spans held
 * while leading ({@code EndedSpanWatch}), the tick, the lifecycle. Each kind of work is its own package-private
 * recipe, handed the store's {@code StoreCore} once: {@code FinishedSpanRecovery} (claims and exports unclaimed
 * finished spans, with backoff and the bounded backlog), {@code OpenSpanSweep} (the paced sweep of open spans and
 * its orphan rules), {@code TombstoneCleanup} and {@code Quarantine}; {@code RecoveryProgress} keeps what they
 * learnt in ZooKeeper.
 */
public final class DeferredSpanRecovery implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(DeferredSpanRecovery.class);

  /** Each step once, in this order, as Curator's recipes keep their lifecycle. */
  private enum State {
    LATENT,
    STARTED,
    CLOSED
  }

  /**
   * Told when this worker starts or stops leading (only the leader scans). Called on the latch's thread, in the
   * order the changes happen: it should return quickly. Not told of the leadership a {@link #close()} ends.
   */
  @FunctionalInterface
  public interface LeadershipListener {
    void leadershipChanged(boolean leading);
  }

  private final StoreCore core;
  private final CuratorFramework client;
  private final ZNodeLayout layout;
  private final Duration scanInterval;
  private final Duration fullScanInterval;
  private final LeaderLatch latch;
  private final TickScheduler ticks = new TickScheduler(this::tickIfLeader);
  private final AtomicReference<State> state = new AtomicReference<>(State.LATENT);
  // The one clock of recovery: sweep pacing, grace periods, backoffs and ages all read it (epoch nanos, so that
  // what one leader persisted means the same to the next).
  private final Clock clock;
  private final RecoveryProgress progress;
  private final RecoveryGauges gauges = new RecoveryGauges();
  private final FinishedSpanRecovery finished;
  private final OpenSpanSweep sweep;
  private final TombstoneCleanup tombstones;
  private final EndedSpanWatch watch; // held while leading
  private final AtomicBoolean fullScanDue = new AtomicBoolean(true);
  private long nextFullScanNanos; // only touched by the scans

  private DeferredSpanRecovery(Builder builder) {
    this.core = builder.store.core();
    FinishedSpanRecovery.requireExportingPipeline(core.tracing());
    this.client = core.client();
    this.layout = core.layout();
    this.scanInterval = builder.scanInterval;
    this.fullScanInterval = builder.fullScanInterval;
    this.clock = builder.clock != null ? builder.clock : core.tracing().getClock();
    LongAdder readCount = core.counters().recoveryReads;
    RecoveryReads reads = new RecoveryReads(client, readCount);
    this.progress = new RecoveryProgress(client, layout, readCount);
    RecordIsolation isolation = new RecordIsolation(() -> state.get() == State.CLOSED);
    Quarantine quarantine = new Quarantine(core, reads);
    this.finished = new FinishedSpanRecovery(core, reads, progress,
        new RetainedSpans(client, builder.maxRetainedSpans, readCount), isolation, quarantine, gauges, ticks,
        builder.gracePeriod, builder.retryBackoff, builder.maxRetryBackoff);
    this.sweep = new OpenSpanSweep(core, reads, progress, isolation, quarantine, gauges, builder.gracePeriod,
        builder.maxAge, scanInterval, builder.sweepPeriod, builder.maxSweepReadsPerSecond);
    this.tombstones = new TombstoneCleanup(core, reads, isolation, builder.maxAge);
    this.watch = new EndedSpanWatch(client, layout, finished::onEndedEvent, () -> fullScanDue.set(true),
        finished::stopLeading, () -> state.get() == State.CLOSED);
    this.latch = new LeaderLatch(client, layout.recoveryLeaderPath(), core.tracing().getHostName());
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
    gauges.register(core.metrics().meter(), clock, latch::hasLeadership);
    latch.addListener(new LeaderLatchListener() {
      @Override
      public void isLeader() {
        progress.invalidate(); // scans of this worker may run now: they go on from the last leader's progress
        watch.start();
      }

      @Override
      public void notLeader() {
        watch.stop();
      }
    });
    latch.start();
    ticks.every(scanInterval);
  }

  /**
   * Tells {@code listener} of every change of this worker's leadership from now on (before or after {@link
   * #start()}); {@link #hasLeadership()} says where it stands now.
   */
  public void addLeadershipListener(LeadershipListener listener) {
    Objects.requireNonNull(listener, "listener");
    latch.addListener(new LeaderLatchListener() {
      @Override
      public void isLeader() {
        listener.leadershipChanged(true);
      }

      @Override
      public void notLeader() {
        listener.leadershipChanged(false);
      }
    });
  }

  /** Watch notifications this worker received (for tests: only the leader holds the watch). */
  long watchEvents() {
    return watch.received();
  }

  /** Stops scanning and leaves the election. Idempotent; a closed worker cannot be started again. */
  @Override
  public void close() throws IOException {
    State was = state.getAndSet(State.CLOSED);
    if (was == State.CLOSED) {
      return;
    }
    ticks.shutdownNow();
    if (was == State.STARTED) {
      gauges.close();
      latch.close();
      watch.stop();
    }
  }

  /** Whether this worker is the active one right now. */
  public boolean hasLeadership() {
    return latch.hasLeadership();
  }

  private void tickIfLeader() {
    if (!latch.hasLeadership()) {
      finished.forgetEvents(); // the leader, whoever it is, gets the same events
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
    finished.scanAll(result, now);
    sweep.sweepAll(result, now);
    tombstones.run(result, now);
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
    if (!fullScan) {
      finished.dropIfOverBound(result); // a full scan below enforces the bound itself
    }
    finished.recoverUnclaimed(result, now);
    sweep.recheckMissingOwners(result, now);
    sweep.sweep(result, now);
    // Kept before the full scan, which reads every shard of ended/ and can outlast a short leadership: a leader
    // that loses it during the scan leaves the next one this tick's sweep, owners and backoffs all the same.
    progress.saveIfChanged();
    if (fullScan) {
      try {
        finished.scanAll(result, now);
        tombstones.run(result, now);
      } catch (Exception | Error e) {
        fullScanDue.set(true); // not done: the next tick (or the next leader's first) scans again
        throw e;
      }
      nextFullScanNanos = now + fullScanInterval.toNanos();
      progress.saveIfChanged();
    }
    return result;
  }

  /** What one scan did. */
  public static final class ScanResult {
    int recovered;
    int abandoned;
    int quarantined;
    int dropped;
    int backedOff;
    int skipped;
    int leftForNewerHosts;
    int sweepsCompleted;

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
