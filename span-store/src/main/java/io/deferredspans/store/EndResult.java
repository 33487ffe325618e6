package io.deferredspans.store;

import io.deferredspans.sdk.DeferredSpanRecordException;
import io.deferredspans.sdk.FinishedDeferredSpan;
import java.util.Optional;
import org.apache.zookeeper.KeeperException;

/** What {@link DeferredSpanStore#endDeferredSpan} did. Immutable. */
public final class EndResult {

  /** The possible outcomes of an end. */
  public enum Outcome {
    /** This call ended the span; the caller's operations were applied in the same transaction. */
    ENDED,
    /**
     * Another host ended the span first (it raced this call); the caller's operations were <b>not</b> applied,
     * since they belong to the end that lost.
     */
    ALREADY_ENDED,
    /**
     * No open record for the key (never begun, begun with tracing disabled, or already ended and cleaned up);
     * the caller's operations were applied on their own.
     */
    NO_RECORD,
    /**
     * The stored record could not be read ({@link #getRecordError()} says why). The caller's operations were
     * applied; a corrupt record was moved to quarantine in the same transaction, while a record of a newer
     * format version was left for a newer host to end.
     */
    REJECTED_RECORD,
    /**
     * Recovery had already ended this span as abandoned (its owner was gone or it outlived the maximum age, see
     * {@link DeferredSpanRecovery}) and exported it with an error status. No host dequeued the item, so the
     * caller's operations <b>were</b> applied on their own.
     */
    ABANDONED,
    /**
     * One of the caller's operations failed ({@link #getCallerOperationFailure()} says which and why), so
     * <b>nothing</b> was applied: the span, if there was one, is still open. Typically the item was already
     * dequeued: another host ended the span and removed the item first, or an earlier attempt of this very end
     * did (its reply was lost). An end is safe to retry; a retry after it had applied lands here.
     */
    CALLER_OPERATIONS_FAILED
  }

  /** Which of the caller's operations failed, and ZooKeeper's reason. */
  public static final class CallerOperationFailure {
    private final int index;
    private final KeeperException.Code code;

    CallerOperationFailure(int index, KeeperException.Code code) {
      this.index = index;
      this.code = code;
    }

    /** The position of the failed operation among the caller's operations, from 0. */
    public int getIndex() {
      return index;
    }

    /** Why ZooKeeper refused it, e.g. {@code NONODE} for a delete of an item already gone. */
    public KeeperException.Code getCode() {
      return code;
    }

    @Override
    public String toString() {
      return "caller operation #" + index + " failed: " + code;
    }
  }

  private final Outcome outcome;
  private final FinishedDeferredSpan span;
  private final DeferredSpanRecordException recordError;
  private final CallerOperationFailure callerOperationFailure;

  private EndResult(
      Outcome outcome, FinishedDeferredSpan span, DeferredSpanRecordException recordError,
      CallerOperationFailure callerOperationFailure) {
    this.outcome = outcome;
    this.span = span;
    this.recordError = recordError;
    this.callerOperationFailure = callerOperationFailure;
  }

  static EndResult ended(FinishedDeferredSpan span) {
    return new EndResult(Outcome.ENDED, span, null, null);
  }

  static EndResult alreadyEnded() {
    return new EndResult(Outcome.ALREADY_ENDED, null, null, null);
  }

  static EndResult noRecord() {
    return new EndResult(Outcome.NO_RECORD, null, null, null);
  }

  static EndResult rejected(DeferredSpanRecordException error) {
    return new EndResult(Outcome.REJECTED_RECORD, null, error, null);
  }

  static EndResult abandoned() {
    return new EndResult(Outcome.ABANDONED, null, null, null);
  }

  static EndResult callerOperationsFailed(int index, KeeperException.Code code) {
    return new EndResult(Outcome.CALLER_OPERATIONS_FAILED, null, null, new CallerOperationFailure(index, code));
  }

  public Outcome getOutcome() {
    return outcome;
  }

  /** Whether the caller's own operations were applied. */
  public boolean callerOperationsApplied() {
    return outcome != Outcome.ALREADY_ENDED && outcome != Outcome.CALLER_OPERATIONS_FAILED;
  }

  /** Which caller operation failed, for {@link Outcome#CALLER_OPERATIONS_FAILED}. */
  public Optional<CallerOperationFailure> getCallerOperationFailure() {
    return Optional.ofNullable(callerOperationFailure);
  }

  /** The finished span, when this call ended it. */
  public Optional<FinishedDeferredSpan> getSpan() {
    return Optional.ofNullable(span);
  }

  /** Why the record was rejected, for {@link Outcome#REJECTED_RECORD}. */
  public Optional<DeferredSpanRecordException> getRecordError() {
    return Optional.ofNullable(recordError);
  }

  @Override
  public String toString() {
    return "EndResult{" + outcome + (span != null ? ", " + span : "")
        + (recordError != null ? ", " + recordError.getMessage() : "")
        + (callerOperationFailure != null ? ", " + callerOperationFailure : "") + "}";
  }
}
