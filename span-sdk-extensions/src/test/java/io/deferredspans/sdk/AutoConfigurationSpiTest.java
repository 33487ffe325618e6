package io.deferredspans.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.deferredspans.otlp.json.ReceivedSpan;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import io.opentelemetry.api.GlobalOpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdkBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The autoconfigure SPI with the real autoconfigure, a real OTLP exporter and a real OTLP receiver: what an
 * application that never calls {@code install} gets.
 */
class AutoConfigurationSpiTest {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private static OtlpTestReceiver receiver;

  private final Map<String, String> savedSystemProperties = new HashMap<>();
  private OpenTelemetrySdk sdk;
  private StandaloneDeferredTracing standalone;

  @BeforeAll
  static void startReceiver() {
    receiver = OtlpTestReceiver.start();
  }

  @AfterAll
  static void stopReceiver() {
    receiver.close();
  }

  @BeforeEach
  void forgetEarlierSpans() {
    receiver.reset();
  }

  @AfterEach
  void cleanUp() {
    if (sdk != null) {
      sdk.shutdown().join(10, TimeUnit.SECONDS);
    }
    if (standalone != null) {
      standalone.close();
    }
    savedSystemProperties.forEach(
        (name, value) -> {
          if (value == null) {
            System.clearProperty(name);
          } else {
            System.setProperty(name, value);
          }
        });
    GlobalOpenTelemetry.resetForTest();
  }

  @Test
  void initializeCapturesThePipelineWithoutInstall() throws InterruptedException {
    otlpSystemProperties("spi-service");

    sdk = AutoConfiguredOpenTelemetrySdk.initialize().getOpenTelemetrySdk();
    DeferredTracing tracing = DeferredTracingAutoConfiguration.get(sdk);

    assertTrue(tracing.isEnabled());
    assertTrue(tracing.acknowledgesExports(), "the OTLP exporter was wrapped");
    assertSame(tracing, DeferredTracingAutoConfiguration.get(sdk), "one deferred tracing per SDK");
    DeferredSpanRecord record = tracing.spanBuilder("QueueItem").setNoParent().begin();
    Span child = sdk.getTracer("test").spanBuilder("Job")
        .setParent(Context.root().with(Span.wrap(record.getSpanContext()))).startSpan();
    child.end();
    DeferredTracingTest.RecordingListener listener = new DeferredTracingTest.RecordingListener();
    tracing.export(tracing.finish(record, DeferredSpanEnding.now()), listener);

    assertTrue(listener.done.await(WAIT.toSeconds(), TimeUnit.SECONDS), "no acknowledgement");
    assertEquals(1, listener.exported.get(), "acknowledged by the OTLP exporter");
    List<ReceivedSpan> spans = receiver.awaitSpans(2, WAIT);
    ReceivedSpan deferred = only(spans, "QueueItem");
    assertEquals(record.getSpanContext().getTraceId(), deferred.traceId());
    assertEquals(record.getSpanContext().getSpanId(), deferred.spanId());
    assertEquals(record.getStartEpochNanos(), deferred.startEpochNanos());
    assertEquals("spi-service", deferred.resourceAttributes().get("service.name"));
    assertEquals("io.deferredspans", deferred.scopeName());
    assertEquals(DeferredTracingTest.projectVersion(), deferred.scopeVersion(), "the artifact's version, on the wire");
    ReceivedSpan job = only(spans, "Job");
    assertEquals(deferred.spanId(), job.parentSpanId());
    assertEquals(deferred.resourceAttributes(), job.resourceAttributes(), "one pipeline, one resource");
  }

  @Test
  void installingByHandAndTheSpiShareOneCapture() throws InterruptedException {
    AutoConfiguredOpenTelemetrySdkBuilder builder = otlpBuilder("by-hand", Map.of());
    DeferredTracingAutoConfiguration capture = DeferredTracingAutoConfiguration.install(builder);
    assertSame(capture, DeferredTracingAutoConfiguration.install(builder), "installing twice changes nothing");

    sdk = builder.build().getOpenTelemetrySdk(); // the SPI runs here, on the same builder
    DeferredTracing tracing = capture.build(sdk.getSdkTracerProvider());

    assertSame(tracing, DeferredTracingAutoConfiguration.get(sdk));
    CapturingSampler sampler = assertInstanceOf(CapturingSampler.class, sdk.getSdkTracerProvider().getSampler());
    assertFalse(sampler.delegate() instanceof CapturingSampler, "the sampler is marked once");
    assertEquals("ParentBased{root:AlwaysOnSampler,remoteParentSampled:AlwaysOnSampler,"
        + "remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,"
        + "localParentNotSampled:AlwaysOffSampler}", sampler.getDescription(), "the marker is invisible");

    DeferredSpanRecord record = tracing.spanBuilder("QueueItem").setNoParent().begin();
    DeferredTracingTest.RecordingListener listener = new DeferredTracingTest.RecordingListener();
    tracing.export(tracing.finish(record, DeferredSpanEnding.now()), listener);
    assertTrue(listener.done.await(WAIT.toSeconds(), TimeUnit.SECONDS), "no acknowledgement");
    assertEquals(1, listener.exported.get());
    assertEquals(0, tracing.pendingAcknowledgements());
    receiver.awaitSpans(1, WAIT);
    sdk.shutdown().join(10, TimeUnit.SECONDS); // flushes whatever a second registration could have queued
    sdk = null;

    List<ReceivedSpan> copies = receiver.spans().stream()
        .filter(span -> span.spanId().equals(record.getSpanContext().getSpanId())).toList();
    assertEquals(1, copies.size(), "exported once: " + receiver.spans());
  }

