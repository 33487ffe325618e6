package io.deferredspans.benchmarks.zk;

import io.deferredspans.benchmarks.RunOptions;
import io.deferredspans.benchmarks.report.FigureRow;
import io.deferredspans.benchmarks.report.Spread;
import io.deferredspans.benchmarks.report.Target;
import io.deferredspans.sdk.DeferredTracing;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.Tracer;
import java.util.ArrayList;
import java.util.IntSummaryStatistics;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.utils.ZKPaths;

/**
 * Figures 5 (client heap per open span) and 6b (cost per begin+end as open records grow). Opens spans the way an
 * application does (beginDeferredSpan with its item create), level by level, and at each level reads this JVM's
 * retained heap and times begin+end against plain create+delete. ZooKeeper runs in another JVM, so its heap,
 * which must grow with the records, is not counted here.
 */
public final class OpenRecordsFigures {
  public static final String HEAP = "5. client heap per open span";
  public static final String COST = "6b. cost per op vs open records";
  private static final String BASE = "/open-records/deferred-spans";
  static final int FILL_THREADS = 8;

  private OpenRecordsFigures() {}

  public static List<FigureRow> run(String connectString, RunOptions options) throws Exception {
    DeferredTracing tracing = BenchTracing.withNoopExporter();
    ExecutorService fillThreads = Executors.newFixedThreadPool(FILL_THREADS);
    try (BenchClient host = BenchClient.connect(connectString, BASE, tracing)) {
      QueueItems items = new QueueItems("/open-records/items");
      QueueItems fillItems = new QueueItems("/open-records/fill-items");
      items.createParent(host.client);
      fillItems.createParent(host.client);
      QueueVariant plain = new PlainQueue(host.client, items);
      QueueVariant deferred =
          new DeferredSpanQueue(host, items, DeferredSpanQueue.Begin.CALLER_TRANSACTION_WITH_BEGIN_OPS);
      QueueVariant opener = new DeferredSpanQueue(host, fillItems, DeferredSpanQueue.Begin.STORE_BEGIN_DEFERRED_SPAN);

      // Warm every path first, so class loading and JIT do not show up as heap or cost of the first level.
      timeCycles(List.of(plain, deferred), options, 2);
      int warmOpen = Math.min(200, options.openRecordLevels().get(0) / 2);
      int open = open(fillThreads, opener, warmOpen);
      double[] heapBefore = HeapProbe.readings(options.heapReadings());

      List<Integer> levels = options.openRecordLevels();
      double[][] deferredCost = new double[levels.size()][];
      double[][] plainCost = new double[levels.size()][];
      List<FigureRow> rows = new ArrayList<>();
      for (int level = 0; level < levels.size(); level++) {
        int target = levels.get(level);
        open += open(fillThreads, opener, target - open);
        double[] heapAfter = HeapProbe.readings(options.heapReadings());
        rows.add(FigureRow.context(HEAP, "retained heap per open span at " + target + " open",
            HeapProbe.bytesPer(heapBefore, heapAfter, target - warmOpen), "B/span",
            "after - before, full GCs, " + options.heapReadings() + " readings"));
        double[][] cost = timeCycles(List.of(plain, deferred), options, options.reps());
        plainCost[level] = cost[0];
        deferredCost[level] = cost[1];
      }
      int top = levels.get(levels.size() - 1);
      double[] heapAtTop = HeapProbe.readings(options.heapReadings());
      double[] perOpenSpan = HeapProbe.bytesPer(heapBefore, heapAtTop, top - warmOpen);
      rows.add(FigureRow.context(HEAP, "  abs: retained heap before opening", mib(heapBefore), "MiB", ""));
      rows.add(FigureRow.context(HEAP, "  abs: retained heap with " + top + " open", mib(heapAtTop), "MiB", ""));
      rows.add(new FigureRow(HEAP, "retained heap per open span (" + top + " open)", Spread.of(perOpenSpan),
          "B/span", Target.atMost(16, "~0 (<= 16 B/span)"), "state lives in ZooKeeper"));
      double[] sdkPerSpan = heldSdkSpanBytes(tracing, top, options.heapReadings());
      rows.add(FigureRow.context(HEAP, "baseline: in-process SDK span held open", sdkPerSpan, "B/span",
          top + " spans started, referenced from a list"));
      rows.add(FigureRow.ratio(HEAP, "deferred / in-process SDK span", Spread.ratios(perOpenSpan, sdkPerSpan),
          Target.none(), ""));

      for (int level = 0; level < levels.size(); level++) {
        rows.add(FigureRow.ratio(COST, "begin+end at " + levels.get(level) + " open / at " + levels.get(0),
            Spread.ratios(deferredCost[level], deferredCost[0]), Target.atMost(1.10, "flat (<= 1.10x)"), ""));
        rows.add(FigureRow.ratio(COST, "begin+end / plain create+delete at " + levels.get(level) + " open",
            Spread.ratios(deferredCost[level], plainCost[level]), Target.none(), "same rep"));
        rows.add(FigureRow.context(COST, "  abs: begin+end at " + levels.get(level), deferredCost[level],
            "us/cycle", options.batch() + " cycles per batch, cleanup included"));
      }
      rows.add(shardBalance(host.client, top));
      return rows;
    } finally {
      fillThreads.shutdownNow();
      BenchTracing.shutdown(tracing);
    }
  }

