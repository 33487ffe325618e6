package io.deferredspans.cli;

import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.store.DeferredSpanStore;
import java.io.File;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.test.TestingServer;
import org.apache.zookeeper.KeeperException;

/**
 * The figure of docs/benchmarks.md for {@code deferred-spans list}: a real ZooKeeper (in this JVM) holding N open
 * spans, and the shaded jar run as an operator runs it, in a fresh JVM, printing every row (to /dev/null). Prints
 * one table row per N: wall time of the whole command (JVM start included; median of 3), the time the listing
 * itself took, the ZooKeeper reads it made and the requests they went in, as the command reports them with
 * {@code --timing}; and the wall time of {@code stats} (median of 3), which reads every open record too.
 *
 * <p>Usage: {@code ListBenchmark JAR [--baseline=JAR] N...} (see benchmarks/list-open-spans): with a baseline jar
 * (e.g. the last release's), every run lists with both in turn and a ratio row follows (this / baseline, median of
 * the runs' ratios).
 */
public final class ListBenchmark {
  private static final int RUNS = 3;

  private ListBenchmark() {}

  public static void main(String[] args) throws Exception {
    String jar = args[0];
    System.setProperty("zookeeper.forceSync", "no"); // filling is not what is measured
    File data = Files.createTempDirectory("list-benchmark").toFile();
    try (TestingServer zookeeper = new TestingServer(-1, data);
        CuratorFramework client = CuratorFrameworkFactory.newClient(
            zookeeper.getConnectString(), new ExponentialBackoffRetry(100, 3))) {
      client.start();
      client.blockUntilConnected(30, TimeUnit.SECONDS);
      DeferredTracing tracing = DeferredTracing.builder().setHostName("scheduler-1").build();
      DeferredSpanStore store = DeferredSpanStore.builder(client, tracing).build();
      store.start();
      List<String> jars = new ArrayList<>(List.of(jar));
      int firstCount = 1;
      if (args.length > 1 && args[1].startsWith("--baseline=")) {
        jars.add(args[1].substring("--baseline=".length()));
        firstCount = 2;
      }
      System.out.printf(Locale.ROOT, "%-12s %-9s %-22s %-22s %-16s %-10s %s%n", "open spans", "jar",
          "list, wall (JVM incl.)", "listing (--timing)", "ZooKeeper reads", "requests", "stats, wall (JVM incl.)");
      int open = 0;
      for (int i = firstCount; i < args.length; i++) {
        int target = Integer.parseInt(args[i]);
        fill(client, tracing, store, open, target);
        open = target;
        // Every run lists with each jar in turn (alternating which goes first), so that a baseline jar's figures
        // and this jar's are taken within the same seconds of a machine whose load moves.
        long[][][] listed = new long[jars.size()][RUNS][];
        long[][] stats = new long[jars.size()][RUNS];
        for (int run = 0; run < RUNS; run++) {
          for (int k = 0; k < jars.size(); k++) {
            int j = run % 2 == 0 ? k : jars.size() - 1 - k;
            listed[j][run] = list(jars.get(j), zookeeper.getConnectString(), target);
            stats[j][run] = stats(jars.get(j), zookeeper.getConnectString());
          }
        }
        for (int j = 0; j < jars.size(); j++) {
          long[] median = Arrays.stream(listed[j]).sorted((a, b) -> Long.compare(a[0], b[0])).toList().get(RUNS / 2);
          System.out.printf(Locale.ROOT, "%,-12d %-9s %-22s %-22s %,-16d %-10s %,d ms%n", target,
              j == 0 ? "this" : "baseline", String.format(Locale.ROOT, "%,d ms", median[0]),
              String.format(Locale.ROOT, "%,d ms", median[1]), median[2],
              median[3] < 0 ? "-" : String.format(Locale.ROOT, "%,d", median[3]), median(stats[j]));
        }
        if (jars.size() == 2) {
          double[] wall = new double[RUNS];
          double[] listing = new double[RUNS];
          double[] stat = new double[RUNS];
          for (int run = 0; run < RUNS; run++) {
            wall[run] = (double) listed[0][run][0] / listed[1][run][0];
            listing[run] = (double) listed[0][run][1] / Math.max(1, listed[1][run][1]);
            stat[run] = (double) stats[0][run] / stats[1][run];
          }
          System.out.printf(Locale.ROOT, "%,-12d %-9s %-22s %-22s %-16s %-10s %.2fx%n", target, "ratio",
              String.format(Locale.ROOT, "%.2fx", median(wall)), String.format(Locale.ROOT, "%.2fx",
                  median(listing)), "", "", median(stat));
        }
        System.out.printf(Locale.ROOT, "  (load average %s)%n",
            Files.readString(java.nio.file.Path.of("/proc/loadavg")).split(" ", 4)[0]);
      }
      store.close();
    }
  }

  private static long median(long[] values) {
    return Arrays.stream(values).sorted().toArray()[values.length / 2];
  }

  private static double median(double[] values) {
    return Arrays.stream(values).sorted().toArray()[values.length / 2];
  }

  /** Begins spans {@code from} to {@code to} with every begin transaction in flight at once, 1,000 at a time. */
  private static void fill(CuratorFramework client, DeferredTracing tracing, DeferredSpanStore store, int from,
      int to) throws Exception {
    Semaphore inFlight = new Semaphore(1_000);
    AtomicReference<KeeperException.Code> failure = new AtomicReference<>();
    for (int i = from; i < to; i++) {
      String name = i % 4 == 0 ? "BuildSet" : "QueueItem";
      DeferredSpanRecord record = tracing.spanBuilder(name).setNoParent().setOwner("/items/item-" + i).begin();
      inFlight.acquire();
      client.transaction().inBackground((c, event) -> {
        if (event.getResultCode() != 0) {
          failure.compareAndSet(null, KeeperException.Code.get(event.getResultCode()));
        }
        inFlight.release();
      }).forOperations(store.beginOps("tenant-a/gate/item-" + i, record));
    }
    inFlight.acquire(1_000);
    if (failure.get() != null) {
      throw new IllegalStateException("a begin failed: " + failure.get());
    }
  }

  /** {wall ms, listing ms, reads, requests} of one {@code list --timing} in a fresh JVM. */
  private static long[] list(String jar, String zookeeper, int expected) throws Exception {
    File timing = File.createTempFile("list-timing", ".txt");
    long start = System.nanoTime();
    Process process = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"), "-jar", jar,
        "list", "--zookeeper", zookeeper, "--timing")
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(timing).start();
    if (process.waitFor() != 0) {
      throw new IllegalStateException("list failed: " + Files.readString(timing.toPath()));
    }
    long wall = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    String line = Files.readString(timing.toPath()).strip();
    timing.delete();
    // "listed 10,000 open spans in 412 ms with 10,257 ZooKeeper reads in 358 requests"
    String[] words = line.replace(",", "").split(" ");
    if (Integer.parseInt(words[1]) != expected) {
      throw new IllegalStateException("expected " + expected + " open spans: " + line);
    }
    // An older release printed no requests.
    long requests = words.length > 12 ? Long.parseLong(words[12]) : -1;
    return new long[] {wall, Long.parseLong(words[5]), Long.parseLong(words[8]), requests};
  }

  /** Wall ms of one {@code stats} in a fresh JVM (it reads every open record too, and the rest of the store). */
  private static long stats(String jar, String zookeeper) throws Exception {
    long start = System.nanoTime();
    Process process = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"), "-jar", jar,
        "stats", "--zookeeper", zookeeper)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    if (process.waitFor() != 0) {
      throw new IllegalStateException("stats failed");
    }
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
  }
}
