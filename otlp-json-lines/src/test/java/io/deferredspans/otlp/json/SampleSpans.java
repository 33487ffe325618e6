package io.deferredspans.otlp.json;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.exporter.logging.otlp.internal.traces.OtlpStdoutSpanExporter;
import io.opentelemetry.exporter.logging.otlp.internal.traces.OtlpStdoutSpanExporterBuilder;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.ReadableSpan;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * A parent and a child span made by the real SDK, with every field {@link ReceivedSpan} flattens set
 * to a known value, so tests can check decoding against literals rather than against a
 * re-derivation. Public, and shipped in this module's test jar, because the OTLP test receiver's
 * tests decode the same spans off the wire.
 */
public record SampleSpans(SpanData parent, SpanData child) {

  static final long PARENT_START = 1_700_000_000_000_000_001L;
  static final long CHILD_START = 1_700_000_000_100_000_002L;
  static final long EVENT_TIME = 1_700_000_000_150_000_003L;
  static final long CHILD_END = 1_700_000_000_200_000_004L;
  static final long PARENT_END = 1_700_000_000_300_000_005L;

  /** Makes fresh spans (new ids) each call; they are ended but exported nowhere. */
  public static SampleSpans create() {
    // No span processor: the spans are only read back as SpanData, each test picks the exporter.
    try (SdkTracerProvider provider =
        SdkTracerProvider.builder()
            .setResource(
                Resource.getDefault().toBuilder()
                    .put("service.name", "receiver-test")
                    .put("host.count", 7L)
                    .build())
            .build()) {
      Tracer tracer = provider.get("io.deferredspans.sample", "1.2.3");
      Span parent =
          tracer
              .spanBuilder("parent-op")
              .setSpanKind(SpanKind.SERVER)
              .setStartTimestamp(PARENT_START, TimeUnit.NANOSECONDS)
              .startSpan();
      Span child =
          tracer
              .spanBuilder("child-op")
              .setParent(Context.root().with(parent))
              .setSpanKind(SpanKind.CLIENT)
              .setStartTimestamp(CHILD_START, TimeUnit.NANOSECONDS)
              .setAttribute("s", "text")
              .setAttribute("b", true)
              .setAttribute("l", 42L)
              .setAttribute("d", 0.5)
              .setAttribute(AttributeKey.stringArrayKey("sa"), List.of("x", "y"))
              .setAttribute(AttributeKey.longArrayKey("la"), List.of(1L, 2L))
              .addLink(parent.getSpanContext(), Attributes.of(AttributeKey.stringKey("why"), "retry"))
              .startSpan();
      child.addEvent(
          "cache-miss",
          Attributes.of(AttributeKey.longKey("size"), 3L),
          EVENT_TIME,
          TimeUnit.NANOSECONDS);
      child.setStatus(StatusCode.ERROR, "boom");
      child.end(CHILD_END, TimeUnit.NANOSECONDS);
      parent.end(PARENT_END, TimeUnit.NANOSECONDS);
      return new SampleSpans(
          ((ReadableSpan) parent).toSpanData(), ((ReadableSpan) child).toSpanData());
    }
  }

  /**
   * Writes the samples as OTLP JSON lines with the SDK's own {@code OtlpStdoutSpanExporter}, one
   * export call (and so one line) per sample.
   */
  public static String jsonLines(
      UnaryOperator<OtlpStdoutSpanExporterBuilder> configure, SampleSpans... samples) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    SpanExporter exporter =
        configure.apply(OtlpStdoutSpanExporter.builder().setOutput((OutputStream) out)).build();
    for (SampleSpans sample : samples) {
      assertTrue(exporter.export(sample.asList()).join(20, TimeUnit.SECONDS).isSuccess());
    }
    exporter.shutdown().join(20, TimeUnit.SECONDS);
    return out.toString(StandardCharsets.UTF_8);
  }

  /** In the order that {@link #assertReceived} expects them to arrive. */
  public List<SpanData> asList() {
    return List.of(child, parent);
  }

  /** Asserts that {@code received} is exactly these two spans, decoded field by field. */
  public void assertReceived(List<ReceivedSpan> received, String transport) {
    assertEquals(2, received.size(), () -> "spans: " + received);
    ReceivedSpan c = received.get(0);
    ReceivedSpan p = received.get(1);

    assertEquals(transport, c.transport());
    assertEquals(transport, p.transport());
    assertEquals(child.getTraceId(), c.traceId());
    assertEquals(32, c.traceId().length());
    assertEquals(c.traceId(), p.traceId());
    assertEquals(child.getSpanId(), c.spanId());
    assertEquals(parent.getSpanId(), p.spanId());
    assertEquals(parent.getSpanId(), c.parentSpanId());
    assertEquals("", p.parentSpanId());
    assertTrue(p.isRoot());

    assertEquals("child-op", c.name());
    assertEquals("parent-op", p.name());
    assertEquals("SPAN_KIND_CLIENT", c.kind());
    assertEquals("SPAN_KIND_SERVER", p.kind());
    assertEquals(CHILD_START, c.startEpochNanos());
    assertEquals(CHILD_END, c.endEpochNanos());
    assertEquals(PARENT_START, p.startEpochNanos());
    assertEquals(PARENT_END, p.endEpochNanos());
    assertEquals("STATUS_CODE_ERROR", c.statusCode());
    assertEquals("boom", c.statusMessage());
    assertEquals("STATUS_CODE_UNSET", p.statusCode());

    assertEquals(
        Map.of(
            "s", "text",
            "b", true,
            "l", 42L,
            "d", 0.5,
            "sa", List.of("x", "y"),
            "la", List.of(1L, 2L)),
        c.attributes());
    assertEquals(Map.of(), p.attributes());
    assertEquals(
        List.of(new ReceivedSpan.Event("cache-miss", EVENT_TIME, Map.of("size", 3L))), c.events());
    assertEquals(
        List.of(new ReceivedSpan.Link(p.traceId(), p.spanId(), Map.of("why", "retry"))), c.links());

    assertEquals("receiver-test", c.resourceAttributes().get("service.name"));
    assertEquals(7L, c.resourceAttributes().get("host.count"));
    assertEquals("opentelemetry", c.resourceAttributes().get("telemetry.sdk.name"));
    assertEquals(c.resourceAttributes(), p.resourceAttributes());
    assertEquals("io.deferredspans.sample", c.scopeName());
    assertEquals("1.2.3", c.scopeVersion());
  }
}
