package io.deferredspans.benchmarks.zk;

import io.deferredspans.benchmarks.report.Spread;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * End to export through {@code deferred-spans serve}: a Python process (clients/python) begins and ends spans,
 * one at a time at random intervals, and serve (its own JVM, OTLP/HTTP exporter, batch delay
 * {@code OTEL_BSP_SCHEDULE_DELAY}) exports each one; the latency runs from Python's {@code end()} returning to the
 * span's arrival at an OTLP receiver. Both sides read CLOCK_MONOTONIC ({@code time.monotonic_ns()},
 * {@code System.nanoTime()}), so the two processes' clocks agree. Once with the claim Python writes and releases,
 * once without a claim. Run with {@code benchmarks/serve-export-latency} (docs/benchmarks.md).
 */
public final class ServeExportLatency {
  // The driver's answers are flat JSON objects of strings and integers (clients/python/tests/driver.py).
  private static final Pattern FIELD = Pattern.compile("\"(\\w+)\": (?:\"([^\"]*)\"|(-?\\d+))");

  private static final int WARM_UP = 30;

  private ServeExportLatency() {}

  public static void main(String[] args) throws Exception {
    int ends = args.length > 0 ? Integer.parseInt(args[0]) : 200;
    String batchDelayMillis = args.length > 1 ? args[1] : "100";
    Path serveJar = Path.of(System.getProperty("serve.jar", "deferred-spans-cli/target/deferred-spans.jar"));
    Path client = Path.of(System.getProperty("python.client", "clients/python")).toAbsolutePath();
    String python = System.getProperty("python", "/usr/bin/python3");
    Path logs = Files.createTempDirectory("serve-export-latency");
    try (ChildZooKeeper zookeeper = ChildZooKeeper.start(logs.resolve("zookeeper.log"));
        OtlpArrivals receiver = OtlpArrivals.start()) {
      String zk = zookeeper.connectString();
      ProcessBuilder serveBuilder = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"),
          "-Xmx256m", "-jar", serveJar.toString(), "serve", "--zookeeper", zk, "--create-base-path",
          "--host-name", "serve-1").redirectErrorStream(true).redirectOutput(logs.resolve("serve.log").toFile());
      serveBuilder.environment().putAll(Map.of("OTEL_TRACES_EXPORTER", "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL",
          "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.endpoint(),
          "OTEL_BSP_SCHEDULE_DELAY", batchDelayMillis));
      Process serve = serveBuilder.start();
      try {
        awaitLine(logs.resolve("serve.log"), "serve: leading recovery", serve, Duration.ofSeconds(60));
        ProcessBuilder driverBuilder = new ProcessBuilder(python, "tests/driver.py", "--zookeeper", zk,
            "--host-name", "py-bench").directory(client.toFile()).redirectError(logs.resolve("driver.err").toFile());
        driverBuilder.environment().put("PYTHONPATH", client.toString());
        Process driver = driverBuilder.start();
        try (BufferedReader answers = new BufferedReader(
                new InputStreamReader(driver.getInputStream(), StandardCharsets.UTF_8));
            OutputStream commands = driver.getOutputStream()) {
          answers.readLine(); // ready
          System.out.printf("end -> export through serve: %d ends per mode, serve's OTEL_BSP_SCHEDULE_DELAY=%s ms, "
              + "load average %s%n", ends, batchDelayMillis, Files.readString(Path.of("/proc/loadavg")).strip());
          // Warm-up, not measured: serve's first exports load and compile its exporter.
          runEnds(commands, answers, receiver, "warm-up", WARM_UP, true);
          for (boolean claim : new boolean[] {true, false}) {
            double[] millis = runEnds(commands, answers, receiver, "bench/" + claim, ends, claim);
            System.out.printf("  %-22s n=%d  p50 %6.0f ms  p90 %6.0f ms  p99 %6.0f ms  max %6.0f ms%n",
                claim ? "claim, released" : "no claim", millis.length, Spread.quantile(millis, 0.5),
                Spread.quantile(millis, 0.9), Spread.quantile(millis, 0.99), millis[millis.length - 1]);
          }
          commands.write("{\"op\":\"exit\"}\n".getBytes(StandardCharsets.UTF_8));
          commands.flush();
        } finally {
          if (!driver.waitFor(30, TimeUnit.SECONDS)) {
            driver.destroyForcibly();
          }
        }
      } finally {
        serve.destroy();
        serve.waitFor(60, TimeUnit.SECONDS);
      }
    }
  }

  /** Begins and ends {@code count} spans one at a time; the end-to-arrival latencies in ms, sorted. */
  private static double[] runEnds(OutputStream commands, BufferedReader answers, OtlpArrivals receiver,
      String prefix, int count, boolean claim) throws Exception {
    receiver.reset();
    Map<String, Long> endedAt = new HashMap<>();
    for (int i = 0; i < count; i++) {
      String key = prefix + "/" + i;
      Map<String, String> begun = call(commands, answers, "{\"op\":\"begin\",\"key\":\"" + key + "\"}");
      // Random gaps, so that the ends do not lock into the batch processor's timer.
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(ThreadLocalRandom.current().nextLong(20, 200)));
      Map<String, String> end = call(commands, answers,
          "{\"op\":\"end\",\"key\":\"" + key + "\",\"claim\":" + claim + "}");
      if (!"ENDED".equals(end.get("outcome"))) {
        throw new IllegalStateException("end " + key + ": " + end);
      }
      endedAt.put(begun.get("spanId"), Long.parseLong(end.get("endedNanos")));
    }
    Map<String, Long> arrived = receiver.await(endedAt.keySet(), Duration.ofMinutes(2));
    return endedAt.entrySet().stream()
        .mapToDouble(e -> (arrived.get(e.getKey()) - e.getValue()) / 1e6).sorted().toArray();
  }

  private static Map<String, String> call(OutputStream commands, BufferedReader answers, String command)
      throws Exception {
    commands.write((command + "\n").getBytes(StandardCharsets.UTF_8));
    commands.flush();
    String line = answers.readLine();
    if (line == null) {
      throw new IllegalStateException("the Python driver exited");
    }
    Map<String, String> fields = new HashMap<>();
    Matcher field = FIELD.matcher(line);
    while (field.find()) {
      fields.put(field.group(1), field.group(2) != null ? field.group(2) : field.group(3));
    }
    if (fields.containsKey("error")) {
      throw new IllegalStateException(command + " -> " + line);
    }
    return fields;
  }

  private static void awaitLine(Path log, String line, Process process, Duration patience) throws Exception {
    long deadline = System.nanoTime() + patience.toNanos();
    while (!Files.readString(log).contains(line)) {
      if (!process.isAlive() || System.nanoTime() > deadline) {
        throw new IllegalStateException("serve did not get to '" + line + "':\n" + Files.readString(log));
      }
      process.waitFor(100, TimeUnit.MILLISECONDS);
    }
  }
}
