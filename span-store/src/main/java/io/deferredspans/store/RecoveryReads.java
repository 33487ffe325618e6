package io.deferredspans.store;

import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;

/**
 * The reads recovery's scans make, each counted in {@link StoreStats#recoveryReads()} (what the sweep's pace and
 * the cost tests measure).
 */
final class RecoveryReads {
  private final CuratorFramework client;
  private final LongAdder count;

  RecoveryReads(CuratorFramework client, LongAdder count) {
    this.client = client;
    this.count = count;
  }

  /** The children of {@code path}; none if it is gone. */
  List<String> children(String path) throws Exception {
    count.increment();
    try {
      return client.getChildren().forPath(path);
    } catch (KeeperException.NoNodeException e) {
      return List.of();
    }
  }

  boolean exists(String path) throws Exception {
    count.increment();
    return client.checkExists().forPath(path) != null;
  }

  /**
   * The data at {@code path} (null if the znode holds none), its stat stored in {@code stat}.
   *
   * @throws KeeperException.NoNodeException if it is gone
   */
  byte[] data(String path, Stat stat) throws Exception {
    count.increment();
    return client.getData().storingStatIn(stat).forPath(path);
  }

  /** Counts a read made elsewhere (a request this class does not make). */
  void counted() {
    count.increment();
  }

  /** Reads made so far. */
  long sum() {
    return count.sum();
  }
}
