package io.deferredspans.sdk;

/**
 * A span's attributes or links would make its stored record larger than the configured limit. Thrown before
 * anything is written, so the caller's own operations are unaffected and can be retried without the offending
 * data.
 */
public final class DeferredSpanLimitException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  /** @param message what exceeds which limit, and what to do about it */
  public DeferredSpanLimitException(String message) {
    super(message);
  }
}
