package io.deferredspans.benchmarks.zk;

import io.deferredspans.benchmarks.RunOptions;
import io.deferredspans.benchmarks.report.FigureRow;
import io.deferredspans.benchmarks.report.Spread;
import io.deferredspans.benchmarks.report.Target;
import io.deferredspans.sdk.DeferredTracing;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Figures 1 (begin piggy-backed on an enqueue) and 2 (end piggy-backed on a dequeue, durable-export cleanup
 * included). Each repetition runs every variant on a fresh batch of keys, interleaved operation by operation
 * ({@link InterleavedRun}), so that noise from the shared machine hits the variants alike; the ratios are taken
 * within a repetition.
 */
public final class LifecycleFigures {
  public static final String BEGIN = "1. begin piggy-backed on enqueue";
  public static final String END = "2. end piggy-backed on dequeue";

  private LifecycleFigures() {}

  public static List<FigureRow> run(String connectString, RunOptions options) throws Exception {
    DeferredTracing tracing = BenchTracing.withNoopExporter();
    // beginDeferredSpan gets a host of its own: each variant's settle must flush and clean up only its own spans.
    DeferredTracing storeTracing = BenchTracing.withNoopExporter();
    DeferredTracing embeddedTracing = BenchTracing.withNoopExporter();
    DeferredTracing readingTracing = BenchTracing.withNoopExporter();
    try (BenchClient host = BenchClient.connect(connectString, "/lifecycle/deferred-spans", tracing);
        BenchClient storeHost = BenchClient.connect(connectString, "/lifecycle/deferred-spans", storeTracing);
        BenchClient embeddedHost =
            BenchClient.connect(connectString, "/lifecycle/deferred-spans", embeddedTracing);
        BenchClient readingHost = BenchClient.connect(connectString, "/lifecycle/deferred-spans", readingTracing)) {
      QueueItems items = new QueueItems("/lifecycle/items");
      items.createParent(host.client);
      BareMultiQueue bare = new BareMultiQueue(host.client, items, tracing, "/lifecycle/bare");
      bare.createShards();
      BareMultiQueue bareEmbedded = BareMultiQueue.embedded(host.client, items, tracing, "/lifecycle/bare");
      BareMultiQueue bareWithClaim =
          BareMultiQueue.embeddedWithClaim(host.client, items, tracing, "/lifecycle/bare");
      PlainQueue plain = new PlainQueue(host.client, items);
      PlainQueue transaction = PlainQueue.inOneOpTransactions(host.client, items);
      DeferredSpanQueue withBeginOps =
          new DeferredSpanQueue(host, items, DeferredSpanQueue.Begin.CALLER_TRANSACTION_WITH_BEGIN_OPS);
      DeferredSpanQueue withStoreBegin =
          new DeferredSpanQueue(storeHost, items, DeferredSpanQueue.Begin.STORE_BEGIN_DEFERRED_SPAN);
      // A real consumer reads the item before it dequeues it: the realistic baseline, and ours with the same read.
      ReadingConsumer readingPlain = new ReadingConsumer(plain, host.client, items);
      // Its own host too: sharing withBeginOps' store, whichever settled first waited for both variants' cleanup.
      ReadingConsumer readingDeferred = new ReadingConsumer(
          new DeferredSpanQueue(readingHost, items, DeferredSpanQueue.Begin.CALLER_TRANSACTION_WITH_BEGIN_OPS),
          readingHost.client, items);
      // Embedded mode's dequeue reads the item itself (it needs the record's bytes): compare with readingPlain.
      EmbeddedSpanQueue embedded = new EmbeddedSpanQueue(embeddedHost, items);
      List<QueueVariant> variants = List.of(plain, transaction, bare, withBeginOps, withStoreBegin, readingPlain,
          readingDeferred, embedded, bareEmbedded, bareWithClaim);

      Map<QueueVariant, double[]> begin = new LinkedHashMap<>();
      Map<QueueVariant, double[]> end = new LinkedHashMap<>();
      variants.forEach(v -> {
        begin.put(v, new double[options.reps()]);
        end.put(v, new double[options.reps()]);
      });
      for (int rep = -options.warmupReps(); rep < options.reps(); rep++) {
        Map<QueueVariant, InterleavedRun.Cost> costs =
            InterleavedRun.run(variants, options.batch(), rep + options.warmupReps());
        if (rep >= 0) {
          for (QueueVariant variant : variants) {
            begin.get(variant)[rep] = costs.get(variant).enqueueMicros();
            end.get(variant)[rep] = costs.get(variant).dequeueMicros();
          }
        }
      }

      List<FigureRow> rows = new ArrayList<>();
      String batchNote = options.batch() + " ops per batch, " + options.reps() + " reps";
      rows.add(FigureRow.ratio(BEGIN, "item+beginOps txn / 1-op txn create",
          Spread.ratios(begin.get(withBeginOps), begin.get(transaction)), Target.atMost(1.10, "<= 1.10x"),
          "includes spanBuilder.begin() and encoding"));
      rows.add(FigureRow.ratio(BEGIN, "item+beginOps txn / plain client.create()",
          Spread.ratios(begin.get(withBeginOps), begin.get(plain)), Target.atMost(1.10, "<= 1.10x"), ""));
      rows.add(FigureRow.ratio(BEGIN, "item+beginOps txn / bare 2-op txn, same bytes",
          Spread.ratios(begin.get(withBeginOps), begin.get(bare)), Target.atMost(1.05, "<= 1.05x (within 5%)"),
          "our code's overhead over ZooKeeper's"));
      rows.add(FigureRow.ratio(BEGIN, "beginDeferredSpan(item op) / 1-op txn create",
          Spread.ratios(begin.get(withStoreBegin), begin.get(transaction)), Target.none(),
          "store runs the txn on its call thread (timeout guard)"));
      rows.add(FigureRow.ratio(BEGIN, "bare 2-op txn / 1-op txn create (ZooKeeper floor)",
          Spread.ratios(begin.get(bare), begin.get(transaction)), Target.none(), "no library code"));
      rows.add(FigureRow.ratio(BEGIN, "embedded begin (item create with the record inside) / plain client.create()",
          Spread.ratios(begin.get(embedded), begin.get(plain)), Target.atMost(1.10, "<= 1.10x"),
          "includes spanBuilder.begin() and toBytes(); no op of ours"));
      rows.add(FigureRow.ratio(BEGIN, "bare create of item with record inside / plain client.create() (floor)",
          Spread.ratios(begin.get(bareEmbedded), begin.get(plain)), Target.none(),
          "no library code; only the item's bytes differ"));
      // The reading consumers enqueue exactly as the variants they wrap: no begin figure of their own.
      begin.keySet().removeIf(variant -> variant instanceof ReadingConsumer);
      addAbsolute(rows, BEGIN, begin, batchNote);

      rows.add(FigureRow.ratio(END, "endDeferredSpan+cleanup / plain client.delete()",
          Spread.ratios(end.get(withBeginOps), end.get(plain)), Target.atMost(2.0, "<= 2.0x"),
          "getData + 4-op multi + later batched cleanup multi"));
      rows.add(FigureRow.ratio(END, "bare same ops / plain client.delete() (ZooKeeper floor)",
          Spread.ratios(end.get(bare), end.get(plain)), Target.none(), "no library code"));
      rows.add(FigureRow.ratio(END, "endDeferredSpan+cleanup / bare same ops",
          Spread.ratios(end.get(withBeginOps), end.get(bare)), Target.none(), "our code's overhead"));
      rows.add(FigureRow.ratio(END, "read item + endDeferredSpan+cleanup / read item + plain delete",
          Spread.ratios(end.get(readingDeferred), end.get(readingPlain)), Target.atMost(1.3, "<= 1.3x"),
          "realistic dequeue: the consumer reads the item first"));
      rows.add(FigureRow.ratio(END, "read item + plain delete / plain client.delete()",
          Spread.ratios(end.get(readingPlain), end.get(plain)), Target.none(), "what the consumer's read costs"));
      rows.add(FigureRow.ratio(END, "read item + endEmbeddedSpan + cleanup / read item + plain delete",
          Spread.ratios(end.get(embedded), end.get(readingPlain)), Target.atMost(1.3, "<= 1.3x"),
          "embedded mode, realistic dequeue: getData + 2-op multi + later batched cleanup multi"));
      rows.add(FigureRow.ratio(END, "bare embedded same ops / read item + plain delete (ZooKeeper floor)",
          Spread.ratios(end.get(bareEmbedded), end.get(readingPlain)), Target.none(),
          "getData + 2-op multi + cleanup as the store sends it, no library code"));
      rows.add(FigureRow.ratio(END, "bare embedded with a claim per span / read item + plain delete",
          Spread.ratios(end.get(bareWithClaim), end.get(readingPlain)), Target.none(),
          "getData + 3-op multi + cleanup: the floor of the design before the liveness node"));
      rows.add(FigureRow.ratio(END, "read item + endEmbeddedSpan + cleanup / bare embedded same ops",
          Spread.ratios(end.get(embedded), end.get(bareEmbedded)), Target.none(), "our code's overhead"));
      rows.add(FigureRow.ratio(END, "read item + endEmbeddedSpan + cleanup / read item + endDeferredSpan + cleanup",
          Spread.ratios(end.get(embedded), end.get(readingDeferred)), Target.none(), "embedded vs standard mode"));
      rows.add(FigureRow.ratio(END, "endDeferredSpan+cleanup / 1-op txn delete",
          Spread.ratios(end.get(withBeginOps), end.get(transaction)), Target.none(), ""));
      addAbsolute(rows, END, end, batchNote);
      return rows;
    } finally {
      BenchTracing.shutdown(tracing);
      BenchTracing.shutdown(storeTracing);
      BenchTracing.shutdown(embeddedTracing);
      BenchTracing.shutdown(readingTracing);
    }
  }

  private static void addAbsolute(
      List<FigureRow> rows, String figure, Map<QueueVariant, double[]> micros, String note) {
    for (Map.Entry<QueueVariant, double[]> entry : micros.entrySet()) {
      rows.add(FigureRow.context(figure, "  abs: " + entry.getKey().name(), entry.getValue(), "us/op", note));
    }
  }
}
