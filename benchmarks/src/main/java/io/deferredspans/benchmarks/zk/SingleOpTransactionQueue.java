package io.deferredspans.benchmarks.zk;

import org.apache.curator.framework.CuratorFramework;

/**
 * The baseline of an application that already enqueues in a transaction (to which it would add the begin ops):
 * a one-op multi for the create and for the delete.
 */
public final class SingleOpTransactionQueue implements QueueVariant {
  private final CuratorFramework client;
  private final QueueItems items;

  public SingleOpTransactionQueue(CuratorFramework client, QueueItems items) {
    this.client = client;
    this.items = items;
  }

  @Override
  public String name() {
    return "1-op transaction create / delete";
  }

  @Override
  public void enqueue(String key) throws Exception {
    client.transaction().forOperations(client.transactionOp().create().forPath(items.path(key), items.payload(key)));
  }

  @Override
  public void dequeue(String key) throws Exception {
    client.transaction().forOperations(client.transactionOp().delete().forPath(items.path(key)));
  }
}
