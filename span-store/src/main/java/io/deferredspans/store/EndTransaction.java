package io.deferredspans.store;

import io.deferredspans.sdk.CorruptDeferredSpanRecordException;
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanLimitException;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredSpanRecordCodec;
import io.deferredspans.sdk.DeferredSpanRecordException;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.sdk.FinishedDeferredSpan;
import io.deferredspans.sdk.UnsupportedRecordVersionException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.utils.ZKPaths;
import org.apache.jute.BinaryOutputArchive;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The end of a deferred span, as one ZooKeeper transaction with the caller's operations, and the settling of
 * every way that transaction can fail or go unanswered, so that each end has exactly one documented outcome.
 *
 * <p>A sampled end deletes the record (at the version read) and its span marker, and creates the finished span
 * and an ephemeral claim. The claim holds a random per-attempt nonce: after a lost reply, only the attempt that
 * finds its own nonce won, whatever the finished span's bytes (two racers of the same host name and end time
 * write identical spans). An unsampled end only deletes: nothing will be exported.
 */
final class EndTransaction {
  private static final Logger log = LoggerFactory.getLogger(EndTransaction.class);
  // Below jute.maxbuffer with room for the multi's framing and anything we did not count.
  private static final int TRANSACTION_MARGIN_BYTES = 64 * 1024;
  private static final int RESTARTS = 3;

  /** The record read at the start of an end changed before the end's transaction: read it again. */
  static final class RecordChangedException extends Exception {
    RecordChangedException() {
      super(null, null, false, false);
    }
  }

  private final CuratorFramework client;
  private final ZNodeLayout layout;
  private final DeferredTracing tracing;
  private final FreshReads reads;
  private final ClaimSession.Tracker sessions;
  private final ExportedSpans exported;
  private final StoreCounters counters;
  private final int maxTransactionBytes;

  EndTransaction(
      CuratorFramework client, ZNodeLayout layout, DeferredTracing tracing, FreshReads reads,
      ClaimSession.Tracker sessions, ExportedSpans exported, StoreCounters counters) {
    this.client = client;
    this.layout = layout;
    this.tracing = tracing;
    this.reads = reads;
    this.sessions = sessions;
    this.exported = exported;
    this.counters = counters;
    this.maxTransactionBytes =
        Integer.getInteger("jute.maxbuffer", 0xfffff) - TRANSACTION_MARGIN_BYTES;
  }

  /** Ends the span under {@code openPath} with the caller's operations. */
  EndResult end(String openPath, DeferredSpanEnding ending, List<CuratorOp> callerOps) throws Exception {
    for (int attempt = 1; ; attempt++) {
      try {
        return endOnce(openPath, ending, callerOps);
      } catch (RecordChangedException changed) {
        if (attempt >= RESTARTS) {
          throw new DeferredSpanStoreUnavailableException(
              "end " + openPath + ": the record kept changing while being ended; nothing was applied, retry",
              false, null);
        }
      }
    }
  }

  private EndResult endOnce(String openPath, DeferredSpanEnding ending, List<CuratorOp> callerOps)
      throws Exception {
    Stat stat = new Stat();
    byte[] data = reads.dataConfirmingAbsence(openPath, stat);
    if (data == null) {
      Stat tombstone = reads.stat(layout.abandonedPath(openPath));
      if (tombstone != null) {
        return dequeueAbandoned(openPath, tombstone, callerOps);
      }
      EndResult result = applyAlone(openPath, List.of(), callerOps, EndResult.noRecord());
      if (result.getOutcome() == EndResult.Outcome.NO_RECORD) {
        counters.noRecord.increment();
      }
      return result;
    }
    DeferredSpanRecord record;
    try {
      record = DeferredSpanRecordCodec.decodeRecord(data, openPath);
    } catch (UnsupportedRecordVersionException e) {
      log.warn("{}; leaving it for a host that reads that version", e.getMessage());
      counters.rejected.increment();
      return applyAlone(openPath, List.of(), callerOps, EndResult.rejected(e));
    } catch (CorruptDeferredSpanRecordException e) {
      return quarantineWith(openPath, stat, data, callerOps, e);
    }
    return commit(openPath, stat, data, tracing.finish(record, ending), callerOps);
  }

