package io.deferredspans.benchmarks.zk;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs several queue variants operation by operation, interleaved (A B C, B C A, ...), and times each operation
 * on its own. On a machine whose load changes from second to second this pairs every operation of a variant
 * with operations of the others taken within the same few milliseconds, so a ratio compares like with like;
 * running one variant's whole batch after another's let a load spike land on one side only.
 *
 * <p>Dequeues leave work behind (the deferred span's export cleanup). Each variant settles on its own after all
 * dequeues, timed and added to its dequeue cost, so that cleanup never overlaps another variant's timing.
 */
public final class InterleavedRun {
  /** Microseconds per operation of one variant in one repetition. */
  public record Cost(double enqueueMicros, double dequeueMicros) {
    public double cycleMicros() {
      return enqueueMicros + dequeueMicros;
    }
  }

  private InterleavedRun() {}

  public static Map<QueueVariant, Cost> run(List<QueueVariant> variants, int batch, int rep) throws Exception {
    Map<QueueVariant, List<String>> keys = new LinkedHashMap<>();
    for (QueueVariant variant : variants) {
      List<String> fresh = QueueItems.freshKeys("iv", batch);
      variant.prepare(fresh);
      keys.put(variant, fresh);
    }
    Map<QueueVariant, long[]> enqueue = timeEach(variants, keys, batch, rep, QueueVariant::enqueue);
    Map<QueueVariant, long[]> dequeue = timeEach(variants, keys, batch, rep, QueueVariant::dequeue);
    Map<QueueVariant, Cost> costs = new LinkedHashMap<>();
    for (QueueVariant variant : rotated(variants, rep)) {
      long start = System.nanoTime();
      variant.awaitDequeuesSettled();
      dequeue.get(variant)[0] += System.nanoTime() - start;
    }
    for (QueueVariant variant : variants) {
      costs.put(variant,
          new Cost(enqueue.get(variant)[0] / 1_000.0 / batch, dequeue.get(variant)[0] / 1_000.0 / batch));
    }
    return costs;
  }

  /** The order variants run in at step {@code n}: rotated, so no variant always goes first or last. */
  static <T> List<T> rotated(List<T> items, int n) {
    int shift = n % items.size();
    List<T> order = new ArrayList<>(items.subList(shift, items.size()));
    order.addAll(items.subList(0, shift));
    return order;
  }

  private interface Step {
    void apply(QueueVariant variant, String key) throws Exception;
  }

  private static Map<QueueVariant, long[]> timeEach(
      List<QueueVariant> variants, Map<QueueVariant, List<String>> keys, int batch, int rep, Step step)
      throws Exception {
    Map<QueueVariant, long[]> nanos = new LinkedHashMap<>();
    variants.forEach(v -> nanos.put(v, new long[1]));
    for (int i = 0; i < batch; i++) {
      for (QueueVariant variant : rotated(variants, rep + i)) {
        long start = System.nanoTime();
        step.apply(variant, keys.get(variant).get(i));
        nanos.get(variant)[0] += System.nanoTime() - start;
      }
    }
    return nanos;
  }
}
