package io.deferredspans.store;

import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.sdk.ExportFailure;
import io.deferredspans.sdk.FinishedDeferredSpan;
import io.deferredspans.sdk.internal.DeferredTracingUtil;
import io.deferredspans.sdk.internal.ExportFence;
import io.deferredspans.sdk.internal.ExportListener;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What happens to a finished span after its end committed: it is handed to this host's pipeline, and its stored
 * copy is removed once an exporter acknowledged it, or its claim released for recovery if the export failed.
 *
 * <p>A span is claimed in one of two ways: a span this host's end wrote holds the session's token ("eh") and
 * is claimed by the session's liveness node; a span recovery took over has an ephemeral {@code claim} child.
 * Releasing the first removes the token from its data, the second deletes the claim; removing the first deletes
 * the span alone, the second the claim with it.
 *
 * <p>Every removal and release runs on the {@link ClaimSession} that holds the span's claim. If that session is
 * gone, recovery owns the span: a release is moot, and a removal only deletes the stored copy if nobody claimed
 * it meanwhile (we exported it, so recovery must not again).
 *
 * <p>A span whose export <em>timed out</em> may have reached the collector, and a hung collector keeps what it
 * was sent: handing it to recovery at once would send it into the same hang again, one more copy per attempt.
 * So its claim is kept until this host's exporter has been answered again (the collector answers: one more copy
 * at most), or for the timed-out export backoff if no answer comes sooner. A refused export, or a span that never
 * left this process, is released at once: the collector does not have it.
 */
final class ExportedSpans {
  private static final Logger log = LoggerFactory.getLogger(ExportedSpans.class);
  // An exporter batch is acknowledged at once; removing its spans in one transaction saves a ZooKeeper write
  // (an fsync) per span. 100 spans make 200 small delete ops, far below jute.maxbuffer.
  private static final int MAX_REMOVALS_PER_TRANSACTION = 100;
  private static final long MAX_RETRY_DELAY_MILLIS = 10_000;

  /** A finished span this host holds a claim on. */
  private static final class Held {
    final String endedPath;
    final ClaimSession session;
    final boolean claimNode; // recovery's claim child; otherwise the session's token in the span's data

    Held(String endedPath, ClaimSession session, boolean claimNode) {
      this.endedPath = endedPath;
      this.session = session;
      this.claimNode = claimNode;
    }

    /** What deletes this span's stored copy on its own session: its claim child goes with it. */
    void addRemoval(List<Op> ops) {
      if (claimNode) {
        ops.add(Op.delete(session.absolute(ZNodeLayout.claimPath(endedPath)), -1));
      }
      ops.add(Op.delete(session.absolute(endedPath), -1));
    }
  }

  private final CuratorFramework client;
  private final DeferredTracing tracing;
  private final SessionFencedCall.Factory fences;
  private final ScheduledExecutorService housekeeping;
  private final StoreCounters counters;
  private final Duration timedOutBackoff;
  private final Queue<Held> awaitingRemoval = new ConcurrentLinkedQueue<>();
  // Timed-out spans whose claims wait for the collector to answer again; empty and unused once shutting down.
  private final Set<Held> heldAfterTimeout = ConcurrentHashMap.newKeySet();
  private volatile boolean handingBack;
  private final AtomicBoolean removalScheduled = new AtomicBoolean();
  // Spans handed to the pipeline whose stored copy is not settled yet (removed, released, or given up): what a
  // graceful shutdown waits for. Guarded by itself.
  private final Object settledLock = new Object();
  private int unsettled;

  ExportedSpans(
      CuratorFramework client, DeferredTracing tracing, ScheduledExecutorService housekeeping,
      SessionFencedCall.Factory fences, StoreCounters counters, Duration timedOutBackoff) {
    this.client = client;
    this.tracing = tracing;
    this.fences = fences;
    this.housekeeping = housekeeping;
    this.counters = counters;
    this.timedOutBackoff = timedOutBackoff;
  }

  /**
   * Hands the span to the pipeline. Never throws: a processor that fails after the end committed must not make
   * the caller believe nothing was applied; the claim is released instead and recovery exports the span.
   */
  void export(FinishedDeferredSpan finished, String endedPath, ClaimSession session) {
    export(finished, new Held(endedPath, session, false));
  }

  /** {@link #export} of a span recovery holds through a claim child of its own. */
  void exportClaimed(FinishedDeferredSpan finished, String endedPath, ClaimSession session) {
    export(finished, new Held(endedPath, session, true));
  }

  private void export(FinishedDeferredSpan finished, Held held) {
    String endedPath = held.endedPath;
    changeUnsettled(1);
    try {
      DeferredTracingUtil.export(tracing, finished, new Listener(held));
    } catch (RuntimeException e) {
      // The listener already heard onExportFailed and releases the claim.
      log.error("span processor failed on {}; recovery will export it", endedPath, e);
    }
  }

  private final class Listener implements ExportListener {
    private final Held held;

    Listener(Held held) {
      this.held = held;
    }

