package io.deferredspans.sdk;

/**
 * Told what became of a finished deferred span handed to the SDK pipeline, so a store can keep the span durably
 * until an exporter has it. Called on an exporter or SDK thread: implementations must return quickly and never
 * block.
 */
public interface ExportListener {

  /** An exporter acknowledged the span, or there was nothing to export (unsampled, or tracing disabled). */
  void onExported();

  /** The exporter gave up on the batch holding the span (after its own retries). */
  void onExportFailed();

  /** A listener that ignores both outcomes. */
  static ExportListener ignoring() {
    return IgnoringExportListener.INSTANCE;
  }
}
