package io.deferredspans.benchmarks.zk;

import io.deferredspans.benchmarks.RunOptions;
import io.deferredspans.benchmarks.report.FigureRow;
import io.deferredspans.benchmarks.report.Spread;
import io.deferredspans.benchmarks.report.Target;
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.LockSupport;

/**
 * Figure 7: from {@code endDeferredSpan} returning to the span arriving at an OTLP/HTTP receiver, through a
 * BatchSpanProcessor with a given schedule delay and a real OtlpHttpSpanExporter. Ordinary SDK spans ended
 * through the same pipeline, interleaved with the deferred ones, are the baseline. Ends are paced at random
 * intervals so they do not lock into the processor's timer.
 */
public final class ExportLatencyFigures {
  public static final String FIGURE = "7. end -> OTLP receiver latency";

  private ExportLatencyFigures() {}

  public static List<FigureRow> run(String connectString, RunOptions options) throws Exception {
    List<FigureRow> rows = new ArrayList<>();
    try (OtlpArrivals receiver = OtlpArrivals.start()) {
      for (Duration delay : options.scheduleDelays()) {
        rows.addAll(runWithDelay(connectString, receiver, delay, options));
      }
    }
    return rows;
  }

  private static List<FigureRow> runWithDelay(
      String connectString, OtlpArrivals receiver, Duration delay, RunOptions options) throws Exception {
    DeferredTracing tracing =
        BenchTracing.withExporter(OtlpHttpSpanExporter.builder().setEndpoint(receiver.endpoint()).build(), delay);
    String base = "/latency-" + delay.toMillis();
    double delayMillis = delay.toMillis();
    double[] deferredP50 = new double[options.latencyReps()];
    double[] deferredP99 = new double[options.latencyReps()];
    double[] sdkP50 = new double[options.latencyReps()];
    double[] sdkP99 = new double[options.latencyReps()];
    try (BenchClient host = BenchClient.connect(connectString, base + "/deferred-spans", tracing)) {
      QueueItems items = new QueueItems(base + "/items");
      items.createParent(host.client);
      for (int rep = 0; rep < options.latencyReps(); rep++) {
        Samples samples = measure(host, items, receiver, delay, options.latencySpansPerType());
        deferredP50[rep] = Spread.of(samples.deferredMillis).median() / delayMillis;
        deferredP99[rep] = percentile99(samples.deferredMillis) / delayMillis;
        sdkP50[rep] = Spread.of(samples.sdkMillis).median() / delayMillis;
        sdkP99[rep] = percentile99(samples.sdkMillis) / delayMillis;
      }
    } finally {
      BenchTracing.shutdown(tracing);
    }
    String at = " (delay " + delay.toMillis() + " ms)";
    String note = options.latencySpansPerType() + " spans of each kind per rep, " + options.latencyReps() + " reps";
    List<FigureRow> rows = new ArrayList<>();
    // The brief sets no target here: the delay itself is the yardstick, and SDK spans the baseline.
    rows.add(FigureRow.ratio(FIGURE, "deferred p50 / schedule delay" + at, deferredP50, Target.none(), note));
    rows.add(FigureRow.ratio(FIGURE, "deferred p99 / schedule delay" + at, deferredP99, Target.none(), ""));
    rows.add(FigureRow.ratio(FIGURE, "SDK span p50 / schedule delay" + at, sdkP50, Target.none(), "baseline"));
    rows.add(FigureRow.ratio(FIGURE, "SDK span p99 / schedule delay" + at, sdkP99, Target.none(), "baseline"));
    rows.add(FigureRow.ratio(FIGURE, "deferred p50 / SDK span p50" + at, Spread.ratios(deferredP50, sdkP50),
        Target.none(), ""));
    rows.add(FigureRow.context(FIGURE, "  abs: deferred p50" + at, scale(deferredP50, delayMillis), "ms", ""));
    rows.add(FigureRow.context(FIGURE, "  abs: deferred p99" + at, scale(deferredP99, delayMillis), "ms", ""));
    return rows;
  }

  private record Samples(double[] deferredMillis, double[] sdkMillis) {}

  /** Ends deferred and ordinary spans alternately, at random intervals, and times each to its arrival. */
  private static Samples measure(
      BenchClient host, QueueItems items, OtlpArrivals receiver, Duration delay, int perType)
      throws Exception {
    receiver.reset();
    List<String> keys = QueueItems.freshKeys("lat", perType);
    List<String> deferredIds = new ArrayList<>();
    for (String key : keys) { // begun before the clock runs: only the end is measured
      DeferredSpanRecord record = host.tracing.spanBuilder("QueueItem").setNoParent().begin();
      host.store.beginDeferredSpan(key, record, host.client.transactionOp().create().forPath(items.path(key), items.payload(key)));
      deferredIds.add(record.getSpanContext().getSpanId());
    }
    Map<String, Long> ended = new ConcurrentHashMap<>();
    Tracer tracer = host.tracing.getTracerProvider().orElseThrow().get("bench");
    long meanIntervalNanos = Math.max(5_000_000L, Math.min(25_000_000L, delay.toNanos() / 10));
    List<String> sdkIds = new ArrayList<>();
    long next = System.nanoTime();
    for (int i = 0; i < perType; i++) {
      next = pace(next, meanIntervalNanos);
      host.store.endDeferredSpan(keys.get(i), DeferredSpanEnding.now(),
          host.client.transactionOp().delete().forPath(items.path(keys.get(i))));
      ended.put(deferredIds.get(i), System.nanoTime());
      next = pace(next, meanIntervalNanos);
      Span span = tracer.spanBuilder("Ordinary").setNoParent().startSpan();
      span.end();
      ended.put(span.getSpanContext().getSpanId(), System.nanoTime());
      sdkIds.add(span.getSpanContext().getSpanId());
    }
    List<String> allIds = new ArrayList<>(deferredIds);
    allIds.addAll(sdkIds);
    Map<String, Long> arrived = receiver.await(allIds, delay.plusSeconds(10));
    return new Samples(latencies(deferredIds, ended, arrived), latencies(sdkIds, ended, arrived));
  }

  /** Waits until a random moment around {@code mean} after {@code previous}; returns that moment. */
  private static long pace(long previous, long meanNanos) {
    long next = previous + (long) (meanNanos * ThreadLocalRandom.current().nextDouble(0.5, 1.5));
    long wait = next - System.nanoTime();
    if (wait > 0) {
      LockSupport.parkNanos(wait);
    }
    return Math.max(next, System.nanoTime() - meanNanos); // when behind, do not try to catch up in a burst
  }

  private static double[] latencies(List<String> ids, Map<String, Long> ended, Map<String, Long> arrived) {
    double[] millis = new double[ids.size()];
    for (int i = 0; i < ids.size(); i++) {
      Long arrival = arrived.get(ids.get(i));
      if (arrival == null) {
        throw new IllegalStateException("span " + ids.get(i) + " never arrived at the receiver");
      }
      millis[i] = (arrival - ended.get(ids.get(i))) / 1e6;
    }
    return millis;
  }

  private static double percentile99(double[] values) {
    return Spread.quantile(values, 0.99);
  }

  private static double[] scale(double[] values, double factor) {
    double[] scaled = new double[values.length];
    for (int i = 0; i < values.length; i++) {
      scaled[i] = values[i] * factor;
    }
    return scaled;
  }
}
