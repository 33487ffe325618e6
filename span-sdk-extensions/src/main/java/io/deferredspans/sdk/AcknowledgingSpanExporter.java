package io.deferredspans.sdk;

import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.util.Collection;
import java.util.List;

/** Wraps a real exporter and reports, per deferred span, whether the exporter accepted its batch. */
final class AcknowledgingSpanExporter implements SpanExporter {
  private final SpanExporter delegate;
  private final ExportAcknowledgements acknowledgements;

  AcknowledgingSpanExporter(SpanExporter delegate, ExportAcknowledgements acknowledgements) {
    this.delegate = delegate;
    this.acknowledgements = acknowledgements;
    acknowledgements.addExporter();
  }

  @Override
  public CompletableResultCode export(Collection<SpanData> spans) {
    List<ExportAcknowledgements.Claim> claims = acknowledgements.claim(spans);
    CompletableResultCode result;
    try {
      result = delegate.export(spans);
    } catch (RuntimeException e) {
      // The processors log and swallow this: fail the spans now rather than at the acknowledgement timeout.
      claims.forEach(claim -> acknowledgements.answer(claim, false));
      throw e;
    }
    if (!claims.isEmpty()) {
      result.whenComplete(() -> claims.forEach(claim -> acknowledgements.answer(claim, result.isSuccess())));
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
