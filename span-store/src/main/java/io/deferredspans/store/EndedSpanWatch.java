package io.deferredspans.store;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.concurrent.atomic.LongAdder;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.watch.PersistentWatcher;
import org.apache.zookeeper.WatchedEvent;

/**
 * The persistent recursive watches on {@code ended/} and {@code live/}, held only while this worker leads: a
 * worker that does not lead has nothing to do with their events, and every end would cost each of them two
 * notifications. Each (re)registration of a watch, when it starts and after every reconnection (when it may have
 * missed events), is reported so that a full scan follows.
 */
final class EndedSpanWatch {
  private final CuratorFramework client;
  private final List<String> roots;
  private final Consumer<WatchedEvent> events;
  private final Runnable reset;
  private final Runnable stopped;
  private final BooleanSupplier closed;
  private final Object lock = new Object();
  private List<PersistentWatcher> watchers; // guarded by lock; null while not leading
  private final LongAdder received = new LongAdder();

  /**
   * @param events told of each event
   * @param reset told of each (re)registration
   * @param stopped run when the watch is removed, before another can be added
   * @param closed whether the worker was closed (then no watch is added any more)
   */
  EndedSpanWatch(CuratorFramework client, ZNodeLayout layout, Consumer<WatchedEvent> events, Runnable reset,
      Runnable stopped, BooleanSupplier closed) {
    this.client = client;
    this.roots = List.of(layout.endedRoot(), layout.liveRoot());
    this.events = events;
    this.reset = reset;
    this.stopped = stopped;
    this.closed = closed;
  }

  /** This worker leads: watch (once). */
  void start() {
    synchronized (lock) {
      if (watchers != null || closed.getAsBoolean()) {
        return;
      }
      watchers = new ArrayList<>(roots.size());
      for (String root : roots) {
        PersistentWatcher added = new PersistentWatcher(client, root, true);
        added.getListenable().addListener(event -> {
          received.increment();
          events.accept(event);
        });
        added.getResetListenable().addListener(reset::run);
        added.start();
        watchers.add(added);
      }
    }
  }

  /** This worker no longer leads, or is closed: stop watching. */
  void stop() {
    synchronized (lock) {
      if (watchers != null) {
        watchers.forEach(PersistentWatcher::close);
        watchers = null;
      }
      stopped.run();
    }
  }

  /** Notifications received (for tests: only the leader holds the watch). */
  long received() {
    return received.sum();
  }
}
