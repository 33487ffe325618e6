package io.deferredspans.store;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the recovery leader has learnt that the next leader must not start over: where its sweep of open spans
 * has got to, since when each owner has been seen missing, and each backed-off export's attempts and earliest
 * next try. Kept in one znode ({@code BASE/recovery-progress}) that the leader writes at the end of a tick when
 * something changed, with a version check, and that a worker reads when it becomes leader. Without it every new
 * leader started its sweep at shard 00 (with leadership moving more often than one pass, late shards were never
 * swept) and sent every backed-off span again at once.
 *
 * <p>Leadership is only an efficiency (every recovery write is fenced by ZooKeeper), and so is this: a write that
 * finds another version (a second worker that also believed it led) is not retried; the next tick reads the
 * other's progress and goes on from there. Times are epoch times of the recovery clock, so hosts whose clocks
 * disagree shift a grace period or a backoff by their skew, never more.
 *
 * <p>The znode stays below {@value #MAX_BYTES} bytes: missing owners take at most half of it (those seen missing
 * most recently are left out first), backoffs the rest (those due soonest are left out first). A new leader then
 * retries those spans at once (their retry was nearly due anyway) and gives those owners a fresh grace period.
 *
 * <p>Only the recovery worker's scans use it, and they never overlap; {@link #invalidate()} may come from any
 * thread.
 */
final class RecoveryProgress {
  private static final Logger log = LoggerFactory.getLogger(RecoveryProgress.class);
  static final int MAX_BYTES = 512 * 1024;
  private static final String FORMAT = "deferred-spans recovery progress 1";

  /** A backed-off export: how many attempts were made, and the earliest next one (epoch nanos). */
  static final class Backoff {
    final int attempts;
    final long notBeforeNanos;

    Backoff(int attempts, long notBeforeNanos) {
      this.attempts = attempts;
      this.notBeforeNanos = notBeforeNanos;
    }
  }

  private final CuratorFramework client;
  private final ZNodeLayout layout;
  private final String path;
  private final LongAdder reads;
  private int sweepShard;
  private final Map<String, Long> ownerMissingSince = new HashMap<>();
  private final Map<String, Backoff> backoffs = new HashMap<>();
  private int version = -1; // of the znode as last read or written; -1: there is none
  private volatile boolean stale = true; // set by the leader latch's thread, read by the scans
  private boolean dirty;
  private int lastLeftOut;

  RecoveryProgress(CuratorFramework client, ZNodeLayout layout, LongAdder reads) {
    this.client = client;
    this.layout = layout;
    this.path = layout.recoveryProgressPath();
    this.reads = reads;
  }

  String path() {
    return path;
  }

  /** Read again before the next use: this worker has just become leader, or another one wrote meanwhile. */
  void invalidate() {
    stale = true;
  }

  /** Reads what the last leader saved, unless this worker's own copy is current. */
  void loadIfStale() throws Exception {
    if (!stale) {
      return;
    }
    Stat stat = new Stat();
    byte[] data;
    reads.increment();
    try {
      data = client.getData().storingStatIn(stat).forPath(path);
    } catch (KeeperException.NoNodeException none) {
      data = null;
    }
    sweepShard = 0;
    ownerMissingSince.clear();
    backoffs.clear();
    version = data == null ? -1 : stat.getVersion();
    if (data != null) {
      decode(data);
    }
    stale = false;
    dirty = false;
  }

  /**
   * Writes the progress if it changed since it was read. A version conflict means another worker wrote: its
   * progress is read at the next tick, ours for this tick is given up (the work it stands for was done).
   */
  void saveIfChanged() throws Exception {
    if (!dirty || stale) {
      return;
    }
    byte[] data = encode();
    try {
      if (version < 0) {
        client.create().creatingParentContainersIfNeeded().forPath(path, data);
        version = 0;
      } else {
        version = client.setData().withVersion(version).forPath(path, data).getVersion();
      }
      dirty = false;
    } catch (KeeperException.NodeExistsException | KeeperException.BadVersionException
        | KeeperException.NoNodeException anotherWriter) {
      log.info("recovery progress was written by another worker; going on from its progress");
      stale = true;
    }
  }

