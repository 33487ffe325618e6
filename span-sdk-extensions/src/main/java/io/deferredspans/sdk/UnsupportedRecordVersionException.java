package io.deferredspans.sdk;

import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;

/**
 * The record was written in a format version this library cannot read, typically by a newer release during a
 * rolling upgrade. The record is left untouched so that a host with a newer release can end it.
 */
public final class UnsupportedRecordVersionException extends DeferredSpanRecordException {
  private static final long serialVersionUID = 1L;

  private final long version;

  UnsupportedRecordVersionException(String recordName, long version) {
    super(
        recordName,
        "format version " + version + " is not supported (this library reads version "
            + DeferredSpanRecordCodec.FORMAT_VERSION + ")",
        null);
    this.version = version;
  }

  /** The version found in the record. */
  public long getVersion() {
    return version;
  }
}
