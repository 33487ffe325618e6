package io.deferredspans.sdk;

import io.opentelemetry.api.logs.LoggerProvider;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.spi.AutoConfigurationCustomizer;
import io.opentelemetry.sdk.autoconfigure.spi.ConfigProperties;
import io.opentelemetry.sdk.autoconfigure.spi.ConfigurationException;
import io.opentelemetry.sdk.common.Clock;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.IdGenerator;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.SpanProcessor;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.WeakHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Captures, from OpenTelemetry's autoconfigure, the pipeline pieces that {@link DeferredTracing} needs and an
 * {@link SdkTracerProvider} does not expose: the final resource, every configured span processor, and each span
 * exporter (wrapped so it reports back per deferred span). Exporters, endpoints, sampling and batching all stay
 * configured by the usual {@code OTEL_*} variables.
 *
 * <p>With this library on the class path, autoconfigure installs the capture by itself (an {@code
 * AutoConfigurationCustomizerProvider}, {@link DeferredTracingCustomizerProvider}), so an application (or a
 * framework) that calls {@code AutoConfiguredOpenTelemetrySdk.initialize()} only asks for the result:
 *
 * <pre>{@code
 * OpenTelemetrySdk sdk = AutoConfiguredOpenTelemetrySdk.initialize().getOpenTelemetrySdk();
 * DeferredTracing tracing = DeferredTracingAutoConfiguration.get(sdk);
 * }</pre>
 *
 * <p>Installing by hand still works, and is the way to override options in code; the SPI then finds the
 * capture already installed on that builder and adds nothing:
 *
 * <pre>{@code
 * AutoConfiguredOpenTelemetrySdkBuilder sdkBuilder = AutoConfiguredOpenTelemetrySdk.builder();
 * DeferredTracingAutoConfiguration deferred = DeferredTracingAutoConfiguration.install(sdkBuilder);
 * OpenTelemetrySdk sdk = sdkBuilder.build().getOpenTelemetrySdk();
 * DeferredTracing tracing = deferred.build(sdk.getSdkTracerProvider());
 * }</pre>
 *
 * <p>Under the OpenTelemetry Java agent the application cannot reach the agent's SDK; {@link #forJavaAgent()}
 * builds deferred spans a pipeline of their own from the same {@code OTEL_*} settings.
 *
 * <p>Autoconfigure offers no way to read the ID generator or clock; deferred spans use the SDK defaults
 * ({@link IdGenerator#random()}, {@link Clock#getDefault()}). Processors added by a tracer provider customizer
 * of your own are not seen. If the SDK is disabled ({@code OTEL_SDK_DISABLED=true}), {@link #build} and {@link
 * #get} return {@link DeferredTracing#noop()}.
 */
public final class DeferredTracingAutoConfiguration {
  // Keyed by builder identity: the SPI is handed the very builder a caller may already have installed on.
  private static final Map<AutoConfigurationCustomizer, DeferredTracingAutoConfiguration> INSTALLED =
      Collections.synchronizedMap(new WeakHashMap<>());
  // A disabled SDK comes back as a bare OpenTelemetrySdk that carries nothing of ours: remember the verdict.
  private static volatile boolean lastRunDisabled;

  private final ExportAcknowledgements acknowledgements = new ExportAcknowledgements();
  private final List<SpanProcessor> processors = new CopyOnWriteArrayList<>();
  private volatile Resource resource;
  private volatile boolean sdkDisabled;
  private volatile boolean acknowledging;
  private final DeferredTracingOptions options = new DeferredTracingOptions();
  // DEFERRED_SPANS_START_EVENTS: honoured by get(sdk), which knows the SDK's logger provider.
  private volatile boolean startEventsConfigured;
  // Setters called in code win over the configuration, which is read only while autoconfigure builds.
  private final List<Consumer<DeferredTracingOptions>> overrides = new CopyOnWriteArrayList<>();

  private SdkTracerProvider builtFor; // guarded by this
  private DeferredTracing built; // guarded by this

  private DeferredTracingAutoConfiguration() {}

  /**
   * Registers the capturing customizers; call before the autoconfigure builder's {@code build()}. Installing
   * twice on one builder (by hand, or by hand and by the SPI) returns the capture already installed.
   */
  public static DeferredTracingAutoConfiguration install(AutoConfigurationCustomizer customizer) {
    Objects.requireNonNull(customizer, "customizer");
    synchronized (INSTALLED) {
      DeferredTracingAutoConfiguration installed = INSTALLED.get(customizer);
      if (installed == null) {
        installed = new DeferredTracingAutoConfiguration();
        installed.register(customizer);
        INSTALLED.put(customizer, installed);
      }
      return installed;
    }
  }

  /**
   * The deferred tracing captured when autoconfigure built {@code sdk}: the capture the SPI installed, or the one
   * installed by hand on the same builder (then this returns what its {@link #build} does).
   *
   * @return {@link DeferredTracing#noop()} if {@code sdk} carries no capture and the SDK is disabled: {@code
   *     OTEL_SDK_DISABLED=true} (or {@code -Dotel.sdk.disabled=true}), or the last autoconfigure run in this
   *     process found it disabled (autoconfigure then returns a bare SDK that carries nothing of ours)
   * @throws IllegalStateException if {@code sdk} was not built by autoconfigure with this library on its class
   *     path (built by hand, from a declarative configuration file, or under the Java agent, where {@link
   *     #forJavaAgent()} is the way)
   */
  public static DeferredTracing get(OpenTelemetrySdk sdk) {
    SdkTracerProvider tracerProvider = Objects.requireNonNull(sdk, "sdk").getSdkTracerProvider();
    if (tracerProvider.getSampler() instanceof CapturingSampler capturing) {
      DeferredTracingAutoConfiguration capture = capturing.capture();
      if (capture.startEventsConfigured && capture.options.startEventLoggerProvider == null) {
        capture.options.startEventLoggerProvider = sdk.getSdkLoggerProvider();
      }
      return capture.build(tracerProvider);
    }
    if (lastRunDisabled || disabledByEnvironment()) {
      return DeferredTracing.noop();
    }
    throw new IllegalStateException(
        "This OpenTelemetrySdk carries no deferred-spans capture: it was not built by autoconfigure "
            + "(AutoConfiguredOpenTelemetrySdk.initialize() or .builder().build()) with span-sdk-extensions on "
            + "the class path its ServiceLoader reads, or a later sampler customizer replaced ours. Build it with "
            + "autoconfigure, call DeferredTracingAutoConfiguration.install(builder) yourself, or use "
            + "DeferredTracing.builder(); under the OpenTelemetry Java agent use "
            + "DeferredTracingAutoConfiguration.forJavaAgent().");
  }

  /**
   * Deferred spans' own pipeline, for applications run with the OpenTelemetry Java agent ({@code
   * -javaagent}). There the application sees only the API, and the agent's SDK (its processors and exporters)
   * is out of reach; so this builds a second SDK by autoconfigure from the same settings the agent reads: {@code
   * OTEL_*} environment variables, {@code otel.*} system properties, and the agent's configuration file ({@code
   * otel.javaagent.configuration-file}). Deferred spans thus go to the same endpoint with the same service name;
   * ordinary spans, children of deferred ones included, keep going through the agent: start them with the
   * agent's tracer ({@code GlobalOpenTelemetry}) and the stored span's context as parent.
   *
   * <p>Where the agent's defaults differ from autoconfigure's, the agent's apply: OTLP goes over {@code
   * http/protobuf} unless {@code OTEL_EXPORTER_OTLP_PROTOCOL} says otherwise. Only traces are configured: the
   * metric and log exporters of this second SDK are off. Set {@code OTEL_SERVICE_NAME} explicitly, since the
   * agent can guess a service name from the jar where autoconfigure cannot. Needs {@code opentelemetry-sdk-extension-autoconfigure} and an exporter (e.g. {@code
   * opentelemetry-exporter-otlp}) on the application's class path. Works without the agent too.
   *
   * @throws IllegalStateException if autoconfigure is not on the class path
   */
  public static StandaloneDeferredTracing forJavaAgent() {
    return StandaloneDeferredTracing.autoconfigure();
  }

  private static boolean disabledByEnvironment() {
    String disabled = System.getProperty("otel.sdk.disabled");
    return Boolean.parseBoolean(disabled != null ? disabled.trim() : System.getenv("OTEL_SDK_DISABLED"));
  }

  private void register(AutoConfigurationCustomizer customizer) {
    DeferredTracingAutoConfiguration capture = this;
    customizer
        .addResourceCustomizer(
            (resource, config) -> {
              capture.resource = resource;
              // Autoconfigure computes the resource even when the SDK is disabled, so its customizer runs too.
              capture.sdkDisabled = config.getBoolean("otel.sdk.disabled", false);
              lastRunDisabled = capture.sdkDisabled;
              capture.readOptions(config);
              return resource;
            })
        .addSamplerCustomizer((sampler, config) -> new CapturingSampler(sampler, capture))
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
    startEventsConfigured = config.getBoolean("deferred.spans.start.events", false);
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

  /** See {@link DeferredTracingBuilder#setStartEventLoggerProvider}; with the SPI, {@code DEFERRED_SPANS_START_EVENTS=true}. */
  public DeferredTracingAutoConfiguration setStartEventLoggerProvider(LoggerProvider loggerProvider) {
    Objects.requireNonNull(loggerProvider, "loggerProvider");
    return override(options -> options.startEventLoggerProvider = loggerProvider);
  }

  /**
   * The deferred tracing sharing the pipeline of {@code tracerProvider}, which autoconfigure has built; the same
   * instance on every call for one provider.
   */
  public synchronized DeferredTracing build(SdkTracerProvider tracerProvider) {
    Resource captured = resource;
    if (captured == null || sdkDisabled) {
      return DeferredTracing.noop();
    }
    if (builtFor != tracerProvider) {
      built = newTracing(tracerProvider, captured);
      builtFor = tracerProvider;
    }
    return built;
  }

  private DeferredTracing newTracing(SdkTracerProvider tracerProvider, Resource captured) {
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
