package io.deferredspans.benchmarks.cpu;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.FinishedDeferredSpan;
import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import io.deferredspans.sdk.internal.DeferredTracingUtil;
import io.deferredspans.sdk.internal.ExportListener;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Setup;

/**
 * The end path of {@link EndPathBenchmark} one step at a time, to see where its time goes. Not part of the
 * published figures (run it by hand: {@code java -cp ... org.openjdk.jmh.Main EndPathBreakdownBenchmark}).
 */
public class EndPathBreakdownBenchmark extends EndPathBenchmark {
  DeferredSpanRecord decoded;
  FinishedDeferredSpan finished;

  @Setup
  public void setUpSteps() {
    decoded = DeferredSpanRecordCodec.decodeRecord(storedRecord, OWNER);
    finished = DeferredTracingUtil.finish(tracing, decoded, DeferredSpanEnding.now());
  }

  @Benchmark
  public DeferredSpanRecord stepDecode() {
    return DeferredSpanRecordCodec.decodeRecord(storedRecord, OWNER);
  }

  @Benchmark
  public FinishedDeferredSpan stepFinish() {
    return DeferredTracingUtil.finish(tracing, decoded, DeferredSpanEnding.now());
  }

  @Benchmark
  public FinishedDeferredSpan stepExport() {
    DeferredTracingUtil.export(tracing, finished, ExportListener.ignoring());
    return finished;
  }
}
