package io.deferredspans.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.deferredspans.sdk.DeferredTracingTest.ControlledExporter;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link DeferredTracing#end}, the one public way to end a span without a store: the record travels as {@link
 * DeferredSpanRecord#toBytes()}, as it does in the Java agent test's file, and the result says whether the exporter
 * took the span.
 */
class DeferredTracingEndTest {
  private static final String FILE = "/tmp/queue-item.record";

  private final List<SdkTracerProvider> providers = new ArrayList<>();
  private final ControlledExporter exporter = new ControlledExporter();

  @AfterEach
  void shutDownHosts() {
    providers.forEach(SdkTracerProvider::shutdown);
  }

  @Test
  void endExportsTheSpanBegunOnAnotherHostAndCompletesWhenTheExporterAcknowledgedIt() {
    DeferredSpanRecord begun = host("host-a", Sampler.alwaysOn()).spanBuilder("QueueItem").begin();
    DeferredSpanRecord read = DeferredSpanRecord.fromBytes(begun.toBytes(), FILE);
    assertEquals(begun, read);

    CompletableResultCode result =
        host("host-b", Sampler.alwaysOn()).end(read, DeferredSpanEnding.builder().setAttribute("result", "OK").build());
    assertFalse(result.isDone(), "the exporter has not answered yet");
    SpanData exported = exporter.calls.get(0).spans.get(0);
    assertEquals(begun.getSpanContext().getSpanId(), exported.getSpanId());
    assertEquals("host-a", exported.getAttributes().get(DeferredSpanAttributes.BEGAN_BY));
    assertEquals("host-b", exported.getAttributes().get(DeferredSpanAttributes.ENDED_BY));
    assertEquals("OK", exported.getAttributes().get(AttributeKey.stringKey("result")));

    exporter.calls.get(0).succeed();
    assertTrue(result.isDone() && result.isSuccess());
  }

  @Test
  void endFailsWhenTheExporterGivesUpOnTheSpan() {
    DeferredTracing tracing = host("host-a", Sampler.alwaysOn());
    CompletableResultCode result = tracing.end(tracing.spanBuilder("QueueItem").begin(), DeferredSpanEnding.now());
    exporter.calls.get(0).fail();
    assertTrue(result.isDone());
    assertFalse(result.isSuccess());
  }

  @Test
  void endOfAnUnsampledSpanSucceedsAtOnceAndExportsNothing() {
    DeferredTracing tracing = host("host-a", Sampler.alwaysOff());
    CompletableResultCode result = tracing.end(tracing.spanBuilder("QueueItem").begin(), DeferredSpanEnding.now());
    assertTrue(result.isDone() && result.isSuccess());
    assertEquals(List.of(), exporter.calls);
  }

  @Test
  void aRecordBegunWhileTracingWasDisabledCanBeNeitherKeptNorEnded() {
    DeferredSpanRecord disabled = DeferredTracing.noop().spanBuilder("QueueItem").begin();
    assertThrows(IllegalArgumentException.class, disabled::toBytes);
    DeferredTracing tracing = host("host-a", Sampler.alwaysOn());
    assertThrows(IllegalArgumentException.class, () -> tracing.end(disabled, DeferredSpanEnding.now()));
    assertEquals(List.of(), exporter.calls);
  }

  private DeferredTracing host(String name, Sampler sampler) {
    DeferredTracing tracing = DeferredTracing.builder()
        .setResource(Resource.create(Attributes.of(AttributeKey.stringKey("service.instance.id"), name)))
        .setSampler(sampler)
        .addSpanExporter(exporter, SimpleSpanProcessor::create)
        .build();
    providers.add(tracing.getTracerProvider().orElseThrow());
    return tracing;
  }
}
