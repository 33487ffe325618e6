package io.deferredspans.store;

import java.util.concurrent.atomic.LongAdder;

/** Live counters behind {@link StoreStats}; the events that are also metrics are recorded through methods. */
final class StoreCounters {
  final LongAdder begun = new LongAdder();
  final LongAdder ended = new LongAdder();
  final LongAdder retriedWinners = new LongAdder();
  final LongAdder alreadyEnded = new LongAdder();
  final LongAdder noRecord = new LongAdder();
  final LongAdder rejected = new LongAdder();
  final LongAdder quarantined = new LongAdder();
  final LongAdder exportAcknowledged = new LongAdder();
  final LongAdder exportFailed = new LongAdder();
  final LongAdder exportsTimedOut = new LongAdder();
  final LongAdder removed = new LongAdder();
  final LongAdder cleanupRetries = new LongAdder();
  final LongAdder recovered = new LongAdder();
  final LongAdder abandoned = new LongAdder();
  final LongAdder droppedAtBound = new LongAdder();
  final LongAdder uncertainOutcomes = new LongAdder();
  final LongAdder callerOperationsFailed = new LongAdder();
  final LongAdder endedAfterAbandon = new LongAdder();
  final LongAdder fencedExports = new LongAdder();
  final LongAdder recoveryReads = new LongAdder();

  private volatile StoreMetrics metrics;

  void attach(StoreMetrics metrics) {
    this.metrics = metrics;
  }

  void recordRecovered() {
    recovered.increment();
    metrics.recovered();
  }

  void recordAbandoned(String reason) {
    abandoned.increment();
    metrics.abandoned(reason);
  }

  void recordQuarantined() {
    quarantined.increment();
    metrics.quarantined();
  }

  void recordDropped(int count) {
    droppedAtBound.add(count);
    metrics.dropped(count);
  }

  StoreStats snapshot() {
    return new StoreStats(this);
  }
}
