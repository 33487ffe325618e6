package io.deferredspans.store;

import io.deferredspans.sdk.DeferredSpanRecordException;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.sdk.FinishedDeferredSpan;
import io.deferredspans.sdk.UnsupportedRecordVersionException;
import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import io.deferredspans.store.DeferredSpanRecovery.ScanResult;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Exports the finished spans nobody is exporting: their claim vanished with the ending host's session, was given
 * back after an export failure, or was never written (another implementation's end). A span a Java end wrote is
 * claimed by its holder token ("eh"), which names the ending session: it is held for as long as that session's
 * liveness node {@code live/SESSION} exists, and given back by removing the token. Each unclaimed span is claimed
 * by this worker's session (a {@code claim} child) and exported through its pipeline, at once when the leader's
 * watches report the claim, the token or the holder's liveness node gone or a claim-less span created, after the
 * claim grace period when a full scan finds it (its host may be merely slow). A failed recovery backs the span off (doubling, persisted in {@link RecoveryProgress} before the export is
 * sent, so the next leader does not send again at once), and the backlog of undelivered spans is bounded by
 * {@link RetainedSpans}: beyond it the oldest are dropped, loudly, as they arrive.
 *
 * <p>The watch events arrive on Curator's thread; everything else is only touched by the scans, which never
 * overlap.
 */
final class FinishedSpanRecovery {
  private static final Logger log = LoggerFactory.getLogger(FinishedSpanRecovery.class);
  // Long enough for the claim event of an end that wrote one to arrive, short against the 1 s end-to-export goal.
  private static final long CLAIMLESS_DELAY_MILLIS = 50;

  /** How this recipe asks the worker for a tick (the worker runs it if it still leads). */
  interface Ticks {
    /** A tick as soon as possible. */
    void now();

    /** A tick after {@code millis}, if {@code stillDue} then says so. */
    void after(long millis, BooleanSupplier stillDue);
  }

  private final StoreCore core;
  private final CuratorFramework client;
  private final ZNodeLayout layout;
  private final RecoveryReads reads;
  private final RecoveryProgress progress;
  private final RetainedSpans retained;
  private final RecordIsolation isolation;
  private final Quarantine quarantine;
  private final RecoveryGauges gauges;
  private final Ticks ticks;
  private final Duration gracePeriod;
  private final Duration retryBackoff;
  private final Duration maxRetryBackoff;
  // Only touched by scans, which never overlap (one scheduler thread; scanNow and tick are synchronized).
  private final Map<String, Long> unclaimedSince = new HashMap<>();
  // Claims under ended/ that vanished (session expired, or released after a failed export): their spans are
  // looked at as soon as the event arrives, instead of polling every finished span.
  private final Set<String> unclaimedEvents = ConcurrentHashMap.newKeySet();
  // Spans seen held by the token of a live session, by span: taken once that session's liveness node goes. The
  // sessions seen gone, so that a span found held just as its holder's node went is not left waiting (both maps
  // are emptied by every full scan, which looks at every span again).
  private final Map<String, Long> heldBySession = new ConcurrentHashMap<>();
  private final Set<Long> goneSessions = ConcurrentHashMap.newKeySet();

  FinishedSpanRecovery(StoreCore core, RecoveryReads reads, RecoveryProgress progress, RetainedSpans retained,
      RecordIsolation isolation, Quarantine quarantine, RecoveryGauges gauges, Ticks ticks, Duration gracePeriod,
      Duration retryBackoff, Duration maxRetryBackoff) {
    this.core = core;
    this.client = core.client();
    this.layout = core.layout();
    this.reads = reads;
    this.progress = progress;
    this.retained = retained;
    this.isolation = isolation;
    this.quarantine = quarantine;
    this.gauges = gauges;
    this.ticks = ticks;
    this.gracePeriod = gracePeriod;
    this.retryBackoff = retryBackoff;
    this.maxRetryBackoff = maxRetryBackoff;
  }

  /**
   * Recovery exports other hosts' spans and then deletes their stored copies: through a pipeline that exports
   * nothing (tracing disabled, or no exporter) it would delete them unexported, as {@code serve} refuses to.
   */
  static void requireExportingPipeline(DeferredTracing tracing) {
    if (!tracing.isEnabled()) {
      throw new IllegalStateException("DeferredSpanRecovery needs tracing enabled: with DeferredTracing.noop() "
          + "(OTEL_SDK_DISABLED=true) it would delete other hosts' finished spans without exporting them. Run "
          + "recovery only on hosts that export");
    }
    if (!tracing.acknowledgesExports()) {
      throw new IllegalStateException("DeferredSpanRecovery needs a span exporter that acknowledges exports "
          + "(DeferredTracingBuilder.addSpanExporter, or autoconfigure with OTEL_TRACES_EXPORTER set): without one "
          + "(OTEL_TRACES_EXPORTER=none?) it would delete other hosts' finished spans as soon as it handed them to "
          + "the span processors. Run recovery only on hosts that export");
    }
  }

  /** An event of the leader's persistent recursive watches on {@code ended/} and {@code live/}. */
  void onEndedEvent(WatchedEvent event) {
    String path = event.getPath();
    if (path != null && path.startsWith(layout.liveRoot() + "/")) {
      if (event.getType() == Watcher.Event.EventType.NodeDeleted) {
        onSessionGone(ZKPaths.getNodeFromPath(path));
      } else if (event.getType() == Watcher.Event.EventType.NodeCreated) {
        onSessionBack(ZKPaths.getNodeFromPath(path));
      }
      return;
    }
    if (path == null || !path.startsWith(layout.endedRoot() + "/")) {
      return;
    }
    // ended/YY/SPANID is a finished span, ended/YY/SPANID/claim its claim.
    int depth = path.substring(layout.endedRoot().length() + 1).split("/", -1).length;
    if (depth == 2) {
      if (event.getType() == Watcher.Event.EventType.NodeCreated) {
        retained.arrived(path);
        if (retained.overBound()) {
          ticks.now(); // the bound holds as spans arrive, not only at the next full scan
        }
        takeIfStillUnclaimed(path);
      } else if (event.getType() == Watcher.Event.EventType.NodeDeleted) {
        // Exported and removed by its holder, as almost every end is: nothing to look at.
        retained.removed(path);
        unclaimedEvents.remove(path);
        heldBySession.remove(path);
      } else if (event.getType() == Watcher.Event.EventType.NodeDataChanged) {
        // Its holder removed its token (given back after a failed export): nobody exports it now.
        heldBySession.remove(path);
        unclaimedEvents.add(path);
        ticks.now();
      }
      return;
    }
    if (depth == 3 && event.getType() == Watcher.Event.EventType.NodeCreated
        && ZKPaths.getNodeFromPath(path).equals(ZNodeLayout.CLAIM)) {
      unclaimedEvents.remove(ZKPaths.getPathAndNode(path).getPath()); // its ender claimed it: not ours to take
      return;
    }
    if (depth == 3 && event.getType() == Watcher.Event.EventType.NodeDeleted
        && ZKPaths.getNodeFromPath(path).equals(ZNodeLayout.CLAIM)) {
      unclaimedEvents.add(ZKPaths.getPathAndNode(path).getPath());
      ticks.now();
    }
  }

  /**
   * A finished span written without a claim (another implementation's end, docs/record-format.md section 4) has
   * nobody exporting it: it is taken as soon as it appears. A Java end creates its claim in the same transaction,
   * whose event follows at once and withdraws the span before the short delay is over, so it costs no read.
   */
  private void takeIfStillUnclaimed(String path) {
    unclaimedEvents.add(path);
    ticks.after(CLAIMLESS_DELAY_MILLIS, () -> unclaimedEvents.contains(path));
  }

  /** A liveness node went: its session holds nothing any more, and the spans seen held by it are taken. */
  private void onSessionGone(String name) {
    long session = sessionOf(name);
    if (session == 0) {
      return;
    }
    goneSessions.add(session); // before the spans are looked up: see heldByLiveSession
    boolean any = false;
    for (Map.Entry<String, Long> held : heldBySession.entrySet()) {
      if (held.getValue() == session && heldBySession.remove(held.getKey(), session)) {
        unclaimedEvents.add(held.getKey());
        any = true;
      }
    }
    if (any) {
      ticks.now();
    }
  }

  /**
   * A liveness node was created: a new session, or a live one whose node another writer had deleted, which its
   * session creates again (ClaimSession). The spans it ends from then on are held by it again.
   */
  private void onSessionBack(String name) {
    long session = sessionOf(name);
    if (session != 0) {
      goneSessions.remove(session);
    }
  }

  /** The session a liveness node's name gives, 0 for a name that is not one. */
  private static long sessionOf(String name) {
    try {
      return Long.parseUnsignedLong(name, 16);
    } catch (NumberFormatException notOurs) {
      return 0;
    }
  }

  /**
   * Whether the span whose data is {@code data} is held by the token of a session that is alive: then it is
   * remembered, to be taken when that session's liveness node goes. {@code alive} caches one scan's answers.
   */
  private boolean heldByLiveSession(String endedPath, byte[] data, Map<Long, Boolean> alive) throws Exception {
    String token = ZNodeLayout.holderToken(data);
    if (token == null) {
      return false;
    }
    long session = ZNodeLayout.holderSession(token);
    Boolean live = alive.get(session);
    if (live == null) {
      live = !goneSessions.contains(session) && sessionAlive(session);
      alive.put(session, live);
    }
    if (!live) {
      return false;
    }
    heldBySession.put(endedPath, session);
    // The liveness node may have gone between our read and the line above, its event already handled: the
    // handler records the session before it looks for its spans, so one of the two sees the other.
    if (goneSessions.contains(session)) {
      heldBySession.remove(endedPath);
      return false;
    }
    return true;
  }

  private boolean sessionAlive(long session) throws Exception {
    Stat stat = new Stat();
    try {
      reads.data(layout.livePath(session), stat);
    } catch (KeeperException.NoNodeException gone) {
      return false;
    }
    return stat.getEphemeralOwner() == session;
  }

  /** This worker does not lead: the leader, whoever it is, gets the same events. */
  void forgetEvents() {
    unclaimedEvents.clear();
    heldBySession.clear();
  }

  /** This worker stopped leading: the next leader gets its own events and counts its own backlog. */
  void stopLeading() {
    unclaimedEvents.clear();
    heldBySession.clear();
    retained.clear();
  }

  /** A tick without a full scan enforces the bound here (a full scan enforces it itself). */
  void dropIfOverBound(ScanResult result) throws Exception {
    if (retained.overBound()) {
      dropBeyondBound(result);
    }
  }

  /**
   * Spans whose claim was reported gone, spans the safety net found unclaimed whose grace period is over, and
   * earlier failures whose retry is due.
   */
  void recoverUnclaimed(ScanResult result, long now) throws Exception {
    Map<Long, Boolean> alive = new HashMap<>();
    Set<String> candidates = new HashSet<>(unclaimedEvents);
    unclaimedEvents.removeAll(candidates);
    candidates.addAll(progress.backoffsDue(now));
    unclaimedSince.forEach((endedPath, since) -> {
      if (now - since >= gracePeriod.toNanos()) {
        candidates.add(endedPath);
      }
    });
    for (String endedPath : candidates) {
      if (progress.backedOff(endedPath, now)) {
        result.backedOff++;
        continue;
      }
      isolation.run(endedPath, result, () -> {
        byte[] data;
        try {
          data = reads.data(endedPath, new Stat());
        } catch (KeeperException.NoNodeException exportedAndRemoved) {
          forget(endedPath);
          return;
        }
        if (heldByLiveSession(endedPath, data, alive)) {
          return; // its ender's session exports it; taken if that session goes first
        }
        // A claim is deleted only with its span, by its session's end, or by a release after a failed export:
        // an unclaimed span seen here has nobody left to deliver it, so no further grace period applies.
        unclaimedSince.remove(endedPath);
        recoverWithBackoff(endedPath, now, result);
      }, () -> backOffAfterFailure(endedPath, now));
    }
  }

  /**
   * The safety net: lists every finished span, bounds the backlog, and recovers those that stayed unclaimed for
   * the grace period (run after every watch reset, and every {@code fullScanInterval}).
   */
  void scanAll(ScanResult result, long now) throws Exception {
    List<String> listed = new ArrayList<>();
    List<String> unclaimed = new ArrayList<>();
    long mark = retained.mark();
    heldBySession.clear(); // every span is looked at again below
    goneSessions.clear();
    Map<Long, Boolean> alive = new HashMap<>();
    for (String shard : layout.endedShards()) {
      for (String spanId : reads.children(shard)) {
        String endedPath = ZKPaths.makePath(shard, spanId);
        listed.add(endedPath);
        if (!reads.exists(ZNodeLayout.claimPath(endedPath)) && !heldByLiveSession(endedPath, alive)) {
          unclaimed.add(endedPath);
        }
      }
    }
    gauges.waitingForExport(listed.size());
    retained.listed(listed, mark);
    if (retained.overBound()) {
      unclaimed.removeAll(dropBeyondBound(result));
    }
    unclaimedSince.keySet().retainAll(unclaimed);
    progress.retainSpans(listed);
    for (String endedPath : unclaimed) {
      if (progress.backedOff(endedPath, now)) {
        result.backedOff++;
        continue;
      }
      // Found by listing, not reported by the watch: wait out the grace period (its host may be merely slow).
      if (graceElapsed(endedPath, now)) {
        unclaimedSince.remove(endedPath);
        isolation.run(endedPath, result, () -> recoverWithBackoff(endedPath, now, result),
            () -> backOffAfterFailure(endedPath, now));
      }
    }
  }

  /** {@link #heldByLiveSession(String, byte[], Map)} of a span not read yet; false if it is gone. */
  private boolean heldByLiveSession(String endedPath, Map<Long, Boolean> alive) throws Exception {
    try {
      return heldByLiveSession(endedPath, reads.data(endedPath, new Stat()), alive);
    } catch (KeeperException.NoNodeException gone) {
      return false; // the next step finds it gone
    }
  }

  /** Whether {@code path} has been seen (at least twice) for the grace period; records the first sighting. */
  private boolean graceElapsed(String path, long now) {
    Long since = unclaimedSince.putIfAbsent(path, now);
    return since != null && now - since >= gracePeriod.toNanos();
  }

  /** A span whose recovery failed here is tried again after its backoff, not at every tick. */
  private void backOffAfterFailure(String endedPath, long now) {
    if (!progress.backedOff(endedPath, now)) {
      progress.attempted(endedPath, now, retryBackoff.toNanos(), maxRetryBackoff.toNanos());
    }
  }

  /** A finished span is gone: nothing of it to remember. */
  private void forget(String endedPath) {
    unclaimedSince.remove(endedPath);
    progress.forgetSpan(endedPath);
  }

  /**
   * Exports an unclaimed span, and backs it off: should this export fail too (refused, or timed out by a
   * collector that may still have kept it), the next attempt waits, whichever worker leads by then.
   */
  private void recoverWithBackoff(String endedPath, long now, ScanResult result) throws Exception {
    progress.attempted(endedPath, now, retryBackoff.toNanos(), maxRetryBackoff.toNanos());
    // Kept before the export is sent, not at the end of the tick: a leader that loses leadership (or is closed)
    // right after sending would otherwise leave the next leader no backoff, and it would send again at once.
    progress.saveIfChanged();
    if (claimAndExport(endedPath, result)) {
      result.recovered++;
    }
  }

  /**
   * The exporter has been failing for long enough that more finished spans wait in ZooKeeper than allowed:
   * drop the oldest unclaimed ones, loudly, so that ZooKeeper itself is never put at risk by a tracing outage.
   */
  private List<String> dropBeyondBound(ScanResult result) throws Exception {
    Map<Long, Boolean> alive = new HashMap<>();
    List<String> dropped = retained.dropBeyondBound(endedPath -> heldByLiveSession(endedPath, alive));
    if (!dropped.isEmpty()) {
      dropped.forEach(this::forget);
      core.counters().recordDropped(dropped.size());
      result.dropped += dropped.size();
    }
    return dropped;
  }

  /**
   * Claims and exports one unclaimed finished span; false if someone else got there first, or if it cannot be
   * exported here. The claim carries a nonce, so a create whose reply was lost is known as ours by reading it back
   * on the same session; a claim this worker cannot follow through (a span of a newer format, an unreadable span, a
   * failed read) is given back at once, never left to block the span for as long as this host lives.
   */
  private boolean claimAndExport(String endedPath, ScanResult result) throws Exception {
    String claimPath = ZNodeLayout.claimPath(endedPath);
    byte[] claim = core.endTransaction().claimData();
    ClaimSession session = core.sessions().current();
    // Sent once, on the session the export is then fenced by: never by Curator's retry onto a newer one.
    SessionFencedCall fence = core.fences().on("claim " + endedPath, session);
    try {
      fence.multi(List.of(client.transactionOp().create().withMode(CreateMode.EPHEMERAL).forPath(claimPath, claim)));
    } catch (SessionFencedCall.Refused exportedOrClaimedMeanwhile) {
      return false;
    } catch (KeeperException unanswered) {
      Stat owner = new Stat();
      byte[] held;
      try {
        held = fence.data(claimPath, owner); // on the same session: it shows whether the create applied
      } catch (Exception e) {
        core.exported().giveBackClaim(endedPath, session); // it may be ours: never left held by a live session
        throw e;
      }
      if (!Arrays.equals(held, claim) || owner.getEphemeralOwner() != session.id()) {
        return false; // not applied, or another worker's claim
      }
    } catch (InterruptedException | RuntimeException stoppedWhileSending) {
      // close() (leadership given up) interrupted the create, which may have applied: a claim of this live
      // session that nobody exports would keep the span from every other worker for as long as this host runs.
      core.exported().giveBackClaim(endedPath, session);
      throw stoppedWhileSending;
    }
    FinishedDeferredSpan finished;
    try {
      Stat stat = new Stat();
      byte[] data = client.getData().storingStatIn(stat).forPath(endedPath);
      try {
        finished = DeferredSpanRecordCodec.decodeFinished(data, endedPath);
      } catch (UnsupportedRecordVersionException newer) {
        // record-format §5: a reader MUST leave it where it is; a host that reads its version exports it.
        log.warn("{}; leaving it for a host that reads that version", newer.getMessage());
        core.exported().giveBackClaim(endedPath, session);
        result.leftForNewerHosts++;
        return false;
      } catch (DeferredSpanRecordException e) {
        log.error("{}; moving it to quarantine", e.getMessage());
        if (quarantine.move(endedPath, stat, data, result)) { // deletes our claim with it
          forget(endedPath);
        }
        return false;
      }
    } catch (Exception e) {
      core.exported().giveBackClaim(endedPath, session);
      throw e;
    }
    log.info("exporting {} ({}), ended by {} whose export did not complete",
        finished.getRecord().getName(), finished.getRecord().getSpanContext().getSpanId(),
        finished.getEndedBy());
    core.counters().recordRecovered();
    core.exported().exportClaimed(finished, endedPath, session);
    return true;
  }
}
