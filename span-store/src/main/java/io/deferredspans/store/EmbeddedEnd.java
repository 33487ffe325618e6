package io.deferredspans.store;

import io.deferredspans.sdk.CorruptDeferredSpanRecordException;
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredSpanRecordException;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.sdk.FinishedDeferredSpan;
import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import io.deferredspans.sdk.internal.DeferredTracingUtil;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.utils.PathUtils;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.proto.DeleteRequest;
import org.apache.zookeeper.proto.SetDataRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The end of a span whose record rides inside the caller's own item znode (embedded mode): the begin wrote
 * nothing of ours, so there is no record or marker to delete, and the end is exactly once because the caller's
 * versioned delete (or rewrite) of the item that held the record can succeed once.
 *
 * <p>The caller's operations come first in the transaction: when two hosts race, the loser's fail on the item
 * the winner changed, which is a plain {@code CALLER_OPERATIONS_FAILED}. Only if they would have succeeded does
 * the finished span's create decide, and then an existing finished span of the same span ID means the item held
 * a record that was already ended elsewhere (the same bytes embedded twice, or a planted node): such a record is
 * quarantined with the caller's dequeue, never left to block the item.
 */
final class EmbeddedEnd {
  private static final Logger log = LoggerFactory.getLogger(EmbeddedEnd.class);

  private final CuratorFramework client;
  private final ZNodeLayout layout;
  private final DeferredTracing tracing;
  private final EndTransaction endTransaction;
  private final ExportedSpans exported;
  private final StoreCounters counters;

  EmbeddedEnd(CuratorFramework client, ZNodeLayout layout, DeferredTracing tracing, EndTransaction endTransaction,
      ExportedSpans exported, StoreCounters counters) {
    this.client = client;
    this.layout = layout;
    this.tracing = tracing;
    this.endTransaction = endTransaction;
    this.exported = exported;
    this.counters = counters;
  }

  /**
   * Refuses, before anything is sent, operations that would not make the end once-only: without a versioned
   * delete or rewrite of the item, a second end of the same bytes would apply too, after the first one's finished
   * span was cleaned up.
   */
  void requireOnceOnly(String itemPath, List<CuratorOp> callerOps) {
    PathUtils.validatePath(itemPath); // IllegalArgumentException naming what is wrong with it
    String fixed = ZKPaths.fixForNamespace(client.getNamespace(), itemPath);
    for (CuratorOp op : callerOps) {
      Op raw = op.get();
      if (!raw.getPath().equals(fixed)) {
        continue;
      }
      if (raw.getType() == ZooDefs.OpCode.delete
          && ((DeleteRequest) raw.toRequestRecord()).getVersion() >= 0) {
        return;
      }
      if (raw.getType() == ZooDefs.OpCode.setData
          && ((SetDataRequest) raw.toRequestRecord()).getVersion() >= 0) {
        return;
      }
    }
    throw new IllegalArgumentException("end of the span embedded in " + itemPath + ": the operations must delete "
        + "or rewrite " + itemPath + " at the version it was read with (withVersion(stat.getVersion())); that is "
        + "what makes the end happen once. Nothing was sent");
  }

  EndResult end(SessionFencedCall fence, String itemPath, byte[] recordBytes, DeferredSpanEnding ending,
      List<CuratorOp> callerOps) throws Exception {
    if (recordBytes == null) {
      EndResult result = applyAlone(fence, itemPath, List.of(), callerOps, EndResult.noRecord());
      if (result.getOutcome() == EndResult.Outcome.NO_RECORD) {
        counters.noRecord.increment();
      }
      return result;
    }
    String source = "the item " + itemPath;
    DeferredSpanRecord record;
    try {
      record = DeferredSpanRecordCodec.decodeRecord(recordBytes, source);
    } catch (DeferredSpanRecordException e) {
      // The item is going away with its bytes, so even a newer format version is kept, for an operator.
      return quarantineWith(fence, itemPath, recordBytes, callerOps, e);
    }
    FinishedDeferredSpan finished = DeferredTracingUtil.finish(tracing, record, ending);
    if (!tracing.isEnabled() || !record.isSampled()) {
      EndResult result = applyAlone(fence, itemPath, List.of(), callerOps, EndResult.ended(finished));
      if (result.getOutcome() == EndResult.Outcome.ENDED) {
        counters.ended.increment();
      }
      return result;
    }
    String what = "end of the span embedded in " + itemPath;
    String endedPath = layout.endedPath(record.getSpanContext().getSpanId());
    byte[] claim = endTransaction.claimData();
    List<CuratorOp> ops = new ArrayList<>(callerOps.size() + 2);
    ops.addAll(callerOps);
    ops.add(client.transactionOp().create().withMode(CreateMode.PERSISTENT)
        .forPath(endedPath, EndTransaction.requireFormatLimit(DeferredSpanRecordCodec.encode(finished), what)));
    ops.add(client.transactionOp().create().withMode(CreateMode.EPHEMERAL)
        .forPath(ZNodeLayout.claimPath(endedPath), claim));
    endTransaction.requireFits(ops, what);
    try {
      fence.multi(ops);
    } catch (KeeperException e) {
      return settleFailed(fence, e, itemPath, recordBytes, finished, callerOps, endedPath, claim);
    } catch (InterruptedException stopped) {
      exported.giveBack(endedPath, fence.session());
      throw stopped;
    }
    counters.ended.increment();
    exported.export(finished, endedPath, fence.session());
    return EndResult.ended(finished);
  }

