package io.deferredspans.demo.scheduler;

import io.deferredspans.demo.common.CommandLine;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;

/**
 * What the launcher was asked to do.
 *
 * @param zookeeper an external ZooKeeper's connect string, or null to run an embedded one
 * @param dataDir the embedded ZooKeeper's data directory, or null for a temporary one
 * @param outDir where {@code traces/} and {@code logs/} go
 * @param otelSettings {@code otel.*} and {@code deferred.spans.*} system properties forwarded to every process
 */
record LauncherOptions(
    String zookeeper,
    Path dataDir,
    Path outDir,
    long itemSeconds,
    int items,
    int executors,
    boolean kill,
    boolean gateReset,
    Duration timeout,
    int width,
    Map<String, String> otelSettings) {

  static final int SCHEDULERS = 2;

  static final String USAGE =
      """
      usage: demo/run [--item-seconds N] [--items N] [--executors N] [--no-kill] [--no-reset]
                      [--zookeeper HOST:PORT | --data-dir DIR] [--out DIR] [--timeout-seconds N] [--width COLS]
        --item-seconds N     how long a queue item lives (default 20; e.g. 3600 for hour-long items)
        --items N            how many patchsets to upload (default 1)
        --executors N        executor processes (default 2); there are always 2 schedulers
        --no-kill            do not kill the scheduler that enqueued the first item
        --no-reset           no gate reset: the first build of each item does not fail on purpose
        --zookeeper H:P      use this ZooKeeper instead of starting an embedded one
        --data-dir DIR       the embedded ZooKeeper's data directory (default: a temporary directory)
        --out DIR            output folder for traces/*.jsonl and logs/*.log (default: out)
        --timeout-seconds N  give up if the items are not done by then (default: 3 x item-seconds + 90)
        --width COLS         waterfall width (default: $COLUMNS, else 100)
      OpenTelemetry: OTEL_* variables / -Dotel.* properties (DEMO_JAVA_OPTS), e.g. OTEL_TRACES_EXPORTER=console or
        OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317; the JSON lines files in out/traces are always written
      """;

  Path tracesDir() {
    return outDir.resolve("traces");
  }

  Path logDir() {
    return outDir.resolve("logs");
  }

  static LauncherOptions parse(String[] args, Map<String, String> otelSettings, Map<String, String> environment) {
    CommandLine cli =
        CommandLine.parse(
            args,
            Set.of("item-seconds", "items", "executors", "zookeeper", "data-dir", "out", "timeout-seconds", "width"),
            Set.of("no-kill", "no-reset", "help"));
    if (cli.has("help")) {
      throw new IllegalArgumentException("help requested");
    }
    long itemSeconds = positive(cli.getLong("item-seconds", 20), "item-seconds");
    String dataDir = cli.get("data-dir", null);
    String columns = environment.getOrDefault("COLUMNS", "100");
    return new LauncherOptions(
        cli.get("zookeeper", null),
        dataDir == null ? null : Path.of(dataDir),
        Path.of(cli.get("out", "out")),
        itemSeconds,
        (int) positive(cli.getLong("items", 1), "items"),
        (int) positive(cli.getLong("executors", 2), "executors"),
        !cli.has("no-kill"),
        !cli.has("no-reset"),
        Duration.ofSeconds(positive(cli.getLong("timeout-seconds", 3 * itemSeconds + 90), "timeout-seconds")),
        (int) Math.max(80, Math.min(200, cli.getLong("width", parseOr(columns, 100)))),
        otelSettings);
  }

  private static long positive(long value, String name) {
    if (value <= 0) {
      throw new IllegalArgumentException("--" + name + " must be positive");
    }
    return value;
  }

  private static long parseOr(String value, long fallback) {
    try {
      return Long.parseLong(value.trim());
    } catch (NumberFormatException e) {
      return fallback;
    }
  }
}
