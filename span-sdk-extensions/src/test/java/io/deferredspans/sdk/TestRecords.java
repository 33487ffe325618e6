package io.deferredspans.sdk;

import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanId;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.sdk.trace.data.EventData;
import io.opentelemetry.sdk.trace.data.LinkData;
import io.opentelemetry.sdk.trace.data.StatusData;
import java.util.ArrayList;
import java.util.List;

/**
 * Hand-built records with fixed IDs and times, so codec tests can compare exact values and byte counts without
 * depending on random ID generation.
 */
final class TestRecords {
  static final String TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
  static final String SPAN_ID = "00f067aa0ba902b7";
  static final String PARENT_SPAN_ID = "b7ad6b7169203331";
  static final String LINKED_TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
  static final String LINKED_SPAN_ID = "53995c3f42cd8ad8";
  /** 2024-11-21, a realistic 19-digit epoch-nanos value. */
  static final long START_NANOS = 1_732_222_222_123_456_789L;

  private TestRecords() {}

  static SpanContext remoteContext(String traceId, String spanId, boolean sampled, TraceState state) {
    return SpanContext.createFromRemoteParent(
        traceId, spanId, sampled ? TraceFlags.getSampled() : TraceFlags.getDefault(), state);
  }

  static SpanContext linkedContext() {
    return remoteContext(LINKED_TRACE_ID, LINKED_SPAN_ID, true, TraceState.getDefault());
  }

  static Builder record() {
    return new Builder();
  }

  /** A finished span with every optional part set, for round trips and as fuzz seed. */
  static FinishedDeferredSpan richFinishedSpan() {
    DeferredSpanRecord record =
        record()
            .parent(PARENT_SPAN_ID)
            .traceState(TraceState.builder().put("vendor", "opaque").build())
            .kind(SpanKind.CONSUMER)
            .owner("/queue/item-0000000042")
            .link(LinkData.create(linkedContext(), Attributes.builder().put("cause", "enqueue").build()))
            .attributes(Attributes.builder().put("queue", "merge").put("priority", 3L).build())
            .build();
    return new FinishedDeferredSpan(
        record,
        START_NANOS + 5_000_000_000L,
        Attributes.builder()
            .put(DeferredSpanAttributes.ENDED_BY, "host-b")
            .put("outcome", "merged")
            .put("retries", 2L)
            .build(),
        List.of(
            EventData.create(START_NANOS + 1_000, "picked", Attributes.builder().put("worker", "w-7").build()),
            EventData.create(START_NANOS + 2_000, "retried", Attributes.empty())),
        StatusData.create(io.opentelemetry.api.trace.StatusCode.ERROR, "merge conflict"),
        List.of(
            LinkData.create(
                remoteContext(LINKED_TRACE_ID, PARENT_SPAN_ID, false, TraceState.getDefault()),
                Attributes.builder().put("relation", "follow-up").build())),
        "host-b",
        0,
        0);
  }

  /** Fluent construction of a record through the package-private constructor, with sensible defaults. */
  static final class Builder {
    private String traceId = TRACE_ID;
    private String spanId = SPAN_ID;
    private boolean sampled = true;
    private TraceState traceState = TraceState.getDefault();
    private String parentSpanId = SpanId.getInvalid();
    private String name = "QueueItem";
    private SpanKind kind = SpanKind.INTERNAL;
    private long startNanos = START_NANOS;
    private final List<LinkData> links = new ArrayList<>();
    private Attributes attributes = Attributes.empty();
    private String beganBy = "scheduler-1";
    private String owner;

    Builder ids(String traceId, String spanId) {
      this.traceId = traceId;
      this.spanId = spanId;
      return this;
    }

    Builder sampled(boolean sampled) {
      this.sampled = sampled;
      return this;
    }

    Builder traceState(TraceState traceState) {
      this.traceState = traceState;
      return this;
    }

    Builder parent(String parentSpanId) {
      this.parentSpanId = parentSpanId;
      return this;
    }

    Builder name(String name) {
      this.name = name;
      return this;
    }

    Builder kind(SpanKind kind) {
      this.kind = kind;
      return this;
    }

    Builder start(long startNanos) {
      this.startNanos = startNanos;
      return this;
    }

    Builder link(LinkData link) {
      links.add(link);
      return this;
    }

    Builder attributes(Attributes attributes) {
      this.attributes = attributes;
      return this;
    }

    Builder beganBy(String beganBy) {
      this.beganBy = beganBy;
      return this;
    }

    Builder owner(String owner) {
      this.owner = owner;
      return this;
    }

    DeferredSpanRecord build() {
      return new DeferredSpanRecord(
          remoteContext(traceId, spanId, sampled, traceState),
          parentSpanId,
          name,
          kind,
          startNanos,
          links,
          attributes,
          beganBy,
          owner);
    }
  }
}
