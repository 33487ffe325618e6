package io.deferredspans.benchmarks.zk;

import org.apache.curator.framework.CuratorFramework;

/**
 * The baselines an application without tracing pays: {@code client.create()} and {@code client.delete()}, or, for
 * an application that already enqueues in a transaction (to which it would add the begin ops), a one-op multi for
 * the create and for the delete ({@link #inOneOpTransactions}).
 */
public final class PlainQueue implements QueueVariant {
  private final CuratorFramework client;
  private final QueueItems items;
  private final boolean inTransactions;

  public PlainQueue(CuratorFramework client, QueueItems items) {
    this(client, items, false);
  }

  private PlainQueue(CuratorFramework client, QueueItems items, boolean inTransactions) {
    this.client = client;
    this.items = items;
    this.inTransactions = inTransactions;
  }

  /** Each create and each delete as a one-op transaction. */
  public static PlainQueue inOneOpTransactions(CuratorFramework client, QueueItems items) {
    return new PlainQueue(client, items, true);
  }

  @Override
  public String name() {
    return inTransactions ? "1-op transaction create / delete" : "plain create / plain delete";
  }

  @Override
  public void enqueue(String key) throws Exception {
    if (inTransactions) {
      client.transaction().forOperations(client.transactionOp().create().forPath(items.path(key), items.payload(key)));
    } else {
      client.create().forPath(items.path(key), items.payload(key));
    }
  }

  @Override
  public void dequeue(String key) throws Exception {
    if (inTransactions) {
      client.transaction().forOperations(client.transactionOp().delete().forPath(items.path(key)));
    } else {
      client.delete().forPath(items.path(key));
    }
  }
}
