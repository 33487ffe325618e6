package io.deferredspans.sdk;

import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.util.Collection;
import java.util.List;

/** Wraps a real exporter and tells each deferred span's listener whether the exporter accepted its batch. */
final class AcknowledgingSpanExporter implements SpanExporter {
  private final SpanExporter delegate;
  private final ExportAcknowledgements acknowledgements;

  AcknowledgingSpanExporter(SpanExporter delegate, ExportAcknowledgements acknowledgements) {
    this.delegate = delegate;
    this.acknowledgements = acknowledgements;
  }

  @Override
  public CompletableResultCode export(Collection<SpanData> spans) {
    List<ExportListener> listeners = acknowledgements.claim(spans);
    CompletableResultCode result;
    try {
      result = delegate.export(spans);
    } catch (RuntimeException e) {
      // The processors log and swallow this, and the claimed listeners can no longer expire: tell them now.
      listeners.forEach(ExportListener::onExportFailed);
      throw e;
    }
    if (!listeners.isEmpty()) {
      result.whenComplete(
          () -> {
            for (ExportListener listener : listeners) {
              if (result.isSuccess()) {
                listener.onExported();
              } else {
                listener.onExportFailed();
              }
            }
          });
    }
    return result;
  }

  @Override
  public CompletableResultCode flush() {
    return delegate.flush();
  }

  @Override
  public CompletableResultCode shutdown() {
    return delegate.shutdown();
  }

  @Override
  public void close() {
    delegate.close();
  }

  @Override
  public String toString() {
    return "AcknowledgingSpanExporter{" + delegate + "}";
  }
}
