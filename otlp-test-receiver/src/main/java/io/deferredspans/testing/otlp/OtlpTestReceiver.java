package io.deferredspans.testing.otlp;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.deferredspans.otlp.json.ReceivedSpan;
import io.grpc.InsecureServerCredentials;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;
import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;
import io.opentelemetry.proto.metrics.v1.Metric;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.zip.GZIPInputStream;

/**
 * An in-process OTLP trace receiver for tests: real {@code OtlpHttpSpanExporter}s and {@code
 * OtlpGrpcSpanExporter}s send to it, and tests assert on what arrived on the wire.
 *
 * <p>{@link #start()} serves OTLP/HTTP with protobuf bodies (optionally gzip) at {@link
 * #httpEndpoint()} and OTLP/gRPC at {@link #grpcEndpoint()}, both on ephemeral loopback ports.
 * OTLP/HTTP with JSON bodies is refused with 415: the exporters this project tests send protobuf.
 *
 * <p>All methods are thread-safe. Typical use:
 *
 * <pre>{@code
 * try (OtlpTestReceiver receiver = OtlpTestReceiver.start()) {
 *   SpanExporter exporter =
 *       OtlpHttpSpanExporter.builder().setEndpoint(receiver.httpEndpoint()).build();
 *   ...
 *   List<ReceivedSpan> spans = receiver.awaitSpans(2, Duration.ofSeconds(10));
 * }
 * }</pre>
 */
public final class OtlpTestReceiver implements AutoCloseable {

  // Literal IPv4 loopback so that endpoints never need IPv6 bracket syntax.
  private static final String HOST = "127.0.0.1";
  private static final String TRACES_PATH = "/v1/traces";
  private static final String METRICS_PATH = "/v1/metrics";
  private static final String PROTOBUF = "application/x-protobuf";
  private static final String FAILING_MESSAGE = "OtlpTestReceiver.setFailing(true): outage";
  private static final String SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService";
  // Real exporters batch up to 512 spans; gRPC's 4 MiB default could reject a big attribute-heavy
  // batch and make a test fail for a reason that has nothing to do with the code under test.
  private static final int MAX_GRPC_MESSAGE_BYTES = 64 * 1024 * 1024;