  int sweepShard() {
    return sweepShard;
  }

  void sweepShard(int shard) {
    if (shard != sweepShard) {
      sweepShard = shard;
      dirty = true;
    }
  }

  /** When the owner of the record at {@code openPath} was first seen missing, or null. */
  Long ownerMissingSince(String openPath) {
    return ownerMissingSince.get(openPath);
  }

  /** Records {@code nowNanos} as the first sighting of the owner of {@code openPath} missing. */
  void ownerSeenMissing(String openPath, long nowNanos) {
    ownerMissingSince.put(openPath, nowNanos);
    dirty = true;
  }

  void ownerPresent(String openPath) {
    if (ownerMissingSince.remove(openPath) != null) {
      dirty = true;
    }
  }

  /** The records whose owner was seen missing at least {@code graceNanos} before {@code nowNanos}. */
  List<String> ownersMissingFor(long graceNanos, long nowNanos) {
    List<String> due = new ArrayList<>();
    ownerMissingSince.forEach((openPath, since) -> {
      if (nowNanos - since >= graceNanos) {
        due.add(openPath);
      }
    });
    return due;
  }

  Backoff backoff(String endedPath) {
    return backoffs.get(endedPath);
  }

  /** The finished spans whose backoff is over. */
  List<String> backoffsDue(long nowNanos) {
    List<String> due = new ArrayList<>();
    backoffs.forEach((endedPath, backoff) -> {
      if (nowNanos - backoff.notBeforeNanos >= 0) {
        due.add(endedPath);
      }
    });
    return due;
  }

  /** Whether the span's next export must wait. */
  boolean backedOff(String endedPath, long nowNanos) {
    Backoff backoff = backoffs.get(endedPath);
    return backoff != null && nowNanos - backoff.notBeforeNanos < 0;
  }

  /**
   * Another attempt at exporting {@code endedPath} starts now: should it fail too, the next waits twice as long as
   * the last, from {@code initialNanos} up to {@code maxNanos}.
   */
  void attempted(String endedPath, long nowNanos, long initialNanos, long maxNanos) {
    Backoff last = backoffs.get(endedPath);
    int attempts = last == null ? 0 : last.attempts;
    long delay = Math.min(maxNanos, initialNanos << Math.min(30, attempts));
    backoffs.put(endedPath, new Backoff(attempts + 1, nowNanos + Math.max(0, delay)));
    dirty = true;
  }

  /** The span is gone (exported and removed, dropped, quarantined): nothing to back off any more. */
  void forgetSpan(String endedPath) {
    if (backoffs.remove(endedPath) != null) {
      dirty = true;
    }
  }

  /** Keeps only the backoffs of spans still stored, as a full scan saw them. */
  void retainSpans(java.util.Collection<String> stored) {
    if (backoffs.keySet().retainAll(stored)) {
      dirty = true;
    }
  }

  /** Keeps only the missing owners of records a complete pass still saw. */
  void retainOpen(java.util.Collection<String> seen) {
    if (ownerMissingSince.keySet().retainAll(seen)) {
      dirty = true;
    }
  }

  int backoffCount() {
    return backoffs.size();
  }

  // ---------------------------------------------------------------- encoding

