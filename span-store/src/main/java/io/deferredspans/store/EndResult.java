package io.deferredspans.store;

import io.deferredspans.sdk.DeferredSpanRecordException;
import io.deferredspans.sdk.FinishedDeferredSpan;
import java.util.Optional;

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
    REJECTED_RECORD
  }

  private final Outcome outcome;
  private final FinishedDeferredSpan span;
  private final DeferredSpanRecordException recordError;

  private EndResult(Outcome outcome, FinishedDeferredSpan span, DeferredSpanRecordException recordError) {
    this.outcome = outcome;
    this.span = span;
    this.recordError = recordError;
  }

  static EndResult ended(FinishedDeferredSpan span) {
    return new EndResult(Outcome.ENDED, span, null);
  }

  static EndResult alreadyEnded() {
    return new EndResult(Outcome.ALREADY_ENDED, null, null);
  }

  static EndResult noRecord() {
    return new EndResult(Outcome.NO_RECORD, null, null);
  }

  static EndResult rejected(DeferredSpanRecordException error) {
    return new EndResult(Outcome.REJECTED_RECORD, null, error);
  }

  public Outcome getOutcome() {
    return outcome;
  }

  /** Whether the caller's own operations were applied. */
  public boolean callerOperationsApplied() {
    return outcome != Outcome.ALREADY_ENDED;
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
        + (recordError != null ? ", " + recordError.getMessage() : "") + "}";
  }
}
