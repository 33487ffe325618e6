package io.deferredspans.sdk;

import static io.deferredspans.sdk.TestRecords.record;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.TraceState;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * The fast path must never decide differently from the full reader: for every input it reads, both give the same
 * record, finished span or error. Checked on every conformance vector and on mutations of the records it is for.
 */
class FlatRecordScannerTest {
  private static final String RECORD_NAME = "/deferred-spans/open/07/flat";
  private static final byte[] POOL = "{}[]\",:\\0123456789-+.eE vtcpnkbolasx\u007f".getBytes(UTF_8);

  @Test
  void readsTheRecordsThisLibraryWritesWithoutAttributesOrLinks() {
    for (byte[] bytes : seeds()) {
      assertNotNull(FlatRecordScanner.scan(bytes), new String(bytes, UTF_8));
      assertSameAsFullReader(bytes);
    }
  }

  @Test
  void decidesEveryConformanceVectorAsTheFullReader() throws IOException {
    int scanned = 0;
    for (byte[] bytes : vectors()) {
      if (assertSameAsFullReader(bytes)) {
        scanned++;
      }
    }
    assertTrue(scanned > 10, "the fast path read only " + scanned + " vectors");
  }

  @Test
  void decidesMutatedRecordsAsTheFullReader() {
    Random random = new Random(0xf1a7L);
    List<byte[]> seeds = seeds();
    int scanned = 0;
    for (int i = 0; i < 50_000; i++) {
      byte[] input = seeds.get(random.nextInt(seeds.size())).clone();
      for (int edits = 1 + random.nextInt(3); edits > 0; edits--) {
        input[random.nextInt(input.length)] = POOL[random.nextInt(POOL.length)];
      }
      if (assertSameAsFullReader(input)) {
        scanned++;
      }
    }
    assertTrue(scanned > 1_000, "the fast path read only " + scanned + " mutations");
  }

  @Test
  void decidesEverySpanContextAndStartTimeAtTheEdgesAsTheFullReader() {
    String seed = new String(DeferredSpanRecordCodec.encode(record().build()), UTF_8);
    String context = seed.replaceAll(".*\"c\":\"([^\"]*)\".*", "$1");
    String start = seed.replaceAll(".*\"t\":([0-9]*).*", "$1");
    String zeros = "0".repeat(32);
    List<String> contexts = List.of(
        zeros + context.substring(32),
        context.substring(0, 33) + zeros.substring(16) + context.substring(49),
        "A" + context.substring(1),
        context.substring(0, 40) + "F" + context.substring(41),
        context.substring(0, 50) + "ff",
        context.substring(0, 50) + "0G",
        context.substring(0, 50) + "0",
        context.substring(0, 50) + "000",
        context.substring(1),
        context.replace('-', '_'),
        context + "-");
    int scanned = 0;
    for (String variant : contexts) {
      if (assertSameAsFullReader(seed.replace(context, variant).getBytes(UTF_8))) {
        scanned++;
      }
    }
    for (String time : List.of("9223372036854775807", "9223372036854775808", "10000000000000000000",
        "99999999999999999999", "0", "01", "1796424475140003522", "999999999999999999")) {
      if (assertSameAsFullReader(seed.replace("\"t\":" + start, "\"t\":" + time).getBytes(UTF_8))) {
        scanned++;
      }
    }
    // Flags "ff" and the four times that fit a long, without a leading zero, are for the fast path to read.
    assertEquals(5, scanned);
  }

  /** Whether the fast path read {@code bytes}; fails if it then decided differently from the full reader. */
  private static boolean assertSameAsFullReader(byte[] bytes) {
    RecordFields flat = FlatRecordScanner.scan(bytes);
    if (flat == null) {
      return false;
    }
    assertEquals(outcomes(() -> RecordJsonReader.parse(bytes, RECORD_NAME)), outcomes(() -> flat),
        new String(bytes, UTF_8));
    return true;
  }

  /** The record and the finished span the fields make, or the error each gives. */
  private static List<Object> outcomes(Supplier<RecordFields> read) {
    RecordFields fields;
    try {
      fields = read.get();
    } catch (DeferredSpanRecordException e) {
      return List.of(e.getClass(), e.getMessage());
    }
    List<Object> outcomes = new ArrayList<>();
    for (Supplier<Object> decode : List.<Supplier<Object>>of(
        () -> fields.toRecord(RECORD_NAME), () -> fields.toFinished(RECORD_NAME))) {
      try {
        outcomes.add(decode.get());
      } catch (DeferredSpanRecordException e) {
        outcomes.add(e.getClass() + ": " + e.getMessage());
      }
    }
    return outcomes;
  }

  private static List<byte[]> seeds() {
    List<byte[]> seeds = new ArrayList<>();
    seeds.add(DeferredSpanRecordCodec.encode(record().build()));
    seeds.add(DeferredSpanRecordCodec.encode(record().beganBy("").build()));
    seeds.add(DeferredSpanRecordCodec.encode(record().kind(SpanKind.CONSUMER).owner("/queue/items/item-1").build()));
    seeds.add(DeferredSpanRecordCodec.encode(record().parent(TestRecords.PARENT_SPAN_ID).sampled(false)
        .traceState(TraceState.builder().put("vendor", "x").build()).build()));
    return seeds;
  }

  private static List<byte[]> vectors() throws IOException {
    JsonNode root;
    try (InputStream in = FlatRecordScannerTest.class.getResourceAsStream("/conformance/records.json")) {
      root = new ObjectMapper().readTree(in);
    }
    List<byte[]> inputs = new ArrayList<>();
    for (String section : List.of("records", "lossy", "finished", "accepted", "rejected")) {
      for (JsonNode vector : root.get(section)) {
        if (vector.has("text")) {
          inputs.add(vector.get("text").asText().getBytes(UTF_8));
        } else if (vector.has("base64")) {
          inputs.add(Base64.getDecoder().decode(vector.get("base64").asText()));
        }
      }
    }
    return inputs;
  }
}
