package io.deferredspans.store.simulation;

import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.sdk.DeferredTracingBuilder;
import io.deferredspans.store.DeferredSpanRecovery;
import io.deferredspans.store.DeferredSpanStore;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.MeterProvider;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;

/**
 * One host of a schedule, as an application embeds the store: its own Curator client (on a {@link
 * FaultyZooKeeper}), its own SDK pipeline (batch processor, a {@link RecordingExporter}), its own store and
 * recovery worker. Time scales are shrunk so a schedule takes about a second.
 */
final class SimHost {
  static final int SESSION_TIMEOUT_MS = 1_000;
  static final int CONNECTION_TIMEOUT_MS = 500;
  static final Duration OPERATION_TIMEOUT = Duration.ofMillis(400);
  // Recovery's ticks and the batch processor's wake-ups are the hosts' idle cost (each host ticks and wakes whether
  // or not there is work): 100 ms, not 40 and 10. What the recovery leader reacts to (a claim released or lost, a
  // finished span without claim) comes from its watch at once, and the sweep's pace is set by SWEEP_PERIOD.
  static final Duration SCAN_INTERVAL = Duration.ofMillis(100);
  static final Duration BATCH_SCHEDULE_DELAY = Duration.ofMillis(100);
  static final Duration GRACE_PERIOD = Duration.ofMillis(150);
  static final Duration RETRY_BACKOFF = Duration.ofMillis(600);
  static final Duration MAX_RETRY_BACKOFF = Duration.ofMillis(2_400);
  // The sweep lists all 256 shards of open/ once per period, whether or not anything is open: at 600 ms the leaders'
  // listings were most of the ZooKeeper calls of a schedule. A pass in 1.2 s still fits five times in healing.
  static final Duration SWEEP_PERIOD = Duration.ofMillis(1_200);
  static final Duration FULL_SCAN_INTERVAL = Duration.ofSeconds(10);
  static final long HANG_MILLIS = 300;
  static final Duration TIMED_OUT_EXPORT_BACKOFF = Duration.ofMillis(1_200);

  final String name;
  final FaultPlan plan;
  final CuratorFramework client;
  final RecordingExporter exporter; // null for a host without an exporter
  final DeferredTracing tracing;
  final DeferredSpanStore store;
  private final int maxRetainedSpans;
  private volatile DeferredSpanRecovery recovery;

  private SimHost(String name, FaultPlan plan, CuratorFramework client, RecordingExporter exporter,
      DeferredTracing tracing, DeferredSpanStore store, int maxRetainedSpans) {
    this.name = name;
    this.plan = plan;
    this.client = client;
    this.exporter = exporter;
    this.tracing = tracing;
    this.store = store;
    this.maxRetainedSpans = maxRetainedSpans;
  }

  static SimHost start(String name, String connectString, String basePath, FaultPlan plan, Collector collector,
      ScheduledExecutorService timer, boolean withExporter, int maxRetainedSpans, MeterProvider meters)
      throws Exception {
    CuratorFramework client = CuratorFrameworkFactory.builder()
        .connectString(connectString)
        .sessionTimeoutMs(SESSION_TIMEOUT_MS)
        .connectionTimeoutMs(CONNECTION_TIMEOUT_MS)
        .retryPolicy(new ExponentialBackoffRetry(20, 3))
        .zookeeperFactory(FaultyZooKeeper.factory(plan))
        .build();
    client.start();
    try {
      if (!client.blockUntilConnected(10, TimeUnit.SECONDS)) {
        throw new IllegalStateException(name + " could not connect");
      }
      RecordingExporter exporter =
          withExporter ? new RecordingExporter(name, collector, timer, HANG_MILLIS) : null;
      DeferredTracingBuilder tracingBuilder = DeferredTracing.builder()
          .setHostName(name)
          .setResource(Resource.getDefault().merge(Resource.create(Attributes.of(
              AttributeKey.stringKey("service.name"), "sim", AttributeKey.stringKey("service.instance.id"), name))));
      if (exporter != null) {
        tracingBuilder.addSpanExporter(exporter, wrapped -> BatchSpanProcessor.builder(wrapped)
            .setScheduleDelay(BATCH_SCHEDULE_DELAY)
            .setExporterTimeout(Duration.ofMillis(HANG_MILLIS * 2))
            .build());
      }
      DeferredTracing tracing = tracingBuilder.build();
      DeferredSpanStore store = DeferredSpanStore.builder(client, tracing)
          .basePath(basePath)
          .operationTimeout(OPERATION_TIMEOUT)
          .acknowledgementTimeout(Duration.ofSeconds(3))
          // Scaled as every other timing here: the 1 min default would outlast the schedule's healing.
          .timedOutExportBackoff(TIMED_OUT_EXPORT_BACKOFF)
          .shutdownTimeout(Duration.ofSeconds(2))
          .meterProvider(meters)
          .build();
      store.start();
      SimHost host = new SimHost(name, plan, client, exporter, tracing, store, maxRetainedSpans);
      try {
        host.startRecovery();
      } catch (Exception | Error e) {
        store.close(); // a host whose recovery is refused must not leave its store's threads behind
        throw e;
      }
      return host;
    } catch (Exception | Error e) {
      client.close();
      throw e;
    }
  }

  void startRecovery() throws Exception {
    DeferredSpanRecovery worker = DeferredSpanRecovery.builder(store)
        .scanInterval(SCAN_INTERVAL)
        .gracePeriod(GRACE_PERIOD)
        .retryBackoff(RETRY_BACKOFF, MAX_RETRY_BACKOFF)
        .sweep(SWEEP_PERIOD, 100_000)
        .fullScanInterval(FULL_SCAN_INTERVAL)
        .maxRetainedSpans(maxRetainedSpans)
        .build();
    worker.start();
    recovery = worker;
  }

  /** Gives up recovery leadership (if held) by closing the worker, and joins the election again at its end. */
  void restartRecovery() throws Exception {
    recovery.close();
    startRecovery();
  }

  DeferredSpanRecovery recovery() {
    return recovery;
  }

  boolean leads() {
    DeferredSpanRecovery worker = recovery;
    return worker != null && worker.hasLeadership();
  }

  boolean connected() {
    return client.getZookeeperClient().isConnected();
  }

  void setExporterMode(RecordingExporter.Mode mode) {
    if (exporter != null) {
      exporter.setMode(mode);
    }
  }

  /**
   * Shuts down in the documented order: recovery, store (drains), SDK, Curator. Returns whether the store
   * settled everything it had exported within its timeout (if not, a duplicate is in a documented window).
   */
  boolean shutdown() {
    try {
      recovery.close();
    } catch (Exception e) {
      // closing a worker only stops it
    }
    boolean settled = store.shutdown().join(3, TimeUnit.SECONDS).isSuccess();
    tracing.getTracerProvider().ifPresent(provider -> provider.shutdown().join(3, TimeUnit.SECONDS));
    client.close();
    return settled;
  }
}
