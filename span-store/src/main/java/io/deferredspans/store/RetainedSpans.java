package io.deferredspans.store;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.LongAdder;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The recovery leader's count of the finished spans stored in ZooKeeper, oldest first, kept by the watch on
 * {@code ended/} as spans arrive and go, and set right by every full scan; and the bound on it. When more than
 * {@code maxRetainedSpans} are stored (an exporter outage keeps them there), the oldest unclaimed ones are
 * deleted at once, loudly, so a long tracing outage can never fill ZooKeeper: as spans arrive, not only at the
 * next full scan. A claimed span is being exported by a live session and is never deleted (ZooKeeper refuses to
 * delete a span that still has its claim child; one held by its ender's token is looked up first).
 *
 * <p>Order: spans reported by the watch in the order they were created; spans a full scan found that the watch
 * never reported (stored before this worker led) count as older than all of those.
 *
 * <p>Thread-safe: the watch reports on ZooKeeper's event thread, the scans run on the recovery thread.
 */
final class RetainedSpans {
  private static final Logger log = LoggerFactory.getLogger(RetainedSpans.class);

  private final CuratorFramework client;
  private final int maxRetainedSpans;
  private final LongAdder reads;
  // Stored finished spans, oldest first, each with the arrival number it was reported under.
  private final LinkedHashMap<String, Long> stored = new LinkedHashMap<>();
  private long arrivals;

  RetainedSpans(CuratorFramework client, int maxRetainedSpans, LongAdder reads) {
    this.client = client;
    this.maxRetainedSpans = maxRetainedSpans;
    this.reads = reads;
  }

  /** The watch reported a new finished span. */
  synchronized void arrived(String endedPath) {
    stored.putIfAbsent(endedPath, ++arrivals);
  }

  /** The watch reported a finished span gone. */
  synchronized void removed(String endedPath) {
    stored.remove(endedPath);
  }

  synchronized boolean overBound() {
    return stored.size() > maxRetainedSpans;
  }

  synchronized int size() {
    return stored.size();
  }

  /** Not leading any more: another worker keeps the count. */
  synchronized void clear() {
    stored.clear();
  }

  /** Where a full scan starts: spans reported after it are kept even if the scan's listing missed them. */
  synchronized long mark() {
    return arrivals;
  }

  /** A full scan listed exactly these spans (its listing began at {@code mark}). */
  synchronized void listed(Collection<String> listed, long mark) {
    Set<String> found = new HashSet<>(listed);
    LinkedHashMap<String, Long> rebuilt = new LinkedHashMap<>();
    for (String path : listed) {
      if (!stored.containsKey(path)) {
        rebuilt.put(path, 0L); // stored before the watch reported anything to this worker: oldest
      }
    }
    for (Map.Entry<String, Long> known : stored.entrySet()) {
      if (found.contains(known.getKey()) || known.getValue() > mark) {
        rebuilt.put(known.getKey(), known.getValue());
      }
    }
    stored.clear();
    stored.putAll(rebuilt);
  }

  /**
   * Stored spans, oldest first. Spans only a full scan found are ordered by their creation (one read each, only
   * when the bound is exceeded); those the watch reported follow, in the order they arrived.
   */
  private List<String> oldestFirst() throws Exception {
    List<String> unordered = new ArrayList<>();
    List<String> arrived = new ArrayList<>();
    synchronized (this) {
      stored.forEach((path, arrival) -> (arrival == 0 ? unordered : arrived).add(path));
    }
    Map<String, Long> created = new HashMap<>();
    for (String path : unordered) {
      reads.increment();
      Stat stat = client.checkExists().forPath(path);
      created.put(path, stat == null ? Long.MIN_VALUE : stat.getCzxid()); // gone: first in line, and skipped
    }
    unordered.sort(Comparator.comparingLong(created::get));
    unordered.addAll(arrived);
    return unordered;
  }

  /** Whether a stored span is held by a live session that exports it (not to be dropped). */
  interface Held {
    boolean test(String endedPath) throws Exception;
  }

  /**
   * Deletes the oldest unclaimed spans beyond the bound.
   *
   * @param held whether a span is held by its ender's live session (it has no claim child to protect it)
   * @return the spans deleted
   */
  List<String> dropBeyondBound(Held held) throws Exception {
    List<String> dropped = new ArrayList<>();
    int before = size();
    for (String endedPath : oldestFirst()) {
      if (size() <= maxRetainedSpans) {
        break;
      }
      try {
        if (held.test(endedPath)) {
          continue; // a live session is exporting it
        }
        client.delete().forPath(endedPath);
        dropped.add(endedPath);
      } catch (KeeperException.NotEmptyException claimed) {
        continue; // a live session is exporting it
      } catch (KeeperException.NoNodeException exportedMeanwhile) {
        // gone already: no longer counted
      }
      removed(endedPath);
    }
    if (!dropped.isEmpty()) {
      log.error("exporter backlog: {} finished spans waited in ZooKeeper, more than maxRetainedSpans={}; "
          + "dropped the {} oldest undelivered spans", before, maxRetainedSpans, dropped.size());
    }
    return dropped;
  }
}
