package io.deferredspans.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdkBuilder;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.data.SpanData;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class DeferredTracingAutoConfigurationTest {
  private OpenTelemetrySdk sdk;

  @AfterEach
  void shutDown() {
    if (sdk != null) {
      sdk.shutdown().join(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void capturesResourceAndSamplerFromAutoconfigure() {
    DeferredTracing tracing = autoconfigure(Map.of("otel.traces.sampler", "always_off"));

    assertTrue(tracing.isEnabled());
    assertEquals("svc", tracing.getResource().getAttribute(AttributeKey.stringKey("service.name")));
    assertSame(sdk.getSdkTracerProvider().getSampler(), tracing.getSampler());
    assertFalse(tracing.spanBuilder("QueueItem").begin().isSampled());
    assertFalse(tracing.acknowledgesExports(), "no exporter configured");
  }

  @Test
  void disabledSdkYieldsDisabledTracing() {
    DeferredTracing tracing = autoconfigure(Map.of("otel.sdk.disabled", "true"));

    assertFalse(tracing.isEnabled());
    // Stores write nothing for an invalid record, so a disabled SDK leaves no spans behind in ZooKeeper.
    assertFalse(tracing.spanBuilder("QueueItem").begin().isValid());
  }

  @Test
  void deferredSpanReachesTheAutoconfiguredExporterAndIsAcknowledged() throws InterruptedException {
    DeferredTracing tracing = autoconfigure(Map.of("otel.traces.exporter", TestSpanExporterProvider.NAME));
    InMemorySpanExporter exporter = TestSpanExporterProvider.LAST_CREATED.get();
    DeferredTracingTest.RecordingListener listener = new DeferredTracingTest.RecordingListener();

    DeferredSpanRecord record = tracing.spanBuilder("QueueItem").begin();
    tracing.export(tracing.finish(record, DeferredSpanEnding.now()), listener);
    sdk.getSdkTracerProvider().forceFlush().join(10, TimeUnit.SECONDS);

    assertTrue(tracing.acknowledgesExports());
    assertTrue(listener.done.await(10, TimeUnit.SECONDS), "no acknowledgement");
    assertEquals(1, listener.exported.get());
    List<SpanData> spans = exporter.getFinishedSpanItems();
    assertEquals(1, spans.size());
    assertEquals(record.getSpanContext().getSpanId(), spans.get(0).getSpanId());
    assertEquals("svc", spans.get(0).getResource().getAttribute(AttributeKey.stringKey("service.name")));
  }

  @Test
  void hostNameAndSizeLimitCanBeOverridden() {
    AutoConfiguredOpenTelemetrySdkBuilder builder = builder(Map.of());
    DeferredTracingAutoConfiguration capture =
        DeferredTracingAutoConfiguration.install(builder).setHostName("scheduler-1").setMaxAttributeBytes(64);
    DeferredTracing tracing = build(builder, capture);

    assertEquals("scheduler-1", tracing.getHostName());
    DeferredSpanBuilder span = tracing.spanBuilder("QueueItem").setAttribute("payload", "x".repeat(100));
    assertThrows(DeferredSpanLimitException.class, span::begin);
  }

  @Test
  void securityOptionsComeFromTheOtelConfigurationAndCodeOverridesThem() {
    AutoConfiguredOpenTelemetrySdkBuilder builder = builder(Map.of(
        "deferred.spans.untrusted.parent", "ignore",
        "deferred.spans.attribute.deny", "internal\\..*",
        "deferred.spans.host.name", "from-config"));
    DeferredTracingAutoConfiguration capture = DeferredTracingAutoConfiguration.install(builder).setHostName("from-code");
    DeferredTracing tracing = build(builder, capture);

    assertEquals("from-code", tracing.getHostName());
    DeferredSpanRecord record = tracing.spanBuilder("Event")
        .setUntrustedParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", null)
        .setAttribute("internal.ip", "10.0.0.1").setAttribute("password", "kept: the deny-list was replaced")
        .begin();
    assertTrue(record.getLinks().isEmpty(), "ignored, not linked");
    assertEquals(null, record.getAttributes().get(AttributeKey.stringKey("internal.ip")));
    assertEquals("kept: the deny-list was replaced", record.getAttributes().get(AttributeKey.stringKey("password")));
  }

  @Test
  void invalidPolicyInConfigurationIsAClearError() {
    AutoConfiguredOpenTelemetrySdkBuilder builder = builder(Map.of("deferred.spans.untrusted.parent", "maybe"));
    DeferredTracingAutoConfiguration.install(builder);
    Exception e = assertThrows(io.opentelemetry.sdk.autoconfigure.spi.ConfigurationException.class, builder::build);
    assertTrue(e.getMessage().contains("trust, link or ignore"), e.getMessage());
  }

  private DeferredTracing autoconfigure(Map<String, String> properties) {
    AutoConfiguredOpenTelemetrySdkBuilder builder = builder(properties);
    return build(builder, DeferredTracingAutoConfiguration.install(builder));
  }

  private DeferredTracing build(AutoConfiguredOpenTelemetrySdkBuilder builder, DeferredTracingAutoConfiguration capture) {
    sdk = builder.build().getOpenTelemetrySdk();
    return capture.build(sdk.getSdkTracerProvider());
  }

  private static AutoConfiguredOpenTelemetrySdkBuilder builder(Map<String, String> overrides) {
    Map<String, String> properties = new HashMap<>();
    properties.put("otel.traces.exporter", "none");
    properties.put("otel.metrics.exporter", "none");
    properties.put("otel.logs.exporter", "none");
    properties.put("otel.service.name", "svc");
    properties.putAll(overrides);
    return AutoConfiguredOpenTelemetrySdk.builder().addPropertiesSupplier(() -> properties).disableShutdownHook();
  }
}