  /**
   * The end transaction shared by callers and the recovery worker: remove the record read as {@code read}, store
   * the finished span with this session's claim (if sampled), apply the caller's operations; then export.
   */
  EndResult commit(
      String openPath, Stat read, byte[] recordBytes, FinishedDeferredSpan finished, List<CuratorOp> callerOps)
      throws Exception {
    String what = "end " + openPath;
    String spanId = finished.getRecord().getSpanContext().getSpanId();
    String marker = ZNodeLayout.markerPath(openPath, spanId);
    String endedPath = layout.endedPath(spanId);
    boolean exporting = tracing.isEnabled() && finished.getRecord().isSampled();
    List<CuratorOp> ops = new ArrayList<>(4 + callerOps.size());
    // The marker fails this transaction if the key now holds another span than the one we read (key reuse).
    ops.add(client.transactionOp().delete().forPath(marker));
    ops.add(client.transactionOp().delete().withVersion(read.getVersion()).forPath(openPath));
    byte[] claim = null;
    if (exporting) {
      claim = claimData();
      ops.add(client.transactionOp().create().withMode(CreateMode.PERSISTENT)
          .forPath(endedPath, DeferredSpanRecordCodec.encode(finished)));
      ops.add(client.transactionOp().create().withMode(CreateMode.EPHEMERAL)
          .forPath(ZNodeLayout.claimPath(endedPath), claim));
    }
    int ourOps = ops.size();
    ops.addAll(callerOps);
    requireFits(ops, what);
    ClaimSession before = sessions.current();
    try {
      if (exporting) {
        // Curator retries after a lost reply; the claim's nonce tells a retried win from a lost race.
        client.transaction().forOperations(ops);
      } else {
        before.multi(toOps(ops)); // no proof of a win to read back: no blind retries either
      }
    } catch (KeeperException e) {
      return settleFailed(e, openPath, read, recordBytes, finished, callerOps, ourOps, claim, before);
    }
    counters.ended.increment();
    if (exporting) {
      exportClaimed(finished, endedPath, before, what);
    }
    return EndResult.ended(finished);
  }

  private EndResult settleFailed(
      KeeperException e, String openPath, Stat read, byte[] recordBytes, FinishedDeferredSpan finished,
      List<CuratorOp> callerOps, int ourOps, byte[] claim, ClaimSession before) throws Exception {
    String what = "end " + openPath;
    boolean unanswered = DeferredSpanStore.isConnectionProblem(e);
    if (!unanswered) {
      int failed = firstFailedIndex(e);
      if (failed >= ourOps) {
        counters.callerOperationsFailed.increment();
        return EndResult.callerOperationsFailed(failed - ourOps, codeAt(e, failed));
      }
    }
    String spanId = finished.getRecord().getSpanContext().getSpanId();
    String endedPath = layout.endedPath(spanId);
    if (claim != null && reads.untilAnswered(what, () -> isOurClaim(endedPath, claim))) {
      counters.retriedWinners.increment();
      counters.ended.increment();
      exportClaimed(finished, endedPath, before, what);
      return EndResult.ended(finished);
    }
    if (sessions.current().id() != before.id() || (unanswered && claim == null)) {
      // Our session changed under the call, or an unanswered end left no proof of its win: nobody can tell.
      throw new DeferredSpanStoreUnavailableException(
          what + ": ZooKeeper did not say whether the end was applied; if it was, recovery exports the span. "
              + "Retrying is safe: it reports CALLER_OPERATIONS_FAILED if the first attempt applied", true, e);
    }
    Stat now = reads.untilAnswered(what, () -> reads.stat(openPath));
    if (now != null && now.getCzxid() == read.getCzxid()) {
      boolean markerThere =
          reads.untilAnswered(what, () -> reads.stat(ZNodeLayout.markerPath(openPath, spanId)) != null);
      if (unanswered && markerThere && now.getVersion() == read.getVersion()) {
        throw new DeferredSpanStoreUnavailableException(what + ": connection lost; nothing was applied, retry",
            false, e);
      }
      // The record we read is still there, yet our delete of it failed: it is ephemeral, has no marker of its own
      // span or other children too, was modified, or names a span already ended under another key. No end can
      // ever succeed on it.
      int failed = unanswered ? -1 : firstFailedIndex(e);
      String why = read.getEphemeralOwner() != 0 ? "it is ephemeral (records must be persistent)"
          : !markerThere ? "it has no span marker 'span-" + spanId + "'"
          : failed == 1 && codeAt(e, failed) == KeeperException.Code.NOTEMPTY
              ? "it has children other than its span marker"
          : now.getVersion() != read.getVersion() ? "it was modified after it was written"
          : "its span " + spanId + " was already ended under another key";
      return quarantineWith(openPath, now, recordBytes, callerOps,
          new CorruptDeferredSpanRecordException(openPath, "not a record this store can end: " + why, null));
    }
    // The record we read is gone: another end committed first. Was it recovery, giving up on the span?
    String tombstonePath = layout.abandonedPath(openPath);
    Stat tombstone = new Stat();
    byte[] abandoned = reads.untilAnswered(what, () -> reads.data(tombstonePath, tombstone));
    if (abandoned != null && new String(abandoned, StandardCharsets.UTF_8).startsWith(spanId + "\n")) {
      return dequeueAbandoned(openPath, tombstone, callerOps);
    }
    counters.alreadyEnded.increment();
    return EndResult.alreadyEnded();
  }

