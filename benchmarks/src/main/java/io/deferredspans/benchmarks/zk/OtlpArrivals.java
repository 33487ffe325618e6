package io.deferredspans.benchmarks.zk;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.deferredspans.otlp.json.ReceivedSpan;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The OTLP/HTTP endpoint of figure 7: it answers every export request and notes, per span id, the moment the
 * request holding it was decoded. Its own small receiver rather than the build's OTLP test receiver, which is test
 * support and stays off this module's main classpath; stamping in the handler also spares the measurement a
 * watcher thread's wake-up.
 */
final class OtlpArrivals implements AutoCloseable {
  // Literal IPv4 loopback so the endpoint never needs IPv6 bracket syntax.
  private static final String HOST = "127.0.0.1";
  private static final String TRACES_PATH = "/v1/traces";

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition arrived = lock.newCondition();
  private final Map<String, Long> arrivalNanos = new HashMap<>();
  private final ExecutorService executor;
  private final HttpServer server;

  private OtlpArrivals() throws IOException {
    executor = Executors.newCachedThreadPool(r -> {
      Thread thread = new Thread(r, "otlp-arrivals");
      thread.setDaemon(true);
      return thread;
    });
    server = HttpServer.create(new InetSocketAddress(HOST, 0), 0);
    server.createContext(TRACES_PATH, this::handle);
    server.setExecutor(executor);
    server.start();
  }

  static OtlpArrivals start() throws IOException {
    return new OtlpArrivals();
  }

  /** The full OTLP/HTTP traces URL, for {@code OtlpHttpSpanExporterBuilder.setEndpoint}. */
  String endpoint() {
    return "http://" + HOST + ":" + server.getAddress().getPort() + TRACES_PATH;
  }

  /** Forgets every arrival, so one repetition's spans cannot answer for the next one's. */
  void reset() {
    lock.lock();
    try {
      arrivalNanos.clear();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits until every span id has arrived.
   *
   * @return {@link System#nanoTime()} at each span's arrival, by span id
   * @throws IllegalStateException naming how many arrived if not all did within {@code patience}
   */
  Map<String, Long> await(Collection<String> spanIds, Duration patience) throws InterruptedException {
    lock.lock();
    try {
      long remaining = patience.toNanos();
      while (!arrivalNanos.keySet().containsAll(spanIds)) {
        if (remaining <= 0) {
          long seen = spanIds.stream().filter(arrivalNanos::containsKey).count();
          throw new IllegalStateException("spans stopped arriving after " + seen + " of " + spanIds.size());
        }
        remaining = arrived.awaitNanos(remaining);
      }
      return Map.copyOf(arrivalNanos);
    } finally {
      lock.unlock();
    }
  }

  private void handle(HttpExchange exchange) throws IOException {
    try {
      ExportTraceServiceRequest request;
      try (InputStream body = exchange.getRequestBody()) {
        request = ExportTraceServiceRequest.parseFrom(body);
      }
      long now = System.nanoTime();
      lock.lock();
      try {
        for (ReceivedSpan span : ReceivedSpan.fromRequest(request, ReceivedSpan.TRANSPORT_HTTP)) {
          arrivalNanos.putIfAbsent(span.spanId(), now);
        }
        arrived.signalAll();
      } finally {
        lock.unlock();
      }
      exchange.getResponseHeaders().set("Content-Type", "application/x-protobuf");
      // An empty ExportTraceServiceResponse is zero bytes; HttpServer spells "empty, not chunked" as -1.
      exchange.sendResponseHeaders(200, -1);
    } finally {
      exchange.close();
    }
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
    try {
      executor.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
