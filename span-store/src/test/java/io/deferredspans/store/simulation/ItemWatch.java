package io.deferredspans.store.simulation;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;

/**
 * Every creation and deletion of a caller's item znode, in the order ZooKeeper applied them (a watch delivers
 * events in that order), seen through a persistent recursive watch of a client no fault touches: how the
 * simulation knows that an item was created twice, or again after its end.
 */
final class ItemWatch implements Watcher {
  private final CuratorFramework observer;
  private final String itemsRoot;
  private final Map<String, List<Long>> created = new HashMap<>();
  private final Map<String, List<Long>> deleted = new HashMap<>();
  private long events;

  private ItemWatch(CuratorFramework observer, String itemsRoot) {
    this.observer = observer;
    this.itemsRoot = itemsRoot;
  }

  static ItemWatch start(CuratorFramework observer, String itemsRoot) throws Exception {
    ItemWatch watch = new ItemWatch(observer, itemsRoot);
    observer.watchers().add().withMode(AddWatchMode.PERSISTENT_RECURSIVE).usingWatcher(watch).forPath(itemsRoot);
    return watch;
  }

  @Override
  public synchronized void process(WatchedEvent event) {
    if (event.getPath() == null || event.getPath().equals(itemsRoot)) {
      return;
    }
    if (event.getType() == Event.EventType.NodeCreated) {
      created.computeIfAbsent(event.getPath(), p -> new ArrayList<>()).add(++events);
    } else if (event.getType() == Event.EventType.NodeDeleted) {
      deleted.computeIfAbsent(event.getPath(), p -> new ArrayList<>()).add(++events);
    }
  }

  /** Waits until every event up to now has arrived: a write of our own, seen through the same watch. */
  void catchUp() throws Exception {
    String fence = observer.create().withMode(org.apache.zookeeper.CreateMode.PERSISTENT_SEQUENTIAL)
        .forPath(itemsRoot + "/fence-", new byte[0]);
    if (!SimClock.awaitQuietly(() -> createdAt(fence).size() == 1, 10_000)) {
      throw new IllegalStateException("the item watch stopped reporting");
    }
    observer.delete().forPath(fence);
  }

  synchronized List<Long> createdAt(String item) {
    return new ArrayList<>(created.getOrDefault(item, List.of()));
  }

  synchronized List<Long> deletedAt(String item) {
    return new ArrayList<>(deleted.getOrDefault(item, List.of()));
  }

  void stop() {
    try {
      observer.watchers().remove(this).ofType(WatcherType.Any).forPath(itemsRoot);
    } catch (Exception gone) {
      // the schedule's paths are deleted anyway
    }
  }
}
