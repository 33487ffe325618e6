package io.deferredspans.sdk;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanId;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.sdk.trace.data.EventData;
import io.opentelemetry.sdk.trace.data.LinkData;
import io.opentelemetry.sdk.trace.data.StatusData;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Checks this implementation against every vector in {@code conformance/records.json}, the vectors
 * docs/record-format.md specifies the record format with: so neither the codec nor the spec can drift alone.
 */
class RecordFormatConformanceTest {
  private static final String RECORD_NAME = "/deferred-spans/open/07/conformance";
  private static final JsonNode VECTORS = load();

  @TestFactory
  Stream<DynamicTest> beginRecordsAreWrittenAsTheseExactBytesAndReadBack() {
    return vectors("records").map(v -> dynamicTest(v.get("note").asText(), () -> {
      DeferredSpanRecord record = record(v.get("record"));
      byte[] bytes = v.get("text").asText().getBytes(UTF_8);
      assertEquals(v.get("text").asText(), new String(DeferredSpanRecordCodec.encode(record), UTF_8));
      assertArrayEquals(bytes, DeferredSpanRecordCodec.encode(record));
      assertEquals(record, DeferredSpanRecordCodec.decodeRecord(bytes, RECORD_NAME));
    }));
  }

  @TestFactory
  Stream<DynamicTest> lossyValuesAreWrittenAsTheseBytesAndReadBackAsDocumented() {
    return vectors("lossy").map(v -> dynamicTest(v.get("note").asText(), () -> {
      byte[] bytes = v.get("text").asText().getBytes(UTF_8);
      assertArrayEquals(bytes, DeferredSpanRecordCodec.encode(record(v.get("record"))));
      assertEquals(record(v.get("decoded")), DeferredSpanRecordCodec.decodeRecord(bytes, RECORD_NAME));
    }));
  }

  @TestFactory
  Stream<DynamicTest> finishedSpansAreWrittenAsTheseExactBytesAndReadBack() {
    return vectors("finished").map(v -> dynamicTest(v.get("note").asText(), () -> {
      FinishedDeferredSpan span = finished(v.get("finished"));
      byte[] bytes = v.get("text").asText().getBytes(UTF_8);
      assertEquals(v.get("text").asText(), new String(DeferredSpanRecordCodec.encode(span), UTF_8));
      FinishedDeferredSpan decoded = DeferredSpanRecordCodec.decodeFinished(bytes, RECORD_NAME);
      assertEquals(span, decoded);
      assertEquals(span.getEvents(), decoded.getEvents());
    }));
  }

  @TestFactory
  Stream<DynamicTest> otherSpellingsAreReadAsTheseFields() {
    return vectors("accepted").map(v -> dynamicTest(v.get("note").asText(), () -> {
      byte[] bytes = v.get("text").asText().getBytes(UTF_8);
      if (v.has("finished")) {
        FinishedDeferredSpan expected = finished(v.get("finished"));
        FinishedDeferredSpan decoded = DeferredSpanRecordCodec.decodeFinished(bytes, RECORD_NAME);
        assertEquals(expected, decoded);
        assertEquals(expected.getEvents(), decoded.getEvents());
      } else {
        assertEquals(record(v.get("record")), DeferredSpanRecordCodec.decodeRecord(bytes, RECORD_NAME));
      }
    }));
  }

  @TestFactory
  Stream<DynamicTest> badBytesAreRejectedWithTheirErrorKind() {
    return vectors("rejected").map(v -> dynamicTest(v.get("note").asText(), () -> {
      byte[] bytes = v.has("base64") ? Base64.getDecoder().decode(v.get("base64").asText())
          : v.get("text").asText().getBytes(UTF_8);
      Class<? extends DeferredSpanRecordException> kind = errorKind(v.get("error").asText());
      String decoder = v.get("decoder").asText();
      if (!decoder.equals("finished")) {
        assertRejected(kind, b -> DeferredSpanRecordCodec.decodeRecord(b, RECORD_NAME), bytes);
      }
      if (!decoder.equals("record")) {
        assertRejected(kind, b -> DeferredSpanRecordCodec.decodeFinished(b, RECORD_NAME), bytes);
      }
    }));
  }

  @Test
  void vectorsCoverEveryKindOfInput() {
    assertEquals(
        Set.of("corrupt", "unsupported_version"),
        vectors("rejected").map(v -> v.get("error").asText()).collect(Collectors.toSet()));
    assertEquals(
        Set.of("record", "finished", "both"),
        vectors("rejected").map(v -> v.get("decoder").asText()).collect(Collectors.toSet()));
    Set<String> kinds =
        vectors("records").map(v -> v.get("record").path("kind").asText("INTERNAL")).collect(Collectors.toSet());
    for (SpanKind kind : SpanKind.values()) {
      assertTrue(kinds.contains(kind.name()), "no vector of kind " + kind);
    }
    Set<String> types = vectors("records").flatMap(v -> stream(v.get("record").path("attributes")))
        .map(a -> a.get("type").asText()).collect(Collectors.toSet());
    assertEquals(
        Set.of("string", "boolean", "long", "double", "string_array", "boolean_array", "long_array", "double_array"),
        types);
  }

