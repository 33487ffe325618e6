package io.deferredspans.demo.scheduler;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Regroups the processes' OTLP JSON lines into one file per trace, {@code <traceId>.json}, for Jaeger's UI. Its
 * "JSON file" upload shows each file as a set of whole traces and does not merge a trace's spans across files (a
 * later file's trace replaces the earlier one), while every process's file holds only that process's part of a
 * trace. Each file is one OTLP JSON {@code ExportTraceServiceRequest}, {@code {"resourceSpans":[...]}}, with every
 * span of the trace exactly once, under the resource (process) and instrumentation scope that exported it.
 *
 * <p>The JSON is regrouped as written, not decoded and encoded again: OTLP JSON's hex ids and field names stay
 * exactly as OpenTelemetry's exporter wrote them.
 */
final class PerTraceFiles {
  /** The folder, under the traces folder, that holds the files. */
  static final String FOLDER = "by-trace";
  static final String SUFFIX = ".json";

  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final Pattern TRACE_ID = Pattern.compile("[0-9a-f]{32}");
  private static final String RESOURCE_SPANS = "resourceSpans";
  private static final String SCOPE_SPANS = "scopeSpans";
  private static final String SPANS = "spans";

  /** One trace's spans, grouped as OTLP groups them; keys are the JSON of a resource or scope without its spans. */
  private static final class Trace {
    final Set<String> spanIds = new HashSet<>();
    final Map<String, ObjectNode> resources = new LinkedHashMap<>();
    final Map<String, Map<String, ObjectNode>> scopesByResource = new LinkedHashMap<>();
  }

  private PerTraceFiles() {}

  /**
   * Reads every line of {@code jsonLinesFiles} and writes one file per trace into {@code folder}. Lines that are not
   * OTLP JSON are skipped (the verdict counts them); a span ID seen twice is written once.
   *
   * @return the files written, in the order their traces were first seen
   */
  static List<Path> write(List<Path> jsonLinesFiles, Path folder) throws IOException {
    Map<String, Trace> traces = new LinkedHashMap<>();
    for (Path file : jsonLinesFiles) {
      for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
        resourceSpans(line).forEach(resourceSpans -> add(resourceSpans, traces));
      }
    }
    Files.createDirectories(folder);
    List<Path> written = new ArrayList<>();
    for (Map.Entry<String, Trace> trace : traces.entrySet()) {
      Path file = folder.resolve(trace.getKey() + SUFFIX);
      Files.writeString(file, MAPPER.writeValueAsString(request(trace.getValue())) + "\n", StandardCharsets.UTF_8);
      written.add(file);
    }
    return written;
  }

  /** The {@code ResourceSpans} of a line: an export request's, or the line itself if it is a bare one. */
  private static List<JsonNode> resourceSpans(String line) {
    if (line.isBlank()) {
      return List.of();
    }
    JsonNode json;
    try {
      json = MAPPER.readTree(line);
    } catch (JsonProcessingException e) {
      return List.of();
    }
    if (json.has(RESOURCE_SPANS)) {
      List<JsonNode> all = new ArrayList<>();
      json.get(RESOURCE_SPANS).forEach(all::add);
      return all;
    }
    return json.has(SCOPE_SPANS) ? List.of(json) : List.of();
  }

  private static void add(JsonNode resourceSpans, Map<String, Trace> traces) {
    ObjectNode resource = withoutField(resourceSpans, SCOPE_SPANS);
    String resourceKey = resource.toString();
    for (JsonNode scopeSpans : resourceSpans.path(SCOPE_SPANS)) {
      ObjectNode scope = withoutField(scopeSpans, SPANS);
      String scopeKey = scope.toString();
      for (JsonNode span : scopeSpans.path(SPANS)) {
        String traceId = span.path("traceId").asText();
        if (!TRACE_ID.matcher(traceId).matches()) {
          continue; // not a trace id we can name a file after
        }
        Trace trace = traces.computeIfAbsent(traceId, id -> new Trace());
        if (!trace.spanIds.add(span.path("spanId").asText())) {
          continue;
        }
        trace.resources.putIfAbsent(resourceKey, resource);
        ObjectNode group =
            trace.scopesByResource.computeIfAbsent(resourceKey, k -> new LinkedHashMap<>())
                .computeIfAbsent(scopeKey, k -> scope.deepCopy().set(SPANS, MAPPER.createArrayNode()));
        ((ArrayNode) group.get(SPANS)).add(span);
      }
    }
  }

  private static ObjectNode request(Trace trace) {
    ObjectNode request = MAPPER.createObjectNode();
    ArrayNode resourceSpans = request.putArray(RESOURCE_SPANS);
    trace.resources.forEach((key, resource) -> {
      ObjectNode group = resource.deepCopy();
      ArrayNode scopeSpans = group.putArray(SCOPE_SPANS);
      trace.scopesByResource.get(key).values().forEach(scopeSpans::add);
      resourceSpans.add(group);
    });
    return request;
  }

  private static ObjectNode withoutField(JsonNode node, String field) {
    ObjectNode copy = node.isObject() ? ((ObjectNode) node).deepCopy() : MAPPER.createObjectNode();
    copy.remove(field);
    return copy;
  }
}
