package io.deferredspans.store;

import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredSpanRecordException;
import io.deferredspans.sdk.FinishedDeferredSpan;
import io.deferredspans.sdk.UnsupportedRecordVersionException;
import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import io.deferredspans.sdk.internal.DeferredTracingUtil;
import io.deferredspans.store.DeferredSpanRecovery.ScanResult;
import io.deferredspans.store.RecoveryGauges.OpenTally;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sweep of open spans: ends as abandoned (with an error status and {@code deferred_span.abandoned}) an open
 * record whose owner znode is gone, seen twice a grace period apart, or whose span is older than the maximum age,
 * and moves to quarantine a record that cannot be read or that no end can remove.
 *
 * <p>Open spans are not urgent: the leader sweeps a few shards per tick, paced by {@link SweepPace}, and an owner
 * seen missing is checked again once its grace period is over, not a pass later. Where the sweep is and since
 * when each owner is missing are kept in {@link RecoveryProgress}, so a new leader goes on from there. Only
 * touched by the scans, which never overlap.
 */
final class OpenSpanSweep {
  private static final Logger log = LoggerFactory.getLogger(OpenSpanSweep.class);

  private final StoreCore core;
  private final CuratorFramework client;
  private final ZNodeLayout layout;
  private final RecoveryReads reads;
  private final RecoveryProgress progress;
  private final RecordIsolation isolation;
  private final Quarantine quarantine;
  private final RecoveryGauges gauges;
  private final Duration gracePeriod;
  private final Duration maxAge;
  private final SweepPace pace;
  private OpenTally sweepTally = new OpenTally();
  private boolean sweepTallyWhole; // this worker swept the current pass from shard 00: its tally is complete

  OpenSpanSweep(StoreCore core, RecoveryReads reads, RecoveryProgress progress, RecordIsolation isolation,
      Quarantine quarantine, RecoveryGauges gauges, Duration gracePeriod, Duration maxAge, Duration scanInterval,
      Duration sweepPeriod, double maxSweepReadsPerSecond) {
    this.core = core;
    this.client = core.client();
    this.layout = core.layout();
    this.reads = reads;
    this.progress = progress;
    this.isolation = isolation;
    this.quarantine = quarantine;
    this.gauges = gauges;
    this.gracePeriod = gracePeriod;
    this.maxAge = maxAge;
    this.pace = new SweepPace(scanInterval, sweepPeriod, maxSweepReadsPerSecond, this::estimatePassReads);
  }

  /**
   * What the coming pass will read: one listing per shard, and a record read plus an owner check per record.
   * ZooKeeper counts every node below {@code open/} in one call (shards, records and their markers: 256 + 2 per
   * record), which is exactly that; a server too old for the call gets the last pass's count.
   */
  private double estimatePassReads(LongSupplier lastPassReads) {
    try {
      reads.counted();
      return Math.max(ZNodeLayout.SHARDS, client.getZookeeperClient().getZooKeeper()
          .getAllChildrenNumber(ZKPaths.fixForNamespace(client.getNamespace(), layout.openRoot())));
    } catch (Exception olderServerOrNoAnswer) {
      return Math.max(ZNodeLayout.SHARDS, lastPassReads.getAsLong());
    }
  }

  /** Open records whose owner was seen missing: checked again once the grace period is over. */
  void recheckMissingOwners(ScanResult result, long now) throws Exception {
    for (String path : progress.ownersMissingFor(gracePeriod.toNanos(), now)) {
      sweepRecordIsolated(path, now, result, null);
    }
  }

  /**
   * Sweeps whole shards of open spans while this tick's read credit lasts ({@link SweepPace}). The position is the
   * persisted progress's, so a new leader goes on where the last one stopped.
   */
  void sweep(ScanResult result, long now) throws Exception {
    pace.tick(now);
    List<String> shards = layout.openShards();
    while (pace.hasCredit()) {
      int shard = progress.sweepShard();
      if (shard == 0) {
        sweepTallyWhole = true;
      }
      long before = reads.sum();
      for (String child : reads.children(shards.get(shard))) {
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

  /** Every open record at once ({@link DeferredSpanRecovery#scanNow()}). */
  void sweepAll(ScanResult result, long now) throws Exception {
    Set<String> seen = new HashSet<>();
    OpenTally tally = new OpenTally();
    for (String shard : layout.openShards()) {
      for (String child : reads.children(shard)) {
        String path = ZKPaths.makePath(shard, child);
        seen.add(path);
        sweepRecordIsolated(path, now, result, tally);
      }
    }
    progress.retainOpen(seen);
    gauges.passCompleted(tally);
  }

  private void sweepRecordIsolated(String path, long now, ScanResult result, OpenTally tally) throws Exception {
    // Failed: forget the sighting, so the record is tried again at the next pass, not at every tick.
    isolation.run(path, result, () -> sweepRecord(path, now, result, tally), () -> progress.ownerPresent(path));
  }

  /** Reads one open record and ends it as abandoned if its owner is gone or it is too old. */
  private void sweepRecord(String path, long now, ScanResult result, OpenTally tally) throws Exception {
    Stat stat = new Stat();
    byte[] data;
    try {
      data = reads.data(path, stat);
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
      Optional<String> unendable = quarantine.unendable(path, record.get());
      if (unendable.isPresent()) {
        // The end would fail and quarantine it with the tombstone: a later dequeue would then be told ABANDONED,
        // "exported with an error status", of a span that was never exported.
        log.error("deferred span record {}: not a record this store can end: {}; moving it to quarantine", path,
            unendable.get());
        quarantine.move(path, stat, data, result);
        progress.ownerPresent(path);
        return;
      }
      abandon(path, stat, data, record.get(), reason, result);
      progress.ownerPresent(path);
    }
  }

  /** Ends the span with the end transaction every end uses, leaving its tombstone for a later dequeue. */
  private void abandon(String path, Stat stat, byte[] data, DeferredSpanRecord record, String reason,
      ScanResult result) throws Exception {
    FinishedDeferredSpan abandoned = DeferredTracingUtil.abandon(core.tracing(), record, reason);
    EndResult end = core.endTransaction().commit(path, stat, data, abandoned,
        core.endTransaction().tombstoneOps(path, record));
    if (end.getOutcome() == EndResult.Outcome.ENDED) {
      log.warn("ended abandoned span {} ({}): {}", record.getName(), path, reason);
      core.counters().recordAbandoned(reason);
      result.abandoned++;
    } else if (end.getOutcome() == EndResult.Outcome.REJECTED_RECORD) {
      result.quarantined++; // the end found it unendable after all (and counted it in the store's stats)
    }
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
    quarantine.move(path, stat, data, result);
    return Optional.empty();
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
    if (owner.isEmpty() || reads.exists(owner.get())) {
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
}
