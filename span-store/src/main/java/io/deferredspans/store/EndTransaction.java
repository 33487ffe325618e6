package io.deferredspans.store;

import io.deferredspans.sdk.CorruptDeferredSpanRecordException;
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanLimitException;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredSpanRecordException;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.sdk.FinishedDeferredSpan;
import io.deferredspans.sdk.UnsupportedRecordVersionException;
import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import io.deferredspans.sdk.internal.DeferredTracingUtil;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The end of a deferred span, as one ZooKeeper transaction with the caller's operations, and the settling of
 * every way that transaction can fail or go unanswered, so that each end has exactly one documented outcome.
 *
 * <p>A sampled end deletes the record (at the version read) and its span marker, and creates the finished span
 * holding this session's holder token: the session's liveness node stands in for a claim of its own. The token
 * holds a random per-attempt nonce: after a lost reply, only the attempt that finds its own token won, whatever
 * the rest of the finished span's bytes (two racers of the same host name and end time write identical spans).
 * An unsampled end only deletes: nothing will be exported.
 */
final class EndTransaction {
  private static final Logger log = LoggerFactory.getLogger(EndTransaction.class);
  // Below the servers' jute.maxbuffer with room for the multi's framing and anything we did not count.
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
  private final SessionFencedCall.Factory fences;
  private final ExportedSpans exported;
  private final StoreCounters counters;
  private final int maxTransactionBytes;

  EndTransaction(
      CuratorFramework client, ZNodeLayout layout, DeferredTracing tracing, FreshReads reads,
      SessionFencedCall.Factory fences, ExportedSpans exported, StoreCounters counters, int serverMaxBufferBytes) {
    this.client = client;
    this.layout = layout;
    this.tracing = tracing;
    this.reads = reads;
    this.fences = fences;
    this.exported = exported;
    this.counters = counters;
    this.maxTransactionBytes = serverMaxBufferBytes - TRANSACTION_MARGIN_BYTES;
  }

  /** Ends the span under {@code openPath} with the caller's operations. */
  EndResult end(SessionFencedCall fence, String openPath, DeferredSpanEnding ending, List<CuratorOp> callerOps)
      throws Exception {
    for (int attempt = 1; ; attempt++) {
      try {
        return endOnce(fence, openPath, ending, callerOps);
      } catch (RecordChangedException changed) {
        if (attempt >= RESTARTS) {
          throw new DeferredSpanStoreUnavailableException(
              "end " + openPath + ": the record kept changing while being ended; nothing was applied, retry",
              false, null);
        }
      }
    }
  }

  private EndResult endOnce(
      SessionFencedCall fence, String openPath, DeferredSpanEnding ending, List<CuratorOp> callerOps)
      throws Exception {
    Stat stat = new Stat();
    byte[] data = reads.dataConfirmingAbsence(openPath, stat);
    if (data == null) {
      Stat tombstone = reads.stat(layout.abandonedPath(openPath));
      if (tombstone != null) {
        return dequeueAbandoned(fence, openPath, tombstone, callerOps);
      }
      EndResult result = applyAlone(fence, openPath, List.of(), callerOps, EndResult.noRecord());
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
      return applyAlone(fence, openPath, List.of(), callerOps, EndResult.rejected(e));
    } catch (CorruptDeferredSpanRecordException e) {
      return quarantineWith(fence, openPath, stat, data, callerOps, e);
    }
    return commit(fence, openPath, stat, data, DeferredTracingUtil.finish(tracing, record, ending), callerOps);
  }

  /** {@link #commit(SessionFencedCall, String, Stat, byte[], FinishedDeferredSpan, List)} as its own operation. */
  EndResult commit(
      String openPath, Stat read, byte[] recordBytes, FinishedDeferredSpan finished, List<CuratorOp> callerOps)
      throws Exception {
    return commit(fences.open("end " + openPath), openPath, read, recordBytes, finished, callerOps);
  }

