package io.deferredspans.sdk.internal;

import io.deferredspans.sdk.ExportFailure;

/**
 * Decides, on the exporter's thread just before a batch leaves this process, whether the deferred spans it
 * guards may still be sent. A store uses it to fence off a host that was paused past its ZooKeeper session: by
 * then another host has taken over its finished spans, and sending them here too would export them twice.
 *
 * <p>Asked once per exporter batch for all the spans that share the fence, so it may cost a round trip.
 *
 * <p>This class is internal and is hence not for public use. Its APIs are unstable and can change at any time.
 */
public interface ExportFence {
  /** Never closes: for spans nobody else can export. */
  ExportFence OPEN = () -> true;

  /**
   * True if the guarded spans may be exported now. False drops them from the batch and reports them to their
   * {@link ExportListener#onExportFailed} as {@link ExportFailure#NOT_SENT}. Must return within a few seconds
   * and never throw.
   */
  boolean admits();
}
