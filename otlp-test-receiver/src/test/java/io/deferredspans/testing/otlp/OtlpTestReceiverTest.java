package io.deferredspans.testing.otlp;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.UnknownFieldSet;
import io.deferredspans.otlp.json.OtlpJsonLines;
import io.deferredspans.otlp.json.ReceivedSpan;
import io.deferredspans.otlp.json.SampleSpans;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.exporter.otlp.trace.OtlpGrpcSpanExporter;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class OtlpTestReceiverTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(20);

  /** The real exporters, as other modules will configure them, over each wire format. */
  enum Wire {
    HTTP(ReceivedSpan.TRANSPORT_HTTP, r -> http(r, "none")),
    HTTP_GZIP(ReceivedSpan.TRANSPORT_HTTP, r -> http(r, "gzip")),
    GRPC(ReceivedSpan.TRANSPORT_GRPC, r -> grpc(r, "none")),
    GRPC_GZIP(ReceivedSpan.TRANSPORT_GRPC, r -> grpc(r, "gzip"));

    final String transport;
    final Function<OtlpTestReceiver, SpanExporter> exporter;

    Wire(String transport, Function<OtlpTestReceiver, SpanExporter> exporter) {
      this.transport = transport;
      this.exporter = exporter;
    }

    // Retries off: an outage must surface as a failed export now, not after seconds of backoff.
    private static SpanExporter http(OtlpTestReceiver receiver, String compression) {
      return OtlpHttpSpanExporter.builder()
          .setEndpoint(receiver.httpEndpoint())
          .setCompression(compression)
          .setRetryPolicy(null)
          .build();
    }

    private static SpanExporter grpc(OtlpTestReceiver receiver, String compression) {
      return OtlpGrpcSpanExporter.builder()
          .setEndpoint(receiver.grpcEndpoint())
          .setCompression(compression)
          .setRetryPolicy(null)
          .build();
    }
  }

  private OtlpTestReceiver receiver;

  @BeforeEach
  void startReceiver() {
    receiver = OtlpTestReceiver.start();
  }

  @AfterEach
  void closeReceiver() {
    receiver.close();
  }

  @ParameterizedTest
  @EnumSource(Wire.class)
  void decodesWhatARealExporterSends(Wire wire) {
    SampleSpans sample = SampleSpans.create();
    SpanExporter exporter = wire.exporter.apply(receiver);
    try {
      // Await before joining: the exporter is asynchronous, so this exercises the wake-up path.
      CompletableResultCode result = exporter.export(sample.asList());
      List<ReceivedSpan> spans = receiver.awaitSpans(2, TIMEOUT);
      assertTrue(result.join(TIMEOUT.toSeconds(), TimeUnit.SECONDS).isSuccess());

      sample.assertReceived(spans, wire.transport);
      assertEquals(1, receiver.exportRequestCount());
      assertEquals(1, receiver.requests().size());
      assertEquals(spans, receiver.spans());
      assertEquals(0, receiver.rejectedRequestCount());
    } finally {
      exporter.shutdown().join(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    }
  }

  /**
   * The JSON lines reader and this receiver must agree: the JSON that OpenTelemetry's stdout
   * exporter wrote and the protobuf its HTTP exporter sends, for the same spans, decode to the same
   * spans; and a request off the wire, written as a JSON line, reads back as itself. Here rather
   * than beside the reader because the reader's module cannot depend on the receiver, which
   * depends on it.
   */
  @Test
  void jsonLinesAndProtobufOnTheWireAgree() {
    SampleSpans sample = SampleSpans.fixed();
    SpanExporter http = Wire.HTTP.exporter.apply(receiver);
    try {
      assertTrue(export(http, sample).isSuccess());
    } finally {
      http.shutdown().join(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    }
    sample.assertReceived(receiver.awaitSpans(2, TIMEOUT), ReceivedSpan.TRANSPORT_HTTP);
    List<ReceivedSpan> fromStdoutExporter = OtlpJsonLines.parseSpans(SampleSpans.stdoutExporterLines());
    sample.assertReceived(fromStdoutExporter.subList(0, 2), ReceivedSpan.TRANSPORT_FILE);

    ExportTraceServiceRequest onTheWire = receiver.requests().get(0);
    assertEquals(onTheWire, OtlpJsonLines.parseRequest(OtlpJsonLines.toJsonLine(onTheWire)));
  }

  @Test
  void listenerHasEveryRequestBeforeTheExporterIsAnswered() {
    List<ExportTraceServiceRequest> heard = new CopyOnWriteArrayList<>();
    try (OtlpTestReceiver listening = OtlpTestReceiver.start(heard::add)) {
      SpanExporter http = Wire.HTTP.exporter.apply(listening);
      try {
        assertTrue(export(http, SampleSpans.create()).isSuccess());
        assertEquals(listening.requests(), heard);
        listening.setFailing(true);
        assertFalse(export(http, SampleSpans.create()).isSuccess());
        assertEquals(1, heard.size());
      } finally {
        http.shutdown().join(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void listenerThatThrowsFailsTheExport() {
    try (OtlpTestReceiver listening =
        OtlpTestReceiver.start(
            request -> {
              throw new IllegalStateException("disk full");
            })) {
      SpanExporter http = Wire.HTTP.exporter.apply(listening);
      try {
        assertFalse(export(http, SampleSpans.create()).isSuccess());
        assertEquals(1, listening.exportRequestCount());
      } finally {
        http.shutdown().join(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
      }
    }
  }

  @ParameterizedTest
  @EnumSource(
      value = Wire.class,
      names = {"HTTP", "GRPC"})
  void failingModeRejectsAndRecordsNothingUntilItRecovers(Wire wire) {
    SpanExporter exporter = wire.exporter.apply(receiver);
    try {
      receiver.setFailing(true);
      assertFalse(export(exporter, SampleSpans.create()).isSuccess());
      assertEquals(1, receiver.rejectedRequestCount());
      assertEquals(0, receiver.exportRequestCount());
      assertEquals(List.of(), receiver.spans());

      receiver.setFailing(false);
      SampleSpans sample = SampleSpans.create();
      assertTrue(export(exporter, sample).isSuccess());
      sample.assertReceived(receiver.awaitSpans(2, TIMEOUT), wire.transport);
      assertEquals(1, receiver.rejectedRequestCount());
      assertEquals(1, receiver.exportRequestCount());
    } finally {
      exporter.shutdown().join(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    }
  }

  /**
   * A hung collector keeps what it was sent but answers too late: the exporter times out and reports a
   * failure for a batch the receiver has. Once the hang is over, requests are answered again.
   */
  @ParameterizedTest
  @EnumSource(
      value = Wire.class,
      names = {"HTTP", "GRPC"})
  void hangKeepsTheSpansButAnswersAfterTheExportersTimeout(Wire wire) {
    SpanExporter exporter =
        wire == Wire.HTTP
            ? OtlpHttpSpanExporter.builder()
                .setEndpoint(receiver.httpEndpoint())
                .setTimeout(Duration.ofMillis(300))
                .setRetryPolicy(null)
                .build()
            : OtlpGrpcSpanExporter.builder()
                .setEndpoint(receiver.grpcEndpoint())
                .setTimeout(Duration.ofMillis(300))
                .setRetryPolicy(null)
                .build();
    try {
      receiver.hang(Duration.ofSeconds(3));
      assertTrue(receiver.isHung());
      CompletableResultCode timedOut = export(exporter, SampleSpans.create());
      assertFalse(timedOut.isSuccess());
      assertTrue(receiver.isHung(), "the exporter gave up before the hang ended");
      assertEquals(2, receiver.awaitSpans(2, TIMEOUT).size(), "kept although it was not answered");
      assertEquals(receiver.spans(), receiver.spansReceivedWhileHung());

      await().atMost(TIMEOUT).until(() -> !receiver.isHung());
      SampleSpans sample = SampleSpans.create();
      assertTrue(export(exporter, sample).isSuccess());
      assertEquals(4, receiver.awaitSpans(4, TIMEOUT).size());
      assertEquals(2, receiver.spansReceivedWhileHung().size(), "answered at once: not during the hang");
    } finally {
      exporter.shutdown().join(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    }
  }

  @Test
  void awaitSpansFailsWithWhatDidArrive() {
    SpanExporter exporter = Wire.HTTP.exporter.apply(receiver);
    try {
      assertTrue(export(exporter, SampleSpans.create()).isSuccess());
      AssertionError error =
          assertThrows(AssertionError.class, () -> receiver.awaitSpans(3, Duration.ofMillis(50)));
      assertTrue(
          error.getMessage().startsWith("Expected at least 3 span(s) within PT0.05S but received 2"),
          error.getMessage());
      assertTrue(error.getMessage().contains("[child-op, parent-op]"), error.getMessage());
    } finally {
      exporter.shutdown().join(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    }
  }

  @Test
  void awaitSpansWakesUpWhenSpansArrive() throws Exception {
    CompletableFuture<List<ReceivedSpan>> awaited = new CompletableFuture<>();
    Thread waiter =
        new Thread(
            () -> {
              try {
                // Longer than the get() below: a lost signal must fail the test, not end in a late
                // success when awaitNanos runs out and the loop finds the spans anyway.
                awaited.complete(receiver.awaitSpans(2, TIMEOUT.multipliedBy(3)));
              } catch (Throwable t) {
                awaited.completeExceptionally(t);
              }
            });
    waiter.setDaemon(true);
    waiter.start();
    // TIMED_WAITING means parked in the condition's awaitNanos: the spans must now be signalled in.
    while (waiter.getState() != Thread.State.TIMED_WAITING && !awaited.isDone()) {
      Thread.onSpinWait();
    }
    SpanExporter exporter = Wire.HTTP.exporter.apply(receiver);
    try {
      SampleSpans sample = SampleSpans.create();
      assertTrue(export(exporter, sample).isSuccess());
      sample.assertReceived(
          awaited.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS), ReceivedSpan.TRANSPORT_HTTP);
    } finally {
      exporter.shutdown().join(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    }
  }

  @Test
  void resetForgetsEverythingReceived() {
    SpanExporter exporter = Wire.GRPC.exporter.apply(receiver);
    try {
      receiver.setFailing(true);
      export(exporter, SampleSpans.create());
      receiver.setFailing(false);
      assertTrue(export(exporter, SampleSpans.create()).isSuccess());
      receiver.awaitSpans(2, TIMEOUT);

      receiver.reset();

      assertEquals(List.of(), receiver.spans());
      assertEquals(List.of(), receiver.requests());
      assertEquals(0, receiver.exportRequestCount());
      assertEquals(0, receiver.rejectedRequestCount());
    } finally {
      exporter.shutdown().join(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    }
  }

  @Test
  void httpEndpointSpeaksOtlpProtobufOnly() throws Exception {
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    URI traces = URI.create(receiver.httpEndpoint());

    HttpResponse<byte[]> ok =
        client.send(
            post(traces, "application/x-protobuf", new byte[0]),
            HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(200, ok.statusCode());
    assertEquals("application/x-protobuf", ok.headers().firstValue("Content-Type").orElseThrow());
    assertEquals(0, ok.body().length);

    HttpResponse<byte[]> json =
        client.send(
            post(traces, "application/json", new byte[] {'{', '}'}),
            HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(415, json.statusCode());
    // OTLP error bodies are google.rpc.Status: code (field 1) and message (field 2).
    UnknownFieldSet status = UnknownFieldSet.parseFrom(json.body());
    assertEquals(List.of(3L), status.getField(1).getVarintList()); // INVALID_ARGUMENT
    assertEquals(
        "Only application/x-protobuf is supported",
        status.getField(2).getLengthDelimitedList().get(0).toStringUtf8());
    assertEquals(
        400, status(client, post(traces, "application/x-protobuf", new byte[] {(byte) 0xff})));
    assertEquals(404, status(client, HttpRequest.newBuilder(traces).GET().build()));
    assertEquals(
        404,
        status(client, post(traces.resolve("/v1/tracesX"), "application/x-protobuf", new byte[0])));
    // The empty request above was accepted but carries no spans.
    assertEquals(1, receiver.exportRequestCount());
    assertEquals(List.of(), receiver.spans());
  }

  @Test
  void endpointsAreLoopbackOnDistinctPorts() {
    assertTrue(receiver.httpEndpoint().matches("http://127\\.0\\.0\\.1:\\d+/v1/traces"));
    assertTrue(receiver.grpcEndpoint().matches("http://127\\.0\\.0\\.1:\\d+"));
    assertNotEquals(
        URI.create(receiver.httpEndpoint()).getPort(), URI.create(receiver.grpcEndpoint()).getPort());
  }

  private static CompletableResultCode export(SpanExporter exporter, SampleSpans sample) {
    return exporter.export(sample.asList()).join(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
  }

  private static HttpRequest post(URI uri, String contentType, byte[] body) {
    return HttpRequest.newBuilder(uri)
        .header("Content-Type", contentType)
        .POST(HttpRequest.BodyPublishers.ofByteArray(body))
        .build();
  }

  private static int status(HttpClient client, HttpRequest request) throws Exception {
    return client.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
  }
}
