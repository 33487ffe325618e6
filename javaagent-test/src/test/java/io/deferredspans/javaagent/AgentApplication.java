package io.deferredspans.javaagent;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.sdk.DeferredTracingAutoConfiguration;
import io.deferredspans.sdk.StandaloneDeferredTracing;
import io.opentelemetry.api.GlobalOpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.opentelemetry.sdk.common.CompletableResultCode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A service run with {@code -javaagent}, as a team would write it: ordinary spans through the agent ({@code
 * GlobalOpenTelemetry}), deferred spans through {@link DeferredTracingAutoConfiguration#forJavaAgent()}. The
 * record travels in a file where a real service would use the ZooKeeper store.
 *
 * <p>{@code begin FILE}: begins the deferred span inside an agent span, so the agent's span is its parent.
 * {@code end FILE}: starts a child through the agent's tracer under the stored context, then ends and exports
 * the deferred span. Prints one line per step; exits non-zero on any failure.
 */
public final class AgentApplication {
  static final String SCOPE = "deferred-spans-javaagent-test";

  private AgentApplication() {}

  public static void main(String[] args) throws Exception {
    Path file = Path.of(args[1]);
    System.out.println("GLOBAL " + GlobalOpenTelemetry.get().getClass().getName());
    Tracer tracer = GlobalOpenTelemetry.getTracer(SCOPE);
    try (StandaloneDeferredTracing deferred = DeferredTracingAutoConfiguration.forJavaAgent()) {
      DeferredTracing tracing = deferred.getDeferredTracing();
      switch (args[0]) {
        case "begin" -> begin(tracer, tracing, file);
        case "end" -> end(tracer, tracing, file);
        default -> throw new IllegalArgumentException("begin or end, not " + args[0]);
      }
    } // closing flushes the deferred pipeline; the agent flushes its own at exit
    System.out.println("DONE");
  }

  private static void begin(Tracer tracer, DeferredTracing tracing, Path file) throws Exception {
    Span enqueue = tracer.spanBuilder("Enqueue").startSpan();
    DeferredSpanRecord record;
    try (Scope ignored = enqueue.makeCurrent()) {
      record = tracing.spanBuilder("QueueItem").setAttribute("queue", "check").begin();
    } finally {
      enqueue.end();
    }
    Files.write(file, record.toBytes());
    System.out.println("BEGAN " + record.getSpanContext().getTraceId() + " " + record.getSpanContext().getSpanId());
  }

  private static void end(Tracer tracer, DeferredTracing tracing, Path file) throws Exception {
    DeferredSpanRecord record = DeferredSpanRecord.fromBytes(Files.readAllBytes(file), file.toString());
    Span job = tracer.spanBuilder("Job")
        .setParent(Context.root().with(Span.wrap(record.getSpanContext())))
        .startSpan();
    job.end();

    // The record lives in a file, not in a store: ending it is this application's one public call.
    CompletableResultCode acknowledged =
        tracing.end(record, DeferredSpanEnding.builder().setAttribute("result", "SUCCESS").build());
    tracing.forceFlush().join(10, TimeUnit.SECONDS);
    if (!acknowledged.join(10, TimeUnit.SECONDS).isSuccess()) {
      throw new IllegalStateException("the exporter refused the deferred span");
    }
    System.out.println("ENDED " + record.getSpanContext().getSpanId());
  }
}
