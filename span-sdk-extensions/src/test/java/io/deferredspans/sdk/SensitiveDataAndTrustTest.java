package io.deferredspans.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.regex.PatternSyntaxException;
import org.junit.jupiter.api.Test;

/** Secrets never reach ZooKeeper or an exporter, and outsiders cannot graft spans into our traces. */
class SensitiveDataAndTrustTest {
  private static final String OUTSIDE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  private final InMemorySpanExporter exporter = InMemorySpanExporter.create();

  private DeferredTracing tracing(UnaryOperator<DeferredTracingBuilder> options) {
    return options.apply(DeferredTracing.builder().setHostName("host")
        .addSpanExporter(exporter, SimpleSpanProcessor::create)).build();
  }

  private SpanData endAndExport(DeferredTracing tracing, DeferredSpanRecord record, DeferredSpanEnding ending) {
    DeferredSpanRecord stored = DeferredSpanRecordCodec.decodeRecord(DeferredSpanRecordCodec.encode(record), "/r");
    tracing.export(tracing.finish(stored, ending));
    return exporter.getFinishedSpanItems().get(0);
  }

  @Test
  void secretsAreDroppedBeforeTheRecordIsStoredAndBeforeExport() {
    DeferredTracing tracing = tracing(b -> b);
    DeferredSpanRecord record = tracing.spanBuilder("QueueItem")
        .setAttribute("db.password", "hunter2")
        .setAttribute("zuul.pipeline", "gate")
        .addLink(SpanContext.create("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331",
            io.opentelemetry.api.trace.TraceFlags.getSampled(), io.opentelemetry.api.trace.TraceState.getDefault()),
            Attributes.of(AttributeKey.stringKey("github.token"), "ghp_secret"))
        .begin();
    String stored = new String(DeferredSpanRecordCodec.encode(record), StandardCharsets.UTF_8);
    assertFalse(stored.contains("hunter2"), stored);
    assertFalse(stored.contains("ghp_secret"), stored);

    SpanData span = endAndExport(tracing, record, DeferredSpanEnding.builder()
        .setAttribute("Authorization", "Bearer abc")
        .setAttribute("API_KEY", "k")
        .setAttribute("zuul.result", "SUCCESS")
        .addEvent("exception", record.getStartEpochNanos(), Attributes.of(
            AttributeKey.stringKey("exception.type"), "java.io.IOException",
            AttributeKey.stringKey("exception.stacktrace"), "at com.example.Secret.method(Secret.java:1)"))
        .build());

    assertEquals("gate", span.getAttributes().get(AttributeKey.stringKey("zuul.pipeline")));
    assertEquals("SUCCESS", span.getAttributes().get(AttributeKey.stringKey("zuul.result")));
    assertNull(span.getAttributes().get(AttributeKey.stringKey("db.password")));
    assertNull(span.getAttributes().get(AttributeKey.stringKey("Authorization")));
    assertNull(span.getAttributes().get(AttributeKey.stringKey("API_KEY")));
    assertTrue(span.getLinks().get(0).getAttributes().isEmpty());
    Attributes exception = span.getEvents().get(0).getAttributes();
    assertEquals("java.io.IOException", exception.get(AttributeKey.stringKey("exception.type")));
    assertNull(exception.get(AttributeKey.stringKey("exception.stacktrace")), "no stack traces by default");
    assertEquals(5L, span.getAttributes().get(DeferredSpanAttributes.REDACTED_ATTRIBUTES));
  }

  @Test
  void denyListIsConfigurableAndCanAllowStackTraces() {
    DeferredTracing tracing = tracing(b -> b.setDeniedAttributeKeys(List.of("internal\\..*")));
    DeferredSpanRecord record = tracing.spanBuilder("QueueItem").setAttribute("internal.host", "10.0.0.1").begin();
    SpanData span = endAndExport(tracing, record, DeferredSpanEnding.builder()
        .addEvent("exception", record.getStartEpochNanos(),
            Attributes.of(AttributeKey.stringKey("exception.stacktrace"), "trace"))
        .build());

    assertNull(span.getAttributes().get(AttributeKey.stringKey("internal.host")));
    assertEquals("trace", span.getEvents().get(0).getAttributes().get(AttributeKey.stringKey("exception.stacktrace")));
    assertEquals(1L, span.getAttributes().get(DeferredSpanAttributes.REDACTED_ATTRIBUTES));
    assertThrows(PatternSyntaxException.class, () -> DeferredTracing.builder().setDeniedAttributeKeys(List.of("(")));
  }

  @Test
  void untrustedParentIsOnlyLinkedByDefault() {
    DeferredSpanRecord record = tracing(b -> b).spanBuilder("Event").setUntrustedParent(OUTSIDE, null).begin();

    assertNotEquals("4bf92f3577b34da6a3ce929d0e0e4736", record.getSpanContext().getTraceId());
    assertFalse(record.getParentSpanContext().isValid());
    assertEquals("00f067aa0ba902b7", record.getLinks().get(0).getSpanContext().getSpanId());
    assertEquals(true, record.getLinks().get(0).getAttributes().get(DeferredSpanAttributes.UNTRUSTED_LINK));
  }

  @Test
  void untrustedParentCanBeTrustedOrIgnoredByConfiguration() {
    DeferredSpanRecord trusted = tracing(b -> b.setUntrustedParentPolicy(UntrustedParentPolicy.TRUST))
        .spanBuilder("Event").setUntrustedParent(OUTSIDE, "vendor=x").begin();
    assertEquals("4bf92f3577b34da6a3ce929d0e0e4736", trusted.getSpanContext().getTraceId());
    assertEquals("00f067aa0ba902b7", trusted.getParentSpanId());
    assertEquals("x", trusted.getSpanContext().getTraceState().get("vendor"));

    DeferredSpanRecord ignored = tracing(b -> b.setUntrustedParentPolicy(UntrustedParentPolicy.IGNORE))
        .spanBuilder("Event").setUntrustedParent(OUTSIDE, null).begin();
    assertNotEquals("4bf92f3577b34da6a3ce929d0e0e4736", ignored.getSpanContext().getTraceId());
    assertTrue(ignored.getLinks().isEmpty());
  }

  @Test
  void malformedUntrustedParentStartsANewTraceInsteadOfFailing() {
    DeferredSpanRecord record = tracing(b -> b.setUntrustedParentPolicy(UntrustedParentPolicy.TRUST))
        .spanBuilder("Event").setUntrustedParent("00-00000000000000000000000000000000-00f067aa0ba902b7-01", null)
        .begin();

    assertTrue(record.isValid());
    assertFalse(record.getParentSpanContext().isValid());
    assertTrue(record.getLinks().isEmpty());
    String rejected = record.getAttributes().get(DeferredSpanAttributes.REJECTED_TRACEPARENT);
    assertTrue(rejected.contains("trace id"), rejected);
  }
}
