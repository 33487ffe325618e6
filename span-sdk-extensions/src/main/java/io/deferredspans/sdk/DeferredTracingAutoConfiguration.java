package io.deferredspans.sdk;

import io.opentelemetry.sdk.autoconfigure.spi.AutoConfigurationCustomizer;
import io.opentelemetry.sdk.autoconfigure.spi.ConfigProperties;
import io.opentelemetry.sdk.autoconfigure.spi.ConfigurationException;
import io.opentelemetry.sdk.common.Clock;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.IdGenerator;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.SpanProcessor;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

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
  private final DeferredTracingOptions options = new DeferredTracingOptions();
  // Setters called in code win over the configuration, which is read only while autoconfigure builds.
  private final List<Consumer<DeferredTracingOptions>> overrides = new CopyOnWriteArrayList<>();

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
              capture.readOptions(config);
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

  private void readOptions(ConfigProperties config) {
    options.hostName = config.getString("deferred.spans.host.name");
    Integer maxBytes = config.getInt("deferred.spans.max.attribute.bytes");
    if (maxBytes != null) {
      options.setMaxAttributeBytes(maxBytes);
    }
    if (config.getString("deferred.spans.attribute.deny") != null) {
      options.setDeniedAttributeKeys(config.getList("deferred.spans.attribute.deny"));
    }
    String policy = config.getString("deferred.spans.untrusted.parent");
    if (policy != null) {
      try {
        options.setUntrustedParentPolicy(UntrustedParentPolicy.valueOf(policy.trim().toUpperCase(Locale.ROOT)));
      } catch (IllegalArgumentException e) {
        throw new ConfigurationException(
            "deferred.spans.untrusted.parent must be trust, link or ignore, not '" + policy + "'", e);
      }
    }
    overrides.forEach(override -> override.accept(options));
  }

  private DeferredTracingAutoConfiguration override(Consumer<DeferredTracingOptions> override) {
    override.accept(new DeferredTracingOptions()); // validate now, where the caller can see it
    overrides.add(override);
    return this;
  }

  /** See {@link DeferredTracingBuilder#setHostName(String)}; also {@code DEFERRED_SPANS_HOST_NAME}. */
  public DeferredTracingAutoConfiguration setHostName(String hostName) {
    return override(options -> options.hostName = hostName);
  }

  /** See {@link DeferredTracingBuilder#setMaxAttributeBytes(int)}; also {@code DEFERRED_SPANS_MAX_ATTRIBUTE_BYTES}. */
  public DeferredTracingAutoConfiguration setMaxAttributeBytes(int maxAttributeBytes) {
    return override(options -> options.setMaxAttributeBytes(maxAttributeBytes));
  }

  /** See {@link DeferredTracingBuilder#setDeniedAttributeKeys}; also {@code DEFERRED_SPANS_ATTRIBUTE_DENY}. */
  public DeferredTracingAutoConfiguration setDeniedAttributeKeys(List<String> patterns) {
    return override(options -> options.setDeniedAttributeKeys(patterns));
  }

  /** See {@link DeferredTracingBuilder#setUntrustedParentPolicy}; also {@code DEFERRED_SPANS_UNTRUSTED_PARENT}. */
  public DeferredTracingAutoConfiguration setUntrustedParentPolicy(UntrustedParentPolicy policy) {
    return override(options -> options.setUntrustedParentPolicy(policy));
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
        options.hostName != null ? options.hostName : HostNames.defaultHostName(captured),
        options,
        acknowledging ? acknowledgements : null);
  }
}
