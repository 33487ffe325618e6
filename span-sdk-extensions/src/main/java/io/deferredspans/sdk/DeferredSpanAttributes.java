package io.deferredspans.sdk;

import io.opentelemetry.api.common.AttributeKey;

/** Attributes this library adds to every deferred span it exports. */
public final class DeferredSpanAttributes {

  /** The host (or service instance) that began the span. */
  public static final AttributeKey<String> BEGAN_BY = AttributeKey.stringKey("deferred_span.began_by");

  /** On start events: the name of the span that began. */
  public static final AttributeKey<String> NAME = AttributeKey.stringKey("deferred_span.name");

  /** On start events: the znode whose existence keeps the span alive (the queue item), if the span has one. */
  public static final AttributeKey<String> OWNER = AttributeKey.stringKey("deferred_span.owner");

  /** The host (or service instance) that ended the span. */
  public static final AttributeKey<String> ENDED_BY = AttributeKey.stringKey("deferred_span.ended_by");

  /**
   * Set when the ending host's clock put the end before the stored start: how many nanoseconds the end was moved
   * forward so the exported span has a zero rather than negative duration.
   */
  public static final AttributeKey<Long> CLOCK_SKEW_CLAMPED_NANOS =
      AttributeKey.longKey("deferred_span.clock_skew_clamped_nanos");

  /** True when nobody ended the span and the recovery worker ended it instead. */
  public static final AttributeKey<Boolean> ABANDONED = AttributeKey.booleanKey("deferred_span.abandoned");

  /** Why the recovery worker ended an abandoned span, e.g. {@code owner_deleted} or {@code max_age_exceeded}. */
  public static final AttributeKey<String> ABANDON_REASON =
      AttributeKey.stringKey("deferred_span.abandon_reason");

  /** How many attributes the deny-list removed before the span was stored or exported. */
  public static final AttributeKey<Long> REDACTED_ATTRIBUTES =
      AttributeKey.longKey("deferred_span.redacted_attributes");

  /** On a link to a context that arrived from an untrusted source (see {@link UntrustedParentPolicy#LINK}). */
  public static final AttributeKey<Boolean> UNTRUSTED_LINK = AttributeKey.booleanKey("deferred_span.untrusted_link");

  /** Set when a {@code traceparent} from an untrusted source was malformed and ignored. */
  public static final AttributeKey<String> REJECTED_TRACEPARENT =
      AttributeKey.stringKey("deferred_span.rejected_traceparent");

  private DeferredSpanAttributes() {}
}
