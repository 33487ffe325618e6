package io.deferredspans.benchmarks.zk;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.KeeperException;

/**
 * The application's own queue that every figure enqueues into and dequeues from: one znode per item under a
 * parent, with a small payload. Keys are never reused within a run, so no operation trips over an earlier one.
 */
public final class QueueItems {
  private static final AtomicLong SEQUENCE = new AtomicLong();

  private final String parent;

  public QueueItems(String parent) {
    this.parent = parent;
  }

  public void createParent(CuratorFramework client) throws Exception {
    try {
      client.create().creatingParentsIfNeeded().forPath(parent);
    } catch (KeeperException.NodeExistsException alreadyThere) {
      // another client of the same run made it
    }
  }

  public String path(String key) {
    return ZKPaths.makePath(parent, key);
  }

  /** What a scheduler would store in an item: a job reference of a typical few dozen bytes. */
  public byte[] payload(String key) {
    return ("{\"job\":\"merge\",\"item\":\"" + key + "\"}").getBytes(StandardCharsets.UTF_8);
  }

  /** Fresh, never used keys. */
  public static List<String> freshKeys(String prefix, int count) {
    List<String> keys = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      keys.add(prefix + "-" + SEQUENCE.incrementAndGet());
    }
    return keys;
  }
}
