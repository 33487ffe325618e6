package io.deferredspans.store;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.curator.framework.api.transaction.CuratorOp;

/**
 * Keeps beginning items on one host and ending them on another while a test breaks ZooKeeper underneath. It
 * settles every uncertain outcome the way a careful caller would: after an unknown begin it checks whether the
 * record exists; an unknown end is run again, as operations.md says: it reports {@code ENDED}, or {@code
 * CALLER_OPERATIONS_FAILED} (the dequeue finds the item gone) if the first attempt had applied. At the end,
 * {@link #finish()} returns exactly the spans that really were begun, so a test can compare them with what
 * reached the wire, and fails if an item it ended exists again (its begin was applied twice) or if the ending
 * thread met an outcome no documented path explains.
 */
final class ContinuousWorkload implements AutoCloseable {
  private final TestHost beginner;
  private final TestHost ender;
  private final String itemsPath;
  private final Map<String, String> begun = new ConcurrentHashMap<>(); // key -> span id
  private final Set<String> ended = ConcurrentHashMap.newKeySet();
  // Keys whose end threw with the outcome unknown: applied or not, once, and never sent again.
  private final Set<String> endMayHaveApplied = ConcurrentHashMap.newKeySet();
  private final AtomicInteger foundApplied = new AtomicInteger();
  private final AtomicReference<Throwable> endLoopDied = new AtomicReference<>();
  // How each key's begin and end were settled, to explain any loss a test finds.
  private final Map<String, List<String>> history = new ConcurrentHashMap<>();
  private final LinkedBlockingQueue<String> toEnd = new LinkedBlockingQueue<>();
  private final AtomicBoolean running = new AtomicBoolean(true);
  private final AtomicInteger failures = new AtomicInteger();
  private final CountDownLatch stopped = new CountDownLatch(2);
  private final List<Thread> threads = new ArrayList<>();

  ContinuousWorkload(TestHost beginner, TestHost ender, String itemsPath) throws Exception {
    this.beginner = beginner;
    this.ender = ender;
    this.itemsPath = itemsPath;
    beginner.client.createContainers(itemsPath);
    threads.add(new Thread(this::beginLoop, "workload-begin"));
    threads.add(new Thread(this::endLoop, "workload-end"));
    threads.forEach(Thread::start);
  }

  private void beginLoop() {
    try {
      for (int i = 0; running.get(); i++) {
        String key = "w-" + i;
        DeferredSpanRecord record = beginner.tracing.spanBuilder("QueueItem").setNoParent()
            .setOwner(itemsPath + "/" + key).begin();
        boolean wasBegun = settleBegin(key, record);
        note(key, "begin " + (wasBegun ? "settled: begun" : "settled: not begun"));
        if (wasBegun) {
          begun.put(key, record.getSpanContext().getSpanId());
          toEnd.add(key);
        }
      }
    } finally {
      stopped.countDown();
    }
  }

  /** True once the record (with its item) is known to exist; false if it certainly was not written. */
  private boolean settleBegin(String key, DeferredSpanRecord record) {
    try {
      beginner.store.beginDeferredSpan(key, record,
          beginner.client.transactionOp().create().forPath(itemsPath + "/" + key));
      return true;
    } catch (DeferredSpanStoreUnavailableException e) {
      failures.incrementAndGet();
      note(key, "begin threw " + e.getMessage());
      if (!e.isOutcomeUnknown()) {
        return false;
      }
      return awaitAnswer(() -> beginner.store.read(key)).isPresent();
    } catch (Exception e) {
      failures.incrementAndGet();
      note(key, "begin threw " + e);
      // e.g. the retried create found its own first attempt: the record exists iff it can be read back
      return awaitAnswer(() -> beginner.store.read(key)).isPresent();
    }
  }

