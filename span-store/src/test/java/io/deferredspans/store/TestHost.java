package io.deferredspans.store;

import io.deferredspans.sdk.DeferredSpanBuilder;
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.exporter.otlp.trace.OtlpGrpcSpanExporter;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.test.Timing;

/**
 * One simulated host: its own Curator session, its own SDK pipeline (resource naming the host, a real OTLP
 * exporter sending to the test receiver) and its own store. Several of these stand for hosts A, B, C.
 *
 * <p>Public, in span-store's test-jar, for the tests of modules built on the store (the CLI's {@code AppHost}).
 */
public final class TestHost implements AutoCloseable {
  public static final Timing TIMING = new Timing();

  public final String name;
  public final CuratorFramework client;
  public final DeferredTracing tracing;
  public final DeferredSpanStore store;

  private TestHost(String name, CuratorFramework client, DeferredTracing tracing, DeferredSpanStore store) {
    this.name = name;
    this.client = client;
    this.tracing = tracing;
    this.store = store;
  }

  enum Transport {
    HTTP,
    GRPC
  }

  static OtlpHttpSpanExporter httpExporter(String endpoint) {
    // No exporter retries: outage tests want the failure now, not after the SDK's backoff.
    return OtlpHttpSpanExporter.builder().setEndpoint(endpoint).setRetryPolicy(null).build();
  }

  static OtlpGrpcSpanExporter grpcExporter(String endpoint) {
    return OtlpGrpcSpanExporter.builder().setEndpoint(endpoint).setRetryPolicy(null).build();
  }

  static SpanExporter exporter(Transport transport, OtlpTestReceiver receiver) {
    return transport == Transport.HTTP
        ? httpExporter(receiver.httpEndpoint())
        : grpcExporter(receiver.grpcEndpoint());
  }

  public static TestHost start(String name, String connectString, String basePath, SpanExporter exporter)
      throws Exception {
    return start(name, connectString, basePath, exporter, UnaryOperator.identity());
  }

  public static TestHost start(
      String name,
      String connectString,
      String basePath,
      SpanExporter exporter,
      UnaryOperator<DeferredSpanStore.Builder> storeOptions)
      throws Exception {
    return start(name, connectString, basePath, exporter, storeOptions, Duration.ofMillis(20));
  }

  /** A host whose batch processor waits {@code batchDelay} between exports: spans stay in its pipeline that long. */
  public static TestHost start(
      String name,
      String connectString,
      String basePath,
      SpanExporter exporter,
      UnaryOperator<DeferredSpanStore.Builder> storeOptions,
      Duration batchDelay)
      throws Exception {
    return start(name, connectString, basePath, exporter, storeOptions, batchDelay,
        new ExponentialBackoffRetry(100, 3));
  }

  /** A host whose Curator client retries as {@code retryPolicy} says (production clients retry for long). */
  public static TestHost start(
      String name,
      String connectString,
      String basePath,
      SpanExporter exporter,
      UnaryOperator<DeferredSpanStore.Builder> storeOptions,
      Duration batchDelay,
      org.apache.curator.RetryPolicy retryPolicy)
      throws Exception {
    CuratorFramework client =
        CuratorFrameworkFactory.newClient(connectString, TIMING.session(), TIMING.connection(), retryPolicy);
    client.start();
    if (!client.blockUntilConnected(TIMING.forWaiting().seconds(), TimeUnit.SECONDS)) {
      throw new IllegalStateException(name + " could not connect to " + connectString);
    }
    DeferredTracing tracing =
        DeferredTracing.builder()
            .setResource(
                Resource.getDefault().merge(Resource.create(Attributes.of(
                    AttributeKey.stringKey("service.name"), "test-" + name,
                    AttributeKey.stringKey("service.instance.id"), name))))
            .addSpanExporter(
                exporter,
                wrapped -> BatchSpanProcessor.builder(wrapped).setScheduleDelay(batchDelay).build())
            .build();
    DeferredSpanStore store =
        storeOptions.apply(DeferredSpanStore.builder(client, tracing).basePath(basePath)).build();
    store.start();
    return new TestHost(name, client, tracing, store);
  }