  /**
   * Exports a span whose end this session committed, fenced by the session that holds its claim. If Curator
   * replaced the session during the call, the claim may have gone with the old one: then recovery exports it.
   */
  private void exportClaimed(FinishedDeferredSpan finished, String endedPath, ClaimSession before, String what)
      throws Exception {
    ClaimSession now = sessions.current();
    if (now != before) {
      Stat claim = reads.untilAnswered(what, () -> reads.stat(ZNodeLayout.claimPath(endedPath)));
      if (claim == null || claim.getEphemeralOwner() != now.id()) {
        log.info("{}: the session changed during the end; recovery exports the span", what);
        return;
      }
    }
    exported.export(finished, endedPath, now);
  }

  /** Applies the caller's dequeue of an item whose span recovery abandoned, and clears the tombstone with it. */
  private EndResult dequeueAbandoned(String openPath, Stat tombstone, List<CuratorOp> callerOps)
      throws Exception {
    List<CuratorOp> clear = List.of(client.transactionOp().delete().withVersion(tombstone.getVersion())
        .forPath(layout.abandonedPath(openPath)));
    EndResult result = applyAlone(openPath, clear, callerOps, EndResult.abandoned());
    if (result.getOutcome() == EndResult.Outcome.ABANDONED) {
      counters.endedAfterAbandon.increment();
    }
    return result;
  }

  /** The tombstone recovery writes with an abandoning end: which span, and its owner for the cleanup. */
  List<CuratorOp> tombstoneOps(String openPath, DeferredSpanRecord record) throws Exception {
    String path = layout.abandonedPath(openPath);
    byte[] data = (record.getSpanContext().getSpanId() + "\n" + record.getOwner().orElse(""))
        .getBytes(StandardCharsets.UTF_8);
    List<CuratorOp> ops = new ArrayList<>(2);
    Stat stale = client.checkExists().forPath(path);
    if (stale != null) {
      ops.add(client.transactionOp().delete().withVersion(stale.getVersion()).forPath(path)); // an older span's
    }
    ops.add(client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(path, data));
    return ops;
  }

  /** Whether the claim on {@code endedPath} is the one this attempt wrote. */
  private boolean isOurClaim(String endedPath, byte[] claim) throws Exception {
    return Arrays.equals(reads.data(ZNodeLayout.claimPath(endedPath), new Stat()), claim);
  }

  /** Moves an unendable record to quarantine in one transaction with the caller's operations. */
  private EndResult quarantineWith(
      String openPath, Stat stat, byte[] data, List<CuratorOp> callerOps, DeferredSpanRecordException error)
      throws Exception {
    log.error("{}; moving it to quarantine", error.getMessage());
    EndResult result = applyAlone(openPath, quarantineOps(openPath, stat, data), callerOps,
        EndResult.rejected(error));
    if (result.getOutcome() == EndResult.Outcome.REJECTED_RECORD) {
      counters.rejected.increment();
      counters.recordQuarantined();
    }
    return result;
  }

  /**
   * Deletes {@code path} (with its children) and keeps its bytes in quarantine. Versions cannot tell a record from
   * another one re-created under the same key (both are version 0), so the children are listed together with the
   * record's creation zxid: if the key was reused meanwhile, the new record's marker is not among them and the
   * delete fails as not empty instead of removing the new span.
   *
   * @throws RecordChangedException if the record is no longer the one read as {@code stat}
   */
  List<CuratorOp> quarantineOps(String path, Stat stat, byte[] data) throws Exception {
    Stat parent = new Stat();
    List<String> children;
    try {
      children = client.getChildren().storingStatIn(parent).forPath(path);
    } catch (KeeperException.NoNodeException gone) {
      throw new RecordChangedException();
    }
    if (parent.getCzxid() != stat.getCzxid()) {
      throw new RecordChangedException();
    }
    List<CuratorOp> ops = new ArrayList<>();
    for (String child : children) {
      ops.add(client.transactionOp().delete().forPath(ZKPaths.makePath(path, child)));
    }
    ops.add(client.transactionOp().delete().withVersion(stat.getVersion()).forPath(path));
    ops.add(client.transactionOp().create().withMode(CreateMode.PERSISTENT_SEQUENTIAL)
        .forPath(layout.quarantinePrefix(path), data));
    return ops;
  }

