package io.deferredspans.store.simulation;

import java.util.HashSet;
import java.util.Set;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;

/**
 * The nodes below a schedule's {@code open/} and {@code ended/} shards, as a persistent recursive watch of the
 * fault-free observer reports their creations and deletions: what the schedule's waits poll, so that waiting for
 * recovery costs no ZooKeeper call per poll. Only a hint: a wait that it says is over is confirmed by the server
 * (events arrive after the server applied the change, and one lost with the observer's connection is only caught
 * up by asking the server), and the checks read the server, never this.
 */
final class StoreWatch implements Watcher {
  private final CuratorFramework observer;
  private final String openRoot;
  private final String endedRoot;
  private final String openPrefix;
  private final String endedPrefix;
  private final Set<String> open = new HashSet<>(); // below a shard of open/: records and their children
  private final Set<String> ended = new HashSet<>(); // below a shard of ended/: finished spans and their claims
  private int finishedSpans; // nodes of depth one below a shard of ended/

  private StoreWatch(CuratorFramework observer, String openRoot, String endedRoot) {
    this.observer = observer;
    this.openRoot = openRoot;
    this.endedRoot = endedRoot;
    this.openPrefix = openRoot + "/";
    this.endedPrefix = endedRoot + "/";
  }

  /** Watches from now on: start it on a layout whose shards are still empty. */
  static StoreWatch start(CuratorFramework observer, String openRoot, String endedRoot)
      throws Exception {
    StoreWatch watch = new StoreWatch(observer, openRoot, endedRoot);
    // On open/ and ended/ only: recovery's progress, its election and the rest send the observer nothing.
    observer.watchers().add().withMode(AddWatchMode.PERSISTENT_RECURSIVE).usingWatcher(watch).forPath(openRoot);
    observer.watchers().add().withMode(AddWatchMode.PERSISTENT_RECURSIVE).usingWatcher(watch).forPath(endedRoot);
    return watch;
  }

  @Override
  public synchronized void process(WatchedEvent event) {
    String path = event.getPath();
    if (path == null) {
      return;
    }
    boolean created = event.getType() == Event.EventType.NodeCreated;
    boolean deleted = event.getType() == Event.EventType.NodeDeleted;
    if (!created && !deleted) {
      return;
    }
    Set<String> below;
    int depth;
    if (path.startsWith(openPrefix)) {
      below = open;
      depth = depth(path, openPrefix);
    } else if (path.startsWith(endedPrefix)) {
      below = ended;
      depth = depth(path, endedPrefix);
    } else {
      return;
    }
    if (depth < 2) {
      return; // a shard
    }
    boolean changed = created ? below.add(path) : below.remove(path);
    if (changed && below == ended && depth == 2) {
      finishedSpans += created ? 1 : -1;
    }
  }

  private static int depth(String path, String prefix) {
    int depth = 1;
    for (int i = prefix.length(); i < path.length(); i++) {
      if (path.charAt(i) == '/') {
        depth++;
      }
    }
    return depth;
  }

  /** Nodes below the shards of open/ (records and their markers), as last reported. */
  synchronized int belowOpenShards() {
    return open.size();
  }

  /** Nodes below the shards of ended/ (finished spans and their claims), as last reported. */
  synchronized int belowEndedShards() {
    return ended.size();
  }

  /** Finished spans, as last reported. */
  synchronized int finishedSpans() {
    return finishedSpans;
  }

  void stop() {
    for (String root : new String[] {openRoot, endedRoot}) {
      try {
        observer.watchers().remove(this).ofType(WatcherType.Any).forPath(root);
      } catch (Exception gone) {
        // the schedule's paths are deleted anyway
      }
    }
  }
}
