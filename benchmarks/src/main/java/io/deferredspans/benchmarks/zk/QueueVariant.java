package io.deferredspans.benchmarks.zk;

import java.util.List;

/**
 * One way to enqueue and dequeue an item: plain, in a transaction, with a hand-written multi of the same bytes,
 * or with a deferred span. The figures run the variants side by side and divide their costs.
 */
public interface QueueVariant {
  String name();

  /** Untimed work a variant needs before a batch (e.g. precomputing bytes, so the timed part is ZooKeeper only). */
  default void prepare(List<String> keys) throws Exception {}

  void enqueue(String key) throws Exception;

  void dequeue(String key) throws Exception;

  /**
   * Waits until the work a dequeue leaves behind is done (the deferred span's durable-export cleanup), so the
   * timed end of a batch includes it.
   */
  default void awaitDequeuesSettled() throws Exception {}
}
