package io.deferredspans.cli;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.store.DeferredSpanStore;
import io.deferredspans.store.EndResult;
import io.deferredspans.store.TestHost;
import io.deferredspans.testing.TestExporters;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.time.Duration;
import java.time.Instant;
import java.util.function.UnaryOperator;
import org.apache.curator.framework.CuratorFramework;

/**
 * An application host in this JVM: span-store's {@link TestHost} (its own Curator session, pipeline and store)
 * with the CLI tests' queue items under {@link #ITEMS}. Its batch processor waits {@code batchDelay}, so a span it
 * ends stays in ZooKeeper, claimed by its session, until it exports or its session ends.
 */
final class AppHost implements AutoCloseable {
  static final String ITEMS = "/items";

  final TestHost host;
  final CuratorFramework client;
  final DeferredTracing tracing;
  final DeferredSpanStore store;

  private AppHost(TestHost host) {
    this.host = host;
    this.client = host.client;
    this.tracing = host.tracing;
    this.store = host.store;
  }

  static AppHost start(String name, String connectString, String basePath, SpanExporter exporter, Duration batchDelay)
      throws Exception {
    TestHost host = TestHost.start(name, connectString, basePath, exporter, UnaryOperator.identity(), batchDelay);
    host.client.createContainers(ITEMS);
    return new AppHost(host);
  }

  /** A host whose exports would all succeed but never happen within a test: its ended spans stay pending. */
  static AppHost holdingExports(String name, String connectString, String basePath) throws Exception {
    return start(name, connectString, basePath, TestExporters.accepting(), Duration.ofHours(1));
  }

  private static String item(String key) {
    return ITEMS + "/" + key.replace('/', '_');
  }

  /** Begins a span under {@code key}, started {@code age} ago, together with its item znode. */
  DeferredSpanRecord begin(String key, String spanName, Duration age) throws Exception {
    return host.begin(key, item(key),
        host.tracing.spanBuilder(spanName).setNoParent().setStartTimestamp(Instant.now().minus(age)));
  }

  EndResult end(String key) throws Exception {
    return host.dequeue(key, item(key), DeferredSpanEnding.now());
  }

  /** Ends this host's session as a crash would: its claims vanish, its pipeline still holds its spans. */
  void loseSession() {
    client.close();
  }

  /** Shuts the pipeline down: it tries to export what it held (the store's fence refuses a lost session's spans). */
  void shutdownPipeline() {
    host.shutdownPipeline();
  }

  @Override
  public void close() {
    host.close();
  }
}
