package io.deferredspans.cli;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.store.DeferredSpanStore;
import io.deferredspans.store.EndResult;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;

/**
 * An application host in this JVM: its own Curator session, its own pipeline, its own store, as span-store's
 * TestHost. Its batch processor waits {@code batchDelay}, so a span it ends stays in ZooKeeper, claimed by its
 * session, until it exports or its session ends.
 */
final class AppHost implements AutoCloseable {
  static final String ITEMS = "/items";

  final String name;
  final CuratorFramework client;
  final DeferredTracing tracing;
  final DeferredSpanStore store;

  private AppHost(String name, CuratorFramework client, DeferredTracing tracing, DeferredSpanStore store) {
    this.name = name;
    this.client = client;
    this.tracing = tracing;
    this.store = store;
  }

  static AppHost start(String name, String connectString, String basePath, SpanExporter exporter, Duration batchDelay)
      throws Exception {
    CuratorFramework client = CuratorFrameworkFactory.newClient(
        connectString, 10_000, 5_000, new ExponentialBackoffRetry(100, 3));
    client.start();
    if (!client.blockUntilConnected(20, TimeUnit.SECONDS)) {
      throw new IllegalStateException(name + " could not connect to " + connectString);
    }
    DeferredTracing tracing = DeferredTracing.builder()
        .setResource(Resource.getDefault().merge(Resource.create(Attributes.of(
            AttributeKey.stringKey("service.name"), "app-" + name,
            AttributeKey.stringKey("service.instance.id"), name))))
        .addSpanExporter(exporter, wrapped -> BatchSpanProcessor.builder(wrapped).setScheduleDelay(batchDelay).build())
        .build();
    DeferredSpanStore store = DeferredSpanStore.builder(client, tracing).basePath(basePath).build();
    store.start();
    client.createContainers(ITEMS);
    return new AppHost(name, client, tracing, store);
  }

  /** A host whose exports go nowhere and never happen within a test: its ended spans stay pending. */
  static AppHost holdingExports(String name, String connectString, String basePath) throws Exception {
    return start(name, connectString, basePath, new NoopExporter(), Duration.ofHours(1));
  }

  /** Begins a span under {@code key}, started {@code age} ago, together with its item znode. */
  DeferredSpanRecord begin(String key, String spanName, Duration age) throws Exception {
    String item = ITEMS + "/" + key.replace('/', '_');
    DeferredSpanRecord record = tracing.spanBuilder(spanName).setNoParent().setOwner(item)
        .setStartTimestamp(Instant.now().minus(age)).begin();
    store.beginDeferredSpan(key, record, client.transactionOp().create().forPath(item));
    return record;
  }

  EndResult end(String key) throws Exception {
    return store.endDeferredSpan(key, DeferredSpanEnding.now(),
        client.transactionOp().delete().forPath(ITEMS + "/" + key.replace('/', '_')));
  }

  /** Ends this host's session as a crash would: its claims vanish, its pipeline still holds its spans. */
  void loseSession() {
    client.close();
  }

  /** Shuts the pipeline down: it tries to export what it held (the store's fence refuses a lost session's spans). */
  void shutdownPipeline() {
    tracing.getTracerProvider().orElseThrow().shutdown().join(10, TimeUnit.SECONDS);
  }

  @Override
  public void close() {
    store.close();
    shutdownPipeline();
    client.close();
  }

  private static final class NoopExporter implements SpanExporter {
    @Override
    public CompletableResultCode export(Collection<SpanData> spans) {
      return CompletableResultCode.ofSuccess();
    }

    @Override
    public CompletableResultCode flush() {
      return CompletableResultCode.ofSuccess();
    }

    @Override
    public CompletableResultCode shutdown() {
      return CompletableResultCode.ofSuccess();
    }
  }
}
