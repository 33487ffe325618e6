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
import java.io.Closeable;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One process's OpenTelemetry: the SDK that autoconfigure builds from {@code OTEL_*} variables and {@code otel.*}
 * system properties, and the {@link DeferredTracing} that shares its pipeline. Explicit lifecycle: {@link
 * #start}, {@link #close()} (which flushes).
 *
 * <p>The SDK is shut down exactly once, by {@link #close()}: autoconfigure's own shutdown hook is turned off, since
 * every demo process already closes its telemetry last, from its own hook, after the components that still end
 * spans (a second shutdown would only make the SDK log "Multiple shutdown calls").
 */
public final class DemoTelemetry implements Closeable {
  public static final String INSTRUMENTATION_SCOPE = "io.deferredspans.demo";

  private final OpenTelemetrySdk sdk;
  private final DeferredTracing deferred;
  private final Tracer tracer;
  private final AtomicBoolean closed = new AtomicBoolean();

  private DemoTelemetry(OpenTelemetrySdk sdk, DeferredTracing deferred) {
    this.sdk = sdk;
    this.deferred = deferred;
    this.tracer = sdk.getTracer(INSTRUMENTATION_SCOPE);
  }

  /**
   * @param defaults settings used where neither a system property nor an environment variable says otherwise
   *     (autoconfigure's own precedence)
   */
  public static DemoTelemetry start(Map<String, String> defaults) {
    AutoConfiguredOpenTelemetrySdkBuilder builder =
        AutoConfiguredOpenTelemetrySdk.builder().addPropertiesSupplier(() -> defaults).disableShutdownHook();
    DeferredTracingAutoConfiguration capture = DeferredTracingAutoConfiguration.install(builder);
    OpenTelemetrySdk sdk = builder.build().getOpenTelemetrySdk();
    return new DemoTelemetry(sdk, capture.build(sdk.getSdkTracerProvider()));
  }

  public Tracer tracer() {
    return tracer;
  }

  public DeferredTracing deferred() {
    return deferred;
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
