package io.deferredspans.store;

import io.deferredspans.sdk.CorruptDeferredSpanRecordException;
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredSpanRecordCodec;
import io.deferredspans.sdk.DeferredSpanRecordException;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.sdk.ExportListener;
import io.deferredspans.sdk.FinishedDeferredSpan;
import io.deferredspans.sdk.UnsupportedRecordVersionException;
import java.io.Closeable;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.curator.RetryLoop;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.framework.state.ConnectionStateListener;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps deferred spans in ZooKeeper between {@link #beginDeferredSpan begin} on one host and {@link
 * #endDeferredSpan end} on any host, and hands each ended span to the ending host's OpenTelemetry pipeline
 * exactly once.
 *
 * <h2>Guarantees</h2>
 *
 * <ul>
 *   <li><b>Atomic with the caller's znodes.</b> A record is created in the same ZooKeeper transaction as the
 *       caller's own operations (e.g. creating the queue item), and ended in the same transaction as theirs
 *       (e.g. deleting it): an item never exists without its span, nor is dequeued without ending it.
 *   <li><b>Exactly one end.</b> An end deletes the record with a version check, so when several hosts race
 *       exactly one transaction commits. If ZooKeeper's reply to the winning transaction is lost and Curator
 *       retries it, the retry fails; the store then reads back the finished span it wrote to tell "won on the
 *       first try" from "lost the race", so the outcome is never ambiguous.
 *   <li><b>Nothing lost between end and export.</b> The winning transaction also stores the finished span and
 *       an ephemeral claim by this session. The span stays in ZooKeeper until an exporter acknowledged it; if this
 *       host dies first, its claim vanishes with its session and a {@link DeferredSpanRecovery} exports it. The
 *       one window where a span can be exported twice is a crash (or session expiry) after the exporter accepted
 *       it but before the store removed it.
 * </ul>
 *
 * <h2>Connection states</h2>
 *
 * Calls never block the caller beyond the operation timeout. While Curator reports SUSPENDED or LOST (or the
 * client is not connected) calls fail at once with {@link DeferredSpanStoreUnavailableException}; a call that
 * exceeds the timeout throws the same exception with {@linkplain
 * DeferredSpanStoreUnavailableException#isOutcomeUnknown() outcome unknown}, and finishes in the background. On
 * RECONNECTED, removals of exported spans that failed while disconnected are retried. A session expiry removes
 * this host's claims, which hands its unexported spans to the recovery worker.
 *
 * <p>The {@link CuratorFramework} is handed in and must be started; the store never closes it. Call {@link
 * #start()} before use and {@link #close()} when done. Thread-safe.
 */
public final class DeferredSpanStore implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(DeferredSpanStore.class);
  private static final int END_OPS = 4; // delete marker and record, create finished span and claim
  private static final int MAX_CLEANUP_ATTEMPTS = 10;
  // An exporter batch is acknowledged at once; removing its spans in one transaction saves a ZooKeeper write
  // (an fsync) per span. 100 spans make 200 small delete ops, far below jute.maxbuffer.
  private static final int MAX_REMOVALS_PER_TRANSACTION = 100;

  private enum State {
    LATENT,
    STARTED,
    CLOSED
  }

  private final CuratorFramework client;
  private final DeferredTracing tracing;
  private final ZNodeLayout layout;
  private final Duration operationTimeout;
  private final Duration acknowledgementTimeout;
  private final AtomicReference<State> state = new AtomicReference<>(State.LATENT);
  private final ThreadPoolExecutor callExecutor;
  private final ScheduledExecutorService housekeeping;
  private final StoreCounters counters = new StoreCounters();
  private final ConnectionStateListener connectionListener = this::connectionStateChanged;
  private final List<String> cleanupsAwaitingConnection = new ArrayList<>();
  private final Queue<String> exportedAwaitingRemoval = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean removalScheduled = new AtomicBoolean();

  private DeferredSpanStore(Builder builder) {
    this.client = builder.client;
    this.tracing = builder.tracing;
    this.layout = new ZNodeLayout(builder.basePath);
    this.operationTimeout = builder.operationTimeout;
    this.acknowledgementTimeout = builder.acknowledgementTimeout;
    this.callExecutor =
        new ThreadPoolExecutor(
            0, builder.maxConcurrentCalls, 30, TimeUnit.SECONDS, new SynchronousQueue<>(),
            Threads.daemon("deferred-span-store-call"));
    this.housekeeping =
        Executors.newSingleThreadScheduledExecutor(
            Threads.daemon("deferred-span-store-housekeeping"));
  }

  /**
   * @param client a started Curator client; the store uses it but never closes it
   * @param tracing this host's deferred tracing, whose pipeline ended spans are exported through
   */
  public static Builder builder(CuratorFramework client, DeferredTracing tracing) {
    return new Builder(client, tracing);
  }

  /** Creates the store's znodes if missing and starts housekeeping. */
  public void start() throws Exception {
    if (!state.compareAndSet(State.LATENT, State.STARTED)) {
      throw new IllegalStateException("already started or closed");
    }
    ensureShards(layout.openShards());
    ensureShards(layout.endedShards());
    ensurePersistent(layout.quarantineRoot()); // not a container: it must survive being emptied
    client.getConnectionStateListenable().addListener(connectionListener);
    long period = Math.max(1, acknowledgementTimeout.toMillis() / 4);
    housekeeping.scheduleWithFixedDelay(
        this::expireAcknowledgements, period, period, TimeUnit.MILLISECONDS);
  }

  private void ensureShards(List<String> shards) throws Exception {
    String parent = ZKPaths.getPathAndNode(shards.get(0)).getPath();
    if (client.checkExists().forPath(parent) != null
        && client.getChildren().forPath(parent).size() >= shards.size()) {
      return;
    }
    for (String shard : shards) {
      ensurePersistent(shard);
    }
  }

  private void ensurePersistent(String path) throws Exception {
    try {
      client.create().creatingParentsIfNeeded().forPath(path);
    } catch (KeeperException.NodeExistsException alreadyThere) {
      // another host created it first: fine
    }
  }

  /** Stops housekeeping. Spans handed to the exporter but not yet acknowledged stay safe in ZooKeeper. */
  @Override
  public void close() {
    if (state.getAndSet(State.CLOSED) == State.STARTED) {
      client.getConnectionStateListenable().removeListener(connectionListener);
    }
    housekeeping.shutdownNow();
    callExecutor.shutdown();
  }

  // ---------------------------------------------------------------- begin

  /**
   * The operations that store {@code record} under {@code key}, to add to the caller's own transaction:
   *
   * <pre>{@code
   * DeferredSpanRecord record = tracing.spanBuilder("QueueItem").setOwner(itemPath).begin();
   * List<CuratorOp> ops = new ArrayList<>(store.beginOps(itemKey, record));
   * ops.add(client.transactionOp().create().forPath(itemPath, itemBytes));
   * client.transaction().forOperations(ops);
   * }</pre>
   *
   * Empty for a record of disabled tracing: nothing is stored. An unsampled record is stored (it is small) so
   * that spans begun later as its children inherit the "not sampled" decision, but it is never exported.
   */
  public List<CuratorOp> beginOps(String key, DeferredSpanRecord record) {
    if (!record.isValid()) {
      return List.of();
    }
    return beginOps(key, record, DeferredSpanRecordCodec.encode(record));
  }

  private List<CuratorOp> beginOps(String key, DeferredSpanRecord record, byte[] recordBytes) {
    String path = layout.openPath(key);
    try {
      return List.of(
          client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(path, recordBytes),
          client.transactionOp().create().withMode(CreateMode.PERSISTENT)
              .forPath(ZNodeLayout.markerPath(path, record.getSpanContext().getSpanId())));
    } catch (Exception e) {
      throw new DeferredSpanStoreException("cannot build begin operation for key " + key, e);
    }
  }

  /**
   * Stores {@code record} under {@code key} together with the caller's operations, in one transaction.
   *
   * @throws DeferredSpanStoreException if a span is already open under {@code key} or a caller operation fails
   *     (nothing is written in either case)
   * @throws DeferredSpanStoreUnavailableException if ZooKeeper cannot be reached in time
   */
  public DeferredSpanRecord beginDeferredSpan(String key, DeferredSpanRecord record, CuratorOp... callerOps) {
    // Encoded once: the bytes go into the create and, after a lost reply, identify our own record.
    byte[] recordBytes = record.isValid() ? DeferredSpanRecordCodec.encode(record) : null;
    List<CuratorOp> ops = new ArrayList<>(recordBytes == null ? List.of() : beginOps(key, record, recordBytes));
    int ourOps = ops.size();
    ops.addAll(Arrays.asList(callerOps));
    if (ops.isEmpty()) {
      return record;
    }
    String path = layout.openPath(key);
    call(
        "begin " + key,
        () -> {
          try {
            client.transaction().forOperations(ops);
            return null;
          } catch (KeeperException e) {
            if (!isConnectionProblem(e)) {
              int failed = firstFailedIndex(e);
              if (failed >= ourOps) {
                throw callerOperationFailed("begin " + key, failed - ourOps, e);
              }
              if (e.code() != KeeperException.Code.NODEEXISTS) {
                throw e;
              }
            }
            // Refused as "exists" (perhaps our own first attempt, whose reply was lost), or no answer at all.
            byte[] stored = untilAnswered("begin " + key, () -> dataOrNull(path));
            if (recordBytes != null && Arrays.equals(stored, recordBytes)) {
              counters.retriedWinners.increment();
              return null;
            }
            if (stored == null) {
              throw new DeferredSpanStoreUnavailableException(
                  "begin " + key + ": connection lost; nothing was written, retry", false, e);
            }
            throw new DeferredSpanStoreException(
                "a deferred span is already open under key " + key + "; nothing was written", e);
          }
        });
    counters.begun.increment();
    return record;
  }

  /** Reads the open record under {@code key}, e.g. to begin child spans under it or to put it in a job request. */
  public Optional<DeferredSpanRecord> read(String key) {
    String path = layout.openPath(key);
    return call(
        "read " + key,
        () -> {
          try {
            return Optional.of(DeferredSpanRecordCodec.decodeRecord(readFresh(path, new Stat()), path));
          } catch (KeeperException.NoNodeException e) {
            return Optional.empty();
          }
        });
  }

  // ---------------------------------------------------------------- end

  /** {@link #endDeferredSpan(String, DeferredSpanEnding, List)} with operations as varargs. */
  public EndResult endDeferredSpan(String key, DeferredSpanEnding ending, CuratorOp... callerOps) {
    return endDeferredSpan(key, ending, Arrays.asList(callerOps));
  }

  /**
   * Ends the span open under {@code key}, from any host, and exports it through this host's pipeline.
   *
   * <p>The record's removal, the finished span and the caller's operations (e.g. deleting the queue item) commit
   * in one transaction. See {@link EndResult.Outcome} for what happens when another host wins a race, when
   * there is no record, or when the record cannot be read; the caller's operations are applied in every case
   * but {@link EndResult.Outcome#ALREADY_ENDED}.
   *
   * @throws DeferredSpanStoreException if a caller operation fails (nothing was applied)
   * @throws DeferredSpanStoreUnavailableException if ZooKeeper cannot be reached in time
   * @throws io.deferredspans.sdk.DeferredSpanLimitException if the end's attributes are too large (nothing was
   *     applied)
   */
  public EndResult endDeferredSpan(String key, DeferredSpanEnding ending, List<CuratorOp> callerOps) {
    String path = layout.openPath(key);
    return call("end " + key, () -> end(path, ending, List.copyOf(callerOps)));
  }

  private EndResult end(String path, DeferredSpanEnding ending, List<CuratorOp> callerOps) throws Exception {
    Stat stat = new Stat();
    byte[] data;
    try {
      data = readFresh(path, stat);
    } catch (KeeperException.NoNodeException e) {
      applyCallerOps(path, callerOps, List.of());
      counters.noRecord.increment();
      return EndResult.noRecord();
    }
    DeferredSpanRecord record;
    try {
      record = DeferredSpanRecordCodec.decodeRecord(data, path);
    } catch (UnsupportedRecordVersionException e) {
      log.warn("{}; leaving it for a host that reads that version", e.getMessage());
      applyCallerOps(path, callerOps, List.of());
      counters.rejected.increment();
      return EndResult.rejected(e);
    } catch (CorruptDeferredSpanRecordException e) {
      log.error("{}; moving it to quarantine", e.getMessage());
      applyCallerOps(path, callerOps, quarantineOps(path, stat.getVersion(), data));
      counters.rejected.increment();
      counters.quarantined.increment();
      return EndResult.rejected(e);
    }
    return commitEnd(path, stat.getVersion(), tracing.finish(record, ending), callerOps);
  }

  /**
   * The end transaction shared by callers and the recovery worker: remove the record at {@code version}, store
   * the finished span with this session's claim, apply the caller's operations; then export.
   */
  EndResult commitEnd(String openPath, int version, FinishedDeferredSpan finished, List<CuratorOp> callerOps)
      throws Exception {
    String endedPath = layout.endedPath(finished.getRecord().getSpanContext().getSpanId());
    byte[] finishedBytes = DeferredSpanRecordCodec.encode(finished);
    List<CuratorOp> ops = new ArrayList<>(END_OPS + callerOps.size());
    // The marker fails this transaction if the key now holds another span than the one we read (key reuse).
    ops.add(client.transactionOp().delete()
        .forPath(ZNodeLayout.markerPath(openPath, finished.getRecord().getSpanContext().getSpanId())));
    ops.add(client.transactionOp().delete().withVersion(version).forPath(openPath));
    ops.add(client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(endedPath, finishedBytes));
    ops.add(
        client.transactionOp().create().withMode(CreateMode.EPHEMERAL)
            .forPath(ZNodeLayout.claimPath(endedPath), claimData()));
    ops.addAll(callerOps);
    try {
      client.transaction().forOperations(ops);
    } catch (KeeperException e) {
      boolean unanswered = isConnectionProblem(e);
      if (!unanswered) {
        int failed = firstFailedIndex(e);
        if (failed >= END_OPS) {
          throw callerOperationFailed("end " + openPath, failed - END_OPS, e);
        }
      }
      // Either ZooKeeper refused our record ops (a race we lost, or Curator's retry of a multi whose first
      // attempt committed and whose reply was lost), or there was no answer at all. Ask until it can tell:
      // giving up here could leave a committed end, claimed by our live session, that nobody exports.
      if (!untilAnswered("end " + openPath, () -> committedEarlier(endedPath, finishedBytes))) {
        if (unanswered && untilAnswered("end " + openPath, () -> client.checkExists().forPath(openPath) != null)) {
          throw new DeferredSpanStoreUnavailableException(
              "end " + openPath + ": connection lost; nothing was applied, retry", false, e);
        }
        counters.alreadyEnded.increment();
        return EndResult.alreadyEnded();
      }
      counters.retriedWinners.increment();
    }
    counters.ended.increment();
    export(finished, endedPath);
    return EndResult.ended(finished);
  }

  /**
   * Reads a record, never trusting a stale "absent": a client's server may lag behind the leader, and a record
   * begun through another server may not have reached it yet. Ending as NO_RECORD on such a read would apply the
   * caller's operations (dequeue the item) and leave its span open. So an absent record is re-read after a sync
   * with the leader; the common case, a present record, costs nothing extra.
   */
  private byte[] readFresh(String path, Stat stat) throws Exception {
    try {
      return client.getData().storingStatIn(stat).forPath(path);
    } catch (KeeperException.NoNodeException maybeStale) {
      String synced = ZKPaths.fixForNamespace(client.getNamespace(), path);
      RetryLoop.callWithRetry(client.getZookeeperClient(), () -> {
        client.getZookeeperClient().getZooKeeper().sync(synced);
        return null;
      });
      return client.getData().storingStatIn(stat).forPath(path);
    }
  }

  private byte[] dataOrNull(String path) throws Exception {
    try {
      return client.getData().forPath(path);
    } catch (KeeperException.NoNodeException e) {
      return null;
    }
  }

  static boolean isConnectionProblem(KeeperException e) {
    switch (e.code()) {
      case CONNECTIONLOSS:
      case OPERATIONTIMEOUT:
      case SESSIONMOVED:
      case SESSIONEXPIRED:
        return true;
      default:
        return false;
    }
  }

  private interface ZooKeeperQuestion<T> {
    T ask() throws Exception;
  }

  /**
   * Asks ZooKeeper until it answers, waiting out disconnections, for at most twice the session timeout: by then a
   * session that cannot reach ZooKeeper has expired, its claims are gone, and recovery owns whatever it held.
   * Runs on the store's call thread, so the caller itself still waits no longer than the operation timeout.
   */
  private <T> T untilAnswered(String what, ZooKeeperQuestion<T> question) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(
        2L * client.getZookeeperClient().getZooKeeper().getSessionTimeout()
            + client.getZookeeperClient().getConnectionTimeoutMs());
    while (true) {
      try {
        return question.ask();
      } catch (KeeperException e) {
        if (!isConnectionProblem(e) || e.code() == KeeperException.Code.SESSIONEXPIRED
            || System.nanoTime() > deadline || state.get() != State.STARTED) {
          throw new DeferredSpanStoreUnavailableException(
              what + ": ZooKeeper did not say whether the operation was applied; if it was, recovery exports "
                  + "the span once this session's claim expires", true, e);
        }
        counters.uncertainOutcomes.increment();
        client.getZookeeperClient().blockUntilConnectedOrTimedOut();
      }
    }
  }

  /** After a failed end transaction: did an earlier, retried attempt of the very same transaction commit? */
  private boolean committedEarlier(String endedPath, byte[] finishedBytes) throws Exception {
    try {
      // A finished span holds our end time and host name: byte equality means we wrote it.
      return Arrays.equals(client.getData().forPath(endedPath), finishedBytes);
    } catch (KeeperException.NoNodeException gone) {
      // Another host's end, already exported and removed. (Our own lost-reply attempt cannot have been removed
      // yet: we only export after this returns, and recovery waits out its grace period first.)
      return false;
    }
  }

  /** Hands the span to the pipeline; the stored copy goes once an exporter has it, or is released on failure. */
  void export(FinishedDeferredSpan finished, String endedPath) {
    tracing.export(
        finished,
        new ExportListener() {
          @Override
          public void onExported() {
            counters.exportAcknowledged.increment();
            exportedAwaitingRemoval.add(endedPath);
            scheduleRemovals();
          }

          @Override
          public void onExportFailed() {
            counters.exportFailed.increment();
            submitHousekeeping(() -> releaseClaim(endedPath));
          }
        });
  }

  private void submitHousekeeping(Runnable task) {
    try {
      housekeeping.execute(task);
    } catch (RejectedExecutionException closed) {
      // Closed: the span stays in ZooKeeper and the recovery worker takes over once our session ends.
      log.debug("store closed; leaving cleanup to the recovery worker");
    }
  }

  private void scheduleRemovals() {
    if (removalScheduled.compareAndSet(false, true)) {
      submitHousekeeping(this::removeExportedBatch);
    }
  }

  /** Removes the stored copies of the spans acknowledged so far, one transaction for many. */
  private void removeExportedBatch() {
    removalScheduled.set(false);
    List<String> batch = new ArrayList<>();
    String path;
    while (batch.size() < MAX_REMOVALS_PER_TRANSACTION && (path = exportedAwaitingRemoval.poll()) != null) {
      batch.add(path);
    }
    if (!exportedAwaitingRemoval.isEmpty()) {
      scheduleRemovals();
    }
    if (batch.size() == 1) {
      removeExported(batch.get(0), 1);
      return;
    }
    if (batch.isEmpty()) {
      return;
    }
    List<CuratorOp> ops = new ArrayList<>(2 * batch.size());
    try {
      for (String ended : batch) {
        ops.add(client.transactionOp().delete().forPath(ZNodeLayout.claimPath(ended)));
        ops.add(client.transactionOp().delete().forPath(ended));
      }
      client.transaction().forOperations(ops);
      counters.removed.add(batch.size());
    } catch (Exception oneOfThemIsSpecial) {
      // A claim gone with an expired session, a span claimed meanwhile by recovery, or no connection: settle
      // each on its own, with the per-span rules and retries.
      batch.forEach(ended -> removeExported(ended, 1));
    }
  }

  /**
   * Removes an exported span's stored copy. If our claim is gone (session expired) and another host claimed the
   * span meanwhile, the delete fails as not-empty and that host exports it: the documented duplicate window.
   */
  void removeExported(String endedPath, int attempt) {
    String claim = ZNodeLayout.claimPath(endedPath);
    try {
      try {
        client.transaction().forOperations(
            client.transactionOp().delete().forPath(claim),
            client.transactionOp().delete().forPath(endedPath));
      } catch (KeeperException.NoNodeException claimGone) {
        client.delete().forPath(endedPath);
      }
      counters.removed.increment();
    } catch (KeeperException.NoNodeException alreadyRemoved) {
      counters.removed.increment();
    } catch (KeeperException.NotEmptyException claimedByOther) {
      log.warn("{} was claimed by another host after it was exported here; it may be exported twice", endedPath);
    } catch (Exception e) {
      retryLater(endedPath, attempt, e);
    }
  }

  private void retryLater(String endedPath, int attempt, Exception e) {
    if (state.get() != State.STARTED) {
      return;
    }
    counters.cleanupRetries.increment();
    if (!client.getZookeeperClient().isConnected()) {
      synchronized (cleanupsAwaitingConnection) {
        cleanupsAwaitingConnection.add(endedPath);
      }
      return;
    }
    if (attempt >= MAX_CLEANUP_ATTEMPTS) {
      log.error("giving up removing exported span {}; the recovery worker will export it again", endedPath, e);
      return;
    }
    long delayMillis = Math.min(10_000, 100L << attempt);
    try {
      housekeeping.schedule(() -> removeExported(endedPath, attempt + 1), delayMillis, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException closed) {
      log.debug("store closed while retrying removal of {}", endedPath);
    }
  }

  /** Gives an unexported span back to the recovery worker by deleting our claim, if it is still ours. */
  private void releaseClaim(String endedPath) {
    String claim = ZNodeLayout.claimPath(endedPath);
    try {
      Stat stat = client.checkExists().forPath(claim);
      long session = client.getZookeeperClient().getZooKeeper().getSessionId();
      if (stat != null && stat.getEphemeralOwner() == session) {
        client.delete().withVersion(stat.getVersion()).forPath(claim);
      }
    } catch (Exception e) {
      // Our claim stays until our session ends; the recovery worker exports the span after that.
      log.warn("could not release claim on {} after a failed export", endedPath, e);
    }
  }

  private void expireAcknowledgements() {
    int expired = tracing.expireAcknowledgements(acknowledgementTimeout);
    if (expired > 0) {
      log.warn("{} deferred spans were not acknowledged by an exporter within {}; handing them to recovery",
          expired, acknowledgementTimeout);
    }
  }

  private void connectionStateChanged(CuratorFramework unused, ConnectionState newState) {
    log.info("ZooKeeper connection {}", newState);
    if (newState == ConnectionState.RECONNECTED) {
      List<String> retry;
      synchronized (cleanupsAwaitingConnection) {
        retry = new ArrayList<>(cleanupsAwaitingConnection);
        cleanupsAwaitingConnection.clear();
      }
      retry.forEach(path -> submitHousekeeping(() -> removeExported(path, 1)));
    }
  }

  // ---------------------------------------------------------------- helpers shared with recovery

  List<CuratorOp> quarantineOps(String path, int version, byte[] data) throws Exception {
    List<CuratorOp> ops = new ArrayList<>();
    for (String child : client.getChildren().forPath(path)) {
      ops.add(client.transactionOp().delete().forPath(ZKPaths.makePath(path, child)));
    }
    ops.add(client.transactionOp().delete().withVersion(version).forPath(path));
    ops.add(client.transactionOp().create().withMode(CreateMode.PERSISTENT_SEQUENTIAL)
        .forPath(layout.quarantinePrefix(path), data));
    return ops;
  }

  private void applyCallerOps(String context, List<CuratorOp> callerOps, List<CuratorOp> ourOps)
      throws Exception {
    if (callerOps.isEmpty() && ourOps.isEmpty()) {
      return;
    }
    List<CuratorOp> ops = new ArrayList<>(ourOps);
    ops.addAll(callerOps);
    try {
      client.transaction().forOperations(ops);
    } catch (KeeperException e) {
      int failed = firstFailedIndex(e);
      if (failed >= ourOps.size()) {
        throw callerOperationFailed(context, failed - ourOps.size(), e);
      }
      throw e;
    }
  }

  /** What a claim holds: who is exporting the span, for an operator reading it with zkCli. */
  byte[] claimData() {
    return tracing.getHostName().getBytes(StandardCharsets.UTF_8);
  }

  static int firstFailedIndex(KeeperException e) {
    List<OpResult> results = e.getResults();
    if (results == null) {
      return 0;
    }
    for (int i = 0; i < results.size(); i++) {
      OpResult result = results.get(i);
      if (result instanceof OpResult.ErrorResult) {
        int err = ((OpResult.ErrorResult) result).getErr();
        if (err != KeeperException.Code.OK.intValue()
            && err != KeeperException.Code.RUNTIMEINCONSISTENCY.intValue()) {
          return i;
        }
      }
    }
    return 0;
  }

  private static DeferredSpanStoreException callerOperationFailed(String what, int index, KeeperException e) {
    return new DeferredSpanStoreException(
        what + ": the caller's operation #" + index + " failed (" + e.code() + "); nothing was applied", e);
  }

  /**
   * Runs a ZooKeeper call off the caller's thread, so the caller waits at most the operation timeout whatever
   * Curator's retry policy would do.
   */
  <T> T call(String what, Callable<T> body) {
    if (state.get() != State.STARTED) {
      throw new IllegalStateException("store is not started (or already closed)");
    }
    if (!client.getZookeeperClient().isConnected()) {
      throw new DeferredSpanStoreUnavailableException(
          what + ": not connected to ZooKeeper; nothing was sent", false, null);
    }
    Future<T> future;
    try {
      future = callExecutor.submit(body);
    } catch (RejectedExecutionException e) {
      throw new DeferredSpanStoreUnavailableException(
          what + ": too many concurrent store calls; nothing was sent", false, e);
    }
    try {
      return future.get(operationTimeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new DeferredSpanStoreUnavailableException(
          what + ": no answer from ZooKeeper within " + operationTimeout
              + "; the operation may still be applied, and will then complete in the background", true, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DeferredSpanStoreUnavailableException(what + ": interrupted; outcome unknown", true, e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RuntimeException) {
        throw (RuntimeException) cause;
      }
      if (cause instanceof KeeperException.ConnectionLossException
          || cause instanceof KeeperException.SessionExpiredException
          || cause instanceof KeeperException.OperationTimeoutException) {
        throw new DeferredSpanStoreUnavailableException(what + ": " + cause.getMessage(), true, cause);
      }
      throw new DeferredSpanStoreException(what + " failed: " + cause, cause);
    }
  }

  CuratorFramework client() {
    return client;
  }

  DeferredTracing tracing() {
    return tracing;
  }

  ZNodeLayout layout() {
    return layout;
  }

  StoreCounters counters() {
    return counters;
  }

  /** A snapshot of what this store has done since it started. */
  public StoreStats stats() {
    return counters.snapshot();
  }

  /** Builder for {@link DeferredSpanStore}. */
  public static final class Builder {
    private final CuratorFramework client;
    private final DeferredTracing tracing;
    private String basePath = "/deferred-spans";
    private Duration operationTimeout = Duration.ofSeconds(10);
    private Duration acknowledgementTimeout = Duration.ofMinutes(2);
    private int maxConcurrentCalls = 64;

    private Builder(CuratorFramework client, DeferredTracing tracing) {
      this.client = Objects.requireNonNull(client, "client");
      this.tracing = Objects.requireNonNull(tracing, "tracing");
    }

    /** Where the store keeps its znodes (within the client's namespace). Default {@code /deferred-spans}. */
    public Builder basePath(String basePath) {
      this.basePath = basePath;
      return this;
    }

    /** The longest a caller waits for ZooKeeper in one call. Default 10 s. */
    public Builder operationTimeout(Duration operationTimeout) {
      this.operationTimeout = requirePositive(operationTimeout, "operationTimeout");
      return this;
    }

    /**
     * How long an exported span may wait for its exporter's answer before it is handed to the recovery worker
     * (it was probably dropped by a full batch queue). Must exceed the batch delay plus the exporter's timeout
     * and retries. Default 2 min.
     */
    public Builder acknowledgementTimeout(Duration acknowledgementTimeout) {
      this.acknowledgementTimeout = requirePositive(acknowledgementTimeout, "acknowledgementTimeout");
      return this;
    }

    /** How many calls may wait on ZooKeeper at once; more fail fast. Default 64. */
    public Builder maxConcurrentCalls(int maxConcurrentCalls) {
      if (maxConcurrentCalls < 1) {
        throw new IllegalArgumentException("maxConcurrentCalls must be positive");
      }
      this.maxConcurrentCalls = maxConcurrentCalls;
      return this;
    }

    public DeferredSpanStore build() {
      return new DeferredSpanStore(this);
    }

    static Duration requirePositive(Duration duration, String name) {
      if (duration == null || duration.isZero() || duration.isNegative()) {
        throw new IllegalArgumentException(name + " must be positive");
      }
      return duration;
    }
  }
}
