package io.deferredspans.benchmarks.zk;

import io.deferredspans.benchmarks.RunOptions;
import io.deferredspans.benchmarks.report.FigureRow;
import io.deferredspans.benchmarks.report.Spread;
import io.deferredspans.benchmarks.report.Target;
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.store.DeferredSpanRecovery;
import io.deferredspans.store.DeferredSpanStore;
import io.deferredspans.store.DeferredSpanStoreLayout;
import io.deferredspans.store.EndResult;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.data.Stat;

/**
 * Figure 8: the recovery leader's background load on ZooKeeper, at each number of idle open spans. The baseline
 * is one full scan ({@code scanNow()}, what the worker used to do every 10 s), counted in the same run; the
 * measured worker runs with default settings except a 1 s tick (the sweep's pacing makes the tick length
 * irrelevant to its read rate; shorter ticks only make a short window representative).
 */
public final class RecoveryLoadFigures {
  public static final String FIGURE = "8. recovery background load";
  private static final String BASE = "/recovery-load/deferred-spans";
  private static final Duration OLD_SCAN_INTERVAL = Duration.ofSeconds(10);

  private RecoveryLoadFigures() {}

  public static List<FigureRow> run(String connectString, RunOptions options) throws Exception {
    DeferredTracing tracing = BenchTracing.withNoopExporter();
    ExecutorService fillThreads = Executors.newFixedThreadPool(OpenRecordsFigures.FILL_THREADS);
    List<FigureRow> rows = new ArrayList<>();
    try (BenchClient host = BenchClient.connect(connectString, BASE, tracing)) {
      QueueItems items = new QueueItems("/recovery-load/items");
      items.createParent(host.client);
      QueueVariant opener = new DeferredSpanQueue(host, items, DeferredSpanQueue.Begin.STORE_BEGIN_DEFERRED_SPAN);
      int open = 0;
      for (int target : options.openRecordLevels()) {
        open += OpenRecordsFigures.open(fillThreads, opener, target - open);
        rows.addAll(level(host, target, options.recoveryWindow(), connectString, opener, items));
      }
    } finally {
      fillThreads.shutdownNow();
    }
    return rows;
  }

  private static List<FigureRow> level(BenchClient host, int open, Duration window, String connectString,
      QueueVariant opener, QueueItems items) throws Exception {
    try (DeferredSpanRecovery recovery =
        DeferredSpanRecovery.builder(host.store).scanInterval(Duration.ofSeconds(1)).build()) {
      long before = host.store.stats().recoveryReads();
      recovery.scanNow();
      double fullScanReads = host.store.stats().recoveryReads() - before;
      double oldReadsPerSecond = fullScanReads / OLD_SCAN_INTERVAL.toSeconds();

      recovery.start();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!recovery.hasLeadership() && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      // Past the new leader's full scan of finished spans and the sweep's first shard.
      Thread.sleep(Math.min(10_000, window.toMillis()));
      long reads0 = host.store.stats().recoveryReads();
      long cpu0 = recoveryThreadCpuNanos();
      long t0 = System.nanoTime();
      Thread.sleep(window.toMillis());
      double seconds = (System.nanoTime() - t0) / 1e9;
      double readsPerSecond = (host.store.stats().recoveryReads() - reads0) / seconds;
      double cpuMillisPerSecond = (recoveryThreadCpuNanos() - cpu0) / 1e6 / seconds;

      double[] takeoverMillis = takeovers(host, connectString, opener, items, open);

      String at = " at " + open + " open";
      return List.of(
          FigureRow.context(FIGURE, "host's session ends -> recovery holds its finished span" + at, takeoverMillis,
              "ms", "after the session ends; a crash adds the session timeout. " + takeoverMillis.length + " hosts"),
          FigureRow.context(FIGURE, "baseline: one full scan's reads" + at, new double[] {fullScanReads}, "reads",
              "the old worker did this every 10 s: " + Math.round(oldReadsPerSecond) + " reads/s"),
          FigureRow.context(FIGURE, "background reads" + at, new double[] {readsPerSecond}, "reads/s",
              "default sweep (1 h, <= 100 reads/s), " + window.toSeconds() + " s window"),
          new FigureRow(FIGURE, "background reads per 1,000 open spans" + at,
              Spread.of(readsPerSecond * 1_000 / open), "reads/s", Target.atMost(1, "<= 1"), ""),
          FigureRow.ratio(FIGURE, "background reads / old full scan every 10 s" + at,
              new double[] {readsPerSecond / oldReadsPerSecond}, Target.none(), ""),
          FigureRow.context(FIGURE, "leader CPU" + at, new double[] {cpuMillisPerSecond}, "ms/s",
              "the recovery thread's CPU time per second"));
    }
  }

  /**
   * How long after an ending host's session ends the leader holds its finished span (claimed, handed to the
   * leader's exporter): the watch reports the vanished liveness node, whatever the number of open spans. The host's
   * pipeline never exports (an hour's batch delay), as a host that dies between end and export.
   */
  private static double[] takeovers(BenchClient leader, String connectString, QueueVariant opener,
      QueueItems items, int open) throws Exception {
    DeferredSpanStoreLayout layout = DeferredSpanStoreLayout.of(BASE);
    long leaderSession = leader.client.getZookeeperClient().getZooKeeper().getSessionId();
    double[] millis = new double[5];
    for (int i = 0; i < millis.length; i++) {
      String key = "takeover-" + open + "-" + i;
      opener.enqueue(key);
      DeferredTracing tracing = BenchTracing.withNoopExporter();
      CuratorFramework client =
          CuratorFrameworkFactory.newClient(connectString, 30_000, 10_000, new ExponentialBackoffRetry(100, 3));
      client.start();
      client.blockUntilConnected(30, TimeUnit.SECONDS);
      DeferredSpanStore store = DeferredSpanStore.builder(client, tracing).basePath(BASE)
          .shutdownTimeout(Duration.ofSeconds(1)).build();
      store.start();
      EndResult end = store.endDeferredSpan(key, DeferredSpanEnding.now(),
          client.transactionOp().delete().forPath(items.path(key)));
      String claim = ZKPaths.makePath(layout.endedPath(end.getSpan().orElseThrow().getRecord().getSpanContext()
          .getSpanId()), DeferredSpanStoreLayout.CLAIM);
      long died = System.nanoTime();
      client.close(); // the session ends now, and its liveness node (its hold on the span) with it
      long deadline = died + TimeUnit.SECONDS.toNanos(60);
      while (System.nanoTime() < deadline) {
        Stat stat = leader.client.checkExists().forPath(claim);
        if (stat != null && stat.getEphemeralOwner() == leaderSession) {
          break;
        }
        Thread.sleep(1);
      }
      millis[i] = (System.nanoTime() - died) / 1e6;
      store.close();
      BenchTracing.shutdown(tracing);
    }
    return millis;
  }

  private static long recoveryThreadCpuNanos() {
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    long total = 0;
    for (Thread thread : Thread.getAllStackTraces().keySet()) {
      if (thread.getName().startsWith("deferred-span-recovery")) {
        total += Math.max(0, threads.getThreadCpuTime(thread.getId()));
      }
    }
    return total;
  }
}
