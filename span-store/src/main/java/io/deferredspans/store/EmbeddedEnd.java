package io.deferredspans.store;

import io.deferredspans.sdk.CorruptDeferredSpanRecordException;
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanLimitException;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredSpanRecordException;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.sdk.FinishedDeferredSpan;
import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import io.deferredspans.sdk.internal.DeferredTracingUtil;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.utils.PathUtils;
import org.apache.curator.utils.ZKPaths;
import org.apache.jute.Record;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.proto.CreateRequest;
import org.apache.zookeeper.proto.CreateTTLRequest;
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
  private final StoreCalls calls;

  EmbeddedEnd(CuratorFramework client, ZNodeLayout layout, DeferredTracing tracing, EndTransaction endTransaction,
      ExportedSpans exported, StoreCounters counters, StoreCalls calls) {
    this.client = client;
    this.calls = calls;
    this.layout = layout;
    this.tracing = tracing;
    this.endTransaction = endTransaction;
    this.exported = exported;
    this.counters = counters;
  }

  /**
   * Refuses, before anything is sent, operations that would not make the end once-only: without a versioned
   * delete or rewrite of the item, a second end of the same bytes would apply too, after the first one's finished
   * span was cleaned up; and an item written back with the record's bytes still in it would be ended again by
   * its next dequeue. (A record re-encoded inside the new data cannot be told from other bytes: the rule that the
   * record leaves the item is the caller's, and documented.)
   */
  void requireOnceOnly(String itemPath, byte[] recordBytes, List<CuratorOp> callerOps) {
    PathUtils.validatePath(itemPath); // IllegalArgumentException naming what is wrong with it
    String fixed = ZKPaths.fixForNamespace(client.getNamespace(), itemPath);
    boolean versioned = false;
    for (CuratorOp op : callerOps) {
      Op raw = op.get();
      if (!raw.getPath().equals(fixed)) {
        continue;
      }
      Record request = raw.toRequestRecord();
      byte[] written = request instanceof SetDataRequest setData ? setData.getData()
          : request instanceof CreateRequest create ? create.getData()
          : request instanceof CreateTTLRequest createTtl ? createTtl.getData()
          : null;
      if (recordBytes != null && recordBytes.length > 0 && written != null && contains(written, recordBytes)) {
        throw new IllegalArgumentException("end of the span embedded in " + itemPath + ": the operations write "
            + itemPath + " with data that still holds the record, so its next dequeue would end the span again; "
            + "leave the record out of the item's new data. Nothing was sent");
      }
      versioned |= request instanceof DeleteRequest delete && delete.getVersion() >= 0
          || request instanceof SetDataRequest setData && setData.getVersion() >= 0;
    }
    if (!versioned) {
      throw new IllegalArgumentException("end of the span embedded in " + itemPath + ": the operations must "
          + "delete or rewrite " + itemPath + " at the version it was read with (withVersion(stat.getVersion())); "
          + "that is what makes the end happen once. Nothing was sent");
    }
  }

  private static boolean contains(byte[] data, byte[] part) {
    for (int from = 0; from + part.length <= data.length; from++) {
      if (Arrays.equals(data, from, from + part.length, part, 0, part.length)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Ends the span: a sampled one on the caller's own thread (it only sends one transaction and waits for its
   * answer), anything else, and every settling that may block, as a {@link StoreCalls#call} off it.
   */
  EndResult end(String itemPath, byte[] recordBytes, DeferredSpanEnding ending, List<CuratorOp> callerOps) {
    String call = "end " + itemPath;
    if (recordBytes == null) {
      return calls.call(call, fence -> {
        EndResult result = applyAlone(fence, itemPath, List.of(), callerOps, EndResult.noRecord());
        if (result.getOutcome() == EndResult.Outcome.NO_RECORD) {
          counters.noRecord.increment();
        }
        return result;
      });
    }
    DeferredSpanRecord record;
    try {
      record = DeferredSpanRecordCodec.decodeRecord(recordBytes, "the item " + itemPath);
    } catch (DeferredSpanRecordException e) {
      // The item is going away with its bytes, so even a newer format version is kept, for an operator.
      return calls.call(call, fence -> quarantineWith(fence, itemPath, recordBytes, callerOps, e));
    }
    FinishedDeferredSpan finished = DeferredTracingUtil.finish(tracing, record, ending);
    if (!tracing.isEnabled() || !record.isSampled()) {
      return calls.call(call, fence -> {
        EndResult result = applyAlone(fence, itemPath, List.of(), callerOps, EndResult.ended(finished));
        if (result.getOutcome() == EndResult.Outcome.ENDED) {
          counters.ended.increment();
        }
        return result;
      });
    }
    return endSampled(itemPath, recordBytes, finished, callerOps);
  }

  private EndResult endSampled(
      String itemPath, byte[] recordBytes, FinishedDeferredSpan finished, List<CuratorOp> callerOps) {
    String what = "end of the span embedded in " + itemPath;
    String endedPath = layout.endedPath(finished.getRecord().getSpanContext().getSpanId());
    StoreCalls.OnCaller call = calls.admitOnCaller("end " + itemPath);
    boolean settlingLate = false;
    try {
      SessionFencedCall fence = call.fence();
      String token = ZNodeLayout.holderToken(fence.session().id());
      List<CuratorOp> ops = new ArrayList<>(callerOps.size() + 1);
      ops.addAll(callerOps);
      try {
        ops.add(endTransaction.heldFinishedCreate(endedPath, finished, token, what));
      } catch (DeferredSpanLimitException e) {
        throw e;
      } catch (Exception e) {
        throw new DeferredSpanStoreException(what + ": cannot build its operations; nothing was sent", e);
      }
      endTransaction.requireFits(ops, what);
      CompletableFuture<List<OpResult>> answer = fence.send(ops);
      try {
        answer.get(call.remainingNanos(), TimeUnit.NANOSECONDS);
      } catch (ExecutionException e) {
        KeeperException failure = (KeeperException) e.getCause();
        StoreCalls.Body<EndResult> settle =
            f -> settleFailed(f, failure, itemPath, recordBytes, finished, callerOps, endedPath, token);
        // A lost race's answer is final; reading back after no answer, or quarantining, sends and waits again.
        boolean sendsMore = KeeperErrors.isConnectionProblem(failure)
            || KeeperErrors.firstFailedIndex(failure) >= callerOps.size();
        return sendsMore ? call.finishOnPool(settle) : settle.run(fence);
      } catch (TimeoutException | InterruptedException e) {
        // The caller is told "outcome unknown" now; if the end applied, its span is still exported.
        settlingLate = true;
        answer.whenComplete((applied, failure) -> settleLate(call, failure, finished, endedPath, token, itemPath));
        throw call.stoppedWaiting(e);
      }
      counters.ended.increment();
      exported.export(finished, endedPath, fence.session());
      return EndResult.ended(finished);
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new DeferredSpanStoreException(what + " failed: " + e, e);
    } finally {
      call.fence().close();
      if (!settlingLate) {
        call.release();
      }
    }
  }

  /** The answer to an end whose caller stopped waiting for it: exports the span if the end applied. */
  private void settleLate(StoreCalls.OnCaller call, Throwable failure, FinishedDeferredSpan finished,
      String endedPath, String token, String itemPath) {
    if (failure == null) {
      try {
        counters.ended.increment();
        exported.export(finished, endedPath, call.fence().session());
      } catch (Exception e) {
        log.warn("end of the span embedded in {}: applied after its caller stopped waiting, and not exported "
            + "here ({}); recovery exports it once this session ends", itemPath, e.toString());
      } finally {
        call.release();
      }
      return;
    }
    if (!(failure instanceof KeeperException lost) || !KeeperErrors.isConnectionProblem(lost)) {
      call.release(); // refused: nothing was applied
      return;
    }
    // Whether it applied is only known by reading its token back, which may block: not on ZooKeeper's event
    // thread.
    Threads.daemon("deferred-span-store-settle").newThread(() -> {
      try {
        settleUnanswered(call.fence(), lost, itemPath, finished, endedPath, token);
      } catch (Exception e) {
        log.debug("end of the span embedded in {}: settled after its caller stopped waiting: {}", itemPath,
            e.toString());
      } finally {
        call.release();
      }
    }).start();
  }

  private EndResult settleFailed(SessionFencedCall fence, KeeperException e, String itemPath, byte[] recordBytes,
      FinishedDeferredSpan finished, List<CuratorOp> callerOps, String endedPath, String token) throws Exception {
    if (KeeperErrors.isConnectionProblem(e)) {
      return settleUnanswered(fence, e, itemPath, finished, endedPath, token);
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

  private EndResult settleUnanswered(SessionFencedCall fence, KeeperException e, String itemPath,
      FinishedDeferredSpan finished, String endedPath, String token) throws Exception {
    // Our token there means it applied; anything else means it never will (our live session holds the span
    // until it is exported, so it cannot have come and gone), unless another writer deleted our liveness node.
    if (EndTransaction.heldWith(fence, endedPath, token)) {
      counters.retriedWinners.increment();
      counters.ended.increment();
      exported.export(finished, endedPath, fence.session());
      return EndResult.ended(finished);
    }
    if (endTransaction.livenessLost(fence)) {
      throw EndTransaction.holderLivenessLost("end of the span embedded in " + itemPath, e);
    }
    throw new DeferredSpanStoreUnavailableException(
        "end of the span embedded in " + itemPath + ": connection lost; nothing was applied, retry", false, e);
  }

  /** Keeps unendable bytes in quarantine, in one transaction with the caller's dequeue. */
  private EndResult quarantineWith(SessionFencedCall fence, String itemPath, byte[] recordBytes,
      List<CuratorOp> callerOps, DeferredSpanRecordException error) throws Exception {
    log.error("{}; keeping its bytes in quarantine", error.getMessage());
    List<CuratorOp> ours =
        List.of(endTransaction.quarantineCreate(layout.quarantinePrefix(itemPath), recordBytes, callerOps));
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
