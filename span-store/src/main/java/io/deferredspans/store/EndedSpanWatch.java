package io.deferredspans.store;

import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.concurrent.atomic.LongAdder;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.watch.PersistentWatcher;
import org.apache.zookeeper.WatchedEvent;

/**
 * The persistent recursive watch on {@code ended/}, held only while this worker leads: a worker that does not
 * lead has nothing to do with its events, and every end would cost each of them four notifications. Each
 * (re)registration of the watch, when it starts and after every reconnection (when it may have missed events),
 * is reported so that a full scan follows.
 */
final class EndedSpanWatch {
  private final CuratorFramework client;
  private final String endedRoot;
  private final Consumer<WatchedEvent> events;
  private final Runnable reset;
  private final Runnable stopped;
  private final BooleanSupplier closed;
  private final Object lock = new Object();
  private PersistentWatcher watcher; // guarded by lock; null while not leading
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
    this.endedRoot = layout.endedRoot();
    this.events = events;
    this.reset = reset;
    this.stopped = stopped;
    this.closed = closed;
  }

  /** This worker leads: watch (once). */
  void start() {
    synchronized (lock) {
      if (watcher != null || closed.getAsBoolean()) {
        return;
      }
      PersistentWatcher added = new PersistentWatcher(client, endedRoot, true);
      added.getListenable().addListener(event -> {
        received.increment();
        events.accept(event);
      });
      added.getResetListenable().addListener(reset::run);
      added.start();
      watcher = added;
    }
  }

  /** This worker no longer leads, or is closed: stop watching. */
  void stop() {
    synchronized (lock) {
      if (watcher != null) {
        watcher.close();
        watcher = null;
      }
      stopped.run();
    }
  }

  /** Notifications received (for tests: only the leader holds the watch). */
  long received() {
    return received.sum();
  }
}
