package io.deferredspans.demo.common;

import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.sdk.DeferredTracingAutoConfiguration;
import io.deferredspans.sdk.TraceParent;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdkBuilder;
import io.opentelemetry.sdk.autoconfigure.spi.ConfigProperties;
import java.io.Closeable;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;

/**
 * One process's OpenTelemetry: the SDK that autoconfigure builds from {@code OTEL_*} variables and {@code otel.*}
 * system properties, and the {@link DeferredTracing} that shares its pipeline. Explicit lifecycle: {@link
 * #start}, {@link #close()} (which flushes).
 *
 * <p>The user's settings win, with three exceptions the demo needs: the span exporter {@value
 * TraceFilesSpanExporterProvider#NAME} is always added to the user's exporters (the launcher's JSON lines files
 * and verdict are made from it), {@code service.instance.id} is always the process's name (the launcher finds and
 * kills processes by it), and {@code OTEL_TRACES_EXPORTER=none} means none besides the files. Where the user says
 * nothing the demo's defaults apply: no OTLP export unless an OTLP endpoint is set, and
 * metrics and logs only if asked for.
 *
 * <p>The SDK is shut down exactly once, by {@link #close()}: autoconfigure's own shutdown hook is turned off, since
 * every demo process already closes its telemetry last, from its own hook, after the components that still end
 * spans (a second shutdown would only make the SDK log "Multiple shutdown calls").
 */
public final class DemoTelemetry implements Closeable {
  public static final String INSTRUMENTATION_SCOPE = "io.deferredspans.demo";
  private static final String SERVICE_INSTANCE_ID = "service.instance.id";
  private static final String RESOURCE_ATTRIBUTES = "otel.resource.attributes";
  private static final String TRACES_EXPORTER = "otel.traces.exporter";
  private static final String DISABLED_RESOURCE_PROVIDERS = "otel.java.disabled.resource.providers";
  private static final String RANDOM_INSTANCE_ID_PROVIDER =
      "io.opentelemetry.sdk.autoconfigure.ServiceInstanceIdResourceProvider";

  private final OpenTelemetrySdk sdk;
  private final DeferredTracing deferred;
  private final Tracer tracer;
  private final List<String> traceExporters;
  private final AtomicBoolean closed = new AtomicBoolean();

  private DemoTelemetry(OpenTelemetrySdk sdk, DeferredTracing deferred, List<String> traceExporters) {
    this.sdk = sdk;
    this.deferred = deferred;
    this.tracer = sdk.getTracer(INSTRUMENTATION_SCOPE);
    this.traceExporters = List.copyOf(traceExporters);
  }

  /**
   * @param serviceName {@code service.name} unless the user sets one
   * @param instanceId {@code service.instance.id}, always, and so the name in {@code began_by} / {@code ended_by}
   * @param traceFilesEndpoint the launcher's OTLP/HTTP traces URL, where {@value TraceFilesSpanExporterProvider#NAME}
   *     sends
   */
  public static DemoTelemetry start(String serviceName, String instanceId, String traceFilesEndpoint) {
    return start(serviceName, instanceId, traceFilesEndpoint, Map.of());
  }

  /**
   * As {@link #start(String, String, String)}, with {@code defaults} beneath the user's settings, as if set in
   * the environment: how a test in one JVM gives each process its own sampler or batch delay.
   */
  public static DemoTelemetry start(String serviceName, String instanceId, String traceFilesEndpoint,
      Map<String, String> defaults) {
    List<String> exporters = new ArrayList<>();
    AutoConfiguredOpenTelemetrySdkBuilder builder =
        AutoConfiguredOpenTelemetrySdk.builder()
            .addPropertiesSupplier(() -> defaults)
            .addPropertiesCustomizer(config -> {
              Map<String, String> settings = demoSettings(config, serviceName, instanceId, traceFilesEndpoint);
              exporters.clear();
              exporters.addAll(List.of(settings.get(TRACES_EXPORTER).split(",")));
              return settings;
            })
            .disableShutdownHook();
    DeferredTracingAutoConfiguration capture = DeferredTracingAutoConfiguration.install(builder);
    OpenTelemetrySdk sdk = builder.build().getOpenTelemetrySdk();
    return new DemoTelemetry(sdk, capture.build(sdk.getSdkTracerProvider()), exporters);
  }

