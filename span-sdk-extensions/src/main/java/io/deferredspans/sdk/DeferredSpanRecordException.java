package io.deferredspans.sdk;

/**
 * Thrown when stored deferred span bytes cannot be turned into a span. The message always names the record (for
 * example its znode path), so an operator can find and inspect it.
 *
 * <p>Subclasses say why: {@link CorruptDeferredSpanRecordException} for bytes that are not a valid record and
 * {@link UnsupportedRecordVersionException} for a record written by a newer format this library does not know.
 */
public abstract class DeferredSpanRecordException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String recordName;

  DeferredSpanRecordException(String recordName, String message, Throwable cause) {
    super("deferred span record " + recordName + ": " + message, cause);
    this.recordName = recordName;
  }

  /** The name the caller gave the record when decoding it, such as its znode path. */
  public String getRecordName() {
    return recordName;
  }
}
