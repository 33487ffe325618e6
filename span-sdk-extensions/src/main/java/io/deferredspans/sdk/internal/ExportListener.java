package io.deferredspans.sdk.internal;

import io.deferredspans.sdk.ExportFailure;

/**
 * Told what became of a finished deferred span handed to the SDK pipeline, so a store can keep the span durably
 * until an exporter has it. Called on an exporter or SDK thread: implementations must return quickly and never
 * block.
 *
 * <p>This class is internal and is hence not for public use. Its APIs are unstable and can change at any time.
 */
public interface ExportListener {

  /** An exporter acknowledged the span, or there was nothing to export (unsampled, or tracing disabled). */
  void onExported();

  /**
   * The span will not reach the exporters from this handover, and will not be sent by it any more: an exporter
   * gave up on the batch holding it (after its own retries), its {@link #fence()} refused it, or no exporter took
   * it within the acknowledgement timeout (a span still queued then is dropped when it reaches an exporter).
   * Called once no exporter is still sending it. {@code failure} says whether the backend may have it after all
   * ({@link ExportFailure#TIMED_OUT}): with several exporters, the one failure most likely to have delivered.
   */
  void onExportFailed(ExportFailure failure);

  /** What decides whether the span may still leave this process when its batch is exported. */
  default ExportFence fence() {
    return ExportFence.OPEN;
  }

  /** A listener that ignores both outcomes. */
  static ExportListener ignoring() {
    return IgnoringExportListener.INSTANCE;
  }
}