  /**
   * Runs our operations (possibly none) and the caller's in one transaction, without Curator's retries: a retry
   * after a lost reply would fail on the caller's own, already applied operations and be mistaken for "nothing
   * was applied". So no answer is reported as no answer.
   *
   * @throws RecordChangedException if our own operations failed: what they act on changed meanwhile
   */
  EndResult applyAlone(String path, List<CuratorOp> ourOps, List<CuratorOp> callerOps, EndResult result)
      throws Exception {
    if (ourOps.isEmpty() && callerOps.isEmpty()) {
      return result;
    }
    List<CuratorOp> ops = new ArrayList<>(ourOps);
    ops.addAll(callerOps);
    requireFits(ops, "end " + path);
    try {
      sessions.current().multi(toOps(ops));
      return result;
    } catch (KeeperException e) {
      if (DeferredSpanStore.isConnectionProblem(e)) {
        throw new DeferredSpanStoreUnavailableException(
            "end " + path + ": no answer from ZooKeeper; the operations may have been applied. Retrying is safe: "
                + "it reports CALLER_OPERATIONS_FAILED if they were", true, e);
      }
      int failed = firstFailedIndex(e);
      if (failed < ourOps.size()) {
        throw new RecordChangedException();
      }
      counters.callerOperationsFailed.increment();
      return EndResult.callerOperationsFailed(failed - ourOps.size(), codeAt(e, failed));
    }
  }

  /** What a claim holds: who exports the span (for an operator) and this attempt's nonce (for the settling). */
  byte[] claimData() {
    return (tracing.getHostName() + "\n" + Long.toHexString(ThreadLocalRandom.current().nextLong() | 1L << 63))
        .getBytes(StandardCharsets.UTF_8);
  }

  /**
   * Refuses, before anything is sent, a transaction ZooKeeper would not accept: a request over {@code
   * jute.maxbuffer} makes the server drop the connection, every session of this client goes SUSPENDED, and every
   * retry does the same.
   */
  private void requireFits(List<CuratorOp> ops, String what) {
    int size = 0;
    for (CuratorOp op : ops) {
      size += serializedSize(op.get());
    }
    if (size > maxTransactionBytes) {
      throw new DeferredSpanLimitException(what + ": the transaction takes " + size + " bytes, more than the "
          + maxTransactionBytes + " ZooKeeper accepts (jute.maxbuffer less a margin); nothing was sent. Reduce the "
          + "end's attributes and events (span limits: OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT, "
          + "OTEL_SPAN_EVENT_COUNT_LIMIT) or the caller's operations");
    }
  }

  private static int serializedSize(Op op) {
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      op.toRequestRecord().serialize(BinaryOutputArchive.getArchive(out), "request");
      return out.size() + 16; // the multi header of each op
    } catch (IOException impossible) {
      throw new IllegalStateException(impossible);
    }
  }

  private static List<Op> toOps(List<CuratorOp> ops) {
    List<Op> raw = new ArrayList<>(ops.size());
    ops.forEach(op -> raw.add(op.get()));
    return raw;
  }

  static int firstFailedIndex(KeeperException e) {
    List<OpResult> results = e.getResults();
    if (results == null) {
      return 0;
    }
    for (int i = 0; i < results.size(); i++) {
      OpResult result = results.get(i);
      if (result instanceof OpResult.ErrorResult) {
        int err = ((OpResult.ErrorResult) result).getErr();
        if (err != KeeperException.Code.OK.intValue()
            && err != KeeperException.Code.RUNTIMEINCONSISTENCY.intValue()) {
          return i;
        }
      }
    }
    return 0;
  }

  private static KeeperException.Code codeAt(KeeperException e, int index) {
    List<OpResult> results = e.getResults();
    if (results != null && index < results.size() && results.get(index) instanceof OpResult.ErrorResult) {
      return KeeperException.Code.get(((OpResult.ErrorResult) results.get(index)).getErr());
    }
    return e.code();
  }
}
