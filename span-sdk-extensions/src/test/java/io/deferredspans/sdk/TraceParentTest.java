package io.deferredspans.sdk;

import static io.deferredspans.sdk.TestRecords.SPAN_ID;
import static io.deferredspans.sdk.TestRecords.TRACE_ID;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TraceParentTest {
  private static final String VALID = "00-" + TRACE_ID + "-" + SPAN_ID + "-01";

  // ---- traceparent

  @Test
  void formatsAndParsesBackTheSameContext() {
    for (TraceFlags flags : List.of(TraceFlags.getSampled(), TraceFlags.getDefault(), TraceFlags.fromByte((byte) 0xff))) {
      SpanContext context = SpanContext.create(TRACE_ID, SPAN_ID, flags, TraceState.getDefault());

      String traceparent = TraceParent.format(context);
      SpanContext parsed = TraceParent.parse(traceparent);

      assertEquals("00-" + TRACE_ID + "-" + SPAN_ID + "-" + flags.asHex(), traceparent);
      assertEquals(TRACE_ID, parsed.getTraceId());
      assertEquals(SPAN_ID, parsed.getSpanId());
      assertEquals(flags, parsed.getTraceFlags());
      // Whoever parses a header is never the span's own process.
      assertTrue(parsed.isRemote());
    }
  }

  @Test
  void parsesTraceStateAlongside() {
    SpanContext parsed = TraceParent.parse(VALID, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");

    assertEquals("00f067aa0ba902b7", parsed.getTraceState().get("rojo"));
    assertEquals("t61rcWkgMzE", parsed.getTraceState().get("congo"));
  }

  @Test
  void refusesToFormatInvalidContext() {
    assertThrows(IllegalArgumentException.class, () -> TraceParent.format(SpanContext.getInvalid()));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "00",
        "00-" + TRACE_ID + "-" + SPAN_ID + "-0", // flags one digit short
        "00-" + TRACE_ID + "-" + SPAN_ID + "-01-", // version 00 has exactly four fields
        "00-" + TRACE_ID + "-" + SPAN_ID + "-01x",
        "00-" + TRACE_ID + "-" + SPAN_ID + "-01-extra",
        "00-" + TRACE_ID + "-" + SPAN_ID + "-01 ",
        " 00-" + TRACE_ID + "-" + SPAN_ID + "-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-" + SPAN_ID + "-01", // uppercase trace id
        "00-" + TRACE_ID + "-00F067AA0BA902B7-01", // uppercase span id
        "00-" + TRACE_ID + "-" + SPAN_ID + "-0A", // uppercase flags
        "0A-" + TRACE_ID + "-" + SPAN_ID + "-01", // uppercase version
        "00-" + TRACE_ID + "-" + SPAN_ID + "-0g", // non-hex flags
        "00-" + TRACE_ID + "-" + SPAN_ID + "-+1",
        "00-4bf92f3577b34da6a3ce929d0e0e473g-" + SPAN_ID + "-01", // non-hex trace id
        "00-" + TRACE_ID + "-00f067aa0ba902bx-01", // non-hex span id
        "00-00000000000000000000000000000000-" + SPAN_ID + "-01",
        "00-" + TRACE_ID + "-0000000000000000-01",
        "00-" + TRACE_ID + "1-" + "0f067aa0ba902b7-01", // trace id too long, span id too short
        "00_" + TRACE_ID + "-" + SPAN_ID + "-01",
        "00-" + TRACE_ID + "_" + SPAN_ID + "-01",
        "00-" + TRACE_ID + "-" + SPAN_ID + "_01",
        "00:" + TRACE_ID + ":" + SPAN_ID + ":01",
        "ff-" + TRACE_ID + "-" + SPAN_ID + "-01", // version ff is forbidden
        "ff-" + TRACE_ID + "-" + SPAN_ID + "-01-extra",
        "zz-" + TRACE_ID + "-" + SPAN_ID + "-01",
        "01-" + TRACE_ID + "-" + SPAN_ID + "-01x", // a later version's extra fields follow a dash
        "01-" + TRACE_ID + "-" + SPAN_ID + "-0", // a later version still has the version-00 prefix
      })
  void rejectsMalformedTraceparent(String traceparent) {
    MalformedTraceparentException e =
        assertThrows(MalformedTraceparentException.class, () -> TraceParent.parse(traceparent));
    assertTrue(e.getMessage().startsWith("malformed traceparent"), e.getMessage());
  }

  @Test
  void rejectsNullTraceparent() {
    assertThrows(MalformedTraceparentException.class, () -> TraceParent.parse(null));
    assertThrows(MalformedTraceparentException.class, () -> TraceParent.parse(null, "a=1"));
  }

  @Test
  void rejectsValidTraceparentWithMalformedTraceState() {
    // A header is never half-used: a bad tracestate fails the whole parse.
    assertThrows(MalformedTraceparentException.class, () -> TraceParent.parse(VALID, "a=1,a=2"));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "01-" + TRACE_ID + "-" + SPAN_ID + "-01",
        "01-" + TRACE_ID + "-" + SPAN_ID + "-01-",
        "01-" + TRACE_ID + "-" + SPAN_ID + "-01-extra-fields",
        "fe-" + TRACE_ID + "-" + SPAN_ID + "-01-what-ever",
      })
  void acceptsFutureVersionWithExtraFields(String traceparent) {
    SpanContext parsed = TraceParent.parse(traceparent);

    assertEquals(TRACE_ID, parsed.getTraceId());
    assertEquals(SPAN_ID, parsed.getSpanId());
    assertTrue(parsed.isSampled());
  }

  @Test
  void errorMessageAbbreviatesHugeInput() {
    String huge = "x".repeat(10_000);

    MalformedTraceparentException e =
        assertThrows(MalformedTraceparentException.class, () -> TraceParent.parse(huge));
    // Headers come from outside; a log line must not grow with them.
    assertTrue(e.getMessage().length() < 200, e.getMessage());
  }

  // ---- tracestate

  @Test
  void parsesMultiMemberTraceStateInOrder() {
    TraceState state = TraceParent.parseTraceState("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,a=1");

    assertEquals(3, state.size());
    assertEquals("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,a=1", TraceParent.formatTraceState(state));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "a=1",
        "z=1,a=2,m=3",
        "tenant@vendor=v,simple=s",
        "0tenant@vendor=x",
        "k=value with spaces",
        "k=!\"#$%&'()*+-./:;<>?@[\\]^_`{|}~",
        "a_b-c*d/e=1",
      })
  void formatOfParseIsIdentityForNormalizedTraceState(String tracestate) {
    assertEquals(tracestate, TraceParent.formatTraceState(TraceParent.parseTraceState(tracestate)));
  }

  @Test
  void skipsEmptyMembersAndOptionalWhitespace() {
    TraceState state = TraceParent.parseTraceState(" ,a=1 ,, \tb=2\t,");

    assertEquals("a=1,b=2", TraceParent.formatTraceState(state));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "   ", "\t"})
  void blankOrNullTraceStateIsEmpty(String tracestate) {
    assertTrue(TraceParent.parseTraceState(tracestate).isEmpty());
    assertTrue(TraceParent.parseTraceState(null).isEmpty());
    assertEquals("", TraceParent.formatTraceState(TraceState.getDefault()));
  }

  @Test
  void acceptsMultiTenantKeys() {
    TraceState state = TraceParent.parseTraceState("tenant@vendor=a,t1@v=b");

    assertEquals("a", state.get("tenant@vendor"));
    assertEquals("b", state.get("t1@v"));
  }

  @Test
  void acceptsKeysAndValuesAtTheirMaximumLength() {
    String longKey = "k" + "x".repeat(255);
    String longTenantKey = "t".repeat(241) + "@" + "v".repeat(14);
    String longValue = "v".repeat(256);

    TraceState state =
        TraceParent.parseTraceState(longKey + "=" + longValue + "," + longTenantKey + "=" + longValue);

    // Nothing the strict parser accepts may be dropped silently by the SDK's own TraceState validation.
    assertEquals(2, state.size());
  }

  @Test
  void acceptsExactly32Members() {
    TraceState state = TraceParent.parseTraceState(members(32));

    assertEquals(32, state.size());
    assertEquals(members(32), TraceParent.formatTraceState(state));
  }

  @Test
  void rejectsMoreThan32Members() {
    assertThrows(MalformedTraceparentException.class, () -> TraceParent.parseTraceState(members(33)));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "a=1,a=2", // duplicate key
        "a=1,b=2,a=1",
        "A=1", // uppercase key
        "1a=1", // simple keys start with a letter
        "a b=1",
        "a=",
        "=1",
        "a",
        "a=1=2",
        "a=1,b",
        "a=\u00e9", // non-ASCII value
        "a=\u007f",
        "a=x\u0001",
        "\u00e4=1",
        "a@=1", // empty vendor
        "@v=1", // empty tenant
        "a@b@c=1",
        "t@1vendor=1", // vendor starts with a letter
        "t@vendorvendorvend=1", // vendor longer than 14
        "kxy", // no '='
      })
  void rejectsInvalidTraceState(String tracestate) {
    MalformedTraceparentException e =
        assertThrows(MalformedTraceparentException.class, () -> TraceParent.parseTraceState(tracestate));
    assertTrue(e.getMessage().startsWith("malformed tracestate"), e.getMessage());
  }

  @Test
  void rejectsOverlongKeysAndValues() {
    assertThrows(
        MalformedTraceparentException.class, () -> TraceParent.parseTraceState("k" + "x".repeat(256) + "=1"));
    assertThrows(
        MalformedTraceparentException.class, () -> TraceParent.parseTraceState("k=" + "v".repeat(257)));
    assertThrows(
        MalformedTraceparentException.class,
        () -> TraceParent.parseTraceState("t".repeat(242) + "@v=1"));
  }

  // ---- fuzzing

  @Test
  void fuzzedTraceparentsYieldValidContextOrMalformedException() {
    Random random = new Random(0x7ace_9a7eL);
    int iterations = 200_000;
    int accepted = 0;
    for (int i = 0; i < iterations; i++) {
      String input = i % 4 == 0 ? randomString(random, random.nextInt(70)) : mutate(random, VALID);
      SpanContext parsed;
      try {
        parsed = TraceParent.parse(input);
      } catch (MalformedTraceparentException expected) {
        continue;
      } catch (RuntimeException e) {
        throw new AssertionError("parse threw " + e + " for '" + input + "'", e);
      }
      assertTrue(parsed.isValid(), () -> "invalid context from '" + input + "'");
      assertTrue(parsed.isRemote(), () -> "local context from '" + input + "'");
      // Whatever was accepted formats to the version-00 form of the same IDs.
      assertEquals(input.substring(3, 55), TraceParent.format(parsed).substring(3), input);
      accepted++;
    }
    System.out.println("traceparent fuzz: " + iterations + " inputs tried, " + accepted + " accepted");
    assertTrue(accepted > 0, "no fuzzed traceparent was accepted");
  }

  @Test
  void fuzzedTraceStatesParseCompletelyOrThrowMalformed() {
    Random random = new Random(0x57a7e_5eedL);
    String valid = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,t@v=x y,a_b-c*d/e=!~";
    int iterations = 200_000;
    int accepted = 0;
    for (int i = 0; i < iterations; i++) {
      String input = i % 4 == 0 ? randomString(random, random.nextInt(40)) : mutate(random, valid);
      TraceState parsed;
      try {
        parsed = TraceParent.parseTraceState(input);
      } catch (MalformedTraceparentException expected) {
        continue;
      } catch (RuntimeException e) {
        throw new AssertionError("parseTraceState threw " + e + " for '" + input + "'", e);
      }
      // Every non-empty member must survive: the SDK's TraceState builder drops invalid entries silently, so a
      // count mismatch means the strict grammar here accepted something the SDK does not.
      long members = input.chars().filter(c -> c == ',').count() + 1;
      long emptyMembers = List.of(input.split(",", -1)).stream().filter(m -> m.strip().isEmpty()).count();
      assertEquals(members - emptyMembers, parsed.size(), () -> "members lost from '" + input + "'");
      String formatted = TraceParent.formatTraceState(parsed);
      assertEquals(formatted, TraceParent.formatTraceState(TraceParent.parseTraceState(formatted)), input);
      accepted++;
    }
    System.out.println("tracestate fuzz: " + iterations + " inputs tried, " + accepted + " accepted");
    assertTrue(accepted > 0, "no fuzzed tracestate was accepted");
  }

  // Characters that matter to the grammar, weighted towards those that keep inputs close to valid.
  private static final String ALPHABET = "0123456789abcdefABCDEFxyz-_=,@*/ \t!~\u00e9\u0000";

  private static String mutate(Random random, String valid) {
    StringBuilder out = new StringBuilder(valid);
    int mutations = 1 + random.nextInt(3);
    for (int m = 0; m < mutations && out.length() > 0; m++) {
      int at = random.nextInt(out.length());
      switch (random.nextInt(4)) {
        case 0:
          out.setCharAt(at, randomChar(random));
          break;
        case 1:
          out.insert(at, randomChar(random));
          break;
        case 2:
          out.deleteCharAt(at);
          break;
        default:
          out.setLength(at);
      }
    }
    return out.toString();
  }

  private static String randomString(Random random, int length) {
    return IntStream.range(0, length)
        .mapToObj(i -> String.valueOf(randomChar(random)))
        .collect(Collectors.joining());
  }

  private static char randomChar(Random random) {
    return random.nextInt(20) == 0 ? (char) random.nextInt(0x3000) : ALPHABET.charAt(random.nextInt(ALPHABET.length()));
  }

  private static String members(int count) {
    List<String> members = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      members.add("k" + i + "=v" + i);
    }
    return String.join(",", members);
  }
}
