package io.deferredspans.benchmarks.zk;

import io.deferredspans.sdk.DeferredTracing;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** The SDK pipelines the harness measures through; one place so every figure uses the same configuration. */
public final class BenchTracing {
  public static final String HOST_NAME = "bench-host-1";

  private BenchTracing() {}

  /**
   * A BatchSpanProcessor in front of an exporter that accepts everything ({@link #acceptingExporter()}). Its timer is effectively off: spans are
   * exported when a full batch (512, the default) is queued or when a figure flushes at the end of its batch,
   * so the export cleanup lands in the timed settle step instead of overlapping other variants' operations.
   */
  public static DeferredTracing withNoopExporter() {
    return DeferredTracing.builder()
        .setHostName(HOST_NAME)
        .addSpanExporter(acceptingExporter(),
            wrapped -> BatchSpanProcessor.builder(wrapped).setScheduleDelay(Duration.ofHours(1)).build())
        .build();
  }

  /** Accepts every batch at once (OpenTelemetry's own no-op exporter): the figures measure our pipeline, not a network. */
  public static SpanExporter acceptingExporter() {
    return SpanExporter.composite();
  }

  /** A BatchSpanProcessor with the given schedule delay in front of {@code exporter} (defaults otherwise). */
  public static DeferredTracing withExporter(SpanExporter exporter, Duration scheduleDelay) {
    return DeferredTracing.builder()
        .setHostName(HOST_NAME)
        .addSpanExporter(exporter, wrapped -> BatchSpanProcessor.builder(wrapped).setScheduleDelay(scheduleDelay).build())
        .build();
  }

  /** Exports what the pipeline holds now, e.g. at the end of a timed batch, and waits for the exporter. */
  public static void flush(DeferredTracing tracing) {
    tracing.getTracerProvider().orElseThrow().forceFlush().join(30, TimeUnit.SECONDS);
  }

  public static void shutdown(DeferredTracing tracing) {
    tracing.getTracerProvider().orElseThrow().shutdown().join(30, TimeUnit.SECONDS);
  }
}
