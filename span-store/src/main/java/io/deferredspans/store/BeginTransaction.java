package io.deferredspans.store;

import io.deferredspans.sdk.DeferredSpanLimitException;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;

/**
 * The begin of a deferred span, as one ZooKeeper transaction with the caller's operations: the record and its
 * span marker created with them. It is sent once; an unanswered or refused begin is settled by reading, on the
 * same session, whether the key holds our own record (its bytes, span ID included), never by sending it again.
 */
final class BeginTransaction {
  private static final byte[] NO_DATA = new byte[0];

  private final CuratorFramework client;
  private final ZNodeLayout layout;
  private final EndTransaction endTransaction;
  private final StoreCalls calls;
  private final StoreCounters counters;

  BeginTransaction(CuratorFramework client, ZNodeLayout layout, EndTransaction endTransaction, StoreCalls calls,
      StoreCounters counters) {
    this.client = client;
    this.layout = layout;
    this.endTransaction = endTransaction;
    this.calls = calls;
    this.counters = counters;
  }

  /** The operations that store {@code record} (encoded as {@code recordBytes}) under {@code key}. */
  List<CuratorOp> ops(String key, DeferredSpanRecord record, byte[] recordBytes) {
    if (recordBytes.length > DeferredSpanRecordCodec.MAX_RECORD_BYTES) {
      // Its end could not be guaranteed to fit in a transaction, and every reader would find it corrupt.
      throw new DeferredSpanLimitException("begin " + key + ": the record takes " + recordBytes.length
          + " bytes, more than the " + DeferredSpanRecordCodec.MAX_RECORD_BYTES + " the record format allows; "
          + "nothing was written. Shorten its name, owner or begin attributes");
    }
    String path = layout.openPath(key);
    try {
      return List.of(
          client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(path, recordBytes),
          // Explicitly empty: without data, Curator writes the client's IP address.
          client.transactionOp().create().withMode(CreateMode.PERSISTENT)
              .forPath(ZNodeLayout.markerPath(path, record.getSpanContext().getSpanId()), NO_DATA));
    } catch (Exception e) {
      throw new DeferredSpanStoreException("cannot build begin operation for key " + key, e);
    }
  }

  /**
   * Stores {@code record} under {@code key} with the caller's operations, in one transaction (see {@link
   * DeferredSpanStore#beginDeferredSpan} for what it throws).
   *
   * @return whether anything was sent (nothing is, for a record of disabled tracing without caller operations)
   */
  boolean begin(String key, DeferredSpanRecord record, List<CuratorOp> callerOps) {
    // Encoded once: the bytes go into the create and, after a lost reply, identify our own record.
    byte[] recordBytes = record.isValid() ? DeferredSpanRecordCodec.encode(record) : null;
    List<CuratorOp> ops = new ArrayList<>(recordBytes == null ? List.of() : ops(key, record, recordBytes));
    int ourOps = ops.size();
    ops.addAll(callerOps);
    if (ops.isEmpty()) {
      return false;
    }
    endTransaction.requireFits(ops, "begin " + key);
    String path = layout.openPath(key);
    calls.call("begin " + key, fence -> {
      try {
        fence.multi(ops);
        return null;
      } catch (KeeperException e) {
        if (!KeeperErrors.isConnectionProblem(e.code())) {
          int failed = KeeperErrors.firstFailedIndex(e);
          if (failed >= ourOps) {
            throw callerOperationFailed("begin " + key, failed - ourOps, e);
          }
          if (e.code() != KeeperException.Code.NODEEXISTS) {
            throw e;
          }
        }
        // No answer, or "exists": our own record (the reply of this very request was lost, or the caller runs a
        // begin again whose outcome it was told is unknown) has our bytes, span ID included. Never sent again.
        byte[] stored = fence.data(path, new Stat());
        if (recordBytes != null && Arrays.equals(stored, recordBytes)) {
          counters.retriedWinners.increment();
          return null;
        }
        if (stored == null && !KeeperErrors.isConnectionProblem(e.code())) {
          throw new DeferredSpanStoreUnavailableException(
              "begin " + key + ": the key was in use and is free again; nothing was written, retry", false, e);
        }
        if (stored == null) {
          throw new DeferredSpanStoreUnavailableException("begin " + key + ": no answer from ZooKeeper, and no "
              + "record under the key: either nothing was applied, or it was and another host has already ended "
              + "the span; nothing of it will be sent again (see DeferredSpanStoreUnavailableException)", true, e);
        }
        throw new DeferredSpanStoreException(
            "a deferred span is already open under key " + key + "; nothing was written", e);
      }
    });
    return true;
  }

  private static DeferredSpanStoreException callerOperationFailed(String what, int index, KeeperException e) {
    return new DeferredSpanStoreException(
        what + ": the caller's operation #" + index + " failed (" + e.code() + "); nothing was applied", e);
  }
}
