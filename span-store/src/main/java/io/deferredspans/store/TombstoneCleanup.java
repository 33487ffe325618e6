package io.deferredspans.store;

import io.deferredspans.store.DeferredSpanRecovery.ScanResult;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;

/**
 * Deletes tombstones of abandoned spans ({@code BASE/abandoned/KEY}) that no dequeue can still need: their owner
 * is gone, or they are older than the maximum age (at least a day). Runs with each full scan.
 */
final class TombstoneCleanup {
  private final CuratorFramework client;
  private final ZNodeLayout layout;
  private final RecoveryReads reads;
  private final RecordIsolation isolation;
  private final Duration maxAge;

  TombstoneCleanup(StoreCore core, RecoveryReads reads, RecordIsolation isolation, Duration maxAge) {
    this.client = core.client();
    this.layout = core.layout();
    this.reads = reads;
    this.isolation = isolation;
    this.maxAge = maxAge;
  }

  void run(ScanResult result, long now) throws Exception {
    for (String name : reads.children(layout.abandonedRoot())) {
      String path = ZKPaths.makePath(layout.abandonedRoot(), name);
      isolation.run(path, result, () -> clear(path, now), () -> { });
    }
  }

  private void clear(String path, long now) throws Exception {
    Stat stat = new Stat();
    byte[] data;
    try {
      data = reads.data(path, stat);
    } catch (KeeperException.NoNodeException dequeuedMeanwhile) {
      return;
    }
    String owner = ZNodeLayout.tombstoneOwner(data);
    // A dequeue may come as late as a span may live, and never sooner than a day.
    long retentionMillis = Math.max(maxAge.toMillis(), Duration.ofDays(1).toMillis());
    boolean expired = TimeUnit.NANOSECONDS.toMillis(now) - stat.getCtime() > retentionMillis;
    if (expired || !ZNodeLayout.isZnodePath(owner) || client.checkExists().forPath(owner) == null) {
      try {
        client.delete().withVersion(stat.getVersion()).forPath(path);
      } catch (KeeperException.NoNodeException | KeeperException.BadVersionException changed) {
        // dequeued or replaced meanwhile
      }
    }
  }
}