  /** Times enqueue+dequeue of the variants, interleaved; returns µs per cycle [variant][rep]. */
  private static double[][] timeCycles(List<QueueVariant> variants, RunOptions options, int reps) throws Exception {
    double[][] micros = new double[variants.size()][reps];
    for (int rep = 0; rep < reps; rep++) {
      Map<QueueVariant, InterleavedRun.Cost> costs = InterleavedRun.run(variants, options.batch(), rep);
      for (int v = 0; v < variants.size(); v++) {
        micros[v][rep] = costs.get(variants.get(v)).cycleMicros();
      }
    }
    return micros;
  }

  /** Begins {@code count} spans that stay open, from several threads so 100,000 take seconds, not minutes. */
  /** Opens {@code count} spans the way an application does, on {@value #FILL_THREADS} threads. */
  static int open(ExecutorService threads, QueueVariant opener, int count) throws Exception {
    List<String> keys = QueueItems.freshKeys("open", count);
    List<Callable<Void>> work = new ArrayList<>();
    for (int t = 0; t < FILL_THREADS; t++) {
      List<String> share = keys.subList(t * count / FILL_THREADS, (t + 1) * count / FILL_THREADS);
      work.add(() -> {
        for (String key : share) {
          opener.enqueue(key);
        }
        return null;
      });
    }
    for (Future<Void> done : threads.invokeAll(work)) {
      done.get();
    }
    return count;
  }

  /** What an in-process design pays: the same number of ordinary SDK spans started and kept until they end. */
  private static double[] heldSdkSpanBytes(DeferredTracing tracing, int count, int readings) {
    Tracer tracer = tracing.getTracerProvider().orElseThrow().get("bench");
    double[] before = HeapProbe.readings(readings);
    List<Span> held = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      held.add(tracer.spanBuilder("QueueItem").setNoParent().setAttribute("owner", "/items/or-" + i).startSpan());
    }
    double[] after = HeapProbe.readings(readings);
    double[] perSpan = HeapProbe.bytesPer(before, after, count);
    held.clear();
    return perSpan;
  }

  /** Confirms the 256-way sharding: how the open records spread over the shard znodes. */
  private static FigureRow shardBalance(CuratorFramework client, int openRecords) throws Exception {
    String openRoot = ZKPaths.makePath(BASE, "open");
    List<String> shards = client.getChildren().forPath(openRoot);
    IntSummaryStatistics perShard = new IntSummaryStatistics();
    double[] counts = new double[shards.size()];
    for (int i = 0; i < shards.size(); i++) {
      counts[i] = client.getChildren().forPath(ZKPaths.makePath(openRoot, shards.get(i))).size();
      perShard.accept((int) counts[i]);
    }
    return FigureRow.context(COST, "records per shard (" + shards.size() + " shards, " + perShard.getSum() + " open)",
        counts, "records", "spread = min/max over shards; mean " + openRecords / Math.max(1, shards.size()));
  }

  private static double[] mib(double[] bytes) {
    double[] mib = new double[bytes.length];
    for (int i = 0; i < bytes.length; i++) {
      mib[i] = bytes[i] / (1024 * 1024);
    }
    return mib;
  }
}