  private static final MethodDescriptor<ExportTraceServiceRequest, ExportTraceServiceResponse>
      EXPORT_METHOD =
          MethodDescriptor.<ExportTraceServiceRequest, ExportTraceServiceResponse>newBuilder()
              .setType(MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, "Export"))
              .setRequestMarshaller(marshaller(ExportTraceServiceRequest.parser()))
              .setResponseMarshaller(marshaller(ExportTraceServiceResponse.parser()))
              .build();

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition received = lock.newCondition();
  private final List<ExportTraceServiceRequest> requests = new ArrayList<>();
  private final List<ExportMetricsServiceRequest> metricRequests = new ArrayList<>();
  private final List<ReceivedSpan> spans = new ArrayList<>();
  private final List<ReceivedSpan> spansWhileHung = new ArrayList<>();
  private int rejectedRequests;
  private boolean failing;
  // While set, replies wait for it: a hung collector that keeps what it received but answers late.
  private volatile CompletableFuture<Void> heldReplies;
  private final ScheduledExecutorService hangEnds =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread thread = new Thread(r, "otlp-test-receiver-hang");
            thread.setDaemon(true);
            return thread;
          });
  private final Consumer<ExportTraceServiceRequest> listener;

  private final ExecutorService httpExecutor;
  private final HttpServer httpServer;
  private final Server grpcServer;

  private OtlpTestReceiver(Consumer<ExportTraceServiceRequest> listener) throws IOException {
    this.listener = listener;
    httpExecutor =
        Executors.newCachedThreadPool(
            r -> {
              Thread thread = new Thread(r, "otlp-test-receiver-http");
              thread.setDaemon(true); // a test that forgets close() must not hang the JVM
              return thread;
            });
    httpServer = HttpServer.create(new InetSocketAddress(HOST, 0), 0);
    httpServer.createContext(TRACES_PATH, this::handleHttp);
    httpServer.createContext(METRICS_PATH, this::handleHttpMetrics);
    httpServer.setExecutor(httpExecutor);
    ServerServiceDefinition traceService =
        ServerServiceDefinition.builder(SERVICE)
            .addMethod(EXPORT_METHOD, ServerCalls.asyncUnaryCall(this::handleGrpc))
            .build();
    grpcServer =
        NettyServerBuilder.forAddress(
                new InetSocketAddress(HOST, 0), InsecureServerCredentials.create())
            .maxInboundMessageSize(MAX_GRPC_MESSAGE_BYTES)
            .addService(traceService)
            .build();
    httpServer.start();
    try {
      grpcServer.start();
    } catch (IOException | RuntimeException e) {
      stopHttp();
      throw e;
    }
  }

  /**
   * Starts a receiver with both endpoints listening.
   *
   * @throws UncheckedIOException if a port cannot be bound
   */
  public static OtlpTestReceiver start() {
    return start(request -> {});
  }

  /**
   * Starts a receiver that also hands each accepted trace export request to {@code listener}, on
   * the thread that received it and before the exporter is answered: once an export has succeeded,
   * the listener has run for it. Requests refused while {@link #setFailing failing} are not handed
   * over. If the listener throws, the export fails (HTTP 500, gRPC {@code INTERNAL}); the request
   * stays recorded.
   *
   * @throws UncheckedIOException if a port cannot be bound
   */
  public static OtlpTestReceiver start(Consumer<ExportTraceServiceRequest> listener) {
    Objects.requireNonNull(listener, "listener");
    try {
      return new OtlpTestReceiver(listener);
    } catch (IOException e) {
      throw new UncheckedIOException("Could not start the OTLP test receiver", e);
    }
  }

  /** The full OTLP/HTTP traces URL, for {@code OtlpHttpSpanExporterBuilder.setEndpoint}. */
  public String httpEndpoint() {
    return "http://" + HOST + ":" + httpServer.getAddress().getPort() + TRACES_PATH;
  }

  /** The full OTLP/HTTP metrics URL, for {@code OtlpHttpMetricExporterBuilder.setEndpoint}. */
  public String httpMetricsEndpoint() {
    return "http://" + HOST + ":" + httpServer.getAddress().getPort() + METRICS_PATH;
  }

  /** The OTLP/gRPC base URL, for {@code OtlpGrpcSpanExporterBuilder.setEndpoint}. */
  public String grpcEndpoint() {
    return "http://" + HOST + ":" + grpcServer.getPort();
  }

  /** A snapshot of every span received so far, in arrival order. */
  public List<ReceivedSpan> spans() {
    return locked(() -> List.copyOf(spans));
  }

  /** The spans of {@link #spans()} whose request arrived while replies were held (a hang), in arrival order. */
  public List<ReceivedSpan> spansReceivedWhileHung() {
    return locked(() -> List.copyOf(spansWhileHung));
  }

  /** A snapshot of every export request accepted so far, in arrival order. */
  public List<ExportTraceServiceRequest> requests() {
    return locked(() -> List.copyOf(requests));
  }

  /** How many export requests were accepted (rejected ones are not counted). */
  public int exportRequestCount() {
    return locked(requests::size);
  }

  /** How many export requests were refused because the receiver was {@link #setFailing failing}. */
  public int rejectedRequestCount() {
    return locked(() -> rejectedRequests);
  }

  /**
   * Waits until at least {@code count} spans have been received.
   *
   * @return a snapshot of all spans received, at least {@code count} of them
   * @throws AssertionError if fewer arrived within {@code timeout}, naming those that did
   */
  public List<ReceivedSpan> awaitSpans(int count, Duration timeout) {
    lock.lock();
    try {
      long remainingNanos = timeout.toNanos();
      while (spans.size() < count) {
        if (remainingNanos <= 0) {
          throw new AssertionError(
              "Expected at least "
                  + count
                  + " span(s) within "
                  + timeout
                  + " but received "
                  + spans.size()
                  + " in "
                  + requests.size()
                  + " request(s) ("
                  + rejectedRequests
                  + " rejected): "
                  + spans.stream().map(ReceivedSpan::name).toList());
        }
        remainingNanos = received.awaitNanos(remainingNanos);
      }
      return List.copyOf(spans);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("Interrupted while waiting for " + count + " span(s)", e);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Simulates a collector outage. While failing, HTTP requests get 503 and gRPC calls {@code
   * UNAVAILABLE}, both of which exporters treat as retryable; nothing is recorded, and each refused
   * request counts in {@link #rejectedRequestCount()}.
   */
  public void setFailing(boolean failing) {
    runLocked(() -> this.failing = failing);
  }

  /**
   * Simulates a hung collector: from now on every request (HTTP or gRPC) is recorded as received, but its reply
   * waits until {@link #releaseReplies()}. An exporter that times out meanwhile reports a failure although the
   * collector has the spans, as one does with a collector that was SIGSTOPped: the kernel took the request, and
   * the collector reads and keeps it when it runs again.
   */
  public void holdReplies() {
    runLocked(
        () -> {
          if (heldReplies == null) {
            heldReplies = new CompletableFuture<>();
          }
        });
  }

  /** Answers every held reply and stops holding new ones. */
  public void releaseReplies() {
    CompletableFuture<Void> held =
        locked(
            () -> {
              CompletableFuture<Void> current = heldReplies;
              heldReplies = null;
              return current;
            });
    if (held != null) {
      held.complete(null);
    }
  }

  /**
   * A hang of {@code duration}: {@link #holdReplies()} now and {@link #releaseReplies()} when it is over. Returns
   * at once; {@link #isHung()} says when the hang ended.
   */
  public void hang(Duration duration) {
    holdReplies();
    CompletableFuture<Void> thisHang = heldReplies;
    hangEnds.schedule(
        () -> {
          if (heldReplies == thisHang) {
            releaseReplies();
          }
        },
        duration.toNanos(),
        TimeUnit.NANOSECONDS);
  }

  /** True while replies are held. */
  public boolean isHung() {
    return heldReplies != null;
  }

  /**
   * Every metric data point received over OTLP/HTTP ({@code POST /v1/metrics}, protobuf), in arrival order, as
   * the exporter sent it.
   */
  public List<ExportMetricsServiceRequest> metricRequests() {
    return locked(() -> List.copyOf(metricRequests));
  }

  /**
   * Waits until a metric named {@code name} has arrived, and returns its latest copy.
   *
   * @throws AssertionError if it has not arrived within {@code timeout}
   */
  public Metric awaitMetric(String name, Duration timeout) {
    lock.lock();
    try {
      long remainingNanos = timeout.toNanos();
      while (true) {
        for (int i = metricRequests.size() - 1; i >= 0; i--) {
          for (var resource : metricRequests.get(i).getResourceMetricsList()) {
            for (var scope : resource.getScopeMetricsList()) {
              for (Metric metric : scope.getMetricsList()) {
                if (metric.getName().equals(name)) {
                  return metric;
                }
              }
            }
          }
        }
        if (remainingNanos <= 0) {
          throw new AssertionError("no metric " + name + " within " + timeout + " in " + metricRequests.size()
              + " metrics request(s)");
        }
        remainingNanos = received.awaitNanos(remainingNanos);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("Interrupted while waiting for metric " + name, e);
    } finally {
      lock.unlock();
    }
  }

  /** Forgets received requests, spans and counts. Does not change {@link #setFailing failing}. */
  public void reset() {
    runLocked(
        () -> {
          metricRequests.clear();
          requests.clear();
          spans.clear();
          spansWhileHung.clear();
          rejectedRequests = 0;
        });
  }

  /** Stops both endpoints, dropping requests in flight. */
  @Override
  public void close() {
    releaseReplies();
    hangEnds.shutdownNow();
    grpcServer.shutdownNow();
    stopHttp();
    try {
      grpcServer.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public String toString() {
    return "OtlpTestReceiver{http=" + httpEndpoint() + ", grpc=" + grpcEndpoint() + '}';
  }

  /** Records the request unless failing; atomically, so a test never sees half a request. */
  private boolean record(ExportTraceServiceRequest request, String transport) {
    return locked(
        () -> {
          if (failing) {
            rejectedRequests++;
            return false;
          }
          requests.add(request);
          List<ReceivedSpan> arrived = ReceivedSpan.fromRequest(request, transport);
          spans.addAll(arrived);
          if (heldReplies != null) {
            spansWhileHung.addAll(arrived);
          }
          received.signalAll();
          return true;
        });
  }

  /** @return null if the listener took the request, else why it did not */
  private String notifyListener(ExportTraceServiceRequest request) {
    try {
      listener.accept(request);
      return null;
    } catch (RuntimeException e) {
      return "listener failed: " + e;
    }
  }

  private void handleHttp(HttpExchange exchange) throws IOException {
    try {
      if (!"POST".equals(exchange.getRequestMethod())
          || !TRACES_PATH.equals(exchange.getRequestURI().getPath())) {
        fail(exchange, 404, Status.Code.NOT_FOUND, "Only POST " + TRACES_PATH + " is served");
        return;
      }
      byte[] body = readBody(exchange);
      String contentType = exchange.getRequestHeaders().getFirst("Content-Type");
      if (contentType == null || !contentType.startsWith(PROTOBUF)) {
        fail(exchange, 415, Status.Code.INVALID_ARGUMENT, "Only " + PROTOBUF + " is supported");
        return;
      }
      ExportTraceServiceRequest request;
      try {
        request = ExportTraceServiceRequest.parseFrom(body);
      } catch (InvalidProtocolBufferException e) {
        fail(
            exchange,
            400,
            Status.Code.INVALID_ARGUMENT,
            "Not an ExportTraceServiceRequest: " + e.getMessage());
        return;
      }
      if (record(request, ReceivedSpan.TRANSPORT_HTTP)) {
        String listenerFailure = notifyListener(request);
        if (listenerFailure != null) {
          fail(exchange, 500, Status.Code.INTERNAL, listenerFailure);
          return;
        }
        awaitRelease();
        respond(exchange, 200, ExportTraceServiceResponse.getDefaultInstance().toByteArray());
      } else {
        fail(exchange, 503, Status.Code.UNAVAILABLE, FAILING_MESSAGE);
      }
    } finally {
      exchange.close();
    }
  }

  private void handleHttpMetrics(HttpExchange exchange) throws IOException {
    try {
      if (!"POST".equals(exchange.getRequestMethod())) {
        fail(exchange, 404, Status.Code.NOT_FOUND, "Only POST " + METRICS_PATH + " is served");
        return;
      }
      ExportMetricsServiceRequest request;
      try {
        request = ExportMetricsServiceRequest.parseFrom(readBody(exchange));
      } catch (InvalidProtocolBufferException e) {
        fail(exchange, 400, Status.Code.INVALID_ARGUMENT, "Not an ExportMetricsServiceRequest: " + e.getMessage());
        return;
      }
      runLocked(() -> {
        metricRequests.add(request);
        received.signalAll();
      });
      respond(exchange, 200, ExportMetricsServiceResponse.getDefaultInstance().toByteArray());
    } finally {
      exchange.close();
    }
  }

  private void awaitRelease() {
    CompletableFuture<Void> held = heldReplies;
    if (held == null) {
      return;
    }
    try {
      held.get(5, TimeUnit.MINUTES);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      // answer now: a test that forgot to release must not pin the thread forever
    }
  }

  private void handleGrpc(
      ExportTraceServiceRequest request, StreamObserver<ExportTraceServiceResponse> response) {
    if (record(request, ReceivedSpan.TRANSPORT_GRPC)) {
      String listenerFailure = notifyListener(request);
      if (listenerFailure != null) {
        response.onError(Status.INTERNAL.withDescription(listenerFailure).asRuntimeException());
        return;
      }
      CompletableFuture<Void> held = heldReplies;
      Runnable answer =
          () -> {
            try {
              response.onNext(ExportTraceServiceResponse.getDefaultInstance());
              response.onCompleted();
            } catch (RuntimeException callerGaveUp) {
              // the exporter's deadline passed meanwhile: the data is kept all the same
            }
          };
      if (held == null) {
        answer.run();
      } else {
        held.thenRun(answer);
      }
    } else {
      response.onError(
          Status.UNAVAILABLE
              .withDescription(FAILING_MESSAGE)
              .asRuntimeException());
    }
  }

  private static byte[] readBody(HttpExchange exchange) throws IOException {
    InputStream in = exchange.getRequestBody();
    if ("gzip".equalsIgnoreCase(exchange.getRequestHeaders().getFirst("Content-Encoding"))) {
      in = new GZIPInputStream(in);
    }
    try (InputStream body = in) {
      return body.readAllBytes();
    }
  }

  /**
   * OTLP/HTTP error bodies are a protobuf {@code google.rpc.Status}; the exporters decode it into
   * their log line. Written by hand (code = 1, message = 2) to avoid a dependency for two fields.
   */
  private static void fail(HttpExchange exchange, int status, Status.Code code, String message)
      throws IOException {
    ByteString.Output body = ByteString.newOutput();
    CodedOutputStream out = CodedOutputStream.newInstance(body);
    out.writeInt32(1, code.value());
    out.writeString(2, message);
    out.flush();
    respond(exchange, status, body.toByteString().toByteArray());
  }

  private static void respond(HttpExchange exchange, int status, byte[] body) throws IOException {
    exchange.getResponseHeaders().set("Content-Type", PROTOBUF);
    // HttpServer reads length 0 as "chunked"; -1 is how it spells an empty, fixed-length body.
    exchange.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(body);
    }
  }

  private void stopHttp() {
    httpServer.stop(0);
    httpExecutor.shutdownNow();
  }

  private <T> T locked(Supplier<T> action) {
    lock.lock();
    try {
      return action.get();
    } finally {
      lock.unlock();
    }
  }

  private void runLocked(Runnable action) {
    locked(
        () -> {
          action.run();
          return null;
        });
  }

  /**
   * Hand-written rather than grpc-protobuf's, which would add proto-google-common-protos and a
   * second protobuf-java pin for nothing a test needs.
   */
  private static <T extends MessageLite> MethodDescriptor.Marshaller<T> marshaller(
      Parser<T> parser) {
    return new MethodDescriptor.Marshaller<>() {
      @Override
      public InputStream stream(T value) {
        return value.toByteString().newInput();
      }

      @Override
      public T parse(InputStream stream) {
        try {
          return parser.parseFrom(stream);
        } catch (InvalidProtocolBufferException e) {
          throw Status.INVALID_ARGUMENT
              .withDescription("Not a valid protobuf message: " + e.getMessage())
              .withCause(e)
              .asRuntimeException();
        }
      }
    };
  }
}
