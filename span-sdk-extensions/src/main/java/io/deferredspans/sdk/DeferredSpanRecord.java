package io.deferredspans.sdk;

import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanId;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.trace.data.LinkData;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * What one host persists when it begins a deferred span, so that any other host can end it: the IDs, the
 * sampling decision (already taken, in the trace flags), the name, kind, start time, links, optional begin
 * attributes and who began it.
 *
 * <p>Instances are immutable. Create them with {@link DeferredTracing#spanBuilder(String)}. A store persists them
 * for you; without one, keep {@link #toBytes()} wherever the span's item lives (a file, a message, a database row)
 * and, on the host that ends it, read it back with {@link #fromBytes} and end it with {@link DeferredTracing#end}.
 */
public final class DeferredSpanRecord {
  private static final DeferredSpanRecord DISABLED =
      new DeferredSpanRecord(
          SpanContext.getInvalid(), SpanId.getInvalid(), "", SpanKind.INTERNAL, 0, List.of(),
          Attributes.empty(), "", null);

  private final SpanContext spanContext;
  private final String parentSpanId;
  private final String name;
  private final SpanKind kind;
  private final long startEpochNanos;
  private final List<LinkData> links;
  private final Attributes attributes;
  private final String beganBy;
  private final String owner;

  DeferredSpanRecord(
      SpanContext spanContext,
      String parentSpanId,
      String name,
      SpanKind kind,
      long startEpochNanos,
      List<LinkData> links,
      Attributes attributes,
      String beganBy,
      String owner) {
    this.spanContext = spanContext;
    this.parentSpanId = parentSpanId;
    this.name = name;
    this.kind = kind;
    this.startEpochNanos = startEpochNanos;
    this.links = List.copyOf(links);
    this.attributes = attributes;
    this.beganBy = beganBy;
    this.owner = owner;
  }

  static long epochNanos(Instant instant) {
    return TimeUnit.SECONDS.toNanos(instant.getEpochSecond()) + instant.getNano();
  }

  /**
   * The record as compact JSON (docs/record-format.md, format version 1), a few hundred bytes; the same bytes a
   * store keeps and other implementations of the format read.
   *
   * @throws IllegalArgumentException if the record is {@linkplain #isValid() invalid} (tracing was disabled when it
   *     was begun): such a record is never stored
   */
  public byte[] toBytes() {
    return RecordJsonWriter.encode(this);
  }

  /**
   * Reads a record written by {@link #toBytes()} (or by another implementation of the format). Never returns a
   * record with invalid IDs.
   *
   * @param recordName names the record in error messages, e.g. its file or znode path
   * @throws DeferredSpanRecordException if the bytes are not a valid record of a format version this library
   *     reads ({@link UnsupportedRecordVersionException} for a newer one)
   */
  public static DeferredSpanRecord fromBytes(byte[] bytes, String recordName) {
    return RecordJsonReader.decodeRecord(bytes, recordName);
  }

  /** The record begun while tracing is disabled: invalid IDs, never stored and never exported. */
  static DeferredSpanRecord disabled() {
    return DISABLED;
  }

  /**
   * The span's own context, marked remote: on every host but the one that began it, this span lives elsewhere.
   * Its trace flags carry the sampling decision taken at begin.
   */
  public SpanContext getSpanContext() {
    return spanContext;
  }

  /** False for the record of a disabled tracer, which must not be stored or ended. */
  public boolean isValid() {
    return spanContext.isValid();
  }

  /** Whether the span was sampled at begin, and so will be exported when it ends. */
  public boolean isSampled() {
    return spanContext.isSampled();
  }

  /** The parent span's ID, or the invalid span ID for a root span. */
  public String getParentSpanId() {
    return parentSpanId;
  }

  /** The parent's context (same trace, flags and state as this span), or the invalid context for a root span. */
  public SpanContext getParentSpanContext() {
    if (!SpanId.isValid(parentSpanId)) {
      return SpanContext.getInvalid();
    }
    return SpanContext.createFromRemoteParent(
        spanContext.getTraceId(), parentSpanId, spanContext.getTraceFlags(), spanContext.getTraceState());
  }

  public String getName() {
    return name;
  }

  public SpanKind getKind() {
    return kind;
  }

  /** When the span began, on the beginning host's clock. */
  public long getStartEpochNanos() {
    return startEpochNanos;
  }

  public List<LinkData> getLinks() {
    return links;
  }

  /** Attributes known at begin (kept small on purpose: most attributes belong to the end). */
  public Attributes getAttributes() {
    return attributes;
  }

  /** The host or service instance that began the span. */
  public String getBeganBy() {
    return beganBy;
  }

  /**
   * An opaque reference to what the span measures the lifetime of, such as the queue item's znode path. A
   * recovery worker uses it to notice spans whose owner vanished without ending them.
   */
  public Optional<String> getOwner() {
    return Optional.ofNullable(owner);
  }

  /**
   * A context whose current span is this one (remote, non-recording), for starting child spans on any host:
   * {@code tracer.spanBuilder("MergeJob").setParent(record.asParentContext()).startSpan()}.
   */
  public Context asParentContext() {
    return Context.root().with(Span.wrap(spanContext));
  }

  /** This span's context as a W3C {@code traceparent} value, for job requests and messages. */
  public String traceparent() {
    return TraceParent.format(spanContext);
  }

  @Override
  public boolean equals(Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof DeferredSpanRecord)) {
      return false;
    }
    DeferredSpanRecord that = (DeferredSpanRecord) o;
    return startEpochNanos == that.startEpochNanos
        && spanContext.equals(that.spanContext)
        && parentSpanId.equals(that.parentSpanId)
        && name.equals(that.name)
        && kind == that.kind
        && links.equals(that.links)
        && attributes.equals(that.attributes)
        && beganBy.equals(that.beganBy)
        && Objects.equals(owner, that.owner);
  }

  @Override
  public int hashCode() {
    return Objects.hash(spanContext, parentSpanId, name, kind, startEpochNanos, links, attributes, beganBy, owner);
  }

  @Override
  public String toString() {
    return "DeferredSpanRecord{name=" + name + ", traceId=" + spanContext.getTraceId() + ", spanId="
        + spanContext.getSpanId() + ", parentSpanId=" + parentSpanId + ", sampled=" + isSampled()
        + ", startEpochNanos=" + startEpochNanos + ", beganBy=" + beganBy + "}";
  }
}
