package io.deferredspans.benchmarks.zk;

import java.util.List;
import org.apache.curator.framework.CuratorFramework;

/**
 * A queue's consumer as every real one works: it reads the item (getData) to learn what to do, then dequeues it.
 * Wrapped around plain create+delete this is the realistic baseline of figures 2 and 6; wrapped around the
 * deferred span's variant it is what the same consumer pays with deferred spans, so that the read is on both
 * sides of the ratio.
 */
public record ReadingConsumer(QueueVariant queue, CuratorFramework client, QueueItems items) implements QueueVariant {
  @Override
  public String name() {
    return "read item, then " + queue.name();
  }

  @Override
  public void prepare(List<String> keys) throws Exception {
    queue.prepare(keys);
  }

  @Override
  public void enqueue(String key) throws Exception {
    queue.enqueue(key);
  }

  @Override
  public void dequeue(String key) throws Exception {
    if (client.getData().forPath(items.path(key)).length == 0) {
      throw new IllegalStateException("item " + key + " has no payload to work on");
    }
    queue.dequeue(key);
  }

  @Override
  public void awaitDequeuesSettled() throws Exception {
    queue.awaitDequeuesSettled();
  }
}
