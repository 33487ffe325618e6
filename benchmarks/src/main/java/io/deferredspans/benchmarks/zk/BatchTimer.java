package io.deferredspans.benchmarks.zk;

import java.util.List;

/** Times a batch of operations and reports microseconds per operation. */
public final class BatchTimer {
  private BatchTimer() {}

  /** What is done to each key. */
  public interface KeyOperation {
    void apply(String key) throws Exception;
  }

  /** What ends a batch (e.g. waiting for cleanup); timed with it. */
  public interface Settle {
    void run() throws Exception;
  }

  public static double microsPerOp(List<String> keys, KeyOperation operation) throws Exception {
    return microsPerOp(keys, operation, () -> {});
  }

  public static double microsPerOp(List<String> keys, KeyOperation operation, Settle settle) throws Exception {
    long start = System.nanoTime();
    for (String key : keys) {
      operation.apply(key);
    }
    settle.run();
    return (System.nanoTime() - start) / 1_000.0 / keys.size();
  }

  /** The order variants run in repetition {@code rep}: rotated, so no variant always runs first or last. */
  public static <T> List<T> rotated(List<T> items, int rep) {
    int shift = rep % items.size();
    List<T> order = new java.util.ArrayList<>(items.subList(shift, items.size()));
    order.addAll(items.subList(0, shift));
    return order;
  }
}
