package io.deferredspans.benchmarks.zk;

import io.deferredspans.benchmarks.RunOptions;
import io.deferredspans.benchmarks.report.FigureRow;
import io.deferredspans.benchmarks.report.Spread;
import io.deferredspans.benchmarks.report.Target;
import io.deferredspans.sdk.DeferredTracing;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;
import java.util.stream.IntStream;

/**
 * Figure 6a: begin+end throughput with 1, 2, 4, 8 concurrent clients (each its own ZooKeeper session and store),
 * against plain create+delete with as many clients in the same repetition.
 */
public final class ConcurrencyFigures {
  public static final String FIGURE = "6a. throughput vs concurrent clients";

  private ConcurrencyFigures() {}

  public static final String ENSEMBLE_FIGURE = "6c. throughput on a 3-server ensemble";

  public static List<FigureRow> run(String connectString, RunOptions options) throws Exception {
    return run(FIGURE, connectString, options);
  }

  /** The same measurement under another figure's name, e.g. against a 3-server ensemble. */
  public static List<FigureRow> run(String figure, String connectString, RunOptions options) throws Exception {
    List<Integer> counts = options.clientCounts();
    int maxClients = counts.stream().mapToInt(Integer::intValue).max().orElseThrow();
    DeferredTracing tracing = BenchTracing.withNoopExporter();
    List<BenchClient> clients = new ArrayList<>();
    ExecutorService threads = Executors.newFixedThreadPool(maxClients);
    try {
      QueueItems items = new QueueItems("/concurrency/items");
      for (int i = 0; i < maxClients; i++) {
        clients.add(BenchClient.connect(connectString, "/concurrency/deferred-spans", tracing));
      }
      items.createParent(clients.get(0).client);
      Function<BenchClient, QueueVariant> plain = c -> new PlainQueue(c.client, items);
      Function<BenchClient, QueueVariant> deferred =
          c -> new DeferredSpanQueue(c, items, DeferredSpanQueue.Begin.CALLER_TRANSACTION_WITH_BEGIN_OPS);
      // The realistic baseline: a consumer reads the item before it dequeues it; and ours with the same read.
      Function<BenchClient, QueueVariant> readingPlain = c -> new ReadingConsumer(plain.apply(c), c.client, items);
      Function<BenchClient, QueueVariant> readingDeferred =
          c -> new ReadingConsumer(deferred.apply(c), c.client, items);
      // Embedded mode's dequeue reads the item itself: its baseline is the realistic one, readingPlain.
      Function<BenchClient, QueueVariant> embedded = c -> new EmbeddedSpanQueue(c, items);
      // Its floor: the same ZooKeeper requests by hand, and the same with a claim per span (what the store sent
      // before one liveness znode per session replaced it), so that the change's gain stays measured.
      String bareBase = "/concurrency/bare";
      BareMultiQueue.embedded(clients.get(0).client, items, tracing, bareBase).createShards();
      Function<BenchClient, QueueVariant> bareEmbedded =
          c -> BareMultiQueue.embedded(c.client, items, tracing, bareBase);
      Function<BenchClient, QueueVariant> bareEmbeddedWithClaim =
          c -> BareMultiQueue.embeddedWithClaim(c.client, items, tracing, bareBase);
      List<Function<BenchClient, QueueVariant>> variants = List.of(
          plain, deferred, readingPlain, readingDeferred, embedded, bareEmbedded, bareEmbeddedWithClaim);
      List<Integer> order = IntStream.range(0, variants.size()).boxed().toList();

      double[][][] rate = new double[variants.size()][counts.size()][options.reps()];
      for (int rep = -options.warmupReps(); rep < options.reps(); rep++) {
        for (int level = 0; level < counts.size(); level++) {
          int n = counts.get(level);
          // Rotated, so that no variant always runs first (after a quiet spell) or last.
          for (int v : InterleavedRun.rotated(order, rep + level + options.warmupReps())) {
            double cycles = cyclesPerSecond(threads, clients.subList(0, n), variants.get(v), options);
            if (rep >= 0) {
              rate[v][level][rep] = cycles;
            }
          }
        }
      }
      double[][] plainRate = rate[0];
      double[][] deferredRate = rate[1];
      double[][] readingPlainRate = rate[2];
      double[][] readingDeferredRate = rate[3];
      double[][] embeddedRate = rate[4];
      double[][] bareEmbeddedRate = rate[5];
      double[][] bareWithClaimRate = rate[6];

      List<FigureRow> rows = new ArrayList<>();
      for (int level = 0; level < counts.size(); level++) {
        int n = counts.get(level);
        rows.add(FigureRow.ratio(figure, n + " clients: begin+end / plain create+delete throughput",
            Spread.ratios(deferredRate[level], plainRate[level]), Target.none(), "higher is better"));
        rows.add(FigureRow.ratio(figure, n + " clients: read+begin+end / read+create+delete throughput",
            Spread.ratios(readingDeferredRate[level], readingPlainRate[level]), Target.atLeast(0.9, ">= 0.9x"),
            "realistic queue: the consumer reads the item first"));
        rows.add(FigureRow.ratio(figure, n + " clients: embedded: begin+end / read+create+delete throughput",
            Spread.ratios(embeddedRate[level], readingPlainRate[level]), Target.atLeast(0.9, ">= 0.9x"),
            "embedded mode; its dequeue is the read + endEmbeddedSpan"));
        rows.add(FigureRow.ratio(figure, n + " clients: floor: embedded's requests by hand / read+create+delete",
            Spread.ratios(bareEmbeddedRate[level], readingPlainRate[level]), Target.none(),
            "ZooKeeper floor of embedded mode: no library code"));
        rows.add(FigureRow.ratio(figure, n + " clients: floor with a claim per span / read+create+delete",
            Spread.ratios(bareWithClaimRate[level], readingPlainRate[level]), Target.none(),
            "what a liveness znode per session could reach (not built)"));
        rows.add(FigureRow.ratio(figure, n + " clients: embedded / its floor",
            Spread.ratios(embeddedRate[level], bareEmbeddedRate[level]), Target.none(),
            "what the library costs beyond the requests it sends"));
        rows.add(FigureRow.ratio(figure, n + " clients: begin+end throughput / 1 client's",
            Spread.ratios(deferredRate[level], deferredRate[0]), Target.none(), "scaling; plain below"));
        rows.add(FigureRow.ratio(figure, n + " clients: plain throughput / 1 client's",
            Spread.ratios(plainRate[level], plainRate[0]), Target.none(), "ZooKeeper's own scaling"));
        rows.add(FigureRow.context(figure, "  abs: " + n + " clients begin+end", deferredRate[level], "cycles/s",
            options.cyclesPerConcurrencyRun() + " cycles per run, cleanup included"));
        rows.add(FigureRow.context(figure, "  abs: " + n + " clients plain create+delete", plainRate[level],
            "cycles/s", ""));
        rows.add(FigureRow.context(figure, "  abs: " + n + " clients read+begin+end", readingDeferredRate[level],
            "cycles/s", ""));
        rows.add(FigureRow.context(figure, "  abs: " + n + " clients read+create+delete", readingPlainRate[level],
            "cycles/s", "realistic baseline"));
        rows.add(FigureRow.context(figure, "  abs: " + n + " clients embedded begin+end", embeddedRate[level],
            "cycles/s", "create with record inside; read + endEmbeddedSpan"));
        rows.add(FigureRow.context(figure, "  abs: " + n + " clients bare embedded", bareEmbeddedRate[level],
            "cycles/s", "create; read + 2-op multi; cleanup per 100: sync, read, multi"));
        rows.add(FigureRow.context(figure, "  abs: " + n + " clients bare embedded with a claim per span",
            bareWithClaimRate[level], "cycles/s", "create; read + 3-op multi; cleanup per 100"));
      }
      return rows;
    } finally {
      threads.shutdownNow();
      clients.forEach(BenchClient::close);
      BenchTracing.shutdown(tracing);
    }
  }

  /** All clients enqueue and dequeue their share of the cycles at once; the clock stops when all settled. */
  private static double cyclesPerSecond(
      ExecutorService threads, List<BenchClient> clients, Function<BenchClient, QueueVariant> variantOf,
      RunOptions options) throws Exception {
    int perClient = Math.max(1, options.cyclesPerConcurrencyRun() / clients.size());
    List<Callable<Void>> work = new ArrayList<>();
    for (BenchClient client : clients) {
      QueueVariant variant = variantOf.apply(client);
      List<String> keys = QueueItems.freshKeys("cc", perClient);
      variant.prepare(keys);
      work.add(() -> {
        for (String key : keys) {
          variant.enqueue(key);
          variant.dequeue(key);
        }
        variant.awaitDequeuesSettled();
        return null;
      });
    }
    long start = System.nanoTime();
    for (Future<Void> done : threads.invokeAll(work)) {
      done.get();
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    return perClient * clients.size() / seconds;
  }
}
