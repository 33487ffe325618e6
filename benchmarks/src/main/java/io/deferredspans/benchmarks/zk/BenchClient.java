package io.deferredspans.benchmarks.zk;

import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.store.DeferredSpanStore;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;

/** One ZooKeeper client session with its deferred span store, as one host of an application would hold it. */
public final class BenchClient implements AutoCloseable {
  public final CuratorFramework client;
  public final DeferredSpanStore store;
  public final DeferredTracing tracing;

  private BenchClient(CuratorFramework client, DeferredSpanStore store, DeferredTracing tracing) {
    this.client = client;
    this.store = store;
    this.tracing = tracing;
  }

  public static BenchClient connect(String connectString, String basePath, DeferredTracing tracing)
      throws Exception {
    CuratorFramework client =
        CuratorFrameworkFactory.newClient(connectString, 30_000, 10_000, new ExponentialBackoffRetry(100, 3));
    client.start();
    if (!client.blockUntilConnected(30, TimeUnit.SECONDS)) {
      client.close();
      throw new IllegalStateException("could not connect to ZooKeeper at " + connectString);
    }
    DeferredSpanStore store = DeferredSpanStore.builder(client, tracing).basePath(basePath).build();
    store.start();
    return new BenchClient(client, store, tracing);
  }

  @Override
  public void close() {
    store.close();
    client.close();
  }
}
