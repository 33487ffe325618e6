package io.deferredspans.store.simulation;

import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.util.Collection;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * An in-process collector's end of one host's pipeline: records every span it keeps in the {@link Collector},
 * and answers as the schedule says (accept, refuse, fail after keeping, or answer only after the exporter's
 * timeout, as a hung collector that keeps the data does).
 */
final class RecordingExporter implements SpanExporter {
  enum Mode {
    OK,
    REFUSE,
    FAIL_AFTER_DELIVERY,
    HANG
  }

  private final String host;
  private final Collector collector;
  private final ScheduledExecutorService timer;
  private final long hangMillis;
  private volatile Mode mode = Mode.OK;

  RecordingExporter(String host, Collector collector, ScheduledExecutorService timer, long hangMillis) {
    this.host = host;
    this.collector = collector;
    this.timer = timer;
    this.hangMillis = hangMillis;
  }

  void setMode(Mode mode) {
    this.mode = mode;
  }

  @Override
  public CompletableResultCode export(Collection<SpanData> spans) {
    Mode answer = mode;
    if (answer == Mode.REFUSE) {
      return CompletableResultCode.ofFailure();
    }
    for (SpanData span : spans) {
      collector.keep(new Collector.Delivery(host, span, answer));
    }
    switch (answer) {
      case OK:
        return CompletableResultCode.ofSuccess();
      case HANG:
        CompletableResultCode late = new CompletableResultCode();
        timer.schedule(late::fail, hangMillis, TimeUnit.MILLISECONDS);
        return late;
      default:
        return CompletableResultCode.ofFailure();
    }
  }

  @Override
  public CompletableResultCode flush() {
    return CompletableResultCode.ofSuccess();
  }

  @Override
  public CompletableResultCode shutdown() {
    return CompletableResultCode.ofSuccess();
  }
}
