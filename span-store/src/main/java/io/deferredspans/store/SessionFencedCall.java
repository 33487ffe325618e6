package io.deferredspans.store;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;

/**
 * The ZooKeeper writes of one store operation (a caller's begin or end, a removal, recovery's claim, abandon or
 * quarantine): each transaction is sent <b>at most once</b>, all of them on <b>one session</b>, and none after the
 * operation has returned to its caller.
 *
 * <p>Curator's foreground operations retry a request whose answer was lost, after a reconnection and even on the
 * new session Curator opens once the old one expired, and they keep doing so inside a call whose caller has long
 * been told "outcome unknown": a begin applied twice, a dequeue applied after its caller gave up. The retry policy
 * belongs to the client the store was handed, so the store does not use those retries for anything it writes.
 * Here:
 *
 * <ul>
 *   <li>the first request pins the session (its handle and id); every later request of the operation goes to that
 *       handle, and none is sent once Curator has replaced it: what a host does for the claims of one session is
 *       never done by another;
 *   <li>a request is handed to ZooKeeper only while that session is connected (a request queued while
 *       disconnected would go out on the reconnection, possibly after the caller was answered) and only while
 *       the operation has not {@linkplain #close() returned}; the check and the hand-over are one step under the
 *       lock that {@link #close()} takes;
 *   <li>a request without an answer is never sent again: the operation reads, on the same session, what its first
 *       attempt left behind (the record's own bytes, the claim's nonce). A session answers its requests in order,
 *       so a read answered after the reconnection sees the earlier request applied, or it never will be.
 * </ul>
 *
 * What remains: a request handed over before the caller was answered may still be applied afterwards, once,
 * while it is on the wire or, if the client queued it in the instant its connection dropped (its state still
 * says connected until it starts reconnecting), when the same session reconnects. Nothing is handed over after
 * the caller was answered, and nothing twice.
 */
final class SessionFencedCall {
  interface Question<T> {
    T ask(ZooKeeper handle, String absolutePath) throws KeeperException, InterruptedException;
  }

  /** A transaction ZooKeeper answered with a failure: the first failed operation's code, and every result. */
  static final class Refused extends KeeperException {
    private static final long serialVersionUID = 1L;
    private final transient List<OpResult> results;

    Refused(Code code, List<OpResult> results) {
      super(code);
      this.results = results == null ? null : List.copyOf(results);
    }

    @Override
    public List<OpResult> getResults() {
      return results == null ? null : new ArrayList<>(results);
    }
  }

  /** Opens the operations of one store. */
  static final class Factory {
    private final CuratorFramework client;
    private final ClaimSession.Tracker sessions;
    private final BooleanSupplier open;
    private final StoreCounters counters;

    Factory(CuratorFramework client, ClaimSession.Tracker sessions, BooleanSupplier open, StoreCounters counters) {
      this.client = client;
      this.sessions = sessions;
      this.open = open;
      this.counters = counters;
    }

    /** An operation whose session is pinned by its first request. */
    SessionFencedCall open(String what) {
      return new SessionFencedCall(this, what, null);
    }

    /** An operation on behalf of the claims of {@code session}: nothing of it goes to another session. */
    SessionFencedCall on(String what, ClaimSession session) {
      return new SessionFencedCall(this, what, session);
    }
  }

  private final Factory factory;
  private final String what;
  private final Object lock = new Object();
  // Guarded by lock.
  private ClaimSession session;
  private long pinnedLivenessCzxid; // the session's liveness node when the operation pinned it
  private boolean returned;
  // Requests handed to ZooKeeper that may have been applied: not answered, or answered as applied.
  private int mayHaveApplied;

  private SessionFencedCall(Factory factory, String what, ClaimSession session) {
    this.factory = factory;
    this.what = what;
    this.session = session;
    this.pinnedLivenessCzxid = session == null ? 0 : session.livenessCzxid();
  }

  String what() {
    return what;
  }

  /**
   * Sends {@code ops} as one transaction, once, on this operation's session, and waits for the answer.
   *
   * @throws Refused if ZooKeeper refused it (nothing was applied); {@link Refused#getResults()} says which failed
   * @throws KeeperException of a connection problem if no answer came: it may have been applied
   * @throws DeferredSpanStoreUnavailableException if it was not sent: the session is not connected or was
   *     replaced, or the operation already returned
   */
  List<OpResult> multi(List<CuratorOp> ops) throws KeeperException, InterruptedException {
    try {
      return send(ops).get();
    } catch (ExecutionException e) {
      throw (KeeperException) e.getCause();
    }
  }

  /**
   * Sends {@code ops} as one transaction, once, on this operation's session; the answer completes the future,
   * or fails it with {@link Refused} (nothing was applied) or a connection problem's {@link KeeperException}
   * (it may have been applied). For a caller that waits for it itself, with a deadline.
   *
   * @throws DeferredSpanStoreUnavailableException if it was not sent, as for {@link #multi}
   */
  CompletableFuture<List<OpResult>> send(List<CuratorOp> ops) {
    List<Op> raw = new ArrayList<>(ops.size());
    ops.forEach(op -> raw.add(op.get()));
    CompletableFuture<List<OpResult>> answer = new CompletableFuture<>();
    synchronized (lock) {
      if (returned) {
        throw notSent("the call already returned to its caller");
      }
      ClaimSession pinned = pin();
      ZooKeeper handle = pinned.handle();
      if (handle.getSessionId() != pinned.id() || handle.getState() != ZooKeeper.States.CONNECTED) {
        throw notSent("ZooKeeper session 0x" + Long.toHexString(pinned.id()) + " is not connected");
      }
      mayHaveApplied++;
      handle.multi(raw, (rc, path, ctx, results) -> {
        if (rc == KeeperException.Code.OK.intValue()) {
          answer.complete(results);
        } else if (KeeperErrors.isConnectionProblem(KeeperException.Code.get(rc)) || results == null) {
          answer.completeExceptionally(KeeperException.create(KeeperException.Code.get(rc)));
        } else {
          synchronized (lock) {
            mayHaveApplied--; // refused as a whole: nothing of it was applied
          }
          answer.completeExceptionally(new Refused(KeeperException.Code.get(rc), results));
        }
      }, null);
    }
    return answer;
  }

