package io.deferredspans.sdk;

import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.common.CompletableResultCode;
import java.io.Closeable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A {@link DeferredTracing} with an OpenTelemetry SDK of its own, which exports deferred spans only. Made by
 * {@link DeferredTracingAutoConfiguration#forJavaAgent()} for applications that cannot reach the SDK their other
 * spans go through (the OpenTelemetry Java agent's).
 *
 * <p>Close it after whatever still exports deferred spans (e.g. a store), like any SDK: closing flushes what
 * its batch processor holds. If the application never closes it, a shutdown hook does.
 */
public final class StandaloneDeferredTracing implements Closeable {
  private static final String AUTOCONFIGURE_CLASS = "io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk";

  private final OpenTelemetrySdk sdk;
  private final DeferredTracing tracing;
  private final AtomicBoolean shutDown = new AtomicBoolean();
  private final Thread shutdownHook;

  StandaloneDeferredTracing(OpenTelemetrySdk sdk, DeferredTracing tracing) {
    this.sdk = sdk;
    this.tracing = tracing;
    this.shutdownHook = new Thread(this::shutDownSdk, "deferred-spans-sdk-shutdown");
    Runtime.getRuntime().addShutdownHook(shutdownHook);
  }

  static StandaloneDeferredTracing autoconfigure() {
    try {
      Class.forName(AUTOCONFIGURE_CLASS, false, StandaloneDeferredTracing.class.getClassLoader());
    } catch (ClassNotFoundException e) {
      throw new IllegalStateException(
          "DeferredTracingAutoConfiguration.forJavaAgent() builds its pipeline with OpenTelemetry's autoconfigure: "
              + "add io.opentelemetry:opentelemetry-sdk-extension-autoconfigure (and an exporter such as "
              + "opentelemetry-exporter-otlp) to the application's dependencies",
          e);
    }
    return JavaAgentPipeline.build();
  }

  /** The deferred tracing; {@link DeferredTracing#noop()} when {@code OTEL_SDK_DISABLED=true}. */
  public DeferredTracing getDeferredTracing() {
    return tracing;
  }

  /** Flushes and stops the exporters; later calls return the first call's result. */
  public CompletableResultCode shutdown() {
    if (Thread.currentThread() != shutdownHook) {
      try {
        Runtime.getRuntime().removeShutdownHook(shutdownHook);
      } catch (IllegalStateException e) {
        // The JVM is already shutting down: the hook runs (or ran) and shuts the SDK down once.
      }
    }
    return shutDownSdk();
  }

  private CompletableResultCode shutDownSdk() {
    // The SDK logs every repeated shutdown: make sure the hook and the caller together shut it down once.
    return shutDown.compareAndSet(false, true) ? sdk.shutdown() : CompletableResultCode.ofSuccess();
  }

  /** {@link #shutdown()}, waiting up to 10 seconds, as {@link OpenTelemetrySdk#close()} does. */
  @Override
  public void close() {
    shutdown().join(10, TimeUnit.SECONDS);
  }
}
