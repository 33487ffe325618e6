package io.deferredspans.sdk;

import io.opentelemetry.sdk.common.CompletableResultCode;
import java.io.InterruptedIOException;
import java.net.http.HttpTimeoutException;
import java.util.concurrent.TimeoutException;

/**
 * Why a deferred span did not reach an exporter, by what it says about the backend: whether it may have the span
 * after all. What decides how soon the span may be sent again: a span that may have arrived is sent again only
 * once the backend is likely to answer, since each further send into a hang makes a copy. Declared from the
 * least to the most likely to have reached the backend.
 */
public enum ExportFailure {
  /**
   * The span never left this process: a store fenced it off (this host no longer held the span's claim), or no exporter took it within the
   * acknowledgement timeout (a processor dropped it, e.g. from a full queue). Sending it again makes no copy.
   */
  NOT_SENT,

  /**
   * The export failed with the backend known not to have kept the span, or without a sign that it did: the
   * backend answered with an error (e.g. HTTP 503, gRPC {@code UNAVAILABLE}), could not be reached, or the
   * exporter failed without saying why.
   */
  REFUSED,

  /**
   * The exporter gave up waiting for the backend's answer. The request may have been delivered, and a backend
   * that hangs (rather than refuses) keeps it: sending the span again while the backend still hangs makes a
   * copy each time.
   */
  TIMED_OUT;

  private static final int MAX_CAUSES = 16;

  /**
   * Classifies a failed export result by its failure's cause chain: an {@link InterruptedIOException} (a socket
   * or call timeout, as the OTLP exporters' OkHttp sender reports one), a {@link HttpTimeoutException} (the JDK
   * HTTP sender) or a {@link TimeoutException} means {@link #TIMED_OUT}; anything else {@link #REFUSED}. An
   * exporter that reports a timeout as a status response (gRPC {@code DEADLINE_EXCEEDED} through grpc-java)
   * cannot be told apart from a refusal and counts as refused.
   */
  static ExportFailure of(CompletableResultCode failed) {
    Throwable cause = failed.getFailureThrowable();
    for (int depth = 0; cause != null && depth < MAX_CAUSES; depth++, cause = cause.getCause()) {
      if (cause instanceof InterruptedIOException
          || cause instanceof HttpTimeoutException
          || cause instanceof TimeoutException) {
        return TIMED_OUT;
      }
    }
    return REFUSED;
  }
}
