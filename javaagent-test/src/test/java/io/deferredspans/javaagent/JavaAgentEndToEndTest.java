package io.deferredspans.javaagent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.deferredspans.otlp.json.ReceivedSpan;
import io.deferredspans.sdk.DeferredSpanAttributes;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A deferred span begun in one JVM run with the real OpenTelemetry Java agent and ended in another, both
 * exporting to a real OTLP receiver with nothing but {@code OTEL_*} settings: the agent exports the ordinary
 * spans, {@code forJavaAgent()} the deferred one.
 */
class JavaAgentEndToEndTest {
  private static final String SERVICE = "checkout-queue";
  private static final Duration PROCESS_TIMEOUT = Duration.ofSeconds(45);

  @Test
  void spanBegunUnderTheAgentInOneJvmArrivesFromAnotherWithItsChild(@TempDir Path dir) throws Exception {
    try (OtlpTestReceiver receiver = OtlpTestReceiver.start()) {
      Path recordFile = dir.resolve("queue-item.record");

      List<String> began = runApplication("begin-host", "begin", recordFile, receiver);
      DeferredSpanRecord record = DeferredSpanRecord.fromBytes(Files.readAllBytes(recordFile), "file");
      String ids = record.getSpanContext().getTraceId() + " " + record.getSpanContext().getSpanId();
      assertTrue(began.contains("BEGAN " + ids), began.toString());
      runApplication("end-host", "end", recordFile, receiver);

      // Both JVMs have exited, each after flushing both pipelines: every span they sent is here.
      List<ReceivedSpan> spans = receiver.awaitSpans(3, Duration.ofSeconds(10));
      assertEquals(List.of("Enqueue", "Job", "QueueItem"), spans.stream().map(ReceivedSpan::name).sorted().toList(),
          "nothing else either, e.g. no span for the deferred pipeline's own OTLP requests: " + spans);
      ReceivedSpan enqueue = named(spans, "Enqueue");
      ReceivedSpan deferred = named(spans, "QueueItem");
      ReceivedSpan job = named(spans, "Job");

      assertEquals(record.getSpanContext().getTraceId(), deferred.traceId());
      assertEquals(record.getSpanContext().getSpanId(), deferred.spanId());
      assertEquals(record.getStartEpochNanos(), deferred.startEpochNanos(), "the start time of the first JVM");
      assertEquals(enqueue.spanId(), deferred.parentSpanId(), "begun under the agent's current span");
      assertEquals(enqueue.traceId(), deferred.traceId());
      assertEquals("begin-host", deferred.attributes().get(DeferredSpanAttributes.BEGAN_BY.getKey()));
      assertEquals("end-host", deferred.attributes().get(DeferredSpanAttributes.ENDED_BY.getKey()));
      assertEquals("SUCCESS", deferred.attributes().get("result"));

      assertEquals(deferred.traceId(), job.traceId());
      assertEquals(deferred.spanId(), job.parentSpanId(), "the agent's span has the stored span as parent");
      assertEquals(AgentApplication.SCOPE, job.scopeName());

      for (ReceivedSpan span : spans) {
        assertEquals(SERVICE, span.resourceAttributes().get("service.name"), span.name());
        assertEquals(ReceivedSpan.TRANSPORT_HTTP, span.transport(), span.name() + ": the agent's default protocol");
      }
      assertEquals("begin-host", enqueue.resourceAttributes().get("service.instance.id"));
      assertEquals("end-host", deferred.resourceAttributes().get("service.instance.id"));
      assertEquals("end-host", job.resourceAttributes().get("service.instance.id"));
    }
  }

  /** Runs {@link AgentApplication} with {@code -javaagent} to completion; returns what it printed. */
  private static List<String> runApplication(String host, String mode, Path recordFile, OtlpTestReceiver receiver)
      throws IOException, InterruptedException {
    Path agent = Path.of(System.getProperty("javaagent.jar"));
    assertTrue(Files.isRegularFile(agent), "the agent jar was not copied: " + agent);
    Path stdout = Path.of("target", "javaagent-" + host + ".out").toAbsolutePath();
    Path stderr = Path.of("target", "javaagent-" + host + ".err").toAbsolutePath();
    List<String> command = new ArrayList<>(List.of(
        ProcessHandle.current().info().command().orElse("java"),
        "-javaagent:" + agent,
        "-Xmx256m",
        "-XX:TieredStopAtLevel=1", // short-lived: start fast rather than run fast
        "-cp", System.getProperty("java.class.path"),
        AgentApplication.class.getName(), mode, recordFile.toString()));
    ProcessBuilder builder = new ProcessBuilder(command).redirectOutput(stdout.toFile()).redirectError(stderr.toFile());
    Map<String, String> environment = builder.environment();
    environment.keySet().removeIf(name -> name.startsWith("OTEL_")); // a developer's own settings stay out
    String traces = receiver.httpEndpoint();
    // Only the base endpoint: each pipeline appends /v1/traces itself, with its own default protocol.
    environment.put("OTEL_EXPORTER_OTLP_ENDPOINT", traces.substring(0, traces.length() - "/v1/traces".length()));
    environment.put("OTEL_SERVICE_NAME", SERVICE);
    environment.put("OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=" + host);
    // The receiver takes traces only.
    environment.put("OTEL_METRICS_EXPORTER", "none");
    environment.put("OTEL_LOGS_EXPORTER", "none");
    Process process = builder.start();
    boolean exited = process.waitFor(PROCESS_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    if (!exited) {
      process.destroyForcibly().waitFor();
    }
    List<String> lines = Files.readAllLines(stdout, StandardCharsets.UTF_8);
    String diagnostics = host + " " + mode + " printed " + lines + "; stderr in " + stderr + ":\n" + tail(stderr);
    assertTrue(exited, "did not exit within " + PROCESS_TIMEOUT + ": " + diagnostics);
    assertEquals(0, process.exitValue(), diagnostics);
    assertTrue(lines.contains("DONE"), diagnostics);
    assertTrue(lines.stream().anyMatch(line -> line.startsWith("GLOBAL io.opentelemetry.javaagent.")),
        "the application saw the agent's OpenTelemetry: " + diagnostics);
    return lines;
  }

  private static String tail(Path file) throws IOException {
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
  }

  private static ReceivedSpan named(List<ReceivedSpan> spans, String name) {
    return spans.stream().filter(span -> span.name().equals(name)).findFirst().orElseThrow();
  }
}
