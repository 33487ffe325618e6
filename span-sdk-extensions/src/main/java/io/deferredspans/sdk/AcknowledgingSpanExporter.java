package io.deferredspans.sdk;

import io.deferredspans.sdk.internal.ExportFence;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Wraps a real exporter and reports, per deferred span, whether the exporter accepted its batch, and if not, why
 * ({@link ExportFailure}). Deferred spans that must not leave this process are taken out of the batch first:
 * those whose fence refuses them, and those already reported as failed.
 */
final class AcknowledgingSpanExporter implements SpanExporter {
  private final SpanExporter delegate;
  private final ExportAcknowledgements acknowledgements;

  AcknowledgingSpanExporter(SpanExporter delegate, ExportAcknowledgements acknowledgements) {
    this.delegate = delegate;
    this.acknowledgements = acknowledgements;
    acknowledgements.addExporter();
  }

  @Override
  public CompletableResultCode export(Collection<SpanData> batch) {
    ExportAcknowledgements.Taken taken = acknowledgements.claim(batch);
    List<ExportAcknowledgements.Claim> refused = refusedByFence(taken.claims);
    List<ExportAcknowledgements.Claim> claims = taken.claims;
    Collection<SpanData> spans = batch;
    if (!refused.isEmpty() || !taken.withdrawn.isEmpty()) {
      Set<SpanData> drop = Collections.newSetFromMap(new IdentityHashMap<>());
      drop.addAll(taken.withdrawn);
      refused.forEach(claim -> drop.add(claim.span()));
      spans = new ArrayList<>(batch);
      spans.removeIf(drop::contains);
      claims = new ArrayList<>(claims);
      claims.removeAll(refused);
      refused.forEach(claim -> acknowledgements.failed(claim, ExportFailure.NOT_SENT));
      if (spans.isEmpty()) {
        return CompletableResultCode.ofSuccess();
      }
    }
    CompletableResultCode result;
    try {
      result = delegate.export(spans);
    } catch (RuntimeException e) {
      // The processors log and swallow this: fail the spans now rather than at the acknowledgement timeout.
      claims.forEach(claim -> acknowledgements.failed(claim, ExportFailure.REFUSED));
      throw e;
    }
    List<ExportAcknowledgements.Claim> answered = claims;
    if (!answered.isEmpty()) {
      result.whenComplete(() -> {
        if (result.isSuccess()) {
          answered.forEach(acknowledgements::accepted);
        } else {
          ExportFailure failure = ExportFailure.of(result);
          answered.forEach(claim -> acknowledgements.failed(claim, failure));
        }
      });
    }
    return result;
  }

  /** Asks each fence in the batch once; the spans of a fence that refuses must not leave this process. */
  private static List<ExportAcknowledgements.Claim> refusedByFence(List<ExportAcknowledgements.Claim> claims) {
    // Made on the first fence that is not open: most batches have none, and a batch of one span is common.
    Map<ExportFence, Boolean> verdicts = null;
    List<ExportAcknowledgements.Claim> refused = new ArrayList<>();
    for (ExportAcknowledgements.Claim claim : claims) {
      ExportFence fence = claim.fence();
      if (fence == ExportFence.OPEN) {
        continue;
      }
      if (verdicts == null) {
        verdicts = new IdentityHashMap<>();
      }
      if (!verdicts.computeIfAbsent(fence, ExportFence::admits)) {
        refused.add(claim);
      }
    }
    return refused;
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
