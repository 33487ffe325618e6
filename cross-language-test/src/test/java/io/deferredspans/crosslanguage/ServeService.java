package io.deferredspans.crosslanguage;

import static org.awaitility.Awaitility.await;

import io.deferredspans.cli.DeferredSpansCli;
import java.io.File;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.awaitility.core.ConditionTimeoutException;

/**
 * {@code deferred-spans serve} in its own JVM from this test classpath, exporting to an OTLP/HTTP endpoint: the
 * service that exports what Python ends. Ready once it leads recovery.
 */
final class ServeService implements AutoCloseable {
  private final Process process;
  private final File output;

  private ServeService(Process process, File output) {
    this.process = process;
    this.output = output;
  }

  static ServeService start(String zookeeper, String otlpTracesEndpoint, Duration timeout) throws Exception {
    File output = Files.createTempFile("serve", ".log").toFile();
    List<String> command = new ArrayList<>(List.of(
        ProcessHandle.current().info().command().orElse("java"), "-Xmx192m",
        "-cp", System.getProperty("java.class.path"), DeferredSpansCli.class.getName(), "serve",
        "--zookeeper", zookeeper, "--host-name", "serve-1", "--scan-interval", "200ms", "--grace-period", "500ms"));
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output);
    builder.environment().putAll(Map.of(
        "OTEL_TRACES_EXPORTER", "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", otlpTracesEndpoint,
        "OTEL_BSP_SCHEDULE_DELAY", "50"));
    ServeService serve = new ServeService(builder.start(), output);
    try {
      await().atMost(timeout).until(() -> serve.log().contains("serve: leading recovery") || !serve.process.isAlive());
    } catch (ConditionTimeoutException e) {
      // reported below with the log
    }
    if (!serve.log().contains("serve: leading recovery")) {
      String log = serve.log();
      serve.close();
      throw new AssertionError("serve did not start leading recovery:\n" + log);
    }
    return serve;
  }

  String log() throws Exception {
    return Files.readString(output.toPath());
  }

  @Override
  public void close() throws Exception {
    process.destroy();
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly();
    }
    output.delete();
  }
}
