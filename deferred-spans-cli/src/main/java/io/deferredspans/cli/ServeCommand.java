package io.deferredspans.cli;

import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.sdk.DeferredTracingAutoConfiguration;
import io.deferredspans.store.DeferredSpanRecovery;
import io.deferredspans.store.DeferredSpanStore;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdkBuilder;
import io.opentelemetry.sdk.autoconfigure.spi.ConfigurationException;
import io.opentelemetry.sdk.common.CompletableResultCode;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.retry.ExponentialBackoffRetry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code deferred-spans serve}: a {@link DeferredSpanRecovery} as a process of its own, exporting through a
 * pipeline that OpenTelemetry autoconfigure builds from {@code OTEL_*}. For fleets whose application hosts are
 * not JVMs or should not run recovery; run two or more, and the leader latch makes one of them active.
 *
 * <p>Reports one line per event on stdout ({@code serve: ...}); the store's and recovery's own log lines go to
 * stderr. SIGTERM shuts down in the documented order (docs/operations.md): recovery, store (draining what it
 * handed to the pipeline), SDK, Curator.
 */
@Command(name = "serve", description = "Run recovery as a long-lived process: export finished spans whose host died "
    + "before export, end abandoned spans, quarantine unreadable records. Exports through OTEL_* (autoconfigure). "
    + "Run two or more: one leads. SIGTERM shuts down cleanly.")
final class ServeCommand implements Callable<Integer> {
  /** Autoconfigure's defaults for this process; OTEL_* variables and otel.* properties override them. */
  private static final Map<String, String> OTEL_DEFAULTS = Map.of(
      "otel.service.name", "deferred-spans-serve",
      // Its metrics (recovered, abandoned, the leader's gauges) go out only when OTEL_METRICS_EXPORTER says where.
      "otel.metrics.exporter", "none",
      "otel.logs.exporter", "none");

  @Mixin
  ConnectionOptions connection;

  @Spec
  CommandSpec spec;

  private volatile boolean stopping;
  private final CountDownLatch stopRequested = new CountDownLatch(1);
  private final Object leadershipLock = new Object();
  private Boolean reportedLeading; // guarded by leadershipLock; null until the first report

  @Option(names = "--scan-interval", defaultValue = "10s", converter = Durations.Converter.class,
      paramLabel = "DURATION", description = "How often the leader scans (default: ${DEFAULT-VALUE}).")
  Duration scanInterval;

  @Option(names = "--grace-period", defaultValue = "30s", converter = Durations.Converter.class,
      paramLabel = "DURATION", description = "How long a finished span stays unclaimed, or an owner missing, before "
      + "recovery acts; longer than a slow host's end-to-export time (default: ${DEFAULT-VALUE}).")
  Duration gracePeriod;

  @Option(names = "--max-age", defaultValue = "7d", converter = Durations.Converter.class, paramLabel = "DURATION",
      description = "Spans open longer are ended as abandoned (default: ${DEFAULT-VALUE}).")
  Duration maxAge;

  @Option(names = "--max-retained-spans", defaultValue = "100000", paramLabel = "N",
      description = "Most finished spans kept waiting through an exporter outage (default: ${DEFAULT-VALUE}).")
  int maxRetainedSpans;

  @Option(names = "--shutdown-timeout", defaultValue = "30s", converter = Durations.Converter.class,
      paramLabel = "DURATION", description = "Longest the store drains on SIGTERM (default: ${DEFAULT-VALUE}).")
  Duration shutdownTimeout;

  @Option(names = "--host-name", paramLabel = "NAME", description = "This instance's name in claims and leader "
      + "election (default: DEFERRED_SPANS_HOST_NAME, else service.instance.id or the host name).")
  String hostName;

  @Option(names = "--create-base-path", description = "Create the store's znodes if missing (by default serve "
      + "refuses to start, so that a mistyped --base-path does not watch an empty store forever).")
  boolean createBasePath;

