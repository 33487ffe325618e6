package io.deferredspans.demo.scheduler;

import io.deferredspans.demo.common.DemoPaths;
import io.deferredspans.demo.common.DemoTelemetry;
import io.deferredspans.demo.common.TraceFilesSpanExporterProvider;
import io.deferredspans.demo.common.ZooKeeperConnection;
import io.deferredspans.demo.common.Znodes;
import io.opentelemetry.sdk.autoconfigure.spi.ConfigurationException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.apache.curator.framework.CuratorFramework;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The demo's one entry point ({@code demo/run}): runs ZooKeeper (embedded unless {@code --zookeeper}), two
 * schedulers and the executors as separate JVMs, plays a "patchset uploaded" event, kills the scheduler that
 * enqueued the item while it is in flight, and prints the item's trace as a waterfall with a verdict. Exit status:
 * 0 trace complete, 1 trace broken, 2 run failed, 64 bad arguments.
 */
public final class DemoLauncher {
  private static final Logger log = LoggerFactory.getLogger(DemoLauncher.class);
  private static final int USAGE = 64;
  /** The shell's convention for "ended by a signal" (128 + SIGINT). */
  private static final int STOPPED_BY_SIGNAL = 130;

  private final LauncherOptions options;
  private final PrintStream out;

  DemoLauncher(LauncherOptions options, PrintStream out) {
    this.options = options;
    this.out = out;
  }

