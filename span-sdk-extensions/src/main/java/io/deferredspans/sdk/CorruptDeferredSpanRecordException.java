package io.deferredspans.sdk;

/** The bytes are not a valid deferred span record: truncated, not JSON, a missing field or an invalid ID. */
public final class CorruptDeferredSpanRecordException extends DeferredSpanRecordException {
  private static final long serialVersionUID = 1L;

  /**
   * @param recordName names the record, e.g. its znode path
   * @param message what is wrong with it
   * @param cause the underlying failure, or null
   */
  public CorruptDeferredSpanRecordException(String recordName, String message, Throwable cause) {
    super(recordName, message, cause);
  }
}