  /**
   * Begins {@code span} under {@code key} as a queue's producer would: owned by {@code item}, which the same
   * transaction creates.
   */
  public DeferredSpanRecord begin(String key, String item, DeferredSpanBuilder span) throws Exception {
    DeferredSpanRecord record = span.setOwner(item).begin();
    store.beginDeferredSpan(key, record, client.transactionOp().create().forPath(item));
    return record;
  }

  /** Begins a root span "QueueItem" under {@code key}, created with its owner {@code item}. */
  public DeferredSpanRecord enqueue(String key, String item) throws Exception {
    return begin(key, item, tracing.spanBuilder("QueueItem").setNoParent());
  }

  /** Ends the span under {@code key} as a queue's consumer would: in one transaction with deleting {@code item}. */
  public EndResult dequeue(String key, String item, DeferredSpanEnding ending) throws Exception {
    return store.endDeferredSpan(key, ending, client.transactionOp().delete().forPath(item));
  }

  /**
   * Ends this host's ZooKeeper session on the server, as the ensemble does when a host is paused past its session
   * timeout: a second handle joins the session and closes it. The host's ephemeral claims vanish at once.
   */
  void expireSession(String connectString) throws Exception {
    org.apache.zookeeper.ZooKeeper zk = client.getZookeeperClient().getZooKeeper();
    java.util.concurrent.CountDownLatch joined = new java.util.concurrent.CountDownLatch(1);
    org.apache.zookeeper.ZooKeeper twin = new org.apache.zookeeper.ZooKeeper(connectString, TIMING.session(),
        event -> {
          if (event.getState() == org.apache.zookeeper.Watcher.Event.KeeperState.SyncConnected) {
            joined.countDown();
          }
        }, zk.getSessionId(), zk.getSessionPasswd());
    if (!joined.await(TIMING.forWaiting().seconds(), TimeUnit.SECONDS)) {
      throw new IllegalStateException("could not join the session of " + name);
    }
    twin.close();
  }

  /** Open records: spans begun and not yet ended. */
  int openRecords() throws Exception {
    return countInShards("open");
  }

  /** Finished spans still stored, i.e. not yet acknowledged by an exporter and removed. */
  /**
   * Whether some session holds the finished span at {@code endedPath} for export: a claim child (recovery's),
   * or the holder token its ender wrote and has not given back. False once it is handed back, or gone.
   */
  boolean heldForExport(String endedPath) throws Exception {
    if (client.checkExists().forPath(ZNodeLayout.claimPath(endedPath)) != null) {
      return true;
    }
    try {
      return ZNodeLayout.holderToken(client.getData().forPath(endedPath)) != null;
    } catch (org.apache.zookeeper.KeeperException.NoNodeException gone) {
      return false;
    }
  }

  int storedFinishedSpans() throws Exception {
    return countInShards("ended");
  }

  private int countInShards(String area) throws Exception {
    String parent = org.apache.curator.utils.ZKPaths.makePath(store.core().layout().base(), area);
    int count = 0;
    for (String shard : client.getChildren().forPath(parent)) {
      count += client.getChildren().forPath(org.apache.curator.utils.ZKPaths.makePath(parent, shard)).size();
    }
    return count;
  }

  /** Pushes everything this host's pipeline holds to the exporter and waits for the exporter's answer. */
  void flush() {
    tracing.getTracerProvider().orElseThrow().forceFlush().join(10, TimeUnit.SECONDS);
  }

  /** Shuts the pipeline down: it tries to export what it held (the store's fence refuses a lost session's spans). */
  public void shutdownPipeline() {
    tracing.getTracerProvider().orElseThrow().shutdown().join(10, TimeUnit.SECONDS);
  }

  @Override
  public void close() {
    store.close();
    shutdownPipeline();
    client.close();
  }
}
