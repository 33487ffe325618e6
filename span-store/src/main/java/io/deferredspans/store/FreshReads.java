package io.deferredspans.store;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;

/**
 * Reads that decide what a host does next, and so must not be stale. A ZooKeeper server may lag behind the
 * leader; after a lost reply a client may reconnect to one that has not seen its own last write. Each read here
 * is preceded by a {@code sync} on the same handle (a session's requests are answered in order). What settles an
 * unanswered write is read by its {@link SessionFencedCall}, on the write's own session.
 */
final class FreshReads {
  private final CuratorFramework client;

  FreshReads(CuratorFramework client) {
    this.client = client;
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
}
