package io.deferredspans.store;

import io.deferredspans.sdk.internal.ExportFence;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ZooKeeper session that holds some claims, pinned to its own client handle.
 *
 * <p>Claims are ephemeral: they live exactly as long as the session that created them, and then recovery may
 * take their spans over. So everything a host does on behalf of its claims must be done <em>by that
 * session</em>, never by a later one that Curator opened after an expiry: removing an exported span, releasing
 * a claim, and, as an {@link ExportFence}, letting a span leave the process at all. Curator replaces its handle
 * when a session expires and the old handle refuses every request from then on, so running these requests on
 * the handle that created the claims fences them for free.
 *
 * <p>A session's claims are of two kinds. The spans its own ends wrote carry its holder token ("eh") and are
 * held by its liveness node {@code BASE/live/SESSION}, which it creates before its first request: one ephemeral
 * per session instead of one per span, gone with the session like a claim. Spans recovery takes over get an
 * ephemeral {@code claim} child of their own.
 */
final class ClaimSession implements ExportFence {
  private static final Logger log = LoggerFactory.getLogger(ClaimSession.class);
  private final ZooKeeper handle;
  private final long sessionId;
  private final String namespace;
  private final Duration fenceTimeout;
  private final StoreCounters counters;
  // Whether its liveness node is known to exist: false until announced, and again if another writer deletes it
  // while the session lives (its watch says so), so that the next request of the session creates it again.
  private volatile boolean announced;
  // Its liveness node was deleted since it was last announced (said at the next announcement, not when heard:
  // the session's own close deletes it too, and that is no news).
  private volatile boolean livenessNodeDeleted;
  // The creation zxid of its liveness node as last announced (0 before): a node created again has another.
  private volatile long livenessCzxid;
  private final Watcher livenessWatch = this::onLivenessEvent; // one object: ZooKeeper keeps a watcher per path once

  private ClaimSession(ZooKeeper handle, String namespace, Duration fenceTimeout, StoreCounters counters) {
    this.handle = handle;
    this.sessionId = handle.getSessionId();
    this.namespace = namespace;
    this.fenceTimeout = fenceTimeout;
    this.counters = counters;
  }

  long id() {
    return sessionId;
  }

  /** The creation zxid of its liveness node as last announced; 0 if it never was. */
  long livenessCzxid() {
    return livenessCzxid;
  }

  /** The client handle this session was created with: Curator's own until it replaces it after an expiry. */
  ZooKeeper handle() {
    return handle;
  }

  /**
   * Proves the session alive right now: a {@code sync} goes through the leader, so a session the ensemble has
   * closed cannot pass, even through a lagging follower. Only then may a span claimed by this session leave the
   * process; otherwise recovery may already have exported it.
   */
  @Override
  public boolean admits() {
    boolean alive = provesAlive();
    if (!alive) {
      counters.fencedExports.increment();
    }
    return alive;
  }

  private boolean provesAlive() {
    if (sessionId == 0 || !handle.getState().isAlive()) {
      return false;
    }
    CountDownLatch answered = new CountDownLatch(1);
    AtomicInteger code = new AtomicInteger(KeeperException.Code.SYSTEMERROR.intValue());
    try {
      handle.sync("/", (rc, path, ctx) -> { }, null);
      // Requests of one session are answered in order: this read runs after the sync has caught the server up.
      handle.exists("/", false, (rc, path, ctx, stat) -> {
        code.set(rc);
        answered.countDown();
      }, null);
      return answered.await(fenceTimeout.toMillis(), TimeUnit.MILLISECONDS)
          && code.get() == KeeperException.Code.OK.intValue() && handle.getSessionId() == sessionId;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } catch (RuntimeException closedHandle) {
      return false;
    }
  }

  /** Runs {@code ops} as one transaction of this session, without Curator's retries (the caller settles). */
  List<OpResult> multi(List<Op> ops) throws KeeperException, InterruptedException {
    return handle.multi(ops);
  }

  /** Reads a node's stat as this session (null if absent); fails if the session is gone. */
  Stat exists(String absolutePath) throws KeeperException, InterruptedException {
    return handle.exists(absolutePath, false);
  }

