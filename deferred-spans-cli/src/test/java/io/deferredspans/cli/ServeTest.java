package io.deferredspans.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deferredspans.otlp.json.ReceivedSpan;
import io.deferredspans.store.EndResult;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;

/**
 * {@code serve} as its own process: an application host ends a span and loses its session before its pipeline
 * exported it, and a serve process exports it, once, through its own OTEL_*-configured pipeline; two serve
 * processes share the work through the leader latch and hand over on SIGTERM.
 */
class ServeTest {
  private static final String BASE = "/deferred-spans";
  private static final Duration WAIT = Duration.ofSeconds(30);

  @Test
  void serveExportsOnceWhatAKilledHostEndedButNeverExported() throws Exception {
    try (TestingServer zookeeper = new TestingServer(true); OtlpTestReceiver receiver = OtlpTestReceiver.start()) {
      String zk = zookeeper.getConnectString();
      // The host's pipeline would export only in an hour: the span stays in ZooKeeper, claimed by its session.
      AppHost host = AppHost.start("app-1", zk, BASE,
          OtlpHttpSpanExporter.builder().setEndpoint(receiver.httpEndpoint()).build(), Duration.ofHours(1));
      Map<String, String> otel = Map.of(
          "OTEL_TRACES_EXPORTER", "otlp",
          "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf",
          "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.httpEndpoint(),
          "OTEL_BSP_SCHEDULE_DELAY", "50");
      String[] options = {"--zookeeper", zk, "--scan-interval", "200ms", "--grace-period", "500ms"};
      try (ServeProcess serveA = ServeProcess.launch("serve-a", otel, with(options, "--host-name", "serve-a"));
          ServeProcess serveB = ServeProcess.launch("serve-b", otel, with(options, "--host-name", "serve-b"))) {
        serveA.await("serve: started: store " + BASE + " on " + zk + ", instance serve-a", WAIT);
        serveB.await("serve: started: store " + BASE + " on " + zk + ", instance serve-b", WAIT);
        await().atMost(WAIT).until(() -> serveA.lines().contains("serve: leading recovery")
            != serveB.lines().contains("serve: leading recovery"));
        ServeProcess leader = serveA.lines().contains("serve: leading recovery") ? serveA : serveB;
        ServeProcess standby = leader == serveA ? serveB : serveA;
        JsonNode stats = new ObjectMapper().readTree(Cli.run(zk, "stats", "--json").out());
        assertThat(stats.at("/recovery/workers").asInt()).isEqualTo(2);
        assertThat(stats.at("/recovery/leader").asText()).isEqualTo(leader == serveA ? "serve-a" : "serve-b");

        host.begin("item-1", "QueueItem", Duration.ofMinutes(3));
        EndResult end = host.end("item-1");
        assertThat(end.getOutcome()).isEqualTo(EndResult.Outcome.ENDED);
        String spanId = end.getSpan().orElseThrow().getRecord().getSpanContext().getSpanId();
        host.loseSession(); // the host dies: its claim vanishes with its session

        await().atMost(WAIT).until(() -> exported(receiver, spanId).size() == 1);
        ReceivedSpan span = exported(receiver, spanId).get(0);
        assertThat(span.name()).isEqualTo("QueueItem");
        assertThat(span.resourceAttributes()).containsEntry("service.name", "deferred-spans-serve");
        await().atMost(WAIT).until(() -> Cli.run(zk, "pending", "--json").out().strip().equals("[ ]"));
        // The dead host's pipeline still held the span; its store's fence refuses it now that the session is gone.
        host.shutdownPipeline();
        assertThat(exported(receiver, spanId)).hasSize(1);

        assertThat(leader.terminate(WAIT)).isEqualTo(143); // 128 + SIGTERM, after the shutdown hook ran
        assertThat(leader.lines()).containsSubsequence("serve: stopping", "serve: stopped");
        standby.await("serve: leading recovery", WAIT);
        assertThat(standby.terminate(WAIT)).isEqualTo(143);
        assertThat(standby.lines()).containsSubsequence(
            "serve: standing by (another instance leads, or none is elected yet)", "serve: leading recovery",
            "serve: stopping", "serve: stopped");
        assertThat(standby.stderrText()).doesNotContain("Exception");
      }
      assertThat(receiver.spans()).hasSize(1); // and nothing else was exported either
    }
  }

  @Test
  void serveRefusesToStartWithAClearMessage() throws Exception {
    int closedPort;
    try (ServerSocket socket = new ServerSocket(0)) {
      closedPort = socket.getLocalPort();
    }
    Cli.Result unreachable = Cli.runRaw("serve", "--zookeeper", "127.0.0.1:" + closedPort, "--connect-timeout", "1s");
    assertThat(unreachable.exitCode()).isEqualTo(ExitCodes.UNREACHABLE);
    assertThat(unreachable.err()).startsWith("deferred-spans: cannot reach ZooKeeper at 127.0.0.1:" + closedPort);

    try (TestingServer zookeeper = new TestingServer(true)) {
      String zk = zookeeper.getConnectString();
      Cli.Result noStore = Cli.runRaw("serve", "--zookeeper", zk, "--base-path", "/typo");
      assertThat(noStore.exitCode()).isEqualTo(ExitCodes.NO_STORE);
      assertThat(noStore.err()).startsWith("deferred-spans: no deferred-spans store at /typo");

      try (AppHost host = AppHost.holdingExports("app-1", zk, BASE)) {
        System.setProperty("otel.traces.exporter", "none");
        try {
          Cli.Result noExporter = Cli.runRaw("serve", "--zookeeper", zk);
          assertThat(noExporter.exitCode()).isEqualTo(ExitCodes.CANNOT_START);
          assertThat(noExporter.err().strip()).isEqualTo("deferred-spans: no span exporter is configured "
              + "(OTEL_TRACES_EXPORTER=none?): serve would export recovered spans nowhere");
        } finally {
          System.clearProperty("otel.traces.exporter");
        }
        System.setProperty("otel.traces.sampler", "no-such-sampler");
        try {
          Cli.Result badConfig = Cli.runRaw("serve", "--zookeeper", zk);
          assertThat(badConfig.exitCode()).isEqualTo(ExitCodes.CANNOT_START);
          assertThat(badConfig.err()).startsWith("deferred-spans: invalid OpenTelemetry configuration: ");
        } finally {
          System.clearProperty("otel.traces.sampler");
        }
      }
    }
  }

  private static String[] with(String[] options, String... more) {
    return Stream.concat(Arrays.stream(options), Arrays.stream(more)).toArray(String[]::new);
  }

  private static List<ReceivedSpan> exported(OtlpTestReceiver receiver, String spanId) {
    return receiver.spans().stream().filter(span -> span.spanId().equals(spanId)).toList();
  }
}