  private static void assertRejected(
      Class<? extends DeferredSpanRecordException> kind, Function<byte[], Object> decoder, byte[] bytes) {
    DeferredSpanRecordException e = assertThrows(DeferredSpanRecordException.class, () -> decoder.apply(bytes));
    assertInstanceOf(kind, e, e::getMessage);
    assertEquals(RECORD_NAME, e.getRecordName());
  }

  private static Class<? extends DeferredSpanRecordException> errorKind(String name) {
    switch (name) {
      case "corrupt":
        return CorruptDeferredSpanRecordException.class;
      case "unsupported_version":
        return UnsupportedRecordVersionException.class;
      default:
        throw new AssertionError("unknown error kind in the vectors: " + name);
    }
  }

  // ---- building values from the vectors' field notation

  static DeferredSpanRecord record(JsonNode r) {
    return new DeferredSpanRecord(
        context(r),
        r.path("parentSpanId").asText(SpanId.getInvalid()),
        r.get("name").asText(),
        SpanKind.valueOf(r.path("kind").asText("INTERNAL")),
        r.get("start").asLong(),
        links(r.path("links")),
        attributes(r.path("attributes")),
        r.path("beganBy").asText(""),
        r.has("owner") ? r.get("owner").asText() : null);
  }

  private static FinishedDeferredSpan finished(JsonNode f) {
    List<EventData> events = new ArrayList<>();
    for (JsonNode e : f.path("events")) {
      Attributes attributes = attributes(e.path("attributes"));
      events.add(EventData.create(e.get("time").asLong(), e.get("name").asText(), attributes,
          attributes.size() + e.path("droppedAttributes").asInt(0)));
    }
    JsonNode status = f.path("status");
    return new FinishedDeferredSpan(
        record(f.get("record")),
        f.get("end").asLong(),
        attributes(f.path("endAttributes")),
        events,
        status.isMissingNode() ? StatusData.unset()
            : StatusData.create(StatusCode.valueOf(status.get("code").asText()), status.path("description").asText("")),
        links(f.path("endLinks")),
        f.path("endedBy").asText(""),
        f.path("droppedAttributes").asInt(0),
        f.path("droppedEvents").asInt(0));
  }

  private static SpanContext context(JsonNode c) {
    return SpanContext.createFromRemoteParent(
        c.get("traceId").asText(),
        c.get("spanId").asText(),
        TraceFlags.fromHex(c.get("flags").asText(), 0),
        TraceParent.parseTraceState(c.has("traceState") ? c.get("traceState").asText() : null));
  }

  private static List<LinkData> links(JsonNode links) {
    return stream(links).map(l -> LinkData.create(context(l), attributes(l.path("attributes")))).collect(Collectors.toList());
  }

  private static Attributes attributes(JsonNode list) {
    AttributesBuilder builder = Attributes.builder();
    for (JsonNode a : list) {
      String key = a.get("key").asText();
      JsonNode value = a.get("value");
      switch (a.get("type").asText()) {
        case "string":
          builder.put(key, value.asText());
          break;
        case "boolean":
          builder.put(key, value.asBoolean());
          break;
        case "long":
          builder.put(key, value.asLong());
          break;
        case "double":
          builder.put(key, doubleValue(value));
          break;
        case "string_array":
          builder.put(AttributeKey.stringArrayKey(key), elements(value, JsonNode::asText));
          break;
        case "boolean_array":
          builder.put(AttributeKey.booleanArrayKey(key), elements(value, JsonNode::asBoolean));
          break;
        case "long_array":
          builder.put(AttributeKey.longArrayKey(key), elements(value, JsonNode::asLong));
          break;
        case "double_array":
          builder.put(AttributeKey.doubleArrayKey(key), elements(value, RecordFormatConformanceTest::doubleValue));
          break;
        default:
          throw new AssertionError("unknown attribute type in the vectors: " + a);
      }
    }
    return builder.build();
  }

  /** Doubles JSON cannot spell ("NaN", "Infinity", and "-0.0" to be safe) are given as strings. */
  private static double doubleValue(JsonNode value) {
    return value.isTextual() ? Double.parseDouble(value.asText()) : value.asDouble();
  }

  private static <T> List<T> elements(JsonNode array, Function<JsonNode, T> element) {
    return stream(array).map(element).collect(Collectors.toList());
  }

  private static Stream<JsonNode> stream(JsonNode array) {
    return StreamSupport.stream(array.spliterator(), false);
  }

  private static Stream<JsonNode> vectors(String section) {
    JsonNode list = VECTORS.get(section);
    assertTrue(list != null && list.size() > 0, "no vectors in section " + section);
    return stream(list);
  }

  private static JsonNode load() {
    try (InputStream in = RecordFormatConformanceTest.class.getResourceAsStream("/conformance/records.json")) {
      return new ObjectMapper().readTree(in);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read conformance/records.json", e);
    }
  }
}
