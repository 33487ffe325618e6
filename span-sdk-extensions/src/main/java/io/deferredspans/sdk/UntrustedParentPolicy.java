package io.deferredspans.sdk;

/**
 * What {@link DeferredSpanBuilder#setUntrustedParent(String, String)} does with a {@code traceparent} that
 * arrived from outside the system (a webhook, a public API), so outsiders cannot graft spans into your traces or
 * force sampling decisions on them.
 */
public enum UntrustedParentPolicy {
  /** Use it as the parent, like any other context. Only for sources you control. */
  TRUST,
  /** Start a new trace and link to the outside context (marked {@code deferred_span.untrusted_link}). Default. */
  LINK,
  /** Start a new trace and keep nothing of the outside context. */
  IGNORE
}
