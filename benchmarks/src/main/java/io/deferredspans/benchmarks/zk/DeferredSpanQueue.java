package io.deferredspans.benchmarks.zk;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.store.DeferredSpanStore;
import io.deferredspans.store.EndResult;
import java.util.ArrayList;
import java.util.List;
import org.apache.curator.framework.api.transaction.CuratorOp;

/**
 * The library as the README shows it: begin a span and add {@code beginOps} to the item's create in one
 * transaction (or let {@code beginDeferredSpan} run it); end with {@code endDeferredSpan} and the item's delete;
 * settle = flush the span pipeline and wait until the store removed every exported span from ZooKeeper.
 */
public final class DeferredSpanQueue implements QueueVariant {
  /** How the begin transaction is run: by the caller with beginOps, or by the store. */
  public enum Begin {
    CALLER_TRANSACTION_WITH_BEGIN_OPS,
    STORE_BEGIN_DEFERRED_SPAN
  }

  private final BenchClient host;
  private final QueueItems items;
  private final Begin begin;

  public DeferredSpanQueue(BenchClient host, QueueItems items, Begin begin) {
    this.host = host;
    this.items = items;
    this.begin = begin;
  }

  @Override
  public String name() {
    return begin == Begin.CALLER_TRANSACTION_WITH_BEGIN_OPS
        ? "item + beginOps in caller's transaction / endDeferredSpan"
        : "beginDeferredSpan(item op) / endDeferredSpan";
  }

  @Override
  public void enqueue(String key) throws Exception {
    String itemPath = items.path(key);
    DeferredSpanRecord record = beginRecord(host, itemPath);
    CuratorOp createItem = host.client.transactionOp().create().forPath(itemPath, items.payload(key));
    if (begin == Begin.STORE_BEGIN_DEFERRED_SPAN) {
      host.store.beginDeferredSpan(key, record, createItem);
      return;
    }
    List<CuratorOp> ops = new ArrayList<>(host.store.beginOps(key, record));
    ops.add(createItem);
    host.client.transaction().forOperations(ops);
  }

  @Override
  public void dequeue(String key) throws Exception {
    requireEnded(key,
        host.store.endDeferredSpan(
            key, DeferredSpanEnding.now(), host.client.transactionOp().delete().forPath(items.path(key))));
  }

  /** The record every variant's item gets, begun as the README does. */
  static DeferredSpanRecord beginRecord(BenchClient host, String itemPath) {
    return host.tracing.spanBuilder("QueueItem").setNoParent().setOwner(itemPath).begin();
  }

  /** A benchmark measures ends that end: anything else means the harness is broken. */
  static void requireEnded(String key, EndResult result) {
    if (result.getOutcome() != EndResult.Outcome.ENDED) {
      throw new IllegalStateException("end of " + key + " did not end a span: " + result);
    }
  }

  @Override
  public void awaitDequeuesSettled() throws Exception {
    awaitCleanup(host);
  }

  /**
   * Spins until the store removed every span it ended (its housekeeping thread runs the cleanup), flushing the
   * pipeline while it waits: with concurrent clients, another thread may export its last span after this
   * thread's flush, and the batch processor's long delay would otherwise hold it for an hour.
   */
  static void awaitCleanup(BenchClient host) {
    long deadline = System.nanoTime() + 60_000_000_000L;
    long nextFlush = 0;
    while (host.store.stats().removed() < host.store.stats().ended()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("export cleanup did not catch up within 60 s: " + host.store.stats());
      }
      if (System.nanoTime() >= nextFlush) {
        BenchTracing.flush(host.tracing);
        nextFlush = System.nanoTime() + 50_000_000L;
      }
      java.util.concurrent.locks.LockSupport.parkNanos(200_000);
    }
  }
}
