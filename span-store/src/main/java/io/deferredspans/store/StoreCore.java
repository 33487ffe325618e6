package io.deferredspans.store;

import io.deferredspans.sdk.DeferredTracing;
import org.apache.curator.framework.CuratorFramework;

/**
 * What a {@link DeferredSpanRecovery} needs of its {@link DeferredSpanStore}, handed to it once when it is built:
 * the client and layout it reads with, the tracing it exports through, the end transaction it abandons with, the
 * fences and claim sessions its writes go through, the exported spans it hands what it claimed to, and the
 * counters and metrics it reports in. The store owns every part and their lifecycle; recovery only uses them.
 */
record StoreCore(
    CuratorFramework client,
    DeferredTracing tracing,
    ZNodeLayout layout,
    StoreCounters counters,
    StoreMetrics metrics,
    ClaimSession.Tracker sessions,
    SessionFencedCall.Factory fences,
    ExportedSpans exported,
    EndTransaction endTransaction) {}
