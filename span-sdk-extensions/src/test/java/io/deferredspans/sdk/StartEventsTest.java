package io.deferredspans.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.logs.Severity;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk;
import io.opentelemetry.sdk.logs.SdkLoggerProvider;
import io.opentelemetry.sdk.logs.data.LogRecordData;
import io.opentelemetry.sdk.logs.export.SimpleLogRecordProcessor;
import io.opentelemetry.sdk.testing.exporter.InMemoryLogRecordExporter;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Start events: an open span announced as an OpenTelemetry log event, only when asked for. */
class StartEventsTest {
  private final InMemoryLogRecordExporter logs = InMemoryLogRecordExporter.create();
  private final SdkLoggerProvider loggerProvider =
      SdkLoggerProvider.builder().addLogRecordProcessor(SimpleLogRecordProcessor.create(logs)).build();

  private DeferredTracing tracing(DeferredTracingBuilder builder) {
    return builder.setHostName("scheduler-1").addSpanExporter(InMemorySpanExporter.create()).build();
  }

  @Test
  void aBegunSpanIsAnnouncedWithItsContextStartTimeAndNames() {
    DeferredTracing tracing = tracing(DeferredTracing.builder().setStartEventLoggerProvider(loggerProvider));
    Instant start = Instant.parse("2026-11-30T04:00:00.123456789Z");
    DeferredSpanRecord record = tracing.spanBuilder("QueueItem").setNoParent().setOwner("/items/i-1")
        .setStartTimestamp(start).begin();
    assertEquals(List.of(), logs.getFinishedLogRecordItems(), "begin alone announces nothing: not stored yet");

    tracing.announceBegun(record);

    List<LogRecordData> events = logs.getFinishedLogRecordItems();
    assertEquals(1, events.size());
    LogRecordData event = events.get(0);
    assertEquals(DeferredTracing.START_EVENT_NAME, event.getEventName());
    assertEquals(record.getSpanContext().getTraceId(), event.getSpanContext().getTraceId());
    assertEquals(record.getSpanContext().getSpanId(), event.getSpanContext().getSpanId());
    assertEquals(record.getStartEpochNanos(), event.getTimestampEpochNanos());
    assertEquals(Severity.INFO, event.getSeverity());
    assertEquals(Attributes.of(DeferredSpanAttributes.NAME, "QueueItem", DeferredSpanAttributes.BEGAN_BY,
        "scheduler-1", DeferredSpanAttributes.OWNER, "/items/i-1"), event.getAttributes());
  }

  @Test
  void offByDefaultAndSilentForUnsampledSpans() {
    DeferredTracing off = tracing(DeferredTracing.builder());
    off.announceBegun(off.spanBuilder("QueueItem").setNoParent().begin());
    DeferredTracing unsampled = tracing(DeferredTracing.builder().setSampler(Sampler.alwaysOff())
        .setStartEventLoggerProvider(loggerProvider));
    unsampled.announceBegun(unsampled.spanBuilder("QueueItem").setNoParent().begin());
    DeferredTracing.noop().announceBegun(DeferredTracing.noop().spanBuilder("QueueItem").begin());
    assertTrue(logs.getFinishedLogRecordItems().isEmpty());
  }

  @Test
  void autoconfigureTurnsThemOnWithOneSettingThroughTheSdksOwnLoggerProvider() {
    OpenTelemetrySdk sdk = AutoConfiguredOpenTelemetrySdk.builder()
        .addPropertiesSupplier(() -> Map.of("otel.traces.exporter", "none", "otel.metrics.exporter", "none",
            "otel.logs.exporter", "none", "deferred.spans.start.events", "true"))
        .addLoggerProviderCustomizer((builder, config) ->
            builder.addLogRecordProcessor(SimpleLogRecordProcessor.create(logs)))
        .disableShutdownHook()
        .build().getOpenTelemetrySdk();
    try {
      DeferredTracing tracing = DeferredTracingAutoConfiguration.get(sdk);
      DeferredSpanRecord record = tracing.spanBuilder("Build").setNoParent().begin();
      tracing.announceBegun(record);
      assertEquals(1, logs.getFinishedLogRecordItems().size());
      assertEquals("Build", logs.getFinishedLogRecordItems().get(0).getAttributes()
          .get(AttributeKey.stringKey("deferred_span.name")));
    } finally {
      sdk.shutdown();
    }
  }
}
