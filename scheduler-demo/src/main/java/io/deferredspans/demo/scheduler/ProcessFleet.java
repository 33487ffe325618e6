package io.deferredspans.demo.scheduler;

import io.deferredspans.demo.common.DemoProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Starts the demo's processes as separate JVMs (same java binary, same classpath as the launcher) and stops them
 * all: SIGTERM first so their shutdown hooks flush spans, SIGKILL for any that hang.
 */
final class ProcessFleet implements AutoCloseable {
  private static final List<String> JVM_OPTIONS =
      List.of("-Xmx128m", "-Xss512k", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto");
  private static final Duration STOP_TIMEOUT = Duration.ofSeconds(15);

  private final Map<String, String> otelSettings;
  private final String tracesEndpoint;
  private final Path logDir;
  private final List<ChildProcess> children = new ArrayList<>();

  /**
   * @param otelSettings the {@code otel.*} system properties the launcher was given, passed on as they are; the
   *     children inherit the launcher's environment, {@code OTEL_*} variables included, and nothing else is set
   *     for them, so each child resolves its OpenTelemetry settings exactly as the launcher does
   * @param tracesEndpoint where the children send the spans for their JSON lines files ({@link TraceFileSink})
   */
  ProcessFleet(Map<String, String> otelSettings, String tracesEndpoint, Path logDir) {
    this.otelSettings = Map.copyOf(otelSettings);
    this.tracesEndpoint = tracesEndpoint;
    this.logDir = logDir;
  }

  synchronized ChildProcess start(String instanceId, Class<?> mainClass, List<String> args) throws IOException {
    Files.createDirectories(logDir);
    List<String> command = new ArrayList<>();
    command.add(javaBinary());
    command.addAll(JVM_OPTIONS);
    otelSettings.forEach((key, value) -> command.add("-D" + key + "=" + value));
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(mainClass.getName());
    command.addAll(args);
    command.addAll(List.of("--" + DemoProcess.INSTANCE_ID, instanceId, "--" + DemoProcess.TRACES_ENDPOINT, tracesEndpoint));
    Path log = logDir.resolve(instanceId + ".log");
    Process process =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    ChildProcess child = new ChildProcess(instanceId, process, log);
    children.add(child);
    return child;
  }

  synchronized List<ChildProcess> children() {
    return List.copyOf(children);
  }

  synchronized Optional<ChildProcess> find(String instanceId) {
    return children.stream().filter(c -> c.id().equals(instanceId)).findFirst();
  }

  List<String> alive() {
    return children().stream().filter(ChildProcess::isAlive).map(ChildProcess::id).toList();
  }

  Optional<ChildProcess> firstCrashed() {
    return children().stream().filter(ChildProcess::crashed).findFirst();
  }

  /** Stops every child; safe to call twice (from the normal end and from the Ctrl-C hook). */
  @Override
  public void close() throws InterruptedException {
    List<ChildProcess> all = children();
    all.forEach(ChildProcess::requestStop);
    for (ChildProcess child : all) {
      child.awaitStop(STOP_TIMEOUT);
    }
  }

  private static String javaBinary() {
    return ProcessHandle.current().info().command()
        .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
  }
}
