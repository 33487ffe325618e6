package io.deferredspans.store.simulation;

import static org.junit.jupiter.api.Assertions.fail;

import io.deferredspans.sdk.DeferredTracing;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;

/**
 * The seeded fault-injection simulation (issue 15, section 4): many small schedules against the real store and
 * recovery, with faults under every ZooKeeper call and in the exporter, each checked against every {@link
 * Invariant} after healing. Fails with the count per invariant and the seeds that break it.
 *
 * <p>{@code -Dsim.schedules=K} (default 2000; the pom sets what CI runs) schedules from seed {@code
 * -Dsim.from=S} (default 1); {@code -Dsim.seed=N} replays the one schedule of seed N and prints its steps;
 * {@code -Dsim.parallel=P} schedules at once (default 16); {@code -Dsim.log=info} keeps the store's logs.
 * {@code -Dsim.seed=N -Dsim.repeat=R} runs that one schedule R times, P at once: a schedule that failed only on a
 * loaded machine fails again under the load of its own copies.
 */
class FaultSimulationTest {
  static {
    // Thousands of schedules of injected faults log thousands of expected warnings; the report says what matters.
    for (String noisy : new String[] {"io.deferredspans", "org.apache.zookeeper", "org.apache.curator"}) {
      System.setProperty("org.slf4j.simpleLogger.log." + noisy, System.getProperty("sim.log", "error"));
    }
  }

  private static final int OBSERVER_SESSION_MS = 30_000;
  private static final String NIO_WORKER_THREADS = "zookeeper.nio.numWorkerThreads";

  @Test
  void everyScheduleKeepsEveryInvariant() throws Exception {
    long only = Long.getLong("sim.seed", -1);
    int repeat = only >= 0 ? Integer.getInteger("sim.repeat", 1) : 1;
    long from = only >= 0 ? only : Long.getLong("sim.from", 1);
    int count = only >= 0 ? repeat : Integer.getInteger("sim.schedules", 2000);
    int parallel = only >= 0 && repeat == 1 ? 1 : Integer.getInteger("sim.parallel", 16);

    // tickTime 100 ms: sessions of 1 s can expire, and be expired, quickly. The server allows the observer a long
    // session all the same (tickTime alone caps sessions at 2 s): the fault-free witness must not lose its
    // connection, and the events of its watches with it, when the machine starves its threads for a second.
    InstanceSpec spec = new InstanceSpec(null, -1, -1, -1, true, -1, 100, 5_000,
        Map.of("maxSessionTimeout", String.valueOf(OBSERVER_SESSION_MS)));
    ScheduledExecutorService timer = Executors.newScheduledThreadPool(2);
    ExecutorService racers = Executors.newCachedThreadPool();
    ExecutorService runners = Executors.newFixedThreadPool(parallel);
    List<ScheduleReport> reports = new ArrayList<>();
    // The server reads and writes each connection on its selector thread instead of handing every request to a
    // worker thread and back: one thread switch less per call, thousands of calls a schedule. (Read when the
    // server starts; set back for whatever starts a server later in this JVM.)
    String workers = System.getProperty(NIO_WORKER_THREADS);
    System.setProperty(NIO_WORKER_THREADS, "0");
    long started = System.nanoTime();
    long cpuStarted = processCpuNanos();
    try (TestingServer zookeeper = new TestingServer(spec, true);
        CuratorFramework observer = CuratorFrameworkFactory.newClient(
            zookeeper.getConnectString(), OBSERVER_SESSION_MS, 10_000, new ExponentialBackoffRetry(50, 10))) {
      observer.start();
      observer.blockUntilConnected(30, TimeUnit.SECONDS);
      DeferredTracing otherWriter = DeferredTracing.builder().setHostName("another-writer").build();
      Simulation.Shared shared =
          new Simulation.Shared(zookeeper.getConnectString(), observer, otherWriter, timer, racers);
      List<Future<ScheduleReport>> futures = new ArrayList<>();
      AtomicLong done = new AtomicLong();
      for (int i = 0; i < count; i++) {
        long s = only >= 0 ? only : from + i;
        futures.add(runners.submit(() -> {
          ScheduleReport report = new Simulation(shared, s).run();
          long n = done.incrementAndGet();
          if (only >= 0 || report.failed() || n % 100 == 0) {
            System.out.println("sim: " + n + "/" + count + " " + (report.failed() ? "FAILED " : "ok ")
                + (only >= 0 || report.failed() ? report : "seed " + s));
          }
          return report;
        }));
      }
      for (Future<ScheduleReport> future : futures) {
        reports.add(future.get());
      }
    } finally {
      if (workers == null) {
        System.clearProperty(NIO_WORKER_THREADS);
      } else {
        System.setProperty(NIO_WORKER_THREADS, workers);
      }
      runners.shutdownNow();
      racers.shutdownNow();
      timer.shutdownNow();
    }
    double seconds = (System.nanoTime() - started) / 1e9;
    double cpuSeconds = (processCpuNanos() - cpuStarted) / 1e9;
    String summary = summarize(reports, from, count, seconds)
        + String.format("sim: CPU %.0f s (%.2f s per schedule, user+sys of this JVM), peak %d threads%n",
            cpuSeconds, cpuSeconds / count, ManagementFactory.getThreadMXBean().getPeakThreadCount());
    System.out.println(summary);
    if (reports.stream().anyMatch(ScheduleReport::failed)) {
      fail(summary);
    }
  }

