package io.deferredspans.cli;

import io.deferredspans.sdk.DeferredSpanRecord;

/** Links into a trace backend: {@code {traceId}} and {@code {spanId}} in the template are replaced. */
final class TraceUrls {
  private TraceUrls() {}

  /** The record's link, or null without a template or a readable record. */
  static String of(String template, DeferredSpanRecord record) {
    if (template == null || record == null) {
      return null;
    }
    return template.replace("{traceId}", record.getSpanContext().getTraceId())
        .replace("{spanId}", record.getSpanContext().getSpanId());
  }
}