  private void endLoop() {
    try {
      while (running.get() || !toEnd.isEmpty()) {
        String key = toEnd.poll(50, TimeUnit.MILLISECONDS);
        if (key != null && !endUntilSettled(key)) {
          toEnd.add(key);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException | Error e) {
      endLoopDied.set(e); // reported by finish(), not as the hundreds of keys nobody ended after it
    } finally {
      stopped.countDown();
    }
  }

  private boolean endUntilSettled(String key) {
    try {
      CuratorOp dequeue = ender.client.transactionOp().delete().forPath(itemsPath + "/" + key);
      EndResult result = ender.store.endDeferredSpan(key, DeferredSpanEnding.now(), dequeue);
      note(key, "end " + result.getOutcome());
      if (result.getOutcome() == EndResult.Outcome.ENDED || result.getOutcome() == EndResult.Outcome.NO_RECORD) {
        ended.add(key);
        return true;
      }
      if (earlierEndApplied(key, result)) {
        foundApplied.incrementAndGet();
        ended.add(key); // its span is exported by recovery (the claim went with the session): the test checks
        return true;
      }
      throw new AssertionError("unexpected end of " + key + ": " + result + " " + history(key));
    } catch (DeferredSpanStoreUnavailableException e) {
      failures.incrementAndGet();
      note(key, "end threw " + e.getMessage());
      if (e.isOutcomeUnknown()) {
        endMayHaveApplied.add(key);
      }
      return false; // retry later: a second end is safe
    } catch (DeferredSpanStoreException e) {
      failures.incrementAndGet();
      note(key, "end threw " + e.getMessage());
      // NO_RECORD and the item is gone too: an earlier, uncertain attempt did end it
      if (ender.store.read(key).isEmpty()) {
        ended.add(key);
        return true;
      }
      return false;
    } catch (Exception e) {
      failures.incrementAndGet();
      note(key, "end threw " + e);
      return false;
    }
  }

  /**
   * The documented answer to running again an end whose outcome was unknown and which had applied: our dequeue
   * fails on the item that the first attempt deleted, and the record is gone with it.
   */
  private boolean earlierEndApplied(String key, EndResult result) throws Exception {
    return result.getOutcome() == EndResult.Outcome.CALLER_OPERATIONS_FAILED && endMayHaveApplied.contains(key)
        && result.getCallerOperationFailure().map(failure -> failure.getIndex() == 0
            && failure.getCode() == org.apache.zookeeper.KeeperException.Code.NONODE).orElse(false)
        && ender.store.read(key).isEmpty();
  }

  private void note(String key, String event) {
    history.computeIfAbsent(key, k -> new java.util.concurrent.CopyOnWriteArrayList<>()).add(event);
  }

  /** What happened to {@code key}, in order. */
  List<String> history(String key) {
    return history.getOrDefault(key, List.of());
  }

  /** Waits out a disconnection: the store fails fast while Curator reconnects, so ask until it answers. */
  private static <T> T awaitAnswer(java.util.concurrent.Callable<T> read) {
    return org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(60))
        .pollInterval(java.time.Duration.ofMillis(50)).ignoreExceptions().until(read, answer -> true);
  }

  int begunCount() {
    return begun.size();
  }

  /** Stops beginning, ends everything begun, and returns key -> span id of every span that was begun. */
  Map<String, String> finish() throws InterruptedException {
    running.set(false);
    if (!stopped.await(120, TimeUnit.SECONDS)) {
      throw new AssertionError("workload did not drain: " + toEnd.size() + " still to end");
    }
    if (endLoopDied.get() != null) {
      throw new AssertionError("the ending thread stopped: " + endLoopDied.get().getMessage(), endLoopDied.get());
    }
    System.out.printf("workload: begun=%d, ends whose outcome was unknown=%d, of which found applied when run "
        + "again=%d%n", begun.size(), endMayHaveApplied.size(), foundApplied.get());
    Set<String> notEnded = new java.util.HashSet<>(begun.keySet());
    notEnded.removeAll(ended);
    if (!notEnded.isEmpty()) {
      throw new AssertionError("begun but not ended: " + notEnded);
    }
    // An end deletes its item in the same transaction: an ended key's item that exists was created again, by a
    // begin applied twice (e.g. retried after the call had returned).
    List<String> appliedTwice = awaitAnswer(() -> beginner.client.getChildren().forPath(itemsPath)).stream()
        .filter(ended::contains).sorted().toList();
    if (!appliedTwice.isEmpty()) {
      throw new AssertionError("begins applied twice (items created again after their end): "
          + appliedTwice.stream().map(key -> key + " " + history(key)).toList());
    }
    return Map.copyOf(begun);
  }

  int failures() {
    return failures.get();
  }

  @Override
  public void close() {
    running.set(false);
    try {
      for (Thread thread : threads) {
        thread.join(TimeUnit.SECONDS.toMillis(30));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
