package io.deferredspans.sdk;

import static io.deferredspans.sdk.TestRecords.LINKED_TRACE_ID;
import static io.deferredspans.sdk.TestRecords.PARENT_SPAN_ID;
import static io.deferredspans.sdk.TestRecords.SPAN_ID;
import static io.deferredspans.sdk.TestRecords.START_NANOS;
import static io.deferredspans.sdk.TestRecords.TRACE_ID;
import static io.deferredspans.sdk.TestRecords.linkedContext;
import static io.deferredspans.sdk.TestRecords.record;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanId;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.sdk.trace.data.LinkData;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

class DeferredSpanRecordCodecTest {
  private static final String RECORD_NAME = "/deferred-spans/queue/item-0000000042";
  private static final String CONTEXT = "\"c\":\"" + TRACE_ID + "-" + SPAN_ID + "-01\"";
  private static final String NAME = "\"n\":\"QueueItem\"";
  private static final String START = "\"t\":" + START_NANOS;
  private static final String END = "\"e\":" + (START_NANOS + 1);

  // ---- what no record may hold is refused where it is written, not when another host reads it

  @Test
  void unpairedSurrogatesAreRefusedWhenWritten() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> DeferredSpanRecordCodec.encode(record().name("Queue\uD800Item").build()));
    assertTrue(e.getMessage().startsWith("n holds an unpaired surrogate U+D800 at index 5"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> DeferredSpanRecordCodec.encode(
        record().attributes(Attributes.of(AttributeKey.stringKey("k"), "\uDC00")).build()));
    assertThrows(IllegalArgumentException.class, () -> DeferredSpanRecordCodec.encode(
        record().attributes(Attributes.of(AttributeKey.stringArrayKey("\uD83D"), List.of("x"))).build()));
  }

  @Test
  void aSpanThatIsItsOwnParentIsRefusedWhenWritten() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> DeferredSpanRecordCodec.encode(record().parent(SPAN_ID).build()));
    assertEquals("a span cannot be its own parent: " + SPAN_ID, e.getMessage());
  }

  // ---- round trips

  @Test
  void roundTripsRootRecordWithOnlyRequiredFields() {
    assertRoundTrip(record().build());
  }

  @Test
  void roundTripsParentTraceStateAndUnsampledFlags() {
    DeferredSpanRecord original =
        record()
            .parent(PARENT_SPAN_ID)
            .sampled(false)
            .traceState(TraceState.builder().put("rojo", "00f067aa0ba902b7").put("t61@dt", "x y").build())
            .build();

    DeferredSpanRecord decoded = assertRoundTrip(original);

    assertEquals(PARENT_SPAN_ID, decoded.getParentSpanContext().getSpanId());
    assertEquals(TRACE_ID, decoded.getParentSpanContext().getTraceId());
    assertEquals(false, decoded.isSampled());
    assertTrue(decoded.getSpanContext().isRemote());
  }

  @ParameterizedTest
  @EnumSource(SpanKind.class)
  void roundTripsEverySpanKind(SpanKind kind) {
    assertEquals(kind, assertRoundTrip(record().kind(kind).build()).getKind());
  }

  @Test
  void roundTripsLinksWithAttributesAndTraceState() {
    DeferredSpanRecord original =
        record()
            .link(LinkData.create(linkedContext(), Attributes.builder().put("cause", "enqueue").put("n", 1L).build()))
            .link(
                LinkData.create(
                    TestRecords.remoteContext(
                        LINKED_TRACE_ID, PARENT_SPAN_ID, false, TraceState.builder().put("k", "v").build())))
            .build();

    assertEquals(2, assertRoundTrip(original).getLinks().size());
  }

  @Test
  void roundTripsAttributesOfEveryType() {
    Attributes attributes =
        Attributes.builder()
            .put("string", "value")
            .put("empty.string", "")
            .put("bool.true", true)
            .put("bool.false", false)
            .put("long", 42L)
            .put("long.min", Long.MIN_VALUE)
            .put("long.max", Long.MAX_VALUE)
            .put("double", 3.25)
            // Integral-valued doubles must not come back as longs.
            .put("double.integral", 1.0)
            .put("double.zero", 0.0)
            .put("double.negative.zero", -0.0)
            .put("double.large", 1e300)
            .put("double.tiny", Double.MIN_VALUE)
            .put(AttributeKey.stringArrayKey("strings"), List.of("a", "", "ü"))
            .put(AttributeKey.booleanArrayKey("bools"), List.of(true, false))
            .put(AttributeKey.longArrayKey("longs"), List.of(1L, -2L, Long.MAX_VALUE))
            .put(AttributeKey.doubleArrayKey("doubles"), List.of(1.0, 2.5, -0.0))
            .build();

    assertEquals(attributes, assertRoundTrip(record().attributes(attributes).build()).getAttributes());
  }

  @Test
  void nonFiniteDoublesAreStoredAsStringsAndCanBeReadBack() {
    // JSON has no NaN or infinity. What matters is that such a value never makes a stored record unreadable.
    Attributes attributes =
        Attributes.builder()
            .put("nan", Double.NaN)
            .put("infinity", Double.NEGATIVE_INFINITY)
            .put(AttributeKey.doubleArrayKey("with.nan"), List.of(1.0, Double.NaN, Double.POSITIVE_INFINITY))
            .build();

    DeferredSpanRecord decoded =
        DeferredSpanRecordCodec.decodeRecord(
            DeferredSpanRecordCodec.encode(record().attributes(attributes).build()), RECORD_NAME);

    assertEquals("NaN", decoded.getAttributes().get(AttributeKey.stringKey("nan")));
    assertEquals("-Infinity", decoded.getAttributes().get(AttributeKey.stringKey("infinity")));
    assertEquals(
        List.of("1.0", "NaN", "Infinity"), decoded.getAttributes().get(AttributeKey.stringArrayKey("with.nan")));
  }

  @Test
  void roundTripsOwnerBeganByAndUnicodeNames() {
    DeferredSpanRecord original =
        record()
            .name("Warteschlange \"Größe\" \\ 処理 🚀 \u0000\n")
            .beganBy("host-ä")
            .owner("/queue/élément-0000000001")
            .attributes(Attributes.builder().put("ключ", "значение 🎉").build())
            .build();

    assertRoundTrip(original);
  }

  @Test
  void roundTripsEmptyBeganByAndAbsentOwner() {
    DeferredSpanRecord decoded = assertRoundTrip(record().beganBy("").build());

    assertEquals("", decoded.getBeganBy());
    assertTrue(decoded.getOwner().isEmpty());
  }

  @Test
  void roundTripsFinishedSpanWithEventsStatusEndLinksAndEndAttributes() {
    FinishedDeferredSpan original = TestRecords.richFinishedSpan();

    FinishedDeferredSpan decoded =
        DeferredSpanRecordCodec.decodeFinished(DeferredSpanRecordCodec.encode(original), RECORD_NAME);

    assertEquals(original, decoded);
    assertEquals(original.getAttributes(), decoded.getAttributes());
    assertEquals(original.getLinks(), decoded.getLinks());
    assertEquals("merge conflict", decoded.getStatus().getDescription());
  }

  // ---- size

  @Test
  void recordWithoutAttributesOrLinksFitsIn128Bytes() {
    long now = TimeUnit.MILLISECONDS.toNanos(System.currentTimeMillis()) + 123_456;

    int size = encodedSize(record().name("QueueItem").beganBy("scheduler-1").start(now).build());

    System.out.println("encoded record size, no attributes or links: " + size + " bytes");
    assertTrue(size <= 128, "record without attributes takes " + size + " bytes");
  }

  @Test
  void reportsSizesOfRecordsWithOneLinkAndWithFiveAttributes() {
    int withLink = encodedSize(record().link(LinkData.create(linkedContext())).build());
    int withAttributes =
        encodedSize(
            record()
                .attributes(
                    Attributes.builder()
                        .put("queue", "merge")
                        .put("tenant", "acme")
                        .put("priority", 3L)
                        .put("retry", false)
                        .put("bytes", 1024L)
                        .build())
                .build());

    System.out.println("encoded record size, one link: " + withLink + " bytes");
    System.out.println("encoded record size, five short attributes: " + withAttributes + " bytes");
    // Generous bounds: these guard against an accidental blow-up of the format, not against single bytes.
    assertTrue(withLink <= 256, "one link takes " + withLink);
    assertTrue(withAttributes <= 256, "five attributes take " + withAttributes);
  }

  // ---- bad input

  // Every kind of bad input, each with its error kind, is a vector in conformance/records.json, checked by
  // RecordFormatConformanceTest: the same cases hold for any implementation of docs/record-format.md.

  @Test
  void acceptsTimesAtTheEdgesOfTheRange() {
    long first = epochNanos("2000-01-01T00:00:00Z");
    long last = epochNanos("2100-01-01T00:00:00Z") - 1;
    assertEquals(first, RecordConstraints.MIN_EPOCH_NANOS);
    assertEquals(last + 1, RecordConstraints.MAX_EPOCH_NANOS);

    assertEquals(first, assertRoundTrip(record().start(first).build()).getStartEpochNanos());
    assertEquals(last, assertRoundTrip(record().start(last).build()).getStartEpochNanos());
    FinishedDeferredSpan finished =
        DeferredSpanRecordCodec.decodeFinished(json(CONTEXT, NAME, START, "\"e\":" + last).getBytes(UTF_8), RECORD_NAME);
    assertEquals(last, finished.getEndEpochNanos());
  }

  @Test
  void refusesToWriteWhatNoReaderAccepts() {
    // A writer that stored such a record would only learn at the end, on another host, that it is unreadable.
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> DeferredSpanRecordCodec.encode(record().start(epochNanos("2200-01-01T00:00:00Z")).build()));
    assertTrue(e.getMessage().contains("2200-01-01T00:00:00Z"), e.getMessage());
    assertThrows(
        IllegalArgumentException.class, () -> DeferredSpanRecordCodec.encode(record().start(Long.MAX_VALUE).build()));
  }

  @Test
  void acceptsTheHandWrittenFormsTheRejectionCasesDeviateFrom() {
    // Keeps the rejection cases honest: each differs from an accepted input in the one way it names.
    DeferredSpanRecord decoded =
        DeferredSpanRecordCodec.decodeRecord(json(CONTEXT, NAME, START).getBytes(UTF_8), RECORD_NAME);
    assertEquals(record().beganBy("").build(), decoded);
    FinishedDeferredSpan finished =
        DeferredSpanRecordCodec.decodeFinished(
            json(CONTEXT, NAME, START, END, "\"s\":\"ERROR\"", "\"ev\":[{\"n\":\"x\",\"t\":1}]", "\"unknown\":[{}]")
                .getBytes(UTF_8),
            RECORD_NAME);
    assertEquals(START_NANOS + 1, finished.getEndEpochNanos());
    assertEquals("", finished.getEndedBy());
  }

  @Test
  void rejectsNullAndEmptyInput() {
    assertRejectedByBothDecoders(null);
    assertRejectedByBothDecoders(new byte[0]);
  }

  @Test
  void rejectsInvalidUtf8() {
    byte[] bytes = json(CONTEXT, "\"n\":\"Queue\u00ffItem\"", START).getBytes(UTF_8);
    int index = indexOf(bytes, (byte) 0xc3);
    bytes[index + 1] = (byte) 0x28; // lead byte now followed by a non-continuation byte

    assertRejectedByBothDecoders(bytes);
  }

  @Test
  void rejectsEveryTruncatedPrefixOfAValidEncoding() {
    byte[] record = DeferredSpanRecordCodec.encode(TestRecords.richFinishedSpan().getRecord());
    byte[] finished = DeferredSpanRecordCodec.encode(TestRecords.richFinishedSpan());

    for (byte[] valid : List.of(record, finished)) {
      for (int length = 0; length < valid.length; length++) {
        assertRejectedByBothDecoders(Arrays.copyOf(valid, length));
      }
    }
  }

  @Test
  void rejectsNewerFormatVersionWithItsNumber() {
    // A newer writer may change anything after the version, so nothing after it is looked at.
    for (String json : List.of("{\"v\":2}", "{\"v\":2,\"whatever\":[1,{}],\"c\":\"nonsense\"}")) {
      UnsupportedRecordVersionException e =
          assertThrows(
              UnsupportedRecordVersionException.class,
              () -> DeferredSpanRecordCodec.decodeRecord(json.getBytes(UTF_8), RECORD_NAME));
      assertEquals(2, e.getVersion());
      assertEquals(RECORD_NAME, e.getRecordName());
      assertTrue(e.getMessage().contains(RECORD_NAME), e.getMessage());
    }
    assertEquals(
        0,
        assertThrows(
                UnsupportedRecordVersionException.class,
                () -> DeferredSpanRecordCodec.decodeFinished("{\"v\":0}".getBytes(UTF_8), RECORD_NAME))
            .getVersion());
  }

  @Test
  void rejectsDeeplyNestedUnknownFieldWithoutStackOverflow() {
    int depth = 10_000;
    String nested = "[".repeat(depth) + "]".repeat(depth);

    assertRejectedByBothDecoders(json(CONTEXT, NAME, START, "\"x\":" + nested).getBytes(UTF_8));
    assertRejectedByBothDecoders(json(CONTEXT, NAME, START, "\"a\":{\"k\":" + nested + "}").getBytes(UTF_8));
    assertRejectedByBothDecoders(nested.getBytes(UTF_8));
    assertRejectedByBothDecoders(("{\"v\":1,\"x\":" + "{\"y\":".repeat(depth) + "1" + "}".repeat(depth) + "}").getBytes(UTF_8));
  }

  @Test
  void rejectsAKeyGivenTwiceInAnyObjectNamingTheKey() {
    // The conformance vectors cover the top level, attributes and links; these are the objects they do not.
    StringBuilder nineKeys = new StringBuilder();
    for (int i = 0; i < 9; i++) {
      nineKeys.append("\"k").append(i).append("\":1,");
    }
    Map<String, String> twice = Map.of(
        "zz", json(CONTEXT, NAME, START, "\"x\":[1,{\"y\":{\"zz\":1,\"zz\":2}}]"),
        "k3", json(CONTEXT, NAME, START, "\"a\":{" + nineKeys + "\"k3\":2}"),
        "t", json(CONTEXT, NAME, START, END, "\"ev\":[{\"n\":\"x\",\"t\":1,\"t\":2}]"));
    twice.forEach((key, json) -> {
      byte[] bytes = json.getBytes(UTF_8);
      assertRejectedByBothDecoders(bytes);
      String message = assertThrows(CorruptDeferredSpanRecordException.class,
          () -> DeferredSpanRecordCodec.decodeFinished(bytes, RECORD_NAME)).getMessage();
      assertTrue(message.contains("key '" + key + "' given twice"), message);
    });
    Attributes nine = DeferredSpanRecordCodec.decodeRecord(
        json(CONTEXT, NAME, START, "\"a\":{" + nineKeys + "\"k9\":1}").getBytes(UTF_8), RECORD_NAME)
        .getAttributes();
    assertEquals(10, nine.size());
  }

  @Test
  void rejectsInputLargerThanOneMebibyte() {
    String hugeName = "\"n\":\"" + "x".repeat(RecordConstraints.MAX_ENCODED_BYTES) + "\"";

    assertRejectedByBothDecoders(json(CONTEXT, hugeName, START).getBytes(UTF_8));
  }

  @Test
  void decodeRecordRefusesFinishedSpanAndDecodeFinishedRefusesRecord() {
    byte[] finished = DeferredSpanRecordCodec.encode(TestRecords.richFinishedSpan());
    byte[] record = DeferredSpanRecordCodec.encode(record().build());

    assertRejected(bytes -> DeferredSpanRecordCodec.decodeRecord(bytes, RECORD_NAME), finished);
    assertRejected(bytes -> DeferredSpanRecordCodec.decodeFinished(bytes, RECORD_NAME), record);
  }

  @Test
  void refusesToEncodeDisabledRecord() {
    assertThrows(IllegalArgumentException.class, () -> DeferredSpanRecordCodec.encode(DeferredSpanRecord.disabled()));
  }

  // ---- fuzzing

  @Test
  void fuzzedInputYieldsValidSpanOrTypedException() throws Exception {
    int iterations = 100_000;
    // Rejections dominate and each one captures a stack trace; on a fresh thread that stack is a few frames
    // instead of JUnit's ~70, which makes the loop several times faster.
    int accepted = onShallowStack(() -> fuzzCodec(new Random(0x5eed_decafL), iterations));

    System.out.println(
        "codec fuzz: " + iterations + " inputs tried, each through both decoders; " + accepted + " accepted");
    // A fuzzer that never produces a valid input would not exercise the validation of decoded IDs.
    assertTrue(accepted > 0, "no fuzzed input was accepted");
  }

  private static int fuzzCodec(Random random, int iterations) {
    byte[][] seeds = {
      DeferredSpanRecordCodec.encode(record().build()),
      DeferredSpanRecordCodec.encode(TestRecords.richFinishedSpan().getRecord()),
      DeferredSpanRecordCodec.encode(TestRecords.richFinishedSpan()),
      DeferredSpanRecordCodec.encode(
          record()
              .attributes(
                  Attributes.builder()
                      .put(AttributeKey.doubleArrayKey("d"), List.of(1.0, 2.0))
                      .put(AttributeKey.booleanArrayKey("b"), List.of(true))
                      .put("s", "x")
                      .build())
              .build()),
    };
    int accepted = 0;
    for (int i = 0; i < iterations; i++) {
      byte[] input = i % 10 == 0 ? randomBytes(random) : mutate(random, seeds);
      if (decodesToValidSpanOrThrowsTyped(input)) {
        accepted++;
      }
    }
    return accepted;
  }

  /** True when either decoder accepted the input; fails the test on anything but a typed rejection. */
  private static boolean decodesToValidSpanOrThrowsTyped(byte[] input) {
    boolean accepted = false;
    try {
      assertValid(DeferredSpanRecordCodec.decodeRecord(input, RECORD_NAME), input);
      accepted = true;
    } catch (DeferredSpanRecordException expected) {
      // typed rejection is fine
    } catch (Throwable t) {
      fail("decodeRecord threw " + t + " for " + describe(input), t);
    }
    try {
      FinishedDeferredSpan finished = DeferredSpanRecordCodec.decodeFinished(input, RECORD_NAME);
      assertValid(finished.getRecord(), input);
      finished.getEndLinks().forEach(link -> assertTrue(link.getSpanContext().isValid(), () -> describe(input)));
      assertTrue(finished.getEndEpochNanos() >= finished.getRecord().getStartEpochNanos(), () -> describe(input));
      accepted = true;
    } catch (DeferredSpanRecordException expected) {
      // typed rejection is fine
    } catch (AssertionError e) {
      throw e;
    } catch (Throwable t) {
      fail("decodeFinished threw " + t + " for " + describe(input), t);
    }
    return accepted;
  }

  private static void assertValid(DeferredSpanRecord record, byte[] input) {
    assertTrue(record.isValid(), () -> describe(input));
    assertTrue(record.getSpanContext().isValid(), () -> describe(input));
    String parent = record.getParentSpanId();
    assertTrue(SpanId.isValid(parent) || parent.equals(SpanId.getInvalid()), () -> describe(input));
    SpanContext parentContext = record.getParentSpanContext();
    assertTrue(parentContext.isValid() || parentContext.equals(SpanContext.getInvalid()), () -> describe(input));
    assertTrue(record.getStartEpochNanos() > 0, () -> describe(input));
    assertNotNull(record.getName(), () -> describe(input));
    record.getLinks().forEach(link -> assertTrue(link.getSpanContext().isValid(), () -> describe(input)));
  }

  private static byte[] mutate(Random random, byte[][] seeds) {
    byte[] input = seeds[random.nextInt(seeds.length)];
    int mutations = 1 + random.nextInt(3);
    for (int m = 0; m < mutations; m++) {
      input = mutateOnce(random, input, seeds);
    }
    return input;
  }

  // Bytes that change JSON structure or stay within the ID alphabet, so mutations reach past the tokenizer.
  private static final byte[] INTERESTING = "{}[]\",:-0123456789abcdefABCDEF \\ntfe.".getBytes(UTF_8);

  private static byte[] mutateOnce(Random random, byte[] input, byte[][] seeds) {
    if (input.length == 0) {
      return new byte[] {INTERESTING[random.nextInt(INTERESTING.length)]};
    }
    int at = random.nextInt(input.length);
    switch (random.nextInt(8)) {
      case 0: { // bit flip
        byte[] out = input.clone();
        out[at] ^= (byte) (1 << random.nextInt(8));
        return out;
      }
      case 1: { // replace with a structural or hex character
        byte[] out = input.clone();
        out[at] = INTERESTING[random.nextInt(INTERESTING.length)];
        return out;
      }
      case 2: { // insert a byte
        byte[] out = new byte[input.length + 1];
        System.arraycopy(input, 0, out, 0, at);
        out[at] = random.nextBoolean() ? (byte) random.nextInt(256) : INTERESTING[random.nextInt(INTERESTING.length)];
        System.arraycopy(input, at, out, at + 1, input.length - at);
        return out;
      }
      case 3: { // delete a short range
        int length = Math.min(1 + random.nextInt(8), input.length - at);
        byte[] out = new byte[input.length - length];
        System.arraycopy(input, 0, out, 0, at);
        System.arraycopy(input, at + length, out, at, input.length - at - length);
        return out;
      }
      case 4: // truncate
        return Arrays.copyOf(input, at);
      case 5: { // splice: this input's head onto another seed's tail
        byte[] other = seeds[random.nextInt(seeds.length)];
        int from = random.nextInt(other.length);
        byte[] out = Arrays.copyOf(input, at + other.length - from);
        System.arraycopy(other, from, out, at, other.length - from);
        return out;
      }
      case 6: { // duplicate a range in place
        int length = Math.min(1 + random.nextInt(16), input.length - at);
        byte[] out = new byte[input.length + length];
        System.arraycopy(input, 0, out, 0, at + length);
        System.arraycopy(input, at, out, at + length, input.length - at);
        return out;
      }
      default: { // swap a hex digit for another, keeping IDs well-formed more often than not
        byte[] out = input.clone();
        out[at] = (byte) "0123456789abcdef".charAt(random.nextInt(16));
        return out;
      }
    }
  }

  private static byte[] randomBytes(Random random) {
    byte[] bytes = new byte[random.nextInt(300)];
    random.nextBytes(bytes);
    if (bytes.length > 0 && random.nextBoolean()) {
      bytes[0] = '{'; // get past the first token now and then
    }
    return bytes;
  }

  // ---- helpers

  private static String json(String... fields) {
    return "{\"v\":1," + String.join(",", fields) + "}";
  }

  static long epochNanos(String instant) {
    return DeferredSpanRecord.epochNanos(java.time.Instant.parse(instant));
  }

  private static String context(String traceId, String spanId, String flags) {
    return "\"c\":\"" + traceId + "-" + spanId + "-" + flags + "\"";
  }

  private static DeferredSpanRecord assertRoundTrip(DeferredSpanRecord original) {
    byte[] encoded = DeferredSpanRecordCodec.encode(original);
    DeferredSpanRecord decoded = DeferredSpanRecordCodec.decodeRecord(encoded, RECORD_NAME);
    assertEquals(original, decoded);
    // Encoding is deterministic, so a store can compare bytes to detect concurrent changes.
    assertArrayEquals(encoded, DeferredSpanRecordCodec.encode(decoded));
    return decoded;
  }

  private static int encodedSize(DeferredSpanRecord record) {
    return DeferredSpanRecordCodec.encode(record).length;
  }

  private static void assertRejectedByBothDecoders(byte[] bytes) {
    assertRejected(input -> DeferredSpanRecordCodec.decodeRecord(input, RECORD_NAME), bytes);
    assertRejected(input -> DeferredSpanRecordCodec.decodeFinished(input, RECORD_NAME), bytes);
  }

  private static void assertRejected(Function<byte[], Object> decoder, byte[] bytes) {
    DeferredSpanRecordException e;
    try {
      Object decoded = decoder.apply(bytes);
      fail("accepted " + describe(bytes) + " as " + decoded);
      return;
    } catch (DeferredSpanRecordException expected) {
      e = expected;
    } catch (Throwable t) {
      fail("threw " + t + " rather than a DeferredSpanRecordException for " + describe(bytes), t);
      return;
    }
    assertTrue(
        e instanceof CorruptDeferredSpanRecordException || e instanceof UnsupportedRecordVersionException,
        e.getClass().getName());
    assertEquals(RECORD_NAME, e.getRecordName());
    assertTrue(e.getMessage().contains(RECORD_NAME), e.getMessage());
  }

  /** Runs {@code task} on a new thread and returns its result, rethrowing its assertion failures as they were. */
  static <T> T onShallowStack(Callable<T> task) throws Exception {
    ExecutorService executor = Executors.newSingleThreadExecutor();
    try {
      return executor.submit(task).get();
    } catch (ExecutionException e) {
      if (e.getCause() instanceof Error) {
        throw (Error) e.getCause();
      }
      throw e;
    } finally {
      executor.shutdownNow();
    }
  }

  private static int indexOf(byte[] bytes, byte b) {
    for (int i = 0; i < bytes.length; i++) {
      if (bytes[i] == b) {
        return i;
      }
    }
    throw new AssertionError("byte not found");
  }

  private static String describe(byte[] bytes) {
    if (bytes == null) {
      return "null";
    }
    String text = new String(bytes, 0, Math.min(bytes.length, 300), UTF_8);
    return bytes.length + " bytes, base64 " + Base64.getEncoder().encodeToString(bytes) + " (" + text + ")";
  }
}
