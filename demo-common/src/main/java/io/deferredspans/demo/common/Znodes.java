package io.deferredspans.demo.common;

import java.util.List;
import java.util.Optional;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;

/** Typed reads of the demo's JSON znodes, tolerant of znodes that vanish between listing and reading. */
public final class Znodes {
  private final CuratorFramework client;

  public Znodes(CuratorFramework client) {
    this.client = client;
  }

  /** A znode's value and the version to use in a conditional write of it. */
  public record Versioned<T>(T value, int version) {}

  public CuratorFramework client() {
    return client;
  }

  /** Creates the demo's folders; several processes may race to do so. */
  public void ensureFolders() throws Exception {
    for (String folder : DemoPaths.FOLDERS) {
      try {
        client.create().creatingParentsIfNeeded().forPath(folder);
      } catch (KeeperException.NodeExistsException alreadyThere) {
        // another process created it first
      }
    }
  }

  public <T> Optional<Versioned<T>> read(String path, Class<T> type) throws Exception {
    Stat stat = new Stat();
    try {
      byte[] data = client.getData().storingStatIn(stat).forPath(path);
      return Optional.of(new Versioned<>(ZnodeJson.read(data, type, path), stat.getVersion()));
    } catch (KeeperException.NoNodeException gone) {
      return Optional.empty();
    }
  }

  public boolean exists(String path) throws Exception {
    return client.checkExists().forPath(path) != null;
  }

  /** Children sorted by name, or none if the folder does not exist. */
  public List<String> children(String path) throws Exception {
    try {
      return client.getChildren().forPath(path).stream().sorted().toList();
    } catch (KeeperException.NoNodeException gone) {
      return List.of();
    }
  }
}