  /**
   * What the demo sets on top of the user's configuration {@code config} (system properties, then environment):
   * the file exporter added to the user's span exporters, and its defaults where the user set nothing.
   */
  private static Map<String, String> demoSettings(ConfigProperties config, String serviceName, String instanceId,
      String traceFilesEndpoint) {
    Map<String, String> settings = new HashMap<>();
    Map<String, String> resource = new LinkedHashMap<>(config.getMap(RESOURCE_ATTRIBUTES));
    resource.put(SERVICE_INSTANCE_ID, instanceId);
    settings.put(RESOURCE_ATTRIBUTES, resource.entrySet().stream()
        .map(a -> a.getKey() + "=" + URLEncoder.encode(a.getValue(), StandardCharsets.UTF_8))
        .collect(Collectors.joining(",")));
    // That provider makes a random service.instance entity, which the id above would replace with a warning
    // ("Removing entity association [service.instance]").
    List<String> disabled = new ArrayList<>(config.getList(DISABLED_RESOURCE_PROVIDERS));
    disabled.add(RANDOM_INSTANCE_ID_PROVIDER);
    settings.put(DISABLED_RESOURCE_PROVIDERS, String.join(",", disabled));
    settings.put(TraceFilesSpanExporterProvider.ENDPOINT_PROPERTY, traceFilesEndpoint);
    List<String> exporters = new ArrayList<>(List.of(TraceFilesSpanExporterProvider.NAME));
    List<String> asked = config.getList(TRACES_EXPORTER);
    if (asked.isEmpty()) {
      // Autoconfigure's default is otlp to localhost: only where the user named an endpoint.
      if (isSet(config, "otel.exporter.otlp.endpoint") || isSet(config, "otel.exporter.otlp.traces.endpoint")) {
        exporters.add("otlp");
      }
    } else {
      // "none" cannot be combined with another exporter, and for the demo it means "only the files".
      asked.stream().filter(e -> !e.equals("none") && !exporters.contains(e)).forEach(exporters::add);
    }
    settings.put(TRACES_EXPORTER, String.join(",", exporters));
    // Metrics and logs only when asked for: a traces-only backend (Jaeger) answers 404 to /v1/metrics.
    putIfUnset(settings, config, "otel.metrics.exporter",
        isSet(config, "otel.exporter.otlp.metrics.endpoint") ? "otlp" : "none");
    putIfUnset(settings, config, "otel.logs.exporter",
        isSet(config, "otel.exporter.otlp.logs.endpoint") ? "otlp" : "none");
    if (!isSet(config, "otel.service.name") && !config.getMap(RESOURCE_ATTRIBUTES).containsKey("service.name")) {
      settings.put("otel.service.name", serviceName);
    }
    // Short batches: spans show up in a backend (and in the files) within a fraction of a second.
    putIfUnset(settings, config, "otel.bsp.schedule.delay", "200");
    return settings;
  }

  private static boolean isSet(ConfigProperties config, String name) {
    String value = config.getString(name);
    return value != null && !value.isBlank();
  }

  private static void putIfUnset(Map<String, String> settings, ConfigProperties config, String name, String value) {
    if (!isSet(config, name)) {
      settings.put(name, value);
    }
  }

  public Tracer tracer() {
    return tracer;
  }

  public DeferredTracing deferred() {
    return deferred;
  }

  /** The span exporters in use, {@value TraceFilesSpanExporterProvider#NAME} first, e.g. to say where spans go. */
  public List<String> traceExporters() {
    return traceExporters;
  }

  /** The process's own meters, where the span store reports its metrics ({@code OTEL_METRICS_EXPORTER}). */
  public io.opentelemetry.api.metrics.MeterProvider meterProvider() {
    return sdk.getSdkMeterProvider();
  }

  /** The name this process writes into the spans it begins and ends ({@code service.instance.id}). */
  public String instanceId() {
    return deferred.getHostName();
  }

  /** A context whose parent is the span named by a request's {@code traceparent}. */
  public static Context remoteParent(String traceparent) {
    return Context.root().with(Span.wrap(TraceParent.parse(traceparent)));
  }

  /** Hands every ended span to the exporters now, e.g. before a short-lived trace's caller moves on. */
  public void flush() {
    sdk.getSdkTracerProvider().forceFlush().join(10, TimeUnit.SECONDS);
  }

  /** Flushes and shuts the SDK down; later calls do nothing. */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      sdk.shutdown().join(10, TimeUnit.SECONDS);
    }
  }
}
