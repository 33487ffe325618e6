package io.deferredspans.sdk;

import io.opentelemetry.sdk.autoconfigure.spi.AutoConfigurationCustomizer;
import io.opentelemetry.sdk.common.Clock;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.IdGenerator;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.SpanProcessor;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Captures, from OpenTelemetry's autoconfigure, the pipeline pieces that {@link DeferredTracing} needs and an
 * {@link SdkTracerProvider} does not expose: the final resource, every configured span processor, and each span
 * exporter (wrapped so it reports back per deferred span). Exporters, endpoints, sampling and batching all stay
 * configured by the usual {@code OTEL_*} variables.
 *
 * <pre>{@code
 * AutoConfiguredOpenTelemetrySdkBuilder sdkBuilder = AutoConfiguredOpenTelemetrySdk.builder();
 * DeferredTracingAutoConfiguration deferred = DeferredTracingAutoConfiguration.install(sdkBuilder);
 * OpenTelemetrySdk sdk = sdkBuilder.build().getOpenTelemetrySdk();
 * DeferredTracing tracing = deferred.build(sdk.getSdkTracerProvider());
 * }</pre>
 *
 * <p>Autoconfigure offers no way to read the ID generator or clock; deferred spans use the SDK defaults
 * ({@link IdGenerator#random()}, {@link Clock#getDefault()}). Processors added by a tracer provider customizer
 * of your own are not seen. If the SDK is disabled ({@code OTEL_SDK_DISABLED=true}), {@link #build} returns
 * {@link DeferredTracing#noop()}.
 */
public final class DeferredTracingAutoConfiguration {
  private final ExportAcknowledgements acknowledgements = new ExportAcknowledgements();
  private final List<SpanProcessor> processors = new CopyOnWriteArrayList<>();
  private volatile Resource resource;
  private volatile boolean sdkDisabled;
  private volatile boolean acknowledging;
  private String hostName;
  private int maxAttributeBytes = DeferredTracingBuilder.DEFAULT_MAX_ATTRIBUTE_BYTES;

  private DeferredTracingAutoConfiguration() {}

  /** Registers the capturing customizers; call before the autoconfigure builder's {@code build()}. */
  public static DeferredTracingAutoConfiguration install(AutoConfigurationCustomizer customizer) {
    DeferredTracingAutoConfiguration capture = new DeferredTracingAutoConfiguration();
    customizer
        .addResourceCustomizer(
            (resource, config) -> {
              capture.resource = resource;
              // Autoconfigure computes the resource even when the SDK is disabled, so its customizer runs too.
              capture.sdkDisabled = config.getBoolean("otel.sdk.disabled", false);
              return resource;
            })
        .addSpanExporterCustomizer(
            (exporter, config) -> {
              capture.acknowledging = true;
              return new AcknowledgingSpanExporter(exporter, capture.acknowledgements);
            })
        .addSpanProcessorCustomizer(
            (processor, config) -> {
              capture.processors.add(processor);
              return processor;
            });
    return capture;
  }

  /** See {@link DeferredTracingBuilder#setHostName(String)}. */
  public DeferredTracingAutoConfiguration setHostName(String hostName) {
    this.hostName = hostName;
    return this;
  }

  /** See {@link DeferredTracingBuilder#setMaxAttributeBytes(int)}. */
  public DeferredTracingAutoConfiguration setMaxAttributeBytes(int maxAttributeBytes) {
    DeferredTracing.builder().setMaxAttributeBytes(maxAttributeBytes); // same validation, one place
    this.maxAttributeBytes = maxAttributeBytes;
    return this;
  }

  /** The deferred tracing sharing the pipeline of {@code tracerProvider}, which autoconfigure has built. */
  public DeferredTracing build(SdkTracerProvider tracerProvider) {
    Resource captured = resource;
    if (captured == null || sdkDisabled) {
      return DeferredTracing.noop();
    }
    return new DeferredTracing(
        true,
        tracerProvider,
        SpanProcessor.composite(processors),
        captured,
        tracerProvider.getSampler(),
        IdGenerator.random(),
        Clock.getDefault(),
        tracerProvider.getSpanLimits(),
        hostName != null ? hostName : HostNames.defaultHostName(captured),
        maxAttributeBytes,
        acknowledging ? acknowledgements : null);
  }
}