  @Test
  void anSdkTheSpiDidNotBuildIsAClearError() {
    // An application that autoconfigured one SDK and hands over another, built by hand.
    sdk = otlpBuilder("autoconfigured", Map.of()).build().getOpenTelemetrySdk();
    try (OpenTelemetrySdk byHand = OpenTelemetrySdk.builder().build()) {
      IllegalStateException e =
          assertThrows(IllegalStateException.class, () -> DeferredTracingAutoConfiguration.get(byHand));
      assertTrue(e.getMessage().contains("DeferredTracingAutoConfiguration.install(builder)"), e.getMessage());
      assertTrue(e.getMessage().contains("forJavaAgent()"), e.getMessage());
    }
    assertThrows(NullPointerException.class, () -> DeferredTracingAutoConfiguration.get(null));
  }

  @Test
  void disabledSdkGivesTheNoopTracing() {
    sdk = otlpBuilder("disabled", Map.of("otel.sdk.disabled", "true")).build().getOpenTelemetrySdk();

    DeferredTracing tracing = DeferredTracingAutoConfiguration.get(sdk);

    assertSame(DeferredTracing.noop(), tracing);
    assertFalse(tracing.spanBuilder("QueueItem").begin().isValid(), "nothing would be stored");
  }

  @Test
  void disabledByTheEnvironmentGivesTheNoopTracingToo() {
    otlpSystemProperties("disabled");
    setSystemProperty("otel.sdk.disabled", "true");

    sdk = AutoConfiguredOpenTelemetrySdk.initialize().getOpenTelemetrySdk();

    assertSame(DeferredTracing.noop(), DeferredTracingAutoConfiguration.get(sdk));
  }

  @Test
  void ownPipelineReadsTheJavaAgentsConfigurationFile(@TempDir Path dir) throws IOException, InterruptedException {
    // Only the file names the service and the endpoint, as when the agent is configured by file alone.
    Path file = dir.resolve("otel-agent.properties");
    Files.writeString(file, String.join("\n",
        "otel.service.name=from-agent-file",
        "otel.traces.exporter=otlp",
        "otel.exporter.otlp.protocol=http/protobuf",
        "otel.exporter.otlp.traces.endpoint=" + receiver.httpEndpoint(),
        "otel.bsp.schedule.delay=20"));
    setSystemProperty(JavaAgentPipeline.AGENT_CONFIGURATION_FILE, file.toString());

    standalone = DeferredTracingAutoConfiguration.forJavaAgent();
    DeferredTracing tracing = standalone.getDeferredTracing();

    assertTrue(tracing.acknowledgesExports());
    DeferredSpanRecord record = tracing.spanBuilder("QueueItem").setNoParent().begin();
    DeferredTracingTest.RecordingListener listener = new DeferredTracingTest.RecordingListener();
    tracing.export(tracing.finish(record, DeferredSpanEnding.now()), listener);
    assertTrue(listener.done.await(WAIT.toSeconds(), TimeUnit.SECONDS), "no acknowledgement");
    ReceivedSpan deferred = only(receiver.awaitSpans(1, WAIT), "QueueItem");
    assertEquals("from-agent-file", deferred.resourceAttributes().get("service.name"));
    assertFalse(GlobalOpenTelemetry.isSet(), "the agent owns the global instance, not us");
    assertSame(tracing, DeferredTracingAutoConfiguration.get(tracingSdk(tracing)));
  }

  @Test
  void ownPipelineNamesAMissingConfigurationFile(@TempDir Path dir) {
    setSystemProperty(JavaAgentPipeline.AGENT_CONFIGURATION_FILE, dir.resolve("missing.properties").toString());

    Exception e = assertThrows(RuntimeException.class, DeferredTracingAutoConfiguration::forJavaAgent);

    assertTrue(String.valueOf(e.getMessage()).contains("missing.properties")
        || String.valueOf(e.getCause()).contains("missing.properties"), String.valueOf(e));
  }

  private static OpenTelemetrySdk tracingSdk(DeferredTracing tracing) {
    return OpenTelemetrySdk.builder().setTracerProvider(tracing.getTracerProvider().orElseThrow()).build();
  }

  private static ReceivedSpan only(List<ReceivedSpan> spans, String name) {
    List<ReceivedSpan> named = spans.stream().filter(span -> span.name().equals(name)).toList();
    assertEquals(1, named.size(), name + " in " + spans);
    return named.get(0);
  }

  private static Map<String, String> otlpSettings(String service) {
    Map<String, String> settings = new HashMap<>();
    settings.put("otel.service.name", service);
    settings.put("otel.traces.exporter", "otlp");
    settings.put("otel.exporter.otlp.protocol", "http/protobuf");
    settings.put("otel.exporter.otlp.traces.endpoint", receiver.httpEndpoint());
    settings.put("otel.metrics.exporter", "none");
    settings.put("otel.logs.exporter", "none");
    settings.put("otel.bsp.schedule.delay", "20");
    return settings;
  }

  private static AutoConfiguredOpenTelemetrySdkBuilder otlpBuilder(String service, Map<String, String> overrides) {
    Map<String, String> settings = otlpSettings(service);
    settings.putAll(overrides);
    return AutoConfiguredOpenTelemetrySdk.builder().addPropertiesSupplier(() -> settings).disableShutdownHook();
  }

  /** {@code initialize()} reads only the environment and system properties, as in production. */
  private void otlpSystemProperties(String service) {
    otlpSettings(service).forEach(this::setSystemProperty);
  }

  private void setSystemProperty(String name, String value) {
    savedSystemProperties.putIfAbsent(name, System.getProperty(name));
    System.setProperty(name, value);
  }
}