    @Override
    public void onExported() {
      counters.exportAcknowledged.increment();
      awaitingRemoval.add(held);
      scheduleRemovals();
      if (!heldAfterTimeout.isEmpty()) {
        submit(ExportedSpans.this::releaseHeldAfterTimeout); // the collector answers again
      }
    }

    @Override
    public void onExportFailed(ExportFailure failure) {
      counters.exportFailed.increment();
      if (failure == ExportFailure.TIMED_OUT) {
        counters.exportsTimedOut.increment();
        holdAfterTimeout(held);
      } else {
        submit(() -> release(held, 1));
      }
    }

    @Override
    public ExportFence fence() {
      return held.session;
    }
  }

  /**
   * Keeps the claim of a span whose export timed out until this host's exporter is answered again, or for the
   * backoff; then recovery sends it again.
   */
  private void holdAfterTimeout(Held held) {
    heldAfterTimeout.add(held);
    try {
      if (handingBack) {
        housekeeping.execute(() -> releaseAfterTimeout(held));
      } else {
        housekeeping.schedule(() -> releaseAfterTimeout(held), timedOutBackoff.toNanos(), TimeUnit.NANOSECONDS);
      }
    } catch (RejectedExecutionException closed) {
      log.debug("store closed; leaving {} to the recovery worker", held.endedPath);
    }
  }

  private void releaseAfterTimeout(Held held) {
    if (heldAfterTimeout.remove(held)) {
      release(held, 1);
    }
  }

  private void releaseHeldAfterTimeout() {
    new ArrayList<>(heldAfterTimeout).forEach(this::releaseAfterTimeout);
  }

  /**
   * From now on (a shutdown), timed-out spans go back to recovery at once, those held so far too: this host is
   * leaving, and a claim kept for the backoff would only hold up its shutdown.
   */
  void stopHoldingTimedOut() {
    handingBack = true;
    submit(this::releaseHeldAfterTimeout);
  }

  /**
   * Gives a span this host's end may have written, and cannot follow through, back to recovery (retried while its
   * session lives).
   */
  void giveBack(String endedPath, ClaimSession session) {
    giveBack(new Held(endedPath, session, false));
  }

  /** {@link #giveBack} of a claim child recovery may have created. */
  void giveBackClaim(String endedPath, ClaimSession session) {
    giveBack(new Held(endedPath, session, true));
  }

  private void giveBack(Held held) {
    changeUnsettled(1);
    submit(() -> release(held, 1));
  }

