package io.deferredspans.crosslanguage;

import io.deferredspans.cli.DeferredSpansCli;
import io.deferredspans.testing.JvmProcess;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * {@code deferred-spans serve} in its own JVM from this test classpath, exporting to an OTLP/HTTP endpoint: the
 * service that exports what Python ends. Ready once it leads recovery.
 */
final class ServeService extends JvmProcess {
  private ServeService(List<String> args, Map<String, String> environment) throws IOException {
    super("serve-1", DeferredSpansCli.class, List.of("-Xmx192m"), args, environment);
  }

  static ServeService start(String zookeeper, String otlpTracesEndpoint, Duration timeout) throws Exception {
    ServeService serve = new ServeService(
        List.of("serve", "--zookeeper", zookeeper, "--host-name", "serve-1", "--scan-interval", "200ms",
            "--grace-period", "500ms"),
        Map.of(
            "OTEL_TRACES_EXPORTER", "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", otlpTracesEndpoint,
            "OTEL_BSP_SCHEDULE_DELAY", "50"));
    try {
      serve.await("serve: leading recovery", timeout);
    } catch (AssertionError e) {
      serve.close();
      throw new AssertionError("serve did not start leading recovery: " + e.getMessage(), e);
    }
    return serve;
  }

  /** SIGTERM first, so serve stops as a service manager stops it; SIGKILL if it has not exited within a minute. */
  @Override
  public void close() {
    try {
      if (isAlive()) {
        terminate(Duration.ofSeconds(60));
      }
    } catch (Exception | AssertionError stuck) {
      // killed below
    }
    super.close();
  }
}
