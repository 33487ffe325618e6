package io.deferredspans.sdk;

/** A {@code traceparent} or {@code tracestate} value does not follow the W3C Trace Context grammar. */
public final class MalformedTraceparentException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  MalformedTraceparentException(String message) {
    super(message);
  }
}
