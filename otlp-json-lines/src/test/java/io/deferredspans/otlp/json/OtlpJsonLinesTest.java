package io.deferredspans.otlp.json;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OtlpJsonLinesTest {

  /** Its first line is an export request, its second a bare ResourceSpans (no wrapper object). */
  @Test
  void readsWhatTheStdoutExporterWrote() {
    String jsonLines = SampleSpans.stdoutExporterLines();

    assertEquals(2, jsonLines.lines().count(), jsonLines);
    List<ReceivedSpan> spans = OtlpJsonLines.parseSpans(jsonLines);
    SampleSpans.fixed().assertReceived(spans.subList(0, 2), ReceivedSpan.TRANSPORT_FILE);
    SampleSpans.fixed().assertReceived(spans.subList(2, 4), ReceivedSpan.TRANSPORT_FILE);
  }

  @Test
  void readsAFile(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("spans.jsonl");
    Files.writeString(file, "\n" + SampleSpans.stdoutExporterLines() + "\n\n");

    List<ReceivedSpan> spans = OtlpJsonLines.readSpans(file);
    SampleSpans.fixed().assertReceived(spans.subList(0, 2), ReceivedSpan.TRANSPORT_FILE);
    assertEquals(2, OtlpJsonLines.readRequests(file).size());
  }

  @Test
  void writesOneLineThatReadsBackAsTheSameRequest() {
    ExportTraceServiceRequest request =
        OtlpJsonLines.parseRequest(SampleSpans.stdoutExporterLines().lines().findFirst().orElseThrow());

    String line = OtlpJsonLines.toJsonLine(request);

    assertEquals(request, OtlpJsonLines.parseRequest(line));
    assertEquals(1, line.lines().count(), line);
    // OTLP/JSON, not plain proto3 JSON: hex ids and integer enums, as OpenTelemetry's exporter wrote them.
    assertTrue(line.contains("\"traceId\":\"" + SampleSpans.FIXED_TRACE_ID + "\""), line);
    assertTrue(line.contains("\"parentSpanId\":\"b7ad6b7169203331\""), line);
    assertTrue(line.contains("\"kind\":3"), line);
    assertTrue(line.contains("\"code\":2"), line);
    assertTrue(line.contains("\"startTimeUnixNano\":\"1700000000100000002\""), line);
  }

  @Test
  void acceptsOtlpJsonVariantsAndIgnoresUnknownFields() {
    // Numbers for 64-bit ints and enums, upper-case hex, and a field this proto version lacks.
    String line =
        """
        {"resourceSpans":[{"resource":{"attributes":[{"key":"service.name",\
        "value":{"stringValue":"hand"}}]},"scopeSpans":[{"scope":{"name":"manual"},"spans":[{\
        "traceId":"0AF7651916CD43DD8448EB211C80319C","spanId":"B7AD6B7169203331",\
        "parentSpanId":"","name":"op","kind":2,"startTimeUnixNano":1700000000000000001,\
        "endTimeUnixNano":"1700000000000000002","futureField":{"x":1},\
        "attributes":[{"key":"traceId","value":{"arrayValue":{"values":[{"intValue":"5"},\
        {"boolValue":false}]}}}],"status":{"code":1}}]}]}]}
        """;

    ReceivedSpan span = OtlpJsonLines.parseSpans(line).get(0);

    assertEquals("0af7651916cd43dd8448eb211c80319c", span.traceId());
    assertEquals("b7ad6b7169203331", span.spanId());
    assertTrue(span.isRoot());
    assertEquals("SPAN_KIND_SERVER", span.kind());
    assertEquals(1_700_000_000_000_000_001L, span.startEpochNanos());
    assertEquals(1_700_000_000_000_000_002L, span.endEpochNanos());
    assertEquals("STATUS_CODE_OK", span.statusCode());
    // An attribute *named* traceId is data, not an id field, and must not be hex-decoded.
    assertEquals(Map.of("traceId", List.of(5L, false)), span.attributes());
    assertEquals(Map.of("service.name", "hand"), span.resourceAttributes());
    assertEquals("manual", span.scopeName());
  }

  @Test
  void namesTheLineThatIsNotOtlp() {
    String lines =
        "{\"resourceSpans\":[]}\n"
            + "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"spanId\":\"not-hex\"}]}]}]}\n";

    IllegalArgumentException badId =
        assertThrows(IllegalArgumentException.class, () -> OtlpJsonLines.parseRequests(lines));
    assertTrue(badId.getMessage().startsWith("Line 2: spanId is not hex"), badId.getMessage());

    IllegalArgumentException notJson =
        assertThrows(IllegalArgumentException.class, () -> OtlpJsonLines.parseRequests("[1]"));
    assertTrue(notJson.getMessage().startsWith("Line 1: Not a JSON object"), notJson.getMessage());
  }
}
