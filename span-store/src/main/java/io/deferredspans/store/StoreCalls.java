package io.deferredspans.store;

import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;

/**
 * How every call of the store reaches ZooKeeper: on a thread of its own, so that the caller waits at most the
 * operation timeout, whatever Curator's retry policy would do; at most {@code maxConcurrentCalls} at once (more
 * fail fast); each through a {@link SessionFencedCall} that is closed when the caller is answered, so that
 * nothing of a call is sent after it returned.
 */
final class StoreCalls {
  private final CuratorFramework client;
  private final SessionFencedCall.Factory fences;
  private final Duration operationTimeout;
  private final BooleanSupplier started;
  private final ThreadPoolExecutor executor;

  /** @param started whether the store takes calls */
  StoreCalls(CuratorFramework client, SessionFencedCall.Factory fences, int maxConcurrentCalls,
      Duration operationTimeout, BooleanSupplier started) {
    this.client = client;
    this.fences = fences;
    this.operationTimeout = operationTimeout;
    this.started = started;
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
    if (!started.getAsBoolean()) {
      throw new IllegalStateException("store is not started (or already closed)");
    }
    if (!client.getZookeeperClient().isConnected()) {
      throw new DeferredSpanStoreUnavailableException(
          what + ": not connected to ZooKeeper; nothing was sent", false, null);
    }
    SessionFencedCall fence = fences.open(what);
    Future<T> future;
    try {
      future = executor.submit(() -> body.run(fence));
    } catch (RejectedExecutionException e) {
      throw new DeferredSpanStoreUnavailableException(
          what + ": too many concurrent store calls; nothing was sent", false, e);
    }
    try {
      return future.get(operationTimeout.toMillis(), TimeUnit.MILLISECONDS);
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
      throw new DeferredSpanStoreException(what + " failed: " + cause, cause);
    } finally {
      fence.close();
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

  void awaitTermination(long nanos) throws InterruptedException {
    executor.awaitTermination(nanos, TimeUnit.NANOSECONDS);
  }

  void shutdownNow() {
    executor.shutdownNow();
  }

  /** Calls whose body is still running, including those whose caller already gave up waiting. */
  int inFlight() {
    return executor.getActiveCount();
  }
}
