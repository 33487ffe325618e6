package io.deferredspans.demo.executor;

import io.deferredspans.demo.common.DemoAttributes;
import io.deferredspans.demo.common.DemoTelemetry;
import io.deferredspans.sdk.MalformedTraceparentException;
import io.deferredspans.sdk.TraceParent;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.context.Context;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A job step run as a process of its own, as Zuul's executor runs {@code ansible-playbook}: the executor starts it
 * with the current span's context in {@code TRACEPARENT}/{@code TRACESTATE} ({@link TraceParent#toEnvironment}),
 * and the process parents its own span on what it finds there ({@link TraceParent#fromEnvironment}), exporting it
 * through its own OpenTelemetry SDK with the executor's settings. The work is a wait, like every simulated step.
 */
final class StepProcess {
  static final String SPAN_NAME = "ansible-playbook";
  /** What a step process prints once its span has begun and a stop would end it. */
  static final String STARTED = "started";
  private static final Logger log = LoggerFactory.getLogger(StepProcess.class);
  private static final long STOP_WAIT_SECONDS = 10;

  private final String tracesEndpoint;
  private final String instanceId;
  private final Map<String, String> telemetrySettings;
  private final Consumer<String> output;

  /**
   * @param tracesEndpoint where a step process sends its spans for the demo's trace files (the launcher's sink)
   * @param instanceId the executor's {@code service.instance.id}; a step process is {@code <instanceId>.step-<id>}
   * @param telemetrySettings further {@code otel.*} settings a step process starts its SDK with (as {@code -D})
   * @param output takes each line the step prints, as a job log would (Zuul streams a playbook's output)
   */
  StepProcess(String tracesEndpoint, String instanceId, Map<String, String> telemetrySettings,
      Consumer<String> output) {
    this.tracesEndpoint = tracesEndpoint;
    this.instanceId = instanceId;
    this.telemetrySettings = Map.copyOf(telemetrySettings);
    this.output = output;
  }

  /** Step processes of {@code executor}, with the {@code otel.*} properties this JVM was started with. */
  static StepProcess withThisProcessSettings(DemoTelemetry executor, String tracesEndpoint) {
    Map<String, String> settings = new LinkedHashMap<>();
    System.getProperties().stringPropertyNames().stream()
        .filter(name -> name.startsWith("otel."))
        .sorted()
        .forEach(name -> settings.put(name, System.getProperty(name)));
    return new StepProcess(tracesEndpoint, executor.instanceId(), settings, line -> log.info("step: {}", line));
  }

  /**
   * Runs {@code playbook} as a child process under the current span and waits for it. Interrupted (the build is
   * cancelled, or the executor stops), it stops the process (SIGTERM), whose span then ends with an error and is
   * flushed, and waits for it to exit: the step's span never outlives the span it was started under.
   *
   * @param stepId names the process's own JSON lines file, if this executor writes one
   */
  void run(String playbook, long millis, String stepId) throws InterruptedException {
    ProcessBuilder builder = new ProcessBuilder(command(playbook, millis, stepId))
        .redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.INHERIT);
    TraceParent.toEnvironment(Span.current().getSpanContext(), builder.environment());
    Process process;
    try {
      process = builder.start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start the step process for " + playbook, e);
    }
    Thread reader = new Thread(() -> forwardOutput(process), "step-output-" + stepId);
    reader.setDaemon(true); // never what keeps the executor from exiting
    reader.start();
    try {
      int exit = process.waitFor();
      reader.join();
      if (exit != 0) {
        throw new IllegalStateException("step process for " + playbook + " exited with " + exit);
      }
    } catch (InterruptedException e) {
      process.destroy();
      if (!process.waitFor(STOP_WAIT_SECONDS, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
      throw e;
    }
  }

  private void forwardOutput(Process process) {
    try (BufferedReader lines =
        new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
      lines.lines().forEach(output);
    } catch (IOException | UncheckedIOException e) {
      log.debug("step output ended", e); // the process is gone
    }
  }

  private List<String> command(String playbook, long millis, String stepId) {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    // A short-lived JVM: small heap, quick start.
    command.addAll(List.of("-Xmx64m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"));
    telemetrySettings.forEach((name, value) -> command.add("-D" + name + "=" + value));
    // Its own service.instance.id, so the launcher writes its spans to a file of its own.
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), StepProcess.class.getName(),
        playbook, Long.toString(millis), instanceId + ".step-" + stepId, tracesEndpoint));
    return command;
  }

  /** The step process: {@code PLAYBOOK MILLIS INSTANCE_ID TRACES_ENDPOINT}; its parent comes from its environment. */
  public static void main(String[] args) throws InterruptedException {
    String playbook = args[0];
    long millis = Long.parseLong(args[1]);
    Context parent = Context.root();
    try {
      parent = TraceParent.fromEnvironment(System.getenv()).map(p -> Context.root().with(Span.wrap(p)))
          .orElse(Context.root());
    } catch (MalformedTraceparentException e) {
      System.err.println("starting a trace of its own: " + e.getMessage());
    }
    DemoTelemetry telemetry = DemoTelemetry.start("executor", args[2], args[3]);
    Span span = telemetry.tracer().spanBuilder(SPAN_NAME).setParent(parent)
        .setAttribute(DemoAttributes.PLAYBOOK, playbook).startSpan();
    AtomicBoolean finished = new AtomicBoolean();
    // Ends the span and flushes on every exit: the normal one, and SIGTERM from the executor.
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      if (!finished.get()) {
        span.setStatus(StatusCode.ERROR, "stopped by the executor: the job was cancelled or the executor stops");
      }
      span.end();
      telemetry.close();
    }, "step-process-shutdown"));
    System.out.println(STARTED);
    System.out.flush();
    Thread.sleep(millis);
    finished.set(true);
  }
}
