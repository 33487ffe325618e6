package io.deferredspans.benchmarks.zk;

import io.deferredspans.benchmarks.RunOptions;
import io.deferredspans.benchmarks.report.FigureRow;
import io.deferredspans.benchmarks.report.Spread;
import io.deferredspans.benchmarks.report.Target;
import io.deferredspans.sdk.DeferredTracing;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Figure 9: what an open span costs the ZooKeeper server's heap (its record and marker), against what the
 * application's own queue item costs there, both opened in this run; and an item with its span embedded (the
 * record's bytes inside the item's own data, {@link EmbeddedSpanQueue}). Heap is read from the server's JVM with
 * {@code jcmd GC.run} then {@code GC.heap_info}, several times, so garbage does not count.
 */
public final class ServerHeapFigures {
  public static final String FIGURE = "9. ZooKeeper server heap per open span";
  private static final String BASE = "/server-heap/deferred-spans";
  private static final Pattern USED = Pattern.compile("used (\\d+)K");

  private ServerHeapFigures() {}

  public static List<FigureRow> run(ChildZooKeeper zookeeper, RunOptions options) throws Exception {
    int count = options.openRecordLevels().get(options.openRecordLevels().size() - 1);
    int readings = options.heapReadings();
    DeferredTracing tracing = BenchTracing.withNoopExporter();
    ExecutorService fillThreads = Executors.newFixedThreadPool(OpenRecordsFigures.FILL_THREADS);
    try (BenchClient host = BenchClient.connect(zookeeper.connectString(), BASE, tracing)) {
      QueueItems plainItems = new QueueItems("/server-heap/plain-items");
      QueueItems spanItems = new QueueItems("/server-heap/span-items");
      // As long a parent path as the plain items': the per-item cost differs only by the data.
      QueueItems embeddedItems = new QueueItems("/server-heap/embed-items");
      plainItems.createParent(host.client);
      spanItems.createParent(host.client);
      embeddedItems.createParent(host.client);
      double[] before = usedBytes(zookeeper.pid(), readings);
      OpenRecordsFigures.open(fillThreads, new PlainQueue(host.client, plainItems), count);
      double[] withItems = usedBytes(zookeeper.pid(), readings);
      OpenRecordsFigures.open(fillThreads, new DeferredSpanQueue(host, spanItems,
          DeferredSpanQueue.Begin.STORE_BEGIN_DEFERRED_SPAN), count);
      double[] withSpans = usedBytes(zookeeper.pid(), readings);
      OpenRecordsFigures.open(fillThreads, new EmbeddedSpanQueue(host, embeddedItems), count);
      double[] withEmbedded = usedBytes(zookeeper.pid(), readings);

      double[] perItem = HeapProbe.bytesPer(before, withItems, count);
      double[] perItemWithSpan = HeapProbe.bytesPer(withItems, withSpans, count);
      double[] perItemEmbedded = HeapProbe.bytesPer(withSpans, withEmbedded, count);
      double[] perSpan = new double[perItem.length];
      for (int i = 0; i < perSpan.length; i++) {
        perSpan[i] = perItemWithSpan[i] - perItem[i];
      }
      List<FigureRow> rows = new ArrayList<>();
      rows.add(FigureRow.context(FIGURE, "baseline: server heap per plain queue item (" + count + ")", perItem,
          "B/item", "the application's own znode, ~40 B of data"));
      rows.add(FigureRow.context(FIGURE, "server heap per item with its deferred span (" + count + ")",
          perItemWithSpan, "B/item", "item + record + marker"));
      rows.add(new FigureRow(FIGURE, "server heap per open span, record + marker", Spread.of(perSpan), "B/span",
          Target.none(), "the difference of the two above"));
      rows.add(FigureRow.ratio(FIGURE, "item with span / plain item", Spread.ratios(perItemWithSpan, perItem),
          Target.none(), ""));
      rows.add(FigureRow.context(FIGURE, "server heap per item with its span embedded (" + count + ")",
          perItemEmbedded, "B/item", "one znode: the item's payload + newline + record bytes"));
      rows.add(FigureRow.ratio(FIGURE, "item with embedded span / plain item",
          Spread.ratios(perItemEmbedded, perItem), Target.atMost(2.0, "<= 2x"), "same payload, plus the record"));
      return rows;
    } finally {
      fillThreads.shutdownNow();
    }
  }

  /** The server JVM's used heap after a full GC, {@code readings} times. */
  private static double[] usedBytes(long pid, int readings) throws IOException, InterruptedException {
    double[] used = new double[Math.max(1, readings)];
    for (int i = 0; i < used.length; i++) {
      jcmd(pid, "GC.run");
      Matcher matcher = USED.matcher(jcmd(pid, "GC.heap_info"));
      if (!matcher.find()) {
        throw new IOException("no 'used NK' in jcmd GC.heap_info of " + pid);
      }
      used[i] = Long.parseLong(matcher.group(1)) * 1024.0;
    }
    return used;
  }

  private static String jcmd(long pid, String command) throws IOException, InterruptedException {
    Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    Process process = new ProcessBuilder(jcmd.toString(), Long.toString(pid), command).redirectErrorStream(true)
        .start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
      throw new IOException("jcmd " + pid + " " + command + " failed: " + output);
    }
    return output;
  }
}