  /** Waits until every span handed to the pipeline is settled, for at most {@code timeout}. */
  boolean awaitSettled(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (settledLock) {
      while (unsettled > 0) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        TimeUnit.NANOSECONDS.timedWait(settledLock, left);
      }
      return true;
    }
  }

  int unsettled() {
    synchronized (settledLock) {
      return unsettled;
    }
  }

  private void changeUnsettled(int delta) {
    synchronized (settledLock) {
      unsettled += delta;
      if (unsettled == 0) {
        settledLock.notifyAll();
      }
    }
  }

  private void settled() {
    changeUnsettled(-1);
  }

  private void scheduleRemovals() {
    if (removalScheduled.compareAndSet(false, true)) {
      submit(this::removeBatch);
    }
  }

  /** Removes the stored copies of the spans acknowledged so far: one transaction per session and batch. */
  private void removeBatch() {
    removalScheduled.set(false);
    List<Held> batch = new ArrayList<>();
    Held next;
    while (batch.size() < MAX_REMOVALS_PER_TRANSACTION && (next = awaitingRemoval.poll()) != null) {
      batch.add(next);
    }
    if (!awaitingRemoval.isEmpty()) {
      scheduleRemovals();
    }
    if (batch.isEmpty()) {
      return;
    }
    ClaimSession session = batch.get(0).session;
    if (batch.size() == 1 || batch.stream().anyMatch(held -> held.session != session)) {
      batch.forEach(held -> remove(held, 1));
      return;
    }
    List<Op> ops = new ArrayList<>(2 * batch.size());
    batch.forEach(held -> held.addRemoval(ops));
    try {
      session.multi(ops);
      counters.removed.add(batch.size());
      batch.forEach(held -> settled());
    } catch (KeeperException | InterruptedException oneOfThemIsSpecial) {
      if (oneOfThemIsSpecial instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      // A span claimed meanwhile by recovery, a lost session, or no connection: settle each on its own.
      batch.forEach(held -> remove(held, 1));
    }
  }

  /**
   * Removes one exported span. On its own session this deletes claim and copy together. If the session is gone,
   * the span is deleted only while unclaimed: once recovery claimed it, it exports it too (the documented window
   * of a session lost between export and removal).
   */
  private void remove(Held held, int attempt) {
    try {
      try {
        List<Op> ops = new ArrayList<>(2);
        held.addRemoval(ops);
        held.session.multi(ops);
      } catch (KeeperException.SessionExpiredException sessionGone) {
        removeAfterSessionLoss(held);
      } catch (KeeperException.NoNodeException claimOrSpanGone) {
        if (held.claimNode) {
          removeAfterSessionLoss(held); // the claim child went with its session
        } else {
          throw claimOrSpanGone;
        }
      }
      counters.removed.increment();
      settled();
    } catch (KeeperException.NoNodeException alreadyRemoved) {
      counters.removed.increment();
      settled();
    } catch (KeeperException.NotEmptyException claimedByOther) {
      log.warn("{} was claimed by another host after it was exported here; it may be exported twice",
          held.endedPath);
      settled();
    } catch (Exception e) {
      retryLater(held, attempt, e, () -> remove(held, attempt + 1));
    }
  }

  /**
   * Deletes an exported span's copy through Curator's current session once the claiming session is gone for this
   * client: unless another session claimed it since. The server may still hold the old session, and with it our
   * claim, for up to a session timeout after the client gave it up; that claim is still ours, and goes with the
   * copy, so recovery never finds the span unclaimed and exports it again. Each attempt is a decision of its own,
   * sent once on one session (never retried blindly by Curator onto another): a lost answer is settled by the
   * next attempt's read.
   */
  private void removeAfterSessionLoss(Held held) throws Exception {
    String claim = ZNodeLayout.claimPath(held.endedPath);
    for (int attempt = 0; ; attempt++) {
      SessionFencedCall fence = fences.open("remove " + held.endedPath);
      // A span held by its token has no claim child of ours: the old session's liveness node, however long the
      // server keeps it, holds nothing once the span is gone.
      Stat stat = held.claimNode ? client.checkExists().forPath(claim) : null;
      try {
        if (stat != null && stat.getEphemeralOwner() == held.session.id()) {
          fence.multi(List.of(
              client.transactionOp().delete().withVersion(stat.getVersion()).forPath(claim),
              client.transactionOp().delete().forPath(held.endedPath)));
        } else {
          // NotEmpty if someone else claimed it meanwhile
          fence.multi(List.of(client.transactionOp().delete().forPath(held.endedPath)));
        }
        return;
      } catch (SessionFencedCall.Refused refused) {
        if (refused.code() != KeeperException.Code.NONODE && refused.code() != KeeperException.Code.BADVERSION) {
          throw KeeperException.create(refused.code(), held.endedPath);
        }
        // Our old claim expired between the read and the delete: look again, a few times, then retry later.
        if (client.checkExists().forPath(held.endedPath) == null) {
          throw new KeeperException.NoNodeException(held.endedPath); // removed after all
        }
        if (attempt >= 2) {
          throw new KeeperException.BadVersionException(claim); // not "already removed": retried later
        }
      }
    }
  }

  /**
   * Gives an unexported span back to recovery by deleting our claim, or removing our token from its data.
   * Retried while the session lives: a claim left behind by a live session would keep the span from every
   * exporter for as long as this host runs.
   */
  private void release(Held held, int attempt) {
    try {
      if (held.claimNode) {
        String claim = held.session.absolute(ZNodeLayout.claimPath(held.endedPath));
        Stat stat = held.session.exists(claim); // on a dead session this throws: recovery owns the span then
        if (stat != null && stat.getEphemeralOwner() == held.session.id()) {
          held.session.multi(List.of(Op.delete(claim, stat.getVersion())));
        }
      } else {
        String span = held.session.absolute(held.endedPath);
        Stat stat = new Stat();
        byte[] data = held.session.data(span, stat); // throws NoNode if it never applied or is gone
        String token = ZNodeLayout.holderToken(data);
        if (token != null && ZNodeLayout.holderSession(token) == held.session.id()) {
          held.session.multi(List.of(Op.setData(span, ZNodeLayout.released(data), stat.getVersion())));
        }
      }
      settled();
    } catch (KeeperException.SessionExpiredException | KeeperException.NoNodeException sessionOrClaimGone) {
      settled(); // recovery owns the span now
    } catch (Exception e) {
      retryLater(held, attempt, e, () -> release(held, attempt + 1));
    }
  }

  private void retryLater(Held held, int attempt, Exception e, Runnable retry) {
    counters.cleanupRetries.increment();
    long delayMillis = Math.min(MAX_RETRY_DELAY_MILLIS, 100L << Math.min(attempt, 20));
    try {
      housekeeping.schedule(retry, delayMillis, TimeUnit.MILLISECONDS);
      log.debug("retrying cleanup of {} in {} ms after {}", held.endedPath, delayMillis, e.toString());
    } catch (RejectedExecutionException closed) {
      // Closed: our session ends with the process and recovery takes the span over.
      log.debug("store closed while cleaning up {}", held.endedPath);
    }
  }

  private void submit(Runnable task) {
    try {
      housekeeping.execute(task);
    } catch (RejectedExecutionException closed) {
      // Closed: the span stays in ZooKeeper and recovery takes over once our session ends.
      log.debug("store closed; leaving cleanup to the recovery worker");
    }
  }
}