  /** CPU time of this JVM, every thread: the simulation's cost on a shared machine, where wall time is noise. */
  private static long processCpuNanos() {
    java.lang.management.OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
    return os instanceof com.sun.management.OperatingSystemMXBean
        ? ((com.sun.management.OperatingSystemMXBean) os).getProcessCpuTime() : 0;
  }

  private static String summarize(List<ScheduleReport> reports, long from, int count, double seconds) {
    Map<Invariant, int[]> byInvariant = new EnumMap<>(Invariant.class); // schedules, violations
    Map<Invariant, List<Long>> seeds = new EnumMap<>(Invariant.class);
    Map<Fault, int[]> byFault = new EnumMap<>(Fault.class); // schedules, injections, schedules that failed
    Map<String, Integer> windows = new TreeMap<>();
    List<Long> crashed = new ArrayList<>();
    for (ScheduleReport report : reports) {
      report.violations.forEach((invariant, details) -> {
        int[] tally = byInvariant.computeIfAbsent(invariant, i -> new int[2]);
        tally[0]++;
        tally[1] += details.size();
        seeds.computeIfAbsent(invariant, i -> new ArrayList<>()).add(report.seed);
      });
      report.faults.forEach((fault, n) -> {
        int[] tally = byFault.computeIfAbsent(fault, f -> new int[3]);
        tally[0]++;
        tally[1] += n;
        if (report.failed()) {
          tally[2]++;
        }
      });
      report.duplicatesByWindow.forEach((window, n) -> windows.merge(window, n, Integer::sum));
      if (report.crash != null) {
        crashed.add(report.seed);
      }
    }
    long failed = reports.stream().filter(ScheduleReport::failed).count();
    double passedMillis = reports.stream().filter(r -> !r.failed()).mapToLong(r -> r.millis).average().orElse(0);
    double failedMillis = reports.stream().filter(ScheduleReport::failed).mapToLong(r -> r.millis).average()
        .orElse(0);
    StringBuilder out = new StringBuilder(String.format(
        "%nsim: %d schedules from seed %d in %.0f s (%.1f schedules/s), %d failed; a schedule takes %.1f s "
            + "(passed) / %.1f s (failed: healing waits its full time)%n", count, from, seconds, count / seconds,
        failed, passedMillis / 1000, failedMillis / 1000));
    out.append("sim: invariant | schedules | violations | seeds (replay: -Dsim.seed=N)\n");
    for (Invariant invariant : Invariant.values()) {
      int[] tally = byInvariant.getOrDefault(invariant, new int[2]);
      List<Long> some = seeds.getOrDefault(invariant, List.of());
      out.append(String.format("sim:   %-28s | %5d | %5d | %s%n", invariant, tally[0], tally[1],
          some.subList(0, Math.min(8, some.size()))));
      if (tally[0] > 0) {
        out.append("sim:       ").append(invariant.meaning).append('\n');
      }
    }
    out.append("sim: known hole (issue 15) | schedules that show it | seeds\n");
    for (KnownHole hole : KnownHole.values()) {
      List<Long> showing = reports.stream().filter(hole::shownBy).map(r -> r.seed).collect(Collectors.toList());
      out.append(String.format("sim:   %-34s | %5d | %s%n", hole, showing.size(),
          showing.subList(0, Math.min(8, showing.size()))));
    }
    List<Long> unexplained = reports.stream()
        .filter(r -> r.failed() && Arrays.stream(KnownHole.values()).noneMatch(hole -> hole.shownBy(r)))
        .map(r -> r.seed).collect(Collectors.toList());
    out.append("sim:   failed, no known hole matched      | ").append(String.format("%5d", unexplained.size()))
        .append(" | ").append(unexplained.subList(0, Math.min(8, unexplained.size()))).append('\n');
    out.append("sim: fault | schedules | injections | schedules that failed\n");
    byFault.forEach((fault, tally) -> out.append(String.format("sim:   %-42s | %5d | %6d | %5d%n", fault,
        tally[0], tally[1], tally[2])));
    out.append("sim: duplicates in documented windows: ").append(windows).append('\n');
    if (!crashed.isEmpty()) {
      out.append("sim: the simulation itself failed for seeds ").append(crashed).append('\n');
    }
    return out.toString();
  }
}
