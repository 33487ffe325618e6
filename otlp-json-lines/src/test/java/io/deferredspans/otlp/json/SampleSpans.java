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
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.IdGenerator;
import io.opentelemetry.sdk.trace.ReadableSpan;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

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

  /** The trace id of {@link #fixed()}. */
  public static final String FIXED_TRACE_ID = "0af7651916cd43dd8448eb211c80319c";

  /**
   * Test resource: the OTLP JSON lines that OpenTelemetry's {@code OtlpStdoutSpanExporter} (1.63.0,
   * the last release whose artifact is published) wrote for {@link #fixed()}'s spans, its first
   * line with the wrapper object, the second without.
   */
  public static final String STDOUT_EXPORTER_LINES = "/otlp-stdout-exporter-1.63.0.jsonl";

  /** Makes fresh spans (new ids) each call; they are ended but exported nowhere. */
  public static SampleSpans create() {
    return create(IdGenerator.random());
  }

  /** The spans of {@link #STDOUT_EXPORTER_LINES}, ids included. */
  public static SampleSpans fixed() {
    AtomicLong spanIds = new AtomicLong(0xb7ad6b7169203330L);
    return create(
        new IdGenerator() {
          @Override
          public String generateSpanId() {
            return String.format("%016x", spanIds.incrementAndGet());
          }

          @Override
          public String generateTraceId() {
            return FIXED_TRACE_ID;
          }
        });
  }

  /** {@link #STDOUT_EXPORTER_LINES}, read from the class path. */
  public static String stdoutExporterLines() {
    try (InputStream in = SampleSpans.class.getResourceAsStream(STDOUT_EXPORTER_LINES)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static SampleSpans create(IdGenerator ids) {
    // The spans are only read back as SpanData, each test picks the exporter. A processor all the
    // same: an SDK with none hands out no-op spans.
    try (SdkTracerProvider provider =
        SdkTracerProvider.builder()
            .addSpanProcessor(SimpleSpanProcessor.create(SpanExporter.composite()))
            .setIdGenerator(ids)
            .setResource(
                Resource.builder()
                    .put("service.name", "receiver-test")
                    .put("host.count", 7L)
                    .put("telemetry.sdk.name", "opentelemetry")
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
