package io.deferredspans.benchmarks;

import io.deferredspans.benchmarks.cpu.CpuFigures;
import io.deferredspans.benchmarks.report.FigureReport;
import io.deferredspans.benchmarks.report.FigureRow;
import io.deferredspans.benchmarks.report.MachineInfo;
import io.deferredspans.benchmarks.size.RecordSizeFigures;
import io.deferredspans.benchmarks.zk.ChildZooKeeper;
import io.deferredspans.benchmarks.zk.ConcurrencyFigures;
import io.deferredspans.benchmarks.zk.ExportLatencyFigures;
import io.deferredspans.benchmarks.zk.LifecycleFigures;
import io.deferredspans.benchmarks.zk.OpenRecordsFigures;
import io.deferredspans.benchmarks.zk.RecoveryLoadFigures;
import io.deferredspans.benchmarks.zk.ServerHeapFigures;
import io.deferredspans.benchmarks.zk.StorageInfo;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Runs every figure of docs/benchmarks.md, prints a table per figure and writes {@code figures-<time>.json} and
 * {@code .csv} to the results directory.
 *
 * <pre>
 * RunAllFigures [--short | --smoke] [--only=1,2,4] [--clients=1,8] [--results=DIR]
 * </pre>
 */
public final class RunAllFigures {
  private RunAllFigures() {}

  /** What to run: which options, which figures (by number), where to write. */
  public record Plan(RunOptions options, Set<String> figures, Path results) {
    boolean includes(String figure) {
      return figures.isEmpty() || figures.contains(figure);
    }
  }

  public static void main(String[] args) throws Exception {
    if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn"); // ZooKeeper and Curator are chatty
    }
    FigureReport report = run(parse(args));
    System.exit(report.rows().isEmpty() ? 1 : 0); // exporters' and Curator's threads must not keep us alive
  }

  static Plan parse(String[] args) {
    RunOptions options = RunOptions.full();
    Set<String> figures = new LinkedHashSet<>();
    Path results = Path.of("benchmarks", "results");
    List<Integer> clients = null;
    for (String arg : args) {
      if (arg.equals("--short")) {
        options = RunOptions.quick();
      } else if (arg.equals("--smoke")) {
        options = RunOptions.smoke();
      } else if (arg.startsWith("--only=")) {
        figures.addAll(List.of(arg.substring("--only=".length()).split(",")));
      } else if (arg.startsWith("--clients=")) {
        clients = java.util.Arrays.stream(arg.substring("--clients=".length()).split(","))
            .map(Integer::valueOf).toList();
      } else if (arg.startsWith("--results=")) {
        results = Path.of(arg.substring("--results=".length()));
      } else {
        throw new IllegalArgumentException("unknown argument " + arg
            + "; use [--short|--smoke] [--only=1,2] [--clients=1,8] [--results=DIR]");
      }
    }
    return new Plan(clients == null ? options : options.withClientCounts(clients), figures, results);
  }

  public static FigureReport run(Plan plan) throws Exception {
    lastFigureDone = System.nanoTime();
    RunOptions options = plan.options();
    FigureReport report = new FigureReport();
    String started = DateTimeFormatter.ISO_INSTANT.format(Instant.now());
    report.put("mode", options.name());
    report.put("started", started);
    MachineInfo.describe().forEach(report::put);
    report.put("load average at start", MachineInfo.loadAverage());

    if (plan.includes("4")) {
      record(report, RecordSizeFigures.FIGURE, RecordSizeFigures.run());
      List<String> examples = RecordSizeFigures.examples();
      report.put("example record (ours, child with one link)", examples.get(0));
      report.put("example record (Zuul-style, same span)", examples.get(1));
    }
    if (plan.includes("3")) {
      record(report, CpuFigures.FIGURE, CpuFigures.run(options));
      report.put("load average after JMH", MachineInfo.loadAverage());
    }
    if (needsZooKeeper(plan)) {
      try (ChildZooKeeper zookeeper = ChildZooKeeper.start(plan.results().resolve("zookeeper-child.log"))) {
        report.put("zookeeper", "curator-test TestingServer in a child JVM (pid " + zookeeper.pid() + "), data in "
            + StorageInfo.describe(zookeeper.dataDir()));
        String connect = zookeeper.connectString();
        if (plan.includes("1") || plan.includes("2")) {
          List<FigureRow> rows = LifecycleFigures.run(connect, options);
          record(report, LifecycleFigures.BEGIN, rows);
          report.printFigure(LifecycleFigures.END, System.out);
        }
        if (plan.includes("6") || plan.includes("6a")) {
          record(report, ConcurrencyFigures.FIGURE, ConcurrencyFigures.run(connect, options));
        }
        if (plan.includes("7")) {
          record(report, ExportLatencyFigures.FIGURE, ExportLatencyFigures.run(connect, options));
        }
        if (plan.includes("5") || plan.includes("6")) {
          List<FigureRow> rows = OpenRecordsFigures.run(connect, options);
          record(report, OpenRecordsFigures.HEAP, rows);
          report.printFigure(OpenRecordsFigures.COST, System.out);
        }
        if (plan.includes("8")) {
          record(report, RecoveryLoadFigures.FIGURE, RecoveryLoadFigures.run(connect, options));
        }
        if (plan.includes("9")) {
          record(report, ServerHeapFigures.FIGURE, ServerHeapFigures.run(zookeeper, options));
        }
      }
    }
    if (plan.includes("6c")) {
      List<ChildZooKeeper> ensemble = ChildZooKeeper.startEnsemble(3, plan.results());
      try {
        report.put("ensemble", "3 servers, each a curator-test TestingZooKeeperServer in its own child JVM (pids "
            + ensemble.stream().map(server -> Long.toString(server.pid())).toList() + ")");
        record(report, ConcurrencyFigures.ENSEMBLE_FIGURE, ConcurrencyFigures.run(
            ConcurrencyFigures.ENSEMBLE_FIGURE, ChildZooKeeper.connectString(ensemble), options));
      } finally {
        for (ChildZooKeeper server : ensemble) {
          server.close();
        }
      }
    }
    report.put("load average at end", MachineInfo.loadAverage());
    report.printRun(System.out);
    String stamp = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC).format(Instant.now());
    report.write(plan.results(), "figures-" + options.name() + "-" + stamp);
    System.out.println("results: " + plan.results().resolve("figures-" + options.name() + "-" + stamp) + ".{json,csv}");
    return report;
  }

  private static boolean needsZooKeeper(Plan plan) {
    return new ArrayList<>(List.of("1", "2", "5", "6", "6a", "7", "8", "9")).stream().anyMatch(plan::includes);
  }

  private static long lastFigureDone;

  /**
   * Adds rows as soon as a figure is done and prints its table with the time since the previous one (what to trim
   * when {@code --short} outgrows its budget), so a long run shows progress.
   */
  private static void record(FigureReport report, String figure, List<FigureRow> rows) {
    report.addAll(rows);
    report.printFigure(figure, System.out);
    long now = System.nanoTime();
    System.out.printf("(%.1f s)%n", (now - lastFigureDone) / 1e9);
    lastFigureDone = now;
  }
}
