package io.deferredspans.sdk;

import static io.deferredspans.sdk.TestRecords.SPAN_ID;
import static io.deferredspans.sdk.TestRecords.TRACE_ID;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code TRACEPARENT} and {@code TRACESTATE} as the carrier between a process and the child processes it starts
 * (OpenTelemetry specification, "Environment Variables as Context Propagation Carriers"): in maps, and through a
 * real child JVM's environment.
 */
class TraceParentEnvironmentTest {
  private static final SpanContext CONTEXT = SpanContext.create(TRACE_ID, SPAN_ID, TraceFlags.getSampled(),
      TraceState.builder().put("rojo", "00f067aa0ba902b7").put("congo", "t61rcWkgMzE").build());

  @Test
  void aContextWrittenIntoAnEnvironmentIsReadBackWhole() {
    Map<String, String> environment = new HashMap<>(Map.of("PATH", "/usr/bin"));

    TraceParent.toEnvironment(CONTEXT, environment);

    assertEquals("00-" + TRACE_ID + "-" + SPAN_ID + "-01", environment.get("TRACEPARENT"));
    assertEquals("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", environment.get("TRACESTATE"));
    assertEquals("/usr/bin", environment.get("PATH"), "the rest of the environment is left alone");
    SpanContext read = TraceParent.fromEnvironment(environment).orElseThrow();
    assertEquals(CONTEXT.getTraceId(), read.getTraceId());
    assertEquals(CONTEXT.getSpanId(), read.getSpanId());
    assertEquals(CONTEXT.getTraceFlags(), read.getTraceFlags());
    assertEquals(CONTEXT.getTraceState().asMap(), read.getTraceState().asMap());
    assertTrue(read.isRemote(), "the parent ran in another process");
  }

  @Test
  void whatTheChildInheritedFromThisProcessIsReplacedNotMixed() {
    // ProcessBuilder.environment() starts as a copy of this process's own, which may carry its own parent.
    Map<String, String> environment = new HashMap<>(Map.of(
        "TRACEPARENT", "00-11111111111111111111111111111111-2222222222222222-01", "TRACESTATE", "stale=1"));
    SpanContext withoutState = SpanContext.create(TRACE_ID, SPAN_ID, TraceFlags.getDefault(), TraceState.getDefault());

    TraceParent.toEnvironment(withoutState, environment);

    assertEquals(Map.of("TRACEPARENT", "00-" + TRACE_ID + "-" + SPAN_ID + "-00"), environment);
  }

  @Test
  void anInvalidContextLeavesTheChildWithoutParent() {
    // What a disabled tracing's records give: the child must not take this process's inherited parent for its own.
    Map<String, String> environment = new HashMap<>(Map.of("TRACEPARENT", "00-" + TRACE_ID + "-" + SPAN_ID + "-01",
        "TRACESTATE", "rojo=1", "HOME", "/home/ci"));

    TraceParent.toEnvironment(SpanContext.getInvalid(), environment);

    assertEquals(Map.of("HOME", "/home/ci"), environment);
  }

  @Test
  void noTraceparentMeansNoParentAndOnlyNormalizedNamesAreRead() {
    assertEquals(Optional.empty(), TraceParent.fromEnvironment(Map.of()));
    assertEquals(Optional.empty(), TraceParent.fromEnvironment(Map.of("TRACESTATE", "rojo=1")));
    // The carrier reads the normalized name only (the specification's key name normalization).
    assertEquals(Optional.empty(),
        TraceParent.fromEnvironment(Map.of("traceparent", "00-" + TRACE_ID + "-" + SPAN_ID + "-01")));
  }

  @Test
  void aMalformedVariableIsATypedErrorThatNamesIt() {
    MalformedTraceparentException e = assertThrows(MalformedTraceparentException.class,
        () -> TraceParent.fromEnvironment(Map.of("TRACEPARENT", "00-not-a-traceparent")));
    assertTrue(e.getMessage().contains("TRACEPARENT"), e.getMessage());
    MalformedTraceparentException state = assertThrows(MalformedTraceparentException.class,
        () -> TraceParent.fromEnvironment(Map.of("TRACEPARENT", "00-" + TRACE_ID + "-" + SPAN_ID + "-01",
            "TRACESTATE", "no key value")));
    assertTrue(state.getMessage().contains("TRACESTATE"), state.getMessage());
  }

  @Test
  void aChildProcessFindsItsParentInItsEnvironment() throws Exception {
    ProcessBuilder child = new ProcessBuilder(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), ChildMain.class.getName());
    child.environment().put("TRACEPARENT", "00-11111111111111111111111111111111-2222222222222222-01");
    TraceParent.toEnvironment(CONTEXT, child.environment());
    child.redirectErrorStream(true);

    Process process = child.start();
    assertTrue(process.waitFor(60, TimeUnit.SECONDS), "child process did not finish");
    String printed = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();

    assertEquals(0, process.exitValue(), printed);
    assertEquals(TraceParent.format(CONTEXT) + " " + TraceParent.formatTraceState(CONTEXT.getTraceState())
        + " remote", printed);
  }

  @Test
  void aChildProcessStartedWithoutParentFindsNone() throws IOException, InterruptedException {
    ProcessBuilder child = new ProcessBuilder(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), ChildMain.class.getName());
    child.environment().keySet().removeAll(List.of("TRACEPARENT", "TRACESTATE"));
    Process process = child.redirectErrorStream(true).start();
    assertTrue(process.waitFor(60, TimeUnit.SECONDS), "child process did not finish");
    String printed = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();

    assertFalse(printed.contains("remote"), printed);
    assertEquals("no parent", printed);
  }

  /** The child: reads its parent from its own environment, as a job step started by an executor would. */
  public static final class ChildMain {
    public static void main(String[] args) {
      System.out.println(TraceParent.fromEnvironment(System.getenv())
          .map(c -> TraceParent.format(c) + " " + TraceParent.formatTraceState(c.getTraceState())
              + (c.isRemote() ? " remote" : ""))
          .orElse("no parent"));
    }
  }
}
