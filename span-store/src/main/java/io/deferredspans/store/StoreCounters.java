package io.deferredspans.store;

import java.util.concurrent.atomic.LongAdder;

/** Live counters behind {@link StoreStats}. */
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

  StoreStats snapshot() {
    return new StoreStats(this);
  }
}
