package io.deferredspans.sdk.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.deferredspans.sdk.DeferredSpanAttributes;
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanLimitException;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.sdk.ExportFailure;
import io.deferredspans.sdk.FinishedDeferredSpan;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The store's hooks reach {@link DeferredTracing}'s package-private steps, and what those throw arrives unchanged
 * (a store tells a limit from an invalid record by the exception's type).
 */
class DeferredTracingUtilTest {
  private final InMemorySpanExporter exporter = InMemorySpanExporter.create();
  private final DeferredTracing tracing = DeferredTracing.builder()
      .setHostName("host-a")
      .setMaxAttributeBytes(256)
      .addSpanExporter(exporter, SimpleSpanProcessor::create)
      .build();

  @AfterEach
  void shutDown() {
    tracing.getTracerProvider().orElseThrow().shutdown();
  }

  @Test
  void finishThenExportHandsTheSpanToTheExporterAndTellsTheListener() {
    DeferredSpanRecord record = tracing.spanBuilder("QueueItem").begin();
    FinishedDeferredSpan finished = DeferredTracingUtil.finish(tracing, record, DeferredSpanEnding.now());
    assertEquals("host-a", finished.getEndedBy());
    assertEquals(record, finished.getRecord());

    AtomicInteger exported = new AtomicInteger();
    DeferredTracingUtil.export(tracing, finished, new ExportListener() {
      @Override
      public void onExported() {
        exported.incrementAndGet();
      }

      @Override
      public void onExportFailed(ExportFailure failure) {
        throw new AssertionError(failure);
      }
    });
    assertEquals(1, exported.get(), "the in-memory exporter acknowledges at once");
    assertEquals(record.getSpanContext().getSpanId(), exporter.getFinishedSpanItems().get(0).getSpanId());
    assertEquals(0, DeferredTracingUtil.pendingAcknowledgements(tracing));
    assertEquals(0, DeferredTracingUtil.expireAcknowledgements(tracing, Duration.ZERO));
  }

  @Test
  void abandonEndsTheSpanAsAbandonedWithoutExportingIt() {
    FinishedDeferredSpan abandoned =
        DeferredTracingUtil.abandon(tracing, tracing.spanBuilder("QueueItem").begin(), "owner vanished");
    assertEquals(true, abandoned.getAttributes().get(DeferredSpanAttributes.ABANDONED));
    assertEquals(StatusCode.ERROR, abandoned.getStatus().getStatusCode());
    assertTrue(exporter.getFinishedSpanItems().isEmpty());
  }

  @Test
  void whatTheStepsThrowArrivesUnchanged() {
    DeferredSpanRecord disabled = DeferredTracing.noop().spanBuilder("QueueItem").begin();
    assertThrows(IllegalArgumentException.class,
        () -> DeferredTracingUtil.finish(tracing, disabled, DeferredSpanEnding.now()));
    DeferredSpanEnding tooLarge = DeferredSpanEnding.builder().setAttribute("result", "x".repeat(300)).build();
    assertThrows(DeferredSpanLimitException.class,
        () -> DeferredTracingUtil.finish(tracing, tracing.spanBuilder("QueueItem").begin(), tooLarge));
  }
}
