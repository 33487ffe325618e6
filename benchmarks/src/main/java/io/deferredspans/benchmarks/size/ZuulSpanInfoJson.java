package io.deferredspans.benchmarks.size;

import io.deferredspans.sdk.DeferredSpanRecord;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.sdk.trace.data.LinkData;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * An approximation of the JSON Zuul stores per span it begins on one host and ends on another ("SpanInfo",
 * written with Python's {@code json.dumps} and so its default {@code ", "} and {@code ": "} separators): name;
 * trace_id and span_id as decimal integers; trace_flags; start_time as float seconds; parent as a span context;
 * links, each a context (with is_remote) and attributes; attributes when there are any. Reconstructed from the
 * description of Zuul's format, not from Zuul's code: it is faithful to the field set and number formats, not
 * byte for byte.
 */
public final class ZuulSpanInfoJson {
  private ZuulSpanInfoJson() {}

  public static byte[] encode(DeferredSpanRecord record) {
    StringBuilder json = new StringBuilder(384);
    SpanContext context = record.getSpanContext();
    json.append("{\"name\": ").append(quote(record.getName()));
    json.append(", \"trace_id\": ").append(decimal(context.getTraceId()));
    json.append(", \"span_id\": ").append(decimal(context.getSpanId()));
    json.append(", \"trace_flags\": ").append(context.getTraceFlags().asByte());
    json.append(", \"start_time\": ").append(pythonFloat(record.getStartEpochNanos() / 1e9));
    SpanContext parent = record.getParentSpanContext();
    if (parent.isValid()) {
      json.append(", \"parent\": ");
      appendContext(json, parent);
    }
    if (!record.getLinks().isEmpty()) {
      json.append(", \"links\": [");
      String separator = "";
      for (LinkData link : record.getLinks()) {
        json.append(separator).append("{\"context\": ");
        appendContext(json, link.getSpanContext());
        json.append(", \"attributes\": ");
        appendAttributes(json, link.getAttributes());
        json.append('}');
        separator = ", ";
      }
      json.append(']');
    }
    if (!record.getAttributes().isEmpty()) {
      json.append(", \"attributes\": ");
      appendAttributes(json, record.getAttributes());
    }
    json.append('}');
    return json.toString().getBytes(StandardCharsets.UTF_8);
  }

  private static void appendContext(StringBuilder json, SpanContext context) {
    json.append("{\"trace_id\": ").append(decimal(context.getTraceId()))
        .append(", \"span_id\": ").append(decimal(context.getSpanId()))
        .append(", \"trace_flags\": ").append(context.getTraceFlags().asByte())
        .append(", \"is_remote\": ").append(context.isRemote())
        .append('}');
  }

  private static void appendAttributes(StringBuilder json, Attributes attributes) {
    json.append('{');
    String separator = "";
    for (Map.Entry<AttributeKey<?>, Object> entry : attributes.asMap().entrySet()) {
      json.append(separator).append(quote(entry.getKey().getKey())).append(": ");
      Object value = entry.getValue();
      json.append(value instanceof String ? quote((String) value) : String.valueOf(value));
      separator = ", ";
    }
    json.append('}');
  }

  /** Python prints integers of any size in decimal: a 128-bit trace id takes up to 39 digits. */
  private static String decimal(String hex) {
    return new BigInteger(hex, 16).toString();
  }

  /** Python's repr of a float: shortest round-tripping digits, never in exponent form at this magnitude. */
  private static String pythonFloat(double value) {
    return new BigDecimal(Double.toString(value)).toPlainString();
  }

  private static String quote(String text) {
    return '"' + text.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
  }
}
