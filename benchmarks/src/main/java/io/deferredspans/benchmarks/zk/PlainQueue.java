package io.deferredspans.benchmarks.zk;

import org.apache.curator.framework.CuratorFramework;

/** The baseline an application without tracing pays: {@code client.create()} and {@code client.delete()}. */
public final class PlainQueue implements QueueVariant {
  private final CuratorFramework client;
  private final QueueItems items;

  public PlainQueue(CuratorFramework client, QueueItems items) {
    this.client = client;
    this.items = items;
  }

  @Override
  public String name() {
    return "plain create / plain delete";
  }

  @Override
  public void enqueue(String key) throws Exception {
    client.create().forPath(items.path(key), items.payload(key));
  }

  @Override
  public void dequeue(String key) throws Exception {
    client.delete().forPath(items.path(key));
  }
}
