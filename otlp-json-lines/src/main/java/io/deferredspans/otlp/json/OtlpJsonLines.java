package io.deferredspans.otlp.json;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.trace.v1.ResourceSpans;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BinaryOperator;

/**
 * Reads and writes OTLP/JSON lines, as OpenTelemetry's stdout and OTLP file exporters write them
 * (and the Collector's {@code otlpjsonfile} receiver reads them): one JSON object per line, blank
 * lines ignored.
 *
 * <p>A line is normally an {@link ExportTraceServiceRequest} ({@code {"resourceSpans":[...]}}); a
 * line that is a bare {@code ResourceSpans} object (the stdout exporter without its wrapper object)
 * is read as a request holding just that. Unknown fields are ignored, enums may be numbers or
 * names, and 64-bit integers may be numbers or strings.
 *
 * <p>OTLP/JSON departs from the proto3 JSON mapping in one way that matters here: trace and span
 * ids are hex, not base64. They are converted before protobuf's {@link JsonFormat} sees them.
 */
public final class OtlpJsonLines {

  private static final JsonFormat.Parser PARSER = JsonFormat.parser().ignoringUnknownFields();
  // OTLP/JSON wants enums as integers; proto3 JSON's default is their names.
  private static final JsonFormat.Printer PRINTER =
      JsonFormat.printer().omittingInsignificantWhitespace().printingEnumsAsInts();
  private static final HexFormat HEX = HexFormat.of();
  // Both spellings, because JsonFormat accepts proto field names as well as lowerCamelCase ones.
  private static final Set<String> HEX_ID_FIELDS =
      Set.of("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id");

  private OtlpJsonLines() {}

  /**
   * Parses one line of OTLP/JSON.
   *
   * @throws IllegalArgumentException if the line is not an OTLP trace export in JSON
   */
  public static ExportTraceServiceRequest parseRequest(String jsonLine) {
    JsonObject json;
    try {
      json = JsonParser.parseString(jsonLine).getAsJsonObject();
    } catch (JsonParseException | IllegalStateException e) {
      throw new IllegalArgumentException("Not a JSON object: " + e.getMessage(), e);
    }
    convertIds(json, OtlpJsonLines::hexToBase64);
    if (json.has("scopeSpans") || json.has("resource") || json.has("scope_spans")) {
      return ExportTraceServiceRequest.newBuilder()
          .addResourceSpans(merge(json, ResourceSpans.newBuilder()))
          .build();
    }
    return merge(json, ExportTraceServiceRequest.newBuilder()).build();
  }

  /**
   * Writes {@code request} as one line of OTLP/JSON, without the line break: the inverse of {@link
   * #parseRequest}. Trace and span ids are hex, enums integers, 64-bit integers decimal strings,
   * and fields at their default value are left out, as OTLP/JSON allows.
   */
  public static String toJsonLine(ExportTraceServiceRequest request) {
    String json;
    try {
      json = PRINTER.print(request);
    } catch (InvalidProtocolBufferException e) {
      // Only Any fields with unknown types fail to print, and trace requests have none.
      throw new IllegalStateException("cannot print an ExportTraceServiceRequest", e);
    }
    JsonObject tree = JsonParser.parseString(json).getAsJsonObject();
    convertIds(tree, OtlpJsonLines::base64ToHex);
    return tree.toString();
  }

  /**
   * Parses every non-blank line.
   *
   * @throws IllegalArgumentException naming the first line that is not an OTLP trace export
   */
  public static List<ExportTraceServiceRequest> parseRequests(String jsonLines) {
    List<ExportTraceServiceRequest> requests = new ArrayList<>();
    List<String> lines = jsonLines.lines().toList();
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).isBlank()) {
        continue;
      }
      try {
        requests.add(parseRequest(lines.get(i)));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("Line " + (i + 1) + ": " + e.getMessage(), e);
      }
    }
    return requests;
  }

  /** Parses every non-blank line and flattens the spans, with transport {@code "file"}. */
  public static List<ReceivedSpan> parseSpans(String jsonLines) {
    return parseRequests(jsonLines).stream()
        .flatMap(r -> ReceivedSpan.fromRequest(r, ReceivedSpan.TRANSPORT_FILE).stream())
        .toList();
  }

  /** Reads a UTF-8 file of OTLP/JSON lines; see {@link #parseRequests(String)}. */
  public static List<ExportTraceServiceRequest> readRequests(Path file) throws IOException {
    return parseRequests(Files.readString(file, StandardCharsets.UTF_8));
  }

  /** Reads a UTF-8 file of OTLP/JSON lines; see {@link #parseSpans(String)}. */
  public static List<ReceivedSpan> readSpans(Path file) throws IOException {
    return parseSpans(Files.readString(file, StandardCharsets.UTF_8));
  }

  private static <B extends Message.Builder> B merge(JsonObject json, B builder) {
    try {
      PARSER.merge(json.toString(), builder);
      return builder;
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }

  /**
   * Rewrites, in place, every id field anywhere in the tree with {@code convert(field, value)}.
   * Walking the whole tree rather than known paths is safe: attribute keys are JSON values ({@code
   * "key":"traceId"}), never field names, so only real id fields match.
   */
  private static void convertIds(JsonElement element, BinaryOperator<String> convert) {
    if (element.isJsonArray()) {
      for (JsonElement child : (JsonArray) element) {
        convertIds(child, convert);
      }
    } else if (element.isJsonObject()) {
      for (Map.Entry<String, JsonElement> field : element.getAsJsonObject().entrySet()) {
        JsonElement value = field.getValue();
        if (HEX_ID_FIELDS.contains(field.getKey()) && isString(value)) {
          field.setValue(new JsonPrimitive(convert.apply(field.getKey(), value.getAsString())));
        } else {
          convertIds(value, convert);
        }
      }
    }
  }

  private static boolean isString(JsonElement value) {
    return value.isJsonPrimitive() && value.getAsJsonPrimitive().isString();
  }

  private static String base64ToHex(String field, String base64) {
    return HEX.formatHex(Base64.getDecoder().decode(base64));
  }

  private static String hexToBase64(String field, String hex) {
    try {
      return Base64.getEncoder().encodeToString(HEX.parseHex(hex));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(field + " is not hex: \"" + hex + '"', e);
    }
  }
}
