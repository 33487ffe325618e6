package io.deferredspans.demo.scheduler;

import io.deferredspans.demo.common.DemoPaths;
import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.KeeperException;

/**
 * How much the span store still holds: spans still open, and ended spans not yet acknowledged by an exporter
 * (those of a killed scheduler wait for the recovery worker). The launcher waits for both to reach zero before it
 * stops the processes, so that no span is lost to the shutdown.
 */
final class StoreBacklog {
  private final CuratorFramework client;

  record Counts(int open, int unexported) {
    boolean empty() {
      return open == 0 && unexported == 0;
    }
  }

  StoreBacklog(CuratorFramework client) {
    this.client = client;
  }

  Counts count() throws Exception {
    return new Counts(grandchildren("open"), grandchildren("ended"));
  }

  private int grandchildren(String folder) throws Exception {
    String parent = ZKPaths.makePath(DemoPaths.SPAN_STORE, folder);
    int count = 0;
    for (String shard : children(parent)) {
      var stat = client.checkExists().forPath(ZKPaths.makePath(parent, shard));
      count += stat == null ? 0 : stat.getNumChildren();
    }
    return count;
  }

  private List<String> children(String path) throws Exception {
    try {
      return client.getChildren().forPath(path);
    } catch (KeeperException.NoNodeException none) {
      return List.of();
    }
  }
}
