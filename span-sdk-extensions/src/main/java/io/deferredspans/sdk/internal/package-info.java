/**
 * What the store ({@code deferred-spans-store}) needs from this module and applications must not call: the steps
 * of an end taken one at a time ({@link io.deferredspans.sdk.internal.DeferredTracingUtil}), the listener and
 * fence of an export ({@link io.deferredspans.sdk.internal.ExportListener}, {@link
 * io.deferredspans.sdk.internal.ExportFence}) and the record format's limits ({@link
 * io.deferredspans.sdk.internal.DeferredSpanRecordCodec}).
 *
 * <p>This package is internal and is hence not for public use. Its APIs are unstable and can change at any time.
 */
package io.deferredspans.sdk.internal;
