package io.deferredspans.store;

/**
 * ZooKeeper could not be reached in time: the client is disconnected (Curator state SUSPENDED or LOST), or the
 * call did not finish within the store's operation timeout. Thrown instead of blocking the caller's thread.
 *
 * <p>Whatever it says, <b>nothing of the call is sent to ZooKeeper after it was thrown</b>, and the store never
 * re-sends a request whose answer was lost, on the same session or on a new one.
 *
 * <ul>
 *   <li>{@link #isOutcomeUnknown()} false: nothing was applied; run the call again.
 *   <li>{@link #isOutcomeUnknown()} true: the transaction was sent and may have been applied, once (a request in
 *       flight when the call gave up can still land; nothing is sent after it). For an <b>end</b>, run the same
 *       end again: a second end of a span that did end reports {@link EndResult.Outcome#CALLER_OPERATIONS_FAILED}
 *       (your dequeue finds the item gone) or {@link EndResult.Outcome#NO_RECORD}, and the span is exported by
 *       this host or by recovery. For a <b>begin</b>, read back: a record with your span ID under the key
 *       ({@link DeferredSpanStore#read}), or your own item, means it applied, and running the same begin again
 *       then returns without writing; neither means it did not apply, or applied and was already dequeued and
 *       ended by another host, which only your own data can tell apart (docs/embedding.md).
 * </ul>
 */
public final class DeferredSpanStoreUnavailableException extends DeferredSpanStoreException {
  private static final long serialVersionUID = 1L;

  private final boolean outcomeUnknown;

  DeferredSpanStoreUnavailableException(String message, boolean outcomeUnknown, Throwable cause) {
    super(message, cause);
    this.outcomeUnknown = outcomeUnknown;
  }

  /** True when the operation may still have been applied. */
  public boolean isOutcomeUnknown() {
    return outcomeUnknown;
  }
}