  @Override
  public Integer call() throws Exception {
    StoreConnection connected = StoreConnection.open(connection, new ExponentialBackoffRetry(100, 10, 5_000));
    CuratorFramework client = connected.client();
    OpenTelemetrySdk sdk = null;
    DeferredSpanStore store = null;
    DeferredSpanRecovery recovery = null;
    try {
      if (!createBasePath) {
        new StoreReader(connected).requireStore();
      }
      AutoConfiguredOpenTelemetrySdkBuilder builder = AutoConfiguredOpenTelemetrySdk.builder()
          .addPropertiesSupplier(() -> OTEL_DEFAULTS)
          // Autoconfigure's own hook would shut the SDK down before the store drained into it.
          .disableShutdownHook();
      DeferredTracingAutoConfiguration capture = DeferredTracingAutoConfiguration.install(builder);
      if (hostName != null) {
        capture.setHostName(hostName);
      }
      sdk = buildSdk(builder);
      DeferredTracing tracing = capture.build(sdk.getSdkTracerProvider());
      requireExporting(tracing);
      store = DeferredSpanStore.builder(client, tracing).basePath(connection.basePath)
          .meterProvider(sdk.getSdkMeterProvider()).shutdownTimeout(shutdownTimeout).build();
      recovery = DeferredSpanRecovery.builder(store).scanInterval(scanInterval).gracePeriod(gracePeriod)
          .maxAge(maxAge).maxRetainedSpans(maxRetainedSpans).build();
      startStore(connected, store);
      recovery.start();
      report("started: store " + connection.basePath + " on " + connection.zookeeper + ", instance "
          + tracing.getHostName());
    } catch (Exception | Error e) {
      stop(recovery, store, sdk, client, false);
      throw e;
    }
    client.getConnectionStateListenable().addListener((c, state) -> report("zookeeper " + state));
    Thread stopper = stopper(recovery, store, sdk, client);
    Runtime.getRuntime().addShutdownHook(stopper);
    DeferredSpanRecovery worker = recovery;
    worker.addLeadershipListener(leading -> reportLeadership(worker));
    reportLeadership(worker); // where it stands now: it may have changed before the listener was added
    stopRequested.await(); // serve runs until SIGTERM: the hook counts it down when shutdown begins
    stopper.join(); // the JVM ends when the hook does, with SIGTERM's status (143)
    return ExitCodes.OK;
  }

  private static OpenTelemetrySdk buildSdk(AutoConfiguredOpenTelemetrySdkBuilder builder) {
    try {
      return builder.build().getOpenTelemetrySdk();
    } catch (ConfigurationException e) {
      throw new CliException(ExitCodes.CANNOT_START, "invalid OpenTelemetry configuration: " + e.getMessage());
    }
  }

  private static void requireExporting(DeferredTracing tracing) {
    if (!tracing.isEnabled()) {
      throw new CliException(ExitCodes.CANNOT_START,
          "OpenTelemetry is disabled (OTEL_SDK_DISABLED=true): serve would have nothing to export through");
    }
    if (!tracing.acknowledgesExports()) {
      throw new CliException(ExitCodes.CANNOT_START,
          "no span exporter is configured (OTEL_TRACES_EXPORTER=none?): serve would export recovered spans nowhere");
    }
  }

  private static void startStore(StoreConnection connected, DeferredSpanStore store) {
    try {
      store.start();
    } catch (Exception e) {
      throw connected.translate(e, connected.layout().basePath());
    }
  }

  /**
   * Reports where leadership stands if that changed since the last report, until shutdown begins (a closed latch
   * has no leadership, which is no news). It asks the worker rather than trusting the event it is called for, so
   * that the initial report and an event racing it can never leave the last line wrong.
   */
  private void reportLeadership(DeferredSpanRecovery recovery) {
    synchronized (leadershipLock) {
      boolean now = recovery.hasLeadership();
      if (!stopping && (reportedLeading == null || now != reportedLeading)) {
        report(now ? "leading recovery" : "standing by (another instance leads, or none is elected yet)");
        reportedLeading = now;
      }
    }
  }

  private Thread stopper(DeferredSpanRecovery recovery, DeferredSpanStore store, OpenTelemetrySdk sdk,
      CuratorFramework client) {
    return new Thread(() -> {
      stopping = true;
      stopRequested.countDown();
      report("stopping");
      stop(recovery, store, sdk, client, true);
      report("stopped");
    }, "deferred-spans-serve-shutdown");
  }

  /**
   * The documented order: no new scans; the store drains what it handed to the pipeline and removes the exported
   * copies; the SDK flushes and closes its exporters; the session ends last, so whatever is still claimed goes to
   * another instance's recovery only once this one can no longer export it.
   */
  private void stop(DeferredSpanRecovery recovery, DeferredSpanStore store, OpenTelemetrySdk sdk,
      CuratorFramework client, boolean reportDrain) {
    if (recovery != null) {
      try {
        recovery.close();
      } catch (Exception e) {
        report("recovery did not close cleanly: " + e);
      }
    }
    if (store != null) {
      CompletableResultCode drained = store.shutdown().join(shutdownTimeout.toMillis() + 1_000, TimeUnit.MILLISECONDS);
      if (reportDrain && !drained.isSuccess()) {
        report("some exported spans were not settled within " + Durations.format(shutdownTimeout)
            + "; they stay claimed until this session ends, then another instance exports them");
      }
    }
    if (sdk != null) {
      sdk.shutdown().join(10, TimeUnit.SECONDS);
    }
    client.close();
  }

  private void report(String line) {
    PrintWriter out = spec.commandLine().getOut();
    synchronized (out) {
      out.println("serve: " + line);
      out.flush();
    }
  }
}
