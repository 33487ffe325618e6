package io.deferredspans.demo.scheduler;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * The launcher's {@link TraceFileSink} on its own, for demos whose processes are started by a script rather than
 * the launcher ({@code demo/run-python-scheduler}): {@code TraceFileSinkMain FOLDER} receives OTLP/HTTP (protobuf)
 * on a loopback port, writes {@code FOLDER/<service.instance.id>.jsonl}, prints {@code traces endpoint URL} as its
 * first line of standard output, and runs until it is terminated.
 *
 * <p>Any OpenTelemetry process can send to it with the standard settings, e.g. {@code
 * otel.exporter.otlp.traces.endpoint=URL} and {@code otel.exporter.otlp.traces.protocol=http/protobuf}, or through
 * the demo's {@code --traces-endpoint URL}.
 */
public final class TraceFileSinkMain {
  /** What precedes the URL on the line a script waits for. */
  static final String ENDPOINT_LINE = "traces endpoint ";

  private TraceFileSinkMain() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: TraceFileSinkMain FOLDER");
      System.exit(2);
    }
    TraceFileSink sink = TraceFileSink.start(Path.of(args[0]));
    CountDownLatch stopped = new CountDownLatch(1);
    // The receiver's threads are daemons: this thread keeps the JVM alive until SIGTERM runs the hook.
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      sink.close();
      stopped.countDown();
    }, "trace-file-sink-stop"));
    System.out.println(ENDPOINT_LINE + sink.endpoint());
    System.out.flush();
    stopped.await();
  }
}
