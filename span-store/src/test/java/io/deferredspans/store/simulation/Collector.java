package io.deferredspans.store.simulation;

import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.sdk.trace.data.SpanData;
import java.util.ArrayList;
import java.util.List;

/** What the schedule's collector kept, in arrival order, from every host's {@link RecordingExporter}. */
final class Collector {
  /** One span the collector kept, and what the exporter was told about the batch it came in. */
  static final class Delivery {
    final String host;
    final String traceId;
    final String spanId;
    final long startEpochNanos;
    final StatusCode status;
    final RecordingExporter.Mode answer;
    final long atNanos;

    Delivery(String host, SpanData span, RecordingExporter.Mode answer) {
      this.host = host;
      this.traceId = span.getTraceId();
      this.spanId = span.getSpanId();
      this.startEpochNanos = span.getStartEpochNanos();
      this.status = span.getStatus().getStatusCode();
      this.answer = answer;
      this.atNanos = System.nanoTime();
    }

    /** Whether the exporter was told the export failed although the collector kept it. */
    boolean answeredFailure() {
      return answer != RecordingExporter.Mode.OK;
    }

    @Override
    public String toString() {
      return spanId + " by " + host + " (" + answer + ")";
    }
  }

  private final List<Delivery> kept = new ArrayList<>();

  synchronized void keep(Delivery delivery) {
    kept.add(delivery);
  }

  synchronized List<Delivery> kept() {
    return new ArrayList<>(kept);
  }
}