  public static void main(String[] args) throws Exception {
    LauncherOptions options;
    try {
      options = LauncherOptions.parse(args, otelSystemProperties(), System.getenv());
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage().equals("help requested") ? LauncherOptions.USAGE
          : "demo: " + e.getMessage() + "\n" + LauncherOptions.USAGE);
      System.exit(USAGE);
      return;
    }
    int status;
    try {
      status = new DemoLauncher(options, System.out).run();
    } catch (ConfigurationException e) {
      // The user's OTEL_* settings, as autoconfigure found them (an unknown exporter, a bad value).
      System.err.println("demo: OpenTelemetry settings: " + e.getMessage());
      status = RunReport.RUN_FAILED;
    }
    System.exit(status);
  }

  /**
   * The OpenTelemetry and deferred-spans settings among the launcher's system properties ({@code otel.*}, {@code
   * deferred.spans.*}), to forward to every process.
   */
  private static Map<String, String> otelSystemProperties() {
    Map<String, String> settings = new LinkedHashMap<>();
    System.getProperties().stringPropertyNames().stream()
        .filter(k -> k.startsWith("otel.") || k.startsWith("deferred.spans."))
        .forEach(k -> settings.put(k, System.getProperty(k)));
    return settings;
  }

  int run() throws Exception {
    Path perTraceDir = options.tracesDir().resolve(PerTraceFiles.FOLDER);
    TraceFiles.clear(options.tracesDir(), TraceFiles.JSON_LINES);
    TraceFiles.clear(perTraceDir, PerTraceFiles.SUFFIX);
    TraceFiles.clear(options.logDir(), ".log");
    Resources resources = new Resources();
    Thread hook = new Thread(() -> resources.closeOnSignal(out), "demo-ctrl-c");
    Runtime.getRuntime().addShutdownHook(hook);
    DemoScenario.Outcome outcome;
    try {
      String connectString = startZooKeeper(resources);
      resources.traceFiles = TraceFileSink.start(options.tracesDir());
      resources.telemetry = DemoTelemetry.start("demo-launcher", "launcher", resources.traceFiles.endpoint());
      resources.client = ZooKeeperConnection.connect(connectString, Duration.ofSeconds(10));
      Znodes znodes = new Znodes(resources.client);
      resetDemoState(znodes);
      resources.fleet = new ProcessFleet(options.otelSettings(), resources.traceFiles.endpoint(), options.logDir());
      List<String> userExporters = resources.telemetry.traceExporters().stream()
          .filter(e -> !e.equals(TraceFilesSpanExporterProvider.NAME)).toList();
      out.printf("Deferred Spans demo: ZooKeeper %s, items of %d s, traces in %s%s%n", connectString,
          options.itemSeconds(), options.tracesDir(),
          userExporters.isEmpty() ? "" : " and to span exporters " + String.join(", ", userExporters));
      if (userExporters.contains("console") || userExporters.contains("logging")) {
        out.printf("Each process prints its spans on its own console: this one here, the others in %s%n",
            options.logDir().resolve("<process>.log"));
      }
      outcome = new DemoScenario(options, resources.fleet, znodes, resources.telemetry, connectString, out).run();
    } catch (Exception e) {
      if (resources.stoppedBySignal) {
        return STOPPED_BY_SIGNAL; // the hook closed ZooKeeper under the scenario: its failure is expected
      }
      throw e;
    } finally {
      resources.close();
      removeHook(hook);
    }
    TraceFiles.Contents files = TraceFiles.read(options.tracesDir());
    TraceAnalysis.Report report = TraceAnalysis.analyze(files.spans(), files.unreadableLines(), options.items());
    PerTraceFiles.write(files.files(), perTraceDir);
    return new RunReport(out, options.width()).print(outcome, files, perTraceDir, report);
  }

  private String startZooKeeper(Resources resources) throws Exception {
    if (options.zookeeper() != null) {
      return options.zookeeper();
    }
    Path dataDir = options.dataDir();
    if (dataDir == null) {
      dataDir = Files.createTempDirectory("deferred-spans-demo-zk");
      resources.temporaryDataDir = dataDir;
    }
    resources.zookeeper = EmbeddedZooKeeper.start(dataDir);
    return resources.zookeeper.connectString();
  }

  /** A previous run (a reused --data-dir, an external ZooKeeper) may have left items behind: start clean. */
  private static void resetDemoState(Znodes znodes) throws Exception {
    if (!znodes.children(DemoPaths.PROCESSES).isEmpty()) {
      throw new IllegalStateException("demo processes are already registered in this ZooKeeper ("
          + znodes.children(DemoPaths.PROCESSES) + "): is another demo running against it?");
    }
    for (String root : new String[] {DemoPaths.ROOT, DemoPaths.SPAN_STORE}) {
      if (znodes.exists(root)) {
        znodes.client().delete().deletingChildrenIfNeeded().forPath(root);
      }
    }
    znodes.ensureFolders();
  }

  private static void removeHook(Thread hook) {
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException shuttingDown) {
      // Ctrl-C arrived: the hook is running or has run
    }
  }

  /**
   * Everything the launcher started, closed once, children first, from the normal end or from the Ctrl-C hook:
   * no stray JVMs, and ZooKeeper outlives the processes that use it.
   */
  private static final class Resources {
    private final AtomicBoolean closed = new AtomicBoolean();
    volatile boolean stoppedBySignal;
    volatile ProcessFleet fleet;
    volatile CuratorFramework client;
    volatile DemoTelemetry telemetry;
    volatile TraceFileSink traceFiles;
    volatile EmbeddedZooKeeper zookeeper;
    volatile Path temporaryDataDir;

    void closeOnSignal(PrintStream out) {
      if (closed.get()) {
        return;
      }
      stoppedBySignal = true;
      out.println("\nStopping: SIGTERM to every demo process, then ZooKeeper...");
      close();
      out.println("Stopped; no demo process is left running.");
    }

    void close() {
      if (!closed.compareAndSet(false, true)) {
        return;
      }
      try {
        if (fleet != null) {
          fleet.close();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (client != null) {
        client.close();
      }
      if (telemetry != null) {
        telemetry.close();
      }
      if (traceFiles != null) {
        traceFiles.close(); // last of the telemetry: every process has flushed into it
      }
      if (zookeeper != null) {
        zookeeper.close();
      }
      if (temporaryDataDir != null) {
        deleteRecursively(temporaryDataDir);
      }
    }

    private static void deleteRecursively(Path dir) {
      try (Stream<Path> paths = Files.walk(dir)) {
        paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      } catch (IOException e) {
        log.warn("could not delete {}", dir, e);
      }
    }
  }
}