  private EndResult settleFailed(SessionFencedCall fence, KeeperException e, String itemPath, byte[] recordBytes,
      FinishedDeferredSpan finished, List<CuratorOp> callerOps, String endedPath, byte[] claim) throws Exception {
    if (KeeperErrors.isConnectionProblem(e)) {
      // Read on the session the transaction went to, which answers in order: our nonce there means it applied;
      // anything else means it never will (our live session would hold the claim).
      if (Arrays.equals(fence.data(ZNodeLayout.claimPath(endedPath), new Stat()), claim)) {
        counters.retriedWinners.increment();
        counters.ended.increment();
        exported.export(finished, endedPath, fence.session());
        return EndResult.ended(finished);
      }
      throw new DeferredSpanStoreUnavailableException(
          "end of the span embedded in " + itemPath + ": connection lost; nothing was applied, retry", false, e);
    }
    int failed = KeeperErrors.firstFailedIndex(e);
    if (failed < callerOps.size()) {
      counters.callerOperationsFailed.increment();
      return EndResult.callerOperationsFailed(failed, KeeperErrors.codeAt(e, failed));
    }
    if (failed == callerOps.size() && KeeperErrors.codeAt(e, failed) == KeeperException.Code.NODEEXISTS) {
      String spanId = finished.getRecord().getSpanContext().getSpanId();
      return quarantineWith(fence, itemPath, recordBytes, callerOps,
          new CorruptDeferredSpanRecordException("the item " + itemPath, "its span " + spanId
              + " was already ended (the same record embedded twice, or a node another writer put at "
              + endedPath + ")", null));
    }
    throw new DeferredSpanStoreException("end of the span embedded in " + itemPath + ": ZooKeeper refused "
        + "the store's own operation #" + (failed - callerOps.size()) + " (" + KeeperErrors.codeAt(e, failed)
        + "); nothing was applied. Was the store started?", e);
  }

  /** Keeps unendable bytes in quarantine, in one transaction with the caller's dequeue. */
  private EndResult quarantineWith(SessionFencedCall fence, String itemPath, byte[] recordBytes,
      List<CuratorOp> callerOps, DeferredSpanRecordException error) throws Exception {
    log.error("{}; keeping its bytes in quarantine", error.getMessage());
    byte[] kept = recordBytes.length <= DeferredSpanRecordCodec.MAX_FINISHED_BYTES ? recordBytes
        : Arrays.copyOf(recordBytes, DeferredSpanRecordCodec.MAX_FINISHED_BYTES);
    List<CuratorOp> ours = List.of(client.transactionOp().create().withMode(CreateMode.PERSISTENT_SEQUENTIAL)
        .forPath(layout.quarantinePrefix(itemPath), kept));
    EndResult result = applyAlone(fence, itemPath, ours, callerOps, EndResult.rejected(error));
    if (result.getOutcome() == EndResult.Outcome.REJECTED_RECORD) {
      counters.rejected.increment();
      counters.recordQuarantined();
    }
    return result;
  }

  private EndResult applyAlone(SessionFencedCall fence, String itemPath, List<CuratorOp> ours,
      List<CuratorOp> callerOps, EndResult result) throws Exception {
    try {
      return endTransaction.applyAlone(fence, itemPath, ours, callerOps, result);
    } catch (EndTransaction.RecordChangedException impossible) {
      // Our only operation here is a sequential create in quarantine/, which fails only without the store's tree.
      throw new DeferredSpanStoreException("end of the span embedded in " + itemPath + ": could not write to "
          + "the store's quarantine; nothing was applied. Was the store started?", null);
    }
  }
}
