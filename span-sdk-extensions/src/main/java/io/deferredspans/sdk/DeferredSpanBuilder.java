package io.deferredspans.sdk;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanId;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.trace.data.LinkData;
import io.opentelemetry.sdk.trace.samplers.SamplingDecision;
import io.opentelemetry.sdk.trace.samplers.SamplingResult;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Describes a deferred span to begin. {@link #begin()} takes the sampling decision once, with the SDK's sampler,
 * draws the IDs and the start time, and returns the record to persist. Not thread-safe; use once.
 */
public final class DeferredSpanBuilder {
  private final DeferredTracing tracing;
  private final String name;
  private Context parent;
  private SpanKind kind = SpanKind.INTERNAL;
  private final List<LinkData> links = new ArrayList<>();
  private final AttributesBuilder attributes = Attributes.builder();
  private long startEpochNanos;
  private String owner;

  DeferredSpanBuilder(DeferredTracing tracing, String name) {
    if (name == null) {
      throw new IllegalArgumentException("span name must not be null");
    }
    this.tracing = tracing;
    this.name = name;
  }

  /** The parent is the span current in {@code context}; without this, the current context's span is used. */
  public DeferredSpanBuilder setParent(Context context) {
    this.parent = context;
    return this;
  }

  /** The parent is a span known only by its context, e.g. another deferred span or a parsed traceparent. */
  public DeferredSpanBuilder setParent(SpanContext parent) {
    return setParent(Context.root().with(Span.wrap(parent)));
  }

  /**
   * The parent named by a {@code traceparent} (and {@code tracestate}) that came from outside the system,
   * handled by the tracing's {@link UntrustedParentPolicy}: used as the parent ({@code TRUST}), only linked from
   * a new trace ({@code LINK}, the default), or ignored ({@code IGNORE}). A malformed value never fails the
   * caller and is never half-used: the span starts a new trace and records {@link
   * DeferredSpanAttributes#REJECTED_TRACEPARENT}.
   */
  public DeferredSpanBuilder setUntrustedParent(String traceparent, String tracestate) {
    SpanContext outside;
    try {
      outside = TraceParent.parse(traceparent, tracestate);
    } catch (MalformedTraceparentException e) {
      attributes.put(DeferredSpanAttributes.REJECTED_TRACEPARENT, e.getMessage());
      return setNoParent();
    }
    switch (tracing.getUntrustedParentPolicy()) {
      case TRUST:
        return setParent(outside);
      case LINK:
        setNoParent();
        return addLink(outside, Attributes.of(DeferredSpanAttributes.UNTRUSTED_LINK, true));
      default:
        return setNoParent();
    }
  }

  /** Starts a new trace even if a span is current. */
  public DeferredSpanBuilder setNoParent() {
    return setParent(Context.root());
  }

  public DeferredSpanBuilder setSpanKind(SpanKind kind) {
    this.kind = kind;
    return this;
  }

  /** Links this span to another, e.g. the event that caused the queue item. Invalid contexts are ignored. */
  public DeferredSpanBuilder addLink(SpanContext context) {
    return addLink(context, Attributes.empty());
  }

  public DeferredSpanBuilder addLink(SpanContext context, Attributes attributes) {
    if (context.isValid()) {
      links.add(LinkData.create(context, attributes));
    }
    return this;
  }

  /** A begin attribute. Keep these few: they are stored in ZooKeeper until the span ends. */
  public <T> DeferredSpanBuilder setAttribute(AttributeKey<T> key, T value) {
    attributes.put(key, value);
    return this;
  }

  public DeferredSpanBuilder setAttribute(String key, String value) {
    attributes.put(key, value);
    return this;
  }

  public DeferredSpanBuilder setAttribute(String key, long value) {
    attributes.put(key, value);
    return this;
  }

  public DeferredSpanBuilder setAllAttributes(Attributes attributes) {
    this.attributes.putAll(attributes);
    return this;
  }

  /**
   * An explicit start time, e.g. when the item was really enqueued; defaults to the clock at begin.
   *
   * @throws IllegalArgumentException if the time is not within the years 2000 to 2099, which the stored record
   *     cannot hold (e.g. seconds passed as nanoseconds)
   */
  public DeferredSpanBuilder setStartTimestamp(long timestamp, TimeUnit unit) {
    this.startEpochNanos = RecordConstraints.requireTimeInRange(unit.toNanos(timestamp), "start time");
    return this;
  }

  public DeferredSpanBuilder setStartTimestamp(Instant timestamp) {
    return setStartTimestamp(DeferredSpanRecord.epochNanos(timestamp), TimeUnit.NANOSECONDS);
  }

  /**
   * What the span measures the lifetime of: the absolute znode path of the queue item, as the recovery worker's
   * client sees it (inside its namespace). Recovery ends the span as abandoned once that znode is gone.
   *
   * @throws IllegalArgumentException if {@code owner} is not an absolute znode path ({@code ""}, {@code
   *     "queue/item-1"}, {@code "/queue/"}, {@code "/a//b"}, {@code "/a/../b"} and characters ZooKeeper refuses in
   *     paths are refused): recovery would never find it and end the span as abandoned while its item is queued
   */
  public DeferredSpanBuilder setOwner(String owner) {
    if (owner != null) {
      String why = RecordConstraints.ownerProblem(owner);
      if (why != null) {
        throw new IllegalArgumentException("deferred span owner " + why);
      }
    }
    this.owner = owner;
    return this;
  }

  /**
   * Takes the sampling decision and draws the IDs. For a disabled tracing, returns a record that is not
   * {@linkplain DeferredSpanRecord#isValid() valid}: stores write nothing for it.
   *
   * @throws DeferredSpanLimitException if the begin attributes and links exceed the configured size
   * @throws IllegalArgumentException if no start time was set and this host's clock is outside the years 2000 to
   *     2099
   */
  public DeferredSpanRecord begin() {
    if (!tracing.isEnabled()) {
      return DeferredSpanRecord.disabled();
    }
    Context parentContext = parent == null ? Context.current() : parent;
    SpanContext parentSpan = Span.fromContext(parentContext).getSpanContext();
    AttributeFilter.Redactions redactions = new AttributeFilter.Redactions();
    Attributes beginAttributes = tracing.getAttributeFilter().filter(attributes.build(), redactions);
    List<LinkData> beginLinks = tracing.getAttributeFilter().filterLinks(links, redactions);
    if (redactions.count() > 0) {
      beginAttributes = beginAttributes.toBuilder()
          .put(DeferredSpanAttributes.REDACTED_ATTRIBUTES, (long) redactions.count()).build();
    }
    tracing.checkSize(beginAttributes, beginLinks, "begin", name);

    String traceId =
        parentSpan.isValid() ? parentSpan.getTraceId() : tracing.getIdGenerator().generateTraceId();
    String spanId = tracing.getIdGenerator().generateSpanId();
    SamplingResult sampling =
        tracing.getSampler().shouldSample(parentContext, traceId, name, kind, beginAttributes, beginLinks);
    boolean sampled = sampling.getDecision() == SamplingDecision.RECORD_AND_SAMPLE;
    TraceState parentState = parentSpan.isValid() ? parentSpan.getTraceState() : TraceState.getDefault();
    SpanContext context =
        SpanContext.createFromRemoteParent(
            traceId,
            spanId,
            sampled ? TraceFlags.getSampled() : TraceFlags.getDefault(),
            sampling.getUpdatedTraceState(parentState));
    Attributes samplerAttributes = sampling.getAttributes();
    if (!samplerAttributes.isEmpty()) {
      beginAttributes = beginAttributes.toBuilder().putAll(samplerAttributes).build();
    }
    long start = startEpochNanos != 0 ? startEpochNanos
        : RecordConstraints.requireTimeInRange(tracing.getClock().now(), "start time from this host's clock");
    return new DeferredSpanRecord(
        context,
        parentSpan.isValid() ? parentSpan.getSpanId() : SpanId.getInvalid(),
        name,
        kind,
        start,
        beginLinks,
        beginAttributes,
        tracing.getHostName(),
        owner);
  }
}
