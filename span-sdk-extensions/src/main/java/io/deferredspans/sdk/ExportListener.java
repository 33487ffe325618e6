package io.deferredspans.sdk;

/**
 * Told what became of a finished deferred span handed to the SDK pipeline, so a store can keep the span durably
 * until an exporter has it. Called on an exporter or SDK thread: implementations must return quickly and never
 * block.
 */
public interface ExportListener {

  /** An exporter acknowledged the span, or there was nothing to export (unsampled, or tracing disabled). */
  void onExported();

  /**
   * The span will not reach this exporter: the exporter gave up on the batch holding it (after its own retries),
   * its {@link #fence()} refused it, or no exporter took it within the acknowledgement timeout.
   */
  void onExportFailed();

  /** What decides whether the span may still leave this process when its batch is exported. */
  default ExportFence fence() {
    return ExportFence.OPEN;
  }

  /** A listener that ignores both outcomes. */
  static ExportListener ignoring() {
    return IgnoringExportListener.INSTANCE;
  }
}
