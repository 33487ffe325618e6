package io.deferredspans.testing;

import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.util.Collection;
import java.util.function.Supplier;

/**
 * Span exporters that answer every batch the same way and send nothing anywhere, for tests that care about what
 * the pipeline and the store do with the answer, not about the spans. A test that counts what was exported uses
 * the OTLP test receiver or OpenTelemetry's {@code InMemorySpanExporter} instead.
 */
public final class TestExporters {
  private TestExporters() {}

  /** Accepts every batch at once: OpenTelemetry's own no-op exporter. */
  public static SpanExporter accepting() {
    return SpanExporter.composite();
  }

  /** Refuses every batch, as a collector that answers with an error does. */
  public static SpanExporter refusing() {
    return new Answering(CompletableResultCode::ofFailure);
  }

  /**
   * Takes every batch and never answers, so a span is neither acknowledged nor failed: what a host that dies while
   * its export is in flight leaves behind.
   */
  public static SpanExporter neverAnswering() {
    return new Answering(CompletableResultCode::new);
  }

  private static final class Answering implements SpanExporter {
    private final Supplier<CompletableResultCode> answer;

    Answering(Supplier<CompletableResultCode> answer) {
      this.answer = answer;
    }

    @Override
    public CompletableResultCode flush() {
      return CompletableResultCode.ofSuccess();
    }

    @Override
    public CompletableResultCode shutdown() {
      return flush(); // nothing is buffered here: shutting down is flushing nothing
    }

    @Override
    public CompletableResultCode export(Collection<SpanData> spans) {
      return answer.get();
    }
  }
}