  /**
   * The end transaction shared by callers and the recovery worker: remove the record read as {@code read}, store
   * the finished span with this session's claim (if sampled), apply the caller's operations; then export.
   */
  EndResult commit(
      SessionFencedCall fence, String openPath, Stat read, byte[] recordBytes, FinishedDeferredSpan finished,
      List<CuratorOp> callerOps) throws Exception {
    String what = "end " + openPath;
    String spanId = finished.getRecord().getSpanContext().getSpanId();
    String marker = ZNodeLayout.markerPath(openPath, spanId);
    String endedPath = layout.endedPath(spanId);
    boolean exporting = tracing.isEnabled() && finished.getRecord().isSampled();
    List<CuratorOp> ops = new ArrayList<>(4 + callerOps.size());
    // The marker fails this transaction if the key now holds another span than the one we read (key reuse).
    ops.add(client.transactionOp().delete().forPath(marker));
    ops.add(client.transactionOp().delete().withVersion(read.getVersion()).forPath(openPath));
    String token = null;
    if (exporting) {
      token = ZNodeLayout.holderToken(fence.session().id());
      ops.add(heldFinishedCreate(endedPath, finished, token, what));
    }
    int ourOps = ops.size();
    ops.addAll(callerOps);
    requireFits(ops, what);
    try {
      try {
        fence.multi(ops); // sent once: after a lost reply the token, read back, tells whether it applied
      } catch (KeeperException e) {
        return settleFailed(fence, e, openPath, read, recordBytes, finished, callerOps, ourOps, token);
      }
    } catch (InterruptedException stopped) {
      // Sent, and this thread stopped (a recovery worker closed) before the answer or its settling read: if the
      // end applied, this live session would hold its span from every exporter. Give it back.
      if (exporting) {
        exported.giveBack(endedPath, fence.session());
      }
      throw stopped;
    }
    counters.ended.increment();
    if (exporting) {
      exported.export(finished, endedPath, fence.session()); // the session that holds the claim
    }
    return EndResult.ended(finished);
  }

  private EndResult settleFailed(
      SessionFencedCall fence, KeeperException e, String openPath, Stat read, byte[] recordBytes,
      FinishedDeferredSpan finished, List<CuratorOp> callerOps, int ourOps, String token) throws Exception {
    boolean unanswered = KeeperErrors.isConnectionProblem(e);
    if (!unanswered) {
      int failed = KeeperErrors.firstFailedIndex(e);
      if (failed >= ourOps) {
        counters.callerOperationsFailed.increment();
        return EndResult.callerOperationsFailed(failed - ourOps, KeeperErrors.codeAt(e, failed));
      }
    }
    String spanId = finished.getRecord().getSpanContext().getSpanId();
    String endedPath = layout.endedPath(spanId);
    // Every read below is on the session the transaction went to, which answers in order: what it reads after
    // the reconnection shows the unanswered transaction applied, or it never will be.
    if (unanswered && token != null && heldWith(fence, endedPath, token)) {
      counters.retriedWinners.increment();
      counters.ended.increment();
      exported.export(finished, endedPath, fence.session());
      return EndResult.ended(finished);
    }
    Stat now = fence.stat(openPath);
    if (now != null && now.getCzxid() == read.getCzxid()) {
      boolean markerThere = fence.stat(ZNodeLayout.markerPath(openPath, spanId)) != null;
      if (unanswered && markerThere && now.getVersion() == read.getVersion()) {
        throw new DeferredSpanStoreUnavailableException(
            what(openPath) + ": connection lost; nothing was applied, retry", false, e);
      }
      // The record we read is still there, yet our delete of it failed: it is ephemeral, has no marker of its own
      // span or other children too, was modified, or names a span already ended under another key. No end can
      // ever succeed on it.
      int failed = unanswered ? -1 : KeeperErrors.firstFailedIndex(e);
      String why = read.getEphemeralOwner() != 0 ? "it is ephemeral (records must be persistent)"
          : !markerThere ? "it has no span marker 'span-" + spanId + "'"
          : failed == 1 && KeeperErrors.codeAt(e, failed) == KeeperException.Code.NOTEMPTY
              ? "it has children other than its span marker"
          : now.getVersion() != read.getVersion() ? "it was modified after it was written"
          : "its span " + spanId + " was already ended under another key";
      return quarantineWith(fence, openPath, now, recordBytes, callerOps,
          new CorruptDeferredSpanRecordException(openPath, "not a record this store can end: " + why, null));
    }
    if (unanswered && token == null) {
      // An unexporting end leaves no proof of its win, and the record is gone: by our end or another host's.
      throw new DeferredSpanStoreUnavailableException(what(openPath) + ": ZooKeeper did not say whether the end "
          + "was applied, and nothing of it will be sent again. Running the same end again is safe: it reports "
          + "CALLER_OPERATIONS_FAILED if the first attempt applied", true, e);
    }
    // Our transaction did not apply (its finished span would hold our token) and the record we read is gone:
    // another end committed first. Was it recovery, giving up on the span?
    String tombstonePath = layout.abandonedPath(openPath);
    Stat tombstone = new Stat();
    byte[] abandoned = fence.data(tombstonePath, tombstone);
    if (abandoned != null && ZNodeLayout.tombstoneSpanId(abandoned).equals(spanId)) {
      return dequeueAbandoned(fence, openPath, tombstone, callerOps);
    }
    if (unanswered && livenessLost(fence)) {
      throw holderLivenessLost(what(openPath), e);
    }
    counters.alreadyEnded.increment();
    return EndResult.alreadyEnded();
  }

