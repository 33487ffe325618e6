package io.deferredspans.store;

import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * How many ZooKeeper reads the paced sweep of open spans may spend this tick. The credit grows at the rate that
 * spreads one pass (its reads counted by ZooKeeper when the pass starts) over the sweep period, capped by the read
 * budget; a shard bigger than the credit is swept anyway and the debt paid by later ticks. Only the recovery
 * worker's scans use it, and they never overlap.
 */
final class SweepPace {
  private final Duration scanInterval;
  private final Duration period;
  private final double maxReadsPerSecond;
  // What the coming pass will read; asked of ZooKeeper when a pass starts, given the last pass's count if that fails.
  private final PassEstimate estimate;
  private long lastTickNanos;
  private double credit;
  private long passReads;
  private long lastPassReads;
  private double passEstimate = ZNodeLayout.SHARDS;
  private boolean passEstimated;

  interface PassEstimate {
    double reads(LongSupplier lastPassReads);
  }

  SweepPace(Duration scanInterval, Duration period, double maxReadsPerSecond, PassEstimate estimate) {
    this.scanInterval = scanInterval;
    this.period = period;
    this.maxReadsPerSecond = maxReadsPerSecond;
    this.estimate = estimate;
  }

  /** A tick at {@code now} begins: adds the credit earned since the last one. */
  void tick(long now) {
    long elapsed = lastTickNanos == 0 ? scanInterval.toNanos() : Math.max(0, now - lastTickNanos);
    lastTickNanos = now;
    if (!passEstimated) {
      passEstimate = estimate.reads(() -> lastPassReads);
      passEstimated = true;
    }
    double rate = Math.min(maxReadsPerSecond, passEstimate / (period.toNanos() / 1e9));
    double tickCredit = rate * scanInterval.toNanos() / 1e9;
    credit = Math.min(credit + rate * elapsed / 1e9, Math.max(tickCredit, 1));
  }

  boolean hasCredit() {
    return credit > 0;
  }

  /** One shard was swept with {@code reads} reads. */
  void spent(long reads) {
    credit -= reads;
    passReads += reads;
  }

  /** The pass is over: the next one is estimated afresh when it starts. */
  void passCompleted() {
    lastPassReads = passReads;
    passReads = 0;
    passEstimated = false;
  }
}
