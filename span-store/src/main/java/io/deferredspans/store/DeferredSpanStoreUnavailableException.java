package io.deferredspans.store;

/**
 * ZooKeeper could not be reached in time: the client is disconnected (Curator state SUSPENDED or LOST), or the
 * call did not finish within the store's operation timeout. Thrown instead of blocking the caller's thread.
 *
 * <p>{@link #isOutcomeUnknown()} is true when the call had already been sent: it may still commit, in which
 * case the store finishes the export in the background. Retrying an end is safe: a second end of a span that
 * did end reports {@link EndResult.Outcome#ALREADY_ENDED} (or {@link EndResult.Outcome#NO_RECORD}).
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