  private static String what(String openPath) {
    return "end " + openPath;
  }

  /** Applies the caller's dequeue of an item whose span recovery abandoned, and clears the tombstone with it. */
  private EndResult dequeueAbandoned(
      SessionFencedCall fence, String openPath, Stat tombstone, List<CuratorOp> callerOps) throws Exception {
    List<CuratorOp> clear = List.of(client.transactionOp().delete().withVersion(tombstone.getVersion())
        .forPath(layout.abandonedPath(openPath)));
    EndResult result = applyAlone(fence, openPath, clear, callerOps, EndResult.abandoned());
    if (result.getOutcome() == EndResult.Outcome.ABANDONED) {
      counters.endedAfterAbandon.increment();
    }
    return result;
  }

  /** The tombstone recovery writes with an abandoning end: which span, and its owner for the cleanup. */
  List<CuratorOp> tombstoneOps(String openPath, DeferredSpanRecord record) throws Exception {
    String path = layout.abandonedPath(openPath);
    byte[] data = ZNodeLayout.tombstoneData(record.getSpanContext().getSpanId(), record.getOwner().orElse(""));
    List<CuratorOp> ops = new ArrayList<>(2);
    Stat stale = client.checkExists().forPath(path);
    if (stale != null) {
      ops.add(client.transactionOp().delete().withVersion(stale.getVersion()).forPath(path)); // an older span's
    }
    ops.add(client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(path, data));
    return ops;
  }

