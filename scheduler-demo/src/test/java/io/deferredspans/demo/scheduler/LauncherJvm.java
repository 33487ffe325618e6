package io.deferredspans.demo.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import io.deferredspans.otlp.json.OtlpJsonLines;
import io.deferredspans.otlp.json.ReceivedSpan;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The launcher run as {@code demo/run} runs it: a JVM of its own, so that OpenTelemetry's autoconfigure in the
 * launcher and in every process it starts reads real {@code OTEL_*} environment variables, chosen by the test.
 */
final class LauncherJvm {
  /** What {@code OTEL_TRACES_EXPORTER=console} (OpenTelemetry's LoggingSpanExporter) writes per span. */
  private static final Pattern CONSOLE_SPAN = Pattern.compile("'([^']*)' : ([0-9a-f]{32}) ([0-9a-f]{16}) ");
  static final List<String> PROCESSES = List.of("launcher", "scheduler-1", "scheduler-2", "executor-1", "executor-2");

  /** A finished run: its exit status and everything the launcher printed (standard output and error). */
  record Run(int exitCode, String output, Path outDir) {
    Path traces() {
      return outDir.resolve("traces");
    }

    Path jsonLines(String process) {
      return traces().resolve(process + TraceFiles.JSON_LINES);
    }

    /** What the process printed: the launcher's own output, or a child's log (its standard output and error). */
    String console(String process) throws IOException {
      return process.equals("launcher") ? output
          : Files.readString(outDir.resolve("logs").resolve(process + ".log"), StandardCharsets.UTF_8);
    }

    /** The spans in the process's JSON lines file. */
    List<ReceivedSpan> fileSpans(String process) throws IOException {
      return OtlpJsonLines.readSpans(jsonLines(process));
    }

    /** The span IDs the console span exporter printed in the process's output. */
    Set<String> consoleSpanIds(String process) throws IOException {
      Matcher matcher = CONSOLE_SPAN.matcher(console(process));
      List<String> ids = new ArrayList<>();
      while (matcher.find()) {
        ids.add(matcher.group(3));
      }
      return Set.copyOf(ids);
    }

    /** Every line of the launcher's output and the children's logs that says an export failed. */
    List<String> exportFailures() throws IOException {
      List<String> failures = new ArrayList<>();
      for (String process : PROCESSES) {
        console(process).lines().filter(l -> l.contains("Failed to export")).map(l -> process + ": " + l)
            .forEach(failures::add);
      }
      return failures;
    }
  }

  private LauncherJvm() {}

  /**
   * Runs one demo (one item of {@code itemSeconds}, the enqueuing scheduler killed) against {@code zookeeper}.
   *
   * @param environment {@code OTEL_*} variables for the launcher, which its processes inherit; any the test's own
   *     environment has are removed first
   * @param systemProperties {@code -D} options for the launcher's JVM, as {@code DEMO_JAVA_OPTS} gives them
   */
  static Run run(Path outDir, String zookeeper, long itemSeconds, Map<String, String> environment,
      List<String> systemProperties) throws Exception {
    List<String> command = new ArrayList<>(List.of(
        ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java")
            .toString()), "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
    command.addAll(systemProperties);
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), DemoLauncher.class.getName(),
        "--zookeeper", zookeeper, "--out", outDir.toString(), "--item-seconds", Long.toString(itemSeconds),
        "--width", "100"));
    Path output = outDir.resolve("launcher-output.txt");
    Files.createDirectories(outDir);
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile());
    builder.environment().keySet().removeIf(k -> k.startsWith("OTEL_"));
    builder.environment().putAll(environment);
    Process launcher = builder.start();
    // The launcher's own timeout (3 x item-seconds + 90 s) ends the run first; this only guards against a hang.
    if (!launcher.waitFor(3 * itemSeconds + 240, TimeUnit.SECONDS)) {
      launcher.destroy(); // SIGTERM: its hook stops the processes it started
      launcher.waitFor(30, TimeUnit.SECONDS);
      launcher.destroyForcibly();
      throw new AssertionError("launcher did not finish:\n" + Files.readString(output));
    }
    String printed = Files.readString(output, StandardCharsets.UTF_8);
    System.out.println(printed); // in the surefire report, for whoever reads a failure
    return new Run(launcher.exitValue(), printed, outDir);
  }

  /** The span IDs of {@code spans}. */
  static Set<String> ids(List<ReceivedSpan> spans) {
    return spans.stream().map(ReceivedSpan::spanId).collect(Collectors.toSet());
  }

  static void assertOk(Run run) {
    assertThat(run.exitCode()).as(run.output()).isZero();
    assertThat(run.output()).contains("VERDICT: OK");
  }
}
