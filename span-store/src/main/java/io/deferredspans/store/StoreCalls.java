package io.deferredspans.store;

import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;

/**
 * How every call of the store reaches ZooKeeper: on a thread of its own, so that the caller waits at most the
 * operation timeout, whatever Curator's retry policy would do (or, for the embedded end's hot path, on the
 * caller's thread with every wait bounded by that timeout); at most {@code maxConcurrentCalls} at once (more
 * fail fast); each through a {@link SessionFencedCall} that is closed when the caller is answered, so that
 * nothing of a call is sent after it returned.
 */
final class StoreCalls {
  private final CuratorFramework client;
  private final SessionFencedCall.Factory fences;
  private final Duration operationTimeout;
  private final BooleanSupplier started;
  private final ThreadPoolExecutor executor;
  private final int maxConcurrentCalls;
  // Calls admitted to run on their callers' threads and not yet released; idle is notified when none is left.
  private final AtomicInteger onCallers = new AtomicInteger();
  private final Object idle = new Object();

  /** @param started whether the store takes calls */
  StoreCalls(CuratorFramework client, SessionFencedCall.Factory fences, int maxConcurrentCalls,
      Duration operationTimeout, BooleanSupplier started) {
    this.client = client;
    this.fences = fences;
    this.operationTimeout = operationTimeout;
    this.started = started;
    this.maxConcurrentCalls = maxConcurrentCalls;
    this.executor = new ThreadPoolExecutor(0, maxConcurrentCalls, 30, TimeUnit.SECONDS, new SynchronousQueue<>(),
        Threads.daemon("deferred-span-store-call"));
  }

  /** What a store call does, with the {@link SessionFencedCall} its writes go through. */
  interface Body<T> {
    T run(SessionFencedCall fence) throws Exception;
  }

  /**
   * Runs a ZooKeeper call off the caller's thread, so the caller waits at most the operation timeout whatever
   * Curator's retry policy would do. When the caller is answered, whatever the outcome, the call's {@link
   * SessionFencedCall} is closed: nothing of it is sent from then on, even if its thread is still waiting for
   * ZooKeeper (it may still settle an end that was applied, so that the span is exported).
   */
  <T> T call(String what, Body<T> body) {
    requireAccepting(what);
    SessionFencedCall fence = fences.open(what);
    try {
      return onPool(fence, body, System.nanoTime() + operationTimeout.toNanos());
    } finally {
      fence.close();
    }
  }

  /**
   * Admits a call that runs on its caller's own thread as far as it only sends and waits for answers (each wait
   * bounded by {@link OnCaller#remainingNanos()}), saving the two thread hand-offs of {@link #call} that cost about 100 µs of
   * a 1 ms end (docs/benchmarks.md, figure 2). It counts against {@code maxConcurrentCalls} and is waited for by
   * {@link #awaitTermination} until {@link OnCaller#release() released}: whoever finishes it last releases it,
   * the caller or its late settling.
   */
  OnCaller admitOnCaller(String what) {
    if (onCallers.incrementAndGet() + executor.getActiveCount() > maxConcurrentCalls) {
      release();
      throw new DeferredSpanStoreUnavailableException(
          what + ": too many concurrent store calls; nothing was sent", false, null);
    }
    try {
      // After the increment: a shutdown that began before it is seen here, or waits for this call.
      requireAccepting(what);
    } catch (RuntimeException refused) {
      release();
      throw refused;
    }
    return new OnCaller(fences.open(what), System.nanoTime() + operationTimeout.toNanos());
  }

  /** A call admitted to run on its caller's thread: its fence, its deadline, and its release. */
  final class OnCaller {
    private final SessionFencedCall fence;
    private final long deadline;
    private final AtomicBoolean released = new AtomicBoolean();

    private OnCaller(SessionFencedCall fence, long deadline) {
      this.fence = fence;
      this.deadline = deadline;
    }

    SessionFencedCall fence() {
      return fence;
    }

    /** What is left of the operation timeout, at least 0. */
    long remainingNanos() {
      return Math.max(0, deadline - System.nanoTime());
    }

    /** Runs what may block beyond an answer (a settling read) on a pool thread, within what is left. */
    <T> T finishOnPool(Body<T> body) {
      return onPool(fence, body, deadline);
    }

    /** The caller stopped waiting for an answer (timed out, or interrupted): says so, and closes the fence. */
    DeferredSpanStoreUnavailableException stoppedWaiting(Exception e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
        return gaveUp(fence, "interrupted", e);
      }
      return gaveUp(fence, "no answer from ZooKeeper within " + operationTimeout, e);
    }

    void release() {
      if (released.compareAndSet(false, true)) {
        StoreCalls.this.release();
      }
    }
  }

  private void requireAccepting(String what) {
    if (!started.getAsBoolean()) {
      throw new IllegalStateException("store is not started (or already closed)");
    }
    if (!client.getZookeeperClient().isConnected()) {
      throw new DeferredSpanStoreUnavailableException(
          what + ": not connected to ZooKeeper; nothing was sent", false, null);
    }
  }

  private void release() {
    if (onCallers.decrementAndGet() == 0) {
      synchronized (idle) {
        idle.notifyAll();
      }
    }
  }

  private <T> T onPool(SessionFencedCall fence, Body<T> body, long deadline) {
    Future<T> future;
    try {
      future = executor.submit(() -> body.run(fence));
    } catch (RejectedExecutionException e) {
      if (!fence.mayHaveApplied()) {
        throw new DeferredSpanStoreUnavailableException(
            fence.what() + ": too many concurrent store calls; nothing was sent", false, e);
      }
      // Settling what may have been applied (an end whose claim only this session can export) is never refused.
      FutureTask<T> settling = new FutureTask<>(() -> body.run(fence));
      Threads.daemon("deferred-span-store-settle").newThread(settling).start();
      future = settling;
    }
    try {
      return future.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      throw gaveUp(fence, "no answer from ZooKeeper within " + operationTimeout, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw gaveUp(fence, "interrupted", e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RuntimeException) {
        throw (RuntimeException) cause;
      }
      if (cause instanceof KeeperException && KeeperErrors.isConnectionProblem((KeeperException) cause)) {
        throw fence.unknown(cause);
      }
      throw new DeferredSpanStoreException(fence.what() + " failed: " + cause, cause);
    }
  }

  private static DeferredSpanStoreUnavailableException gaveUp(SessionFencedCall fence, String why, Exception e) {
    boolean sent = fence.close();
    return new DeferredSpanStoreUnavailableException(fence.what() + ": " + why + "; " + (sent
        ? "it may have been applied, and nothing of it will be sent again (see DeferredSpanStoreUnavailableException)"
        : "nothing was sent, retry"), sent, e);
  }

  /** Takes no new calls; those under way go on. */
  void shutdown() {
    executor.shutdown();
  }

  /** Waits, at most {@code nanos}, for the calls under way: on the pool and on their callers' threads. */
  void awaitTermination(long nanos) throws InterruptedException {
    long deadline = System.nanoTime() + nanos;
    executor.awaitTermination(nanos, TimeUnit.NANOSECONDS);
    synchronized (idle) {
      for (long left = deadline - System.nanoTime(); onCallers.get() > 0 && left > 0;
          left = deadline - System.nanoTime()) {
        TimeUnit.NANOSECONDS.timedWait(idle, left);
      }
    }
  }

  void shutdownNow() {
    executor.shutdownNow();
  }

  /** Calls whose body is still running, including those whose caller already gave up waiting. */
  int inFlight() {
    return executor.getActiveCount() + onCallers.get();
  }
}