  /** Moves an unendable record to quarantine in one transaction with the caller's operations. */
  private EndResult quarantineWith(
      SessionFencedCall fence, String openPath, Stat stat, byte[] data, List<CuratorOp> callerOps,
      DeferredSpanRecordException error) throws Exception {
    log.error("{}; moving it to quarantine", error.getMessage());
    EndResult result = applyAlone(fence, openPath, quarantineOps(openPath, stat, data, callerOps), callerOps,
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
   * @param callerOps what goes into the same transaction (not included in the operations returned)
   * @throws RecordChangedException if the record is no longer the one read as {@code stat}
   */
  List<CuratorOp> quarantineOps(String path, Stat stat, byte[] data, List<CuratorOp> callerOps) throws Exception {
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
    List<CuratorOp> others = new ArrayList<>(ops);
    others.addAll(callerOps);
    ops.add(quarantineCreate(layout.quarantinePrefix(path), data, others));
    return ops;
  }

  /**
   * The create that keeps unreadable bytes in quarantine, in one transaction with {@code otherOps}: all of them,
   * or the head of them that leaves the transaction within what the servers accept and never above what a
   * finished span may take (bytes beyond it are corrupt whatever follows). Keeping them must never block the
   * caller's dequeue that goes with it, and an operator learns as much from their head.
   */
  CuratorOp quarantineCreate(String prefix, byte[] data, List<CuratorOp> otherOps) throws Exception {
    int overhead = RequestSizes.serializedSize(quarantineCreateOp(prefix, new byte[0]).get());
    int room = maxTransactionBytes - serializedSize(otherOps) - overhead;
    int kept = Math.max(0, Math.min(room, Math.min(data.length, DeferredSpanRecordCodec.MAX_FINISHED_BYTES)));
    return quarantineCreateOp(prefix, kept == data.length ? data : Arrays.copyOf(data, kept));
  }

  private CuratorOp quarantineCreateOp(String prefix, byte[] kept) throws Exception {
    return client.transactionOp().create().withMode(CreateMode.PERSISTENT_SEQUENTIAL).forPath(prefix, kept);
  }

  /**
   * Runs our operations (possibly none) and the caller's in one transaction, without Curator's retries: a retry
   * after a lost reply would fail on the caller's own, already applied operations and be mistaken for "nothing
   * was applied". So no answer is reported as no answer.
   *
   * @throws RecordChangedException if our own operations failed: what they act on changed meanwhile
   */
  EndResult applyAlone(
      SessionFencedCall fence, String path, List<CuratorOp> ourOps, List<CuratorOp> callerOps, EndResult result)
      throws Exception {
    if (ourOps.isEmpty() && callerOps.isEmpty()) {
      return result;
    }
    List<CuratorOp> ops = new ArrayList<>(ourOps);
    ops.addAll(callerOps);
    requireFits(ops, "end " + path);
    try {
      fence.multi(ops);
      return result;
    } catch (KeeperException e) {
      if (KeeperErrors.isConnectionProblem(e)) {
        throw new DeferredSpanStoreUnavailableException(
            "end " + path + ": no answer from ZooKeeper; the operations may have been applied, and will not be "
                + "sent again. Running the same end again is safe: it reports CALLER_OPERATIONS_FAILED if they "
                + "were", true, e);
      }
      int failed = KeeperErrors.firstFailedIndex(e);
      if (failed < ourOps.size()) {
        throw new RecordChangedException();
      }
      counters.callerOperationsFailed.increment();
      return EndResult.callerOperationsFailed(failed - ourOps.size(), KeeperErrors.codeAt(e, failed));
    }
  }

  /** What a claim holds: who exports the span (for an operator) and this attempt's nonce (for the settling). */
  byte[] claimData() {
    return ZNodeLayout.claimData(tracing.getHostName());
  }

  /**
   * The create of a finished span held by {@code token}, refused before anything is sent if it is larger than
   * the record format allows.
   */
  CuratorOp heldFinishedCreate(String endedPath, FinishedDeferredSpan finished, String token, String what)
      throws Exception {
    byte[] held = ZNodeLayout.heldFinished(DeferredSpanRecordCodec.encode(finished), token);
    return client.transactionOp().create().withMode(CreateMode.PERSISTENT)
        .forPath(endedPath, requireFormatLimit(held, what));
  }

  /**
   * Whether the finished span at {@code endedPath} holds {@code token}, read on the session its end went to,
   * which answers in order: after a lost reply, this tells whether that end applied.
   */
  /**
   * Whether the session of an unanswered end lost its liveness node meanwhile (another writer deleted it): then
   * recovery may have exported and removed the span the end wrote, and its absence proves nothing.
   */
  boolean livenessLost(SessionFencedCall fence) throws Exception {
    return fence.livenessNodeReplaced(layout.livePath(fence.session().id()));
  }

  static DeferredSpanStoreUnavailableException holderLivenessLost(String what, KeeperException e) {
    return new DeferredSpanStoreUnavailableException(what + ": ZooKeeper did not say whether the end was applied, "
        + "and meanwhile another writer deleted this session's liveness node, so recovery may have exported and "
        + "removed the span it held. Nothing of it will be sent again. Running the same end again is safe: it "
        + "reports CALLER_OPERATIONS_FAILED if the first attempt applied", true, e);
  }

  static boolean heldWith(SessionFencedCall fence, String endedPath, String token) throws Exception {
    return token.equals(ZNodeLayout.holderToken(fence.data(endedPath, new Stat())));
  }

  /**
   * Refuses, before anything is sent, a finished span larger than the record format allows: ZooKeeper might take
   * it (with {@code jute.maxbuffer} raised), but every recovery would find it corrupt. A record within the format's
   * limit always leaves its end this much room.
   */
  static byte[] requireFormatLimit(byte[] finished, String what) {
    if (finished.length > DeferredSpanRecordCodec.MAX_FINISHED_BYTES) {
      throw new DeferredSpanLimitException(what + ": the finished span takes " + finished.length + " bytes, more "
          + "than the " + DeferredSpanRecordCodec.MAX_FINISHED_BYTES + " the record format allows; nothing was "
          + "sent. Reduce the end's attributes and events (span limits: OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT, "
          + "OTEL_SPAN_EVENT_COUNT_LIMIT)");
    }
    return finished;
  }

  /**
   * Refuses, before anything is sent, a transaction ZooKeeper would not accept: a request over the server's
   * {@code jute.maxbuffer} makes it drop the connection, and this client goes SUSPENDED. The bound is the
   * server's (ZooKeeper's default, or what the store was built with), never the client's own setting, which may
   * well be larger than the server's.
   */
  void requireFits(List<CuratorOp> ops, String what) {
    int size = serializedSize(ops);
    if (size > maxTransactionBytes) {
      throw new DeferredSpanLimitException(what + ": the transaction takes " + size + " bytes, more than the "
          + maxTransactionBytes + " ZooKeeper accepts (the servers' jute.maxbuffer less a margin); nothing was "
          + "sent. Reduce the caller's operations");
    }
  }

  private static int serializedSize(List<CuratorOp> ops) {
    int size = 0;
    for (CuratorOp op : ops) {
      size += RequestSizes.serializedSize(op.get());
    }
    return size;
  }
}