  /** The data at {@code path} as the leader has it, read on this operation's session; null if absent. */
  byte[] data(String path, Stat stat) throws Exception {
    return untilAnswered(path, (handle, absolute) -> {
      try {
        return handle.getData(absolute, false, stat);
      } catch (KeeperException.NoNodeException absent) {
        return null;
      }
    });
  }

  /** The stat at {@code path} as the leader has it, read on this operation's session; null if absent. */
  Stat stat(String path) throws Exception {
    return untilAnswered(path, (handle, absolute) -> handle.exists(absolute, false));
  }

  /**
   * Asks on this operation's session, after a {@code sync} (a server may lag behind the leader), waiting out
   * disconnections of that session for at most twice the session timeout: by then a session that cannot reach
   * ZooKeeper has expired, its claims are gone and recovery owns whatever it held. It never asks another session:
   * what an unanswered request of this one did is only certain to this one.
   *
   * @throws DeferredSpanStoreUnavailableException with outcome unknown if no answer comes
   */
  private <T> T untilAnswered(String path, Question<T> question) throws Exception {
    ClaimSession pinned;
    synchronized (lock) {
      pinned = pin();
    }
    CuratorFramework client = factory.client;
    String absolute = pinned.absolute(path);
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(
        2L * pinned.handle().getSessionTimeout() + client.getZookeeperClient().getConnectionTimeoutMs());
    while (true) {
      try {
        ZooKeeper handle = pinned.handle();
        handle.sync(absolute, (rc, p, ctx) -> { }, null);
        return question.ask(handle, absolute);
      } catch (KeeperException e) {
        if (!KeeperErrors.isConnectionProblem(e.code())) {
          throw e; // an answer, if not the one hoped for (e.g. an ACL)
        }
        if (e.code() == KeeperException.Code.SESSIONEXPIRED || !pinned.handle().getState().isAlive()
            || System.nanoTime() > deadline || !factory.open.getAsBoolean()) {
          throw unknown(e);
        }
        factory.counters.uncertainOutcomes.increment();
        client.getZookeeperClient().blockUntilConnectedOrTimedOut();
      }
    }
  }

  /** The session this operation's requests went to (pinning it now if none did yet). */
  ClaimSession session() throws Exception {
    synchronized (lock) {
      return pin();
    }
  }

  /**
   * Whether this operation's session lost its liveness node {@code livePath} after the operation pinned it: another
   * writer deleted it (the session may have created it again since). Recovery may then have taken, exported and
   * removed the spans the session held, so a span of this operation that is gone proves nothing about whether
   * the operation applied.
   */
  boolean livenessNodeReplaced(String livePath) throws Exception {
    long pinnedAt;
    synchronized (lock) {
      pin();
      pinnedAt = pinnedLivenessCzxid;
    }
    Stat now = stat(livePath);
    return now == null || now.getCzxid() != pinnedAt;
  }

  private ClaimSession pin() {
    if (session == null) {
      try {
        session = factory.sessions.current();
        pinnedLivenessCzxid = session.livenessCzxid();
      } catch (Exception e) {
        throw notSent("no ZooKeeper session: " + e);
      }
    }
    return session;
  }

  /**
   * Whether a request of this operation may have been applied: handed to ZooKeeper and not refused. Refusals
   * and unsent requests leave nothing behind; an unanswered request may have been applied.
   */
  boolean mayHaveApplied() {
    synchronized (lock) {
      return mayHaveApplied > 0;
    }
  }

  /**
   * The operation has returned to its caller: nothing of it is sent from now on.
   *
   * @return whether something it sent before may have been applied
   */
  boolean close() {
    synchronized (lock) {
      returned = true;
      return mayHaveApplied > 0;
    }
  }

  /** Nothing of this request was sent; whether the operation applied anything depends on its earlier requests. */
  DeferredSpanStoreUnavailableException notSent(String why) {
    boolean earlier = mayHaveApplied();
    return new DeferredSpanStoreUnavailableException(what + ": " + why + "; nothing was sent"
        + (earlier ? ", but an earlier request of this call may have been applied and will not be sent again"
            : ", retry"), earlier, null);
  }

  /** No answer from ZooKeeper: what was sent may have been applied, and is not sent again. */
  DeferredSpanStoreUnavailableException unknown(Throwable cause) {
    boolean sent = mayHaveApplied();
    return new DeferredSpanStoreUnavailableException(what + ": no answer from ZooKeeper ("
        + (cause == null ? "none" : cause.getMessage()) + "); "
        + (sent ? "it may have been applied, and nothing of it will be sent again" : "nothing was applied, retry"),
        sent, cause);
  }
}
