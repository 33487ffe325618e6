package io.deferredspans.benchmarks.cpu;

import io.deferredspans.benchmarks.zk.BenchTracing;
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.sdk.FinishedDeferredSpan;
import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import io.deferredspans.sdk.internal.DeferredTracingUtil;
import io.deferredspans.sdk.internal.ExportListener;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Figure 3: the CPU the begin and end paths cost without ZooKeeper, next to an ordinary SDK span through the
 * very same span processor and exporter.
 *
 * <p>The processor is a SimpleSpanProcessor in front of an exporter that accepts everything, wrapped the way
 * {@code DeferredTracingBuilder.addSpanExporter} wraps it in production (per-span acknowledgement). A
 * BatchSpanProcessor would be the usual choice, but a benchmark loop outruns its worker and it then drops spans,
 * which makes both sides cheaper by an amount that depends on timing, and leaves deferred spans waiting for an
 * acknowledgement that never comes.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class EndPathBenchmark {
  static final String SPAN_NAME = "QueueItem";
  static final String OWNER = "/queue/items/item-0000012345";

  DeferredTracing tracing;
  Tracer tracer;
  byte[] storedRecord;

  @Setup
  public void setUp() {
    tracing =
        DeferredTracing.builder()
            .setHostName("bench-host-1")
            .addSpanExporter(BenchTracing.acceptingExporter(), SimpleSpanProcessor::create)
            .build();
    tracer = tracing.getTracerProvider().orElseThrow().get("bench");
    storedRecord = DeferredSpanRecordCodec.encode(
        tracing.spanBuilder(SPAN_NAME).setNoParent().setOwner(OWNER).begin());
  }

  @TearDown
  public void tearDown() {
    tracing.getTracerProvider().orElseThrow().shutdown().join(10, TimeUnit.SECONDS);
  }

  /** Baseline of the end path: an ordinary span started and ended through the same processor. */
  @Benchmark
  public Span sdkSpanStartEnd() {
    Span span = tracer.spanBuilder(SPAN_NAME).setNoParent().startSpan();
    span.end();
    return span;
  }

  /** The end path as the brief defines it: decode the stored bytes, finish, export. */
  @Benchmark
  public FinishedDeferredSpan deferredDecodeFinishExport() {
    DeferredSpanRecord record = DeferredSpanRecordCodec.decodeRecord(storedRecord, OWNER);
    FinishedDeferredSpan finished = DeferredTracingUtil.finish(tracing, record, DeferredSpanEnding.now());
    DeferredTracingUtil.export(tracing, finished, ExportListener.ignoring());
    return finished;
  }

  /** The end path as the store runs it: it also encodes the finished span it keeps until the export is acked. */
  @Benchmark
  public byte[] deferredDecodeFinishEncodeExport() {
    DeferredSpanRecord record = DeferredSpanRecordCodec.decodeRecord(storedRecord, OWNER);
    FinishedDeferredSpan finished = DeferredTracingUtil.finish(tracing, record, DeferredSpanEnding.now());
    byte[] stored = DeferredSpanRecordCodec.encode(finished);
    DeferredTracingUtil.export(tracing, finished, ExportListener.ignoring());
    return stored;
  }

  /** Baseline of the begin path: an ordinary span started (sampling decision, IDs, start time). */
  @Benchmark
  public Span sdkSpanStart() {
    return tracer.spanBuilder(SPAN_NAME).setNoParent().startSpan();
  }

  /** The begin path: sampling decision, IDs, start time, and the bytes to store. */
  @Benchmark
  public byte[] deferredBeginEncode() {
    return DeferredSpanRecordCodec.encode(tracing.spanBuilder(SPAN_NAME).setNoParent().setOwner(OWNER).begin());
  }
}