  /** Reads a node's data and stat as this session; fails if the session is gone or the node absent. */
  byte[] data(String absolutePath, Stat stat) throws KeeperException, InterruptedException {
    return handle.getData(absolutePath, false, stat);
  }

  /** The handle's view of a store path: Curator's namespace applies to it, raw ZooKeeper does not add it. */
  String absolute(String path) {
    return ZKPaths.fixForNamespace(namespace, path);
  }

  /**
   * Creates this session's liveness node (once; an earlier attempt's node of this session is as good). Until it
   * exists, nothing this session ends may carry its holder token: recovery would find the span's holder dead.
   */
  private void announce(Op create) throws KeeperException, InterruptedException {
    String absolute = create.getPath();
    // A node deleted between the create and the watch is created again; a writer that keeps deleting it wins.
    for (int attempt = 0; attempt < 3; attempt++) {
      try {
        handle.multi(List.of(create)); // on this handle, never retried by Curator onto a later session
      } catch (KeeperException.NodeExistsException existing) {
        // an earlier attempt's node of this session, or another session's: the watch below tells
      }
      Stat stat = handle.exists(absolute, livenessWatch);
      if (stat != null && stat.getEphemeralOwner() != sessionId) {
        throw new KeeperException.NodeExistsException(absolute + " (not this session's liveness node)");
      }
      if (stat != null) {
        if (livenessNodeDeleted) {
          livenessNodeDeleted = false;
          log.warn("The liveness node {} of this live ZooKeeper session was deleted by another writer, and is "
              + "created again. The spans it held were handed to recovery and may be exported twice "
              + "(docs/reliability.md)", absolute);
        }
        livenessCzxid = stat.getCzxid();
        announced = true;
        return;
      }
    }
    throw new KeeperException.NoNodeException(absolute + " (deleted as often as this session created it)");
  }

  /**
   * Its liveness node changed. Deleted while the session lives (by an operator or another writer: the store
   * never deletes it), recovery has taken the spans it held, and would take every span this session ends from
   * now on, each exported twice: the next request of the session creates it again first.
   */
  private void onLivenessEvent(WatchedEvent event) {
    if (event.getType() == Watcher.Event.EventType.None) {
      return; // the connection's state: the watch stays registered, and is set again on reconnection
    }
    // Any change uses the watch up: the next request sets it again (for a change of its data, that is all).
    if (event.getType() == Watcher.Event.EventType.NodeDeleted) {
      livenessNodeDeleted = true;
    }
    announced = false;
  }

  /** The session Curator uses now, as one {@link ClaimSession} per session (fences are grouped by identity). */
  static final class Tracker {
    private final CuratorFramework client;
    private final ZNodeLayout layout;
    private final byte[] hostName;
    private final Duration fenceTimeout;
    private final StoreCounters counters;
    private final AtomicReference<ClaimSession> last = new AtomicReference<>();

    Tracker(CuratorFramework client, ZNodeLayout layout, String hostName, Duration fenceTimeout,
        StoreCounters counters) {
      this.client = client;
      this.layout = layout;
      this.hostName = hostName.getBytes(StandardCharsets.UTF_8);
      this.fenceTimeout = fenceTimeout;
      this.counters = counters;
    }

    /**
     * The session to use now, announced alive.
     *
     * @throws KeeperException if its liveness node could not be created: nothing may be sent on it yet
     */
    ClaimSession current() throws Exception {
      ZooKeeper handle = client.getZookeeperClient().getZooKeeper();
      ClaimSession known = last.get();
      if (known != null && known.handle == handle && known.sessionId == handle.getSessionId()) {
        if (!known.announced && known.sessionId != 0) {
          announce(known);
        }
        return known;
      }
      ClaimSession fresh = new ClaimSession(handle, client.getNamespace(), fenceTimeout, counters);
      if (fresh.sessionId != 0) {
        announce(fresh);
      }
      last.set(fresh);
      return fresh;
    }

    private void announce(ClaimSession session) throws Exception {
      // Curator builds the operation (namespace, ACLs); the handle sends it.
      session.announce(client.transactionOp().create().withMode(CreateMode.EPHEMERAL)
          .forPath(layout.livePath(session.sessionId), hostName).get());
    }
  }

  @Override
  public String toString() {
    return "ClaimSession{0x" + Long.toHexString(sessionId) + "}";
  }
}