  /*
   * Text, one entry a line (znode paths cannot hold control characters, so a line ends where it should):
   *   deferred-spans recovery progress 1
   *   sweep SHARD
   *   backoff SPANID ATTEMPTS NOT_BEFORE_EPOCH_MILLIS
   *   missing SINCE_EPOCH_MILLIS SHARD/NODENAME
   */
  private byte[] encode() {
    StringBuilder text = new StringBuilder(FORMAT).append('\n').append("sweep ").append(sweepShard).append('\n');
    int[] bytes = {text.length()};
    int left = 0;
    // Missing owners first (there are few, and each stands for an orphan), within half the budget; then the
    // backoffs due last, which are the ones worth keeping, in what remains.
    List<Map.Entry<String, Long>> oldestFirst = new ArrayList<>(ownerMissingSince.entrySet());
    oldestFirst.sort(Map.Entry.comparingByValue());
    String openPrefix = layout.openRoot() + "/";
    for (Map.Entry<String, Long> entry : oldestFirst) {
      String relative = entry.getKey().startsWith(openPrefix)
          ? entry.getKey().substring(openPrefix.length()) : entry.getKey();
      String line = "missing " + TimeUnit.NANOSECONDS.toMillis(entry.getValue()) + " " + relative + "\n";
      left += append(text, bytes, line, MAX_BYTES / 2) ? 0 : 1;
    }
    List<Map.Entry<String, Backoff>> latestFirst = new ArrayList<>(backoffs.entrySet());
    latestFirst.sort(
        Comparator.comparingLong((Map.Entry<String, Backoff> e) -> e.getValue().notBeforeNanos).reversed());
    for (Map.Entry<String, Backoff> entry : latestFirst) {
      String line = "backoff " + ZKPaths.getNodeFromPath(entry.getKey()) + " " + entry.getValue().attempts + " "
          + TimeUnit.NANOSECONDS.toMillis(entry.getValue().notBeforeNanos) + "\n";
      left += append(text, bytes, line, MAX_BYTES) ? 0 : 1;
    }
    if (left != lastLeftOut && left > 0) {
      log.warn("recovery progress: {} backoffs and missing owners did not fit in {} bytes; a new leader retries or "
          + "re-checks those at once", left, MAX_BYTES);
    }
    lastLeftOut = left;
    return text.toString().getBytes(StandardCharsets.UTF_8);
  }

  /** Appends {@code line} if the text stays within {@code limit} bytes; {@code bytes[0]} is its size so far. */
  private static boolean append(StringBuilder text, int[] bytes, String line, int limit) {
    int size = line.getBytes(StandardCharsets.UTF_8).length;
    if (bytes[0] + size > limit) {
      return false;
    }
    text.append(line);
    bytes[0] += size;
    return true;
  }

  /** Reads what a leader wrote; lines it does not understand (a newer release's) are skipped, never fatal. */
  private void decode(byte[] data) {
    String[] lines = new String(data, StandardCharsets.UTF_8).split("\n");
    if (lines.length == 0 || !lines[0].equals(FORMAT)) {
      log.warn("recovery progress at {} is not in a format this release reads; starting from scratch", path);
      return;
    }
    for (int i = 1; i < lines.length; i++) {
      String[] fields = lines[i].split(" ", 4);
      try {
        switch (fields[0]) {
          case "sweep":
            int shard = Integer.parseInt(fields[1]);
            sweepShard = shard >= 0 && shard < ZNodeLayout.SHARDS ? shard : 0;
            break;
          case "backoff":
            backoffs.put(layout.endedPath(fields[1]), new Backoff(Integer.parseInt(fields[2]),
                TimeUnit.MILLISECONDS.toNanos(Long.parseLong(fields[3]))));
            break;
          case "missing":
            String rest = lines[i].substring("missing ".length());
            int space = rest.indexOf(' ');
            ownerMissingSince.put(ZKPaths.makePath(layout.openRoot(), rest.substring(space + 1)),
                TimeUnit.MILLISECONDS.toNanos(Long.parseLong(rest.substring(0, space))));
            break;
          default:
            break; // a newer release's entry
        }
      } catch (RuntimeException malformed) {
        log.debug("recovery progress: skipping malformed line {}", lines[i]);
      }
    }
  }
}
