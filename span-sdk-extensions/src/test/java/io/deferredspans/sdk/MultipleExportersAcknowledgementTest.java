package io.deferredspans.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.deferredspans.sdk.internal.ExportListener;
import io.deferredspans.testing.TestExporters;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** A deferred span is exported only when every exporter has it: its stored copy is dropped on that signal. */
class MultipleExportersAcknowledgementTest {

  /** Counts what the store would hear. */
  private static final class CountingListener implements ExportListener {
    final AtomicInteger exported = new AtomicInteger();
    final AtomicInteger failed = new AtomicInteger();

    @Override
    public void onExported() {
      exported.incrementAndGet();
    }

    @Override
    public void onExportFailed(ExportFailure failure) {
      failed.incrementAndGet();
    }
  }

  private static final SpanExporter REFUSING = TestExporters.refusing();

  private static CountingListener endAndExport(DeferredTracing tracing) {
    DeferredSpanRecord record = tracing.spanBuilder("QueueItem").setNoParent().begin();
    CountingListener listener = new CountingListener();
    tracing.export(tracing.finish(record, DeferredSpanEnding.now()), listener);
    return listener;
  }

  @Test
  void exportedOnceEveryExporterAcceptedIt() {
    InMemorySpanExporter first = InMemorySpanExporter.create();
    InMemorySpanExporter second = InMemorySpanExporter.create();
    DeferredTracing tracing =
        DeferredTracing.builder()
            .addSpanExporter(first, SimpleSpanProcessor::create)
            .addSpanExporter(second, SimpleSpanProcessor::create)
            .build();

    CountingListener listener = endAndExport(tracing);

    assertEquals(1, first.getFinishedSpanItems().size());
    assertEquals(1, second.getFinishedSpanItems().size());
    assertEquals(1, listener.exported.get());
    assertEquals(0, listener.failed.get());
    assertEquals(0, tracing.pendingAcknowledgements());
  }

  @Test
  void failedWhenAnyExporterRefusedItEvenIfAnotherAcceptedIt() {
    InMemorySpanExporter accepting = InMemorySpanExporter.create();
    DeferredTracing tracing =
        DeferredTracing.builder()
            .addSpanExporter(accepting, SimpleSpanProcessor::create)
            .addSpanExporter(REFUSING, SimpleSpanProcessor::create)
            .build();

    CountingListener listener = endAndExport(tracing);

    assertEquals(1, accepting.getFinishedSpanItems().size());
    assertEquals(0, listener.exported.get(), "the refusing backend still lacks the span: keep the stored copy");
    assertEquals(1, listener.failed.get());
    assertEquals(0, tracing.pendingAcknowledgements());
  }
}
