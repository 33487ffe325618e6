package io.deferredspans.store;

import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;

/**
 * Reads that decide what a host does next, and so must not be stale. A ZooKeeper server may lag behind the
 * leader; after a lost reply a client may reconnect to one that has not seen its own last write. Each read here
 * is preceded by a {@code sync} on the same handle (a session's requests are answered in order), and {@link
 * #untilAnswered} waits out disconnections instead of guessing.
 */
final class FreshReads {
  interface Question<T> {
    T ask() throws Exception;
  }

  private final CuratorFramework client;
  private final BooleanSupplier open;
  private final StoreCounters counters;

  FreshReads(CuratorFramework client, BooleanSupplier open, StoreCounters counters) {
    this.client = client;
    this.open = open;
    this.counters = counters;
  }

  /** The data at {@code path} as the leader has it, filling {@code stat}; null if absent. */
  byte[] data(String path, Stat stat) throws Exception {
    ZooKeeper zk = synced(path);
    try {
      return zk.getData(absolute(path), false, stat);
    } catch (KeeperException.NoNodeException absent) {
      return null;
    }
  }

  /** The stat at {@code path} as the leader has it; null if absent. */
  Stat stat(String path) throws Exception {
    return synced(path).exists(absolute(path), false);
  }

  /**
   * Reads without a sync first, and syncs only to confirm an absence: the common case, a record that is there,
   * costs one read; a stale "absent" from a lagging server is never trusted.
   */
  byte[] dataConfirmingAbsence(String path, Stat stat) throws Exception {
    try {
      return client.getData().storingStatIn(stat).forPath(path);
    } catch (KeeperException.NoNodeException maybeStale) {
      return data(path, stat);
    }
  }

  private ZooKeeper synced(String path) throws Exception {
    ZooKeeper zk = client.getZookeeperClient().getZooKeeper();
    zk.sync(absolute(path), (rc, p, ctx) -> { }, null);
    return zk;
  }

  private String absolute(String path) {
    return ZKPaths.fixForNamespace(client.getNamespace(), path);
  }

  /**
   * Asks ZooKeeper until it answers, waiting out disconnections, for at most twice the session timeout: by then a
   * session that cannot reach ZooKeeper has expired, its claims are gone, and recovery owns whatever it held.
   * Runs on the store's call thread, so the caller itself still waits no longer than the operation timeout.
   */
  <T> T untilAnswered(String what, Question<T> question) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(
        2L * client.getZookeeperClient().getZooKeeper().getSessionTimeout()
            + client.getZookeeperClient().getConnectionTimeoutMs());
    while (true) {
      try {
        return question.ask();
      } catch (KeeperException e) {
        if (!DeferredSpanStore.isConnectionProblem(e) || e.code() == KeeperException.Code.SESSIONEXPIRED
            || System.nanoTime() > deadline || !open.getAsBoolean()) {
          throw new DeferredSpanStoreUnavailableException(
              what + ": ZooKeeper did not say whether the operation was applied; if it was, recovery exports "
                  + "the span once this session's claim expires", true, e);
        }
        counters.uncertainOutcomes.increment();
        client.getZookeeperClient().blockUntilConnectedOrTimedOut();
      }
    }
  }
}
