package io.deferredspans.store;

/** What a store (and a recovery worker using it) has done since it started. Immutable snapshot. */
public final class StoreStats {
  private final long begun;
  private final long ended;
  private final long retriedWinners;
  private final long alreadyEnded;
  private final long noRecord;
  private final long rejected;
  private final long quarantined;
  private final long exportAcknowledged;
  private final long exportFailed;
  private final long exportsTimedOut;
  private final long removed;
  private final long cleanupRetries;
  private final long recovered;
  private final long abandoned;
  private final long droppedAtBound;
  private final long uncertainOutcomes;
  private final long callerOperationsFailed;
  private final long endedAfterAbandon;
  private final long fencedExports;
  private final long recoveryReads;

  StoreStats(StoreCounters c) {
    this.begun = c.begun.sum();
    this.ended = c.ended.sum();
    this.retriedWinners = c.retriedWinners.sum();
    this.alreadyEnded = c.alreadyEnded.sum();
    this.noRecord = c.noRecord.sum();
    this.rejected = c.rejected.sum();
    this.quarantined = c.quarantined.sum();
    this.exportAcknowledged = c.exportAcknowledged.sum();
    this.exportFailed = c.exportFailed.sum();
    this.exportsTimedOut = c.exportsTimedOut.sum();
    this.removed = c.removed.sum();
    this.cleanupRetries = c.cleanupRetries.sum();
    this.recovered = c.recovered.sum();
    this.abandoned = c.abandoned.sum();
    this.droppedAtBound = c.droppedAtBound.sum();
    this.uncertainOutcomes = c.uncertainOutcomes.sum();
    this.callerOperationsFailed = c.callerOperationsFailed.sum();
    this.endedAfterAbandon = c.endedAfterAbandon.sum();
    this.fencedExports = c.fencedExports.sum();
    this.recoveryReads = c.recoveryReads.sum();
  }

  /** Spans begun through {@link DeferredSpanStore#beginDeferredSpan} (not counting caller-run begin ops). */
  public long begun() {
    return begun;
  }

  /** Ends this host won. */
  public long ended() {
    return ended;
  }

  /** Wins learned by reading back what a transaction whose reply was lost left (or a begin run again). */
  public long retriedWinners() {
    return retriedWinners;
  }

  /** Ends this host lost to another. */
  public long alreadyEnded() {
    return alreadyEnded;
  }

  public long noRecord() {
    return noRecord;
  }

  /** Records that could not be read (corrupt or newer format). */
  public long rejected() {
    return rejected;
  }

  public long quarantined() {
    return quarantined;
  }

  /** Spans an exporter acknowledged (or that needed no export). */
  public long exportAcknowledged() {
    return exportAcknowledged;
  }

  public long exportFailed() {
    return exportFailed;
  }

  /**
   * Of {@link #exportFailed()}, the exports that timed out ({@link io.deferredspans.sdk.ExportFailure#TIMED_OUT}):
   * the collector may have those spans, so their claims were kept until it answered again (or for {@code
   * timedOutExportBackoff}) before recovery sent them again.
   */
  public long exportsTimedOut() {
    return exportsTimedOut;
  }

  /** Stored copies removed after export. */
  public long removed() {
    return removed;
  }

  public long cleanupRetries() {
    return cleanupRetries;
  }

  /** Ended spans the recovery worker exported for a host that did not. */
  public long recovered() {
    return recovered;
  }

  /** Spans the recovery worker ended as abandoned. */
  public long abandoned() {
    return abandoned;
  }

  /** Undelivered spans the recovery worker dropped because its backlog bound was exceeded. */
  public long droppedAtBound() {
    return droppedAtBound;
  }

  /** Times ZooKeeper could not say at once whether a begin or end was applied, and the store asked again. */
  public long uncertainOutcomes() {
    return uncertainOutcomes;
  }

  /** Ends that returned {@code CALLER_OPERATIONS_FAILED}: a caller's operation failed, nothing was applied. */
  public long callerOperationsFailed() {
    return callerOperationsFailed;
  }

  /** Ends that returned {@code ABANDONED}: recovery had ended the span first; the caller's operations applied. */
  public long endedAfterAbandon() {
    return endedAfterAbandon;
  }

  /** Exports refused because the session holding the span's claim could not be proven alive. */
  public long fencedExports() {
    return fencedExports;
  }

  /**
   * ZooKeeper reads the recovery worker's scans and sweeps issued (listings, record reads, owner and claim
   * checks): the background load it puts on the ensemble.
   */
  public long recoveryReads() {
    return recoveryReads;
  }

  @Override
  public String toString() {
    return "StoreStats{begun=" + begun + ", ended=" + ended + ", retriedWinners=" + retriedWinners
        + ", alreadyEnded=" + alreadyEnded + ", noRecord=" + noRecord + ", rejected=" + rejected
        + ", quarantined=" + quarantined + ", exportAcknowledged=" + exportAcknowledged + ", exportFailed="
        + exportFailed + ", exportsTimedOut=" + exportsTimedOut + ", removed=" + removed + ", cleanupRetries=" + cleanupRetries + ", recovered="
        + recovered + ", abandoned=" + abandoned + ", droppedAtBound=" + droppedAtBound
        + ", uncertainOutcomes=" + uncertainOutcomes + ", callerOperationsFailed=" + callerOperationsFailed
        + ", endedAfterAbandon=" + endedAfterAbandon + ", fencedExports=" + fencedExports + ", recoveryReads="
        + recoveryReads + "}";
  }
}
