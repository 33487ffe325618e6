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
import io.opentelemetry.api.metrics.MeterProvider;
import io.opentelemetry.sdk.common.CompletableResultCode;
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
  private static final byte[] NO_DATA = new byte[0];

  private enum State {
    LATENT,
    STARTED,
    CLOSING,
    CLOSED
  }

  private final CuratorFramework client;
  private final DeferredTracing tracing;
  private final ZNodeLayout layout;
  private final Duration operationTimeout;
  private final Duration acknowledgementTimeout;
  private final Duration shutdownTimeout;
  private final AtomicReference<State> state = new AtomicReference<>(State.LATENT);
  private final ThreadPoolExecutor callExecutor;
  private final ScheduledExecutorService housekeeping;
  private final StoreCounters counters = new StoreCounters();
  private final StoreMetrics metrics;
  private final FreshReads reads;
  private final ClaimSession.Tracker sessions;
  private final ExportedSpans exported;
  private final EndTransaction endTransaction;
  private final CompletableResultCode shutdownResult = new CompletableResultCode();

  private DeferredSpanStore(Builder builder) {
    this.client = builder.client;
    this.tracing = builder.tracing;
    this.layout = new ZNodeLayout(builder.basePath);
    this.operationTimeout = builder.operationTimeout;
    this.acknowledgementTimeout = builder.acknowledgementTimeout;
    this.shutdownTimeout = builder.shutdownTimeout;
    this.callExecutor =
        new ThreadPoolExecutor(
            0, builder.maxConcurrentCalls, 30, TimeUnit.SECONDS, new SynchronousQueue<>(),
            Threads.daemon("deferred-span-store-call"));
    this.housekeeping =
        Executors.newSingleThreadScheduledExecutor(
            Threads.daemon("deferred-span-store-housekeeping"));
    this.metrics = new StoreMetrics(builder.meterProvider, this::unsettledExports);
    counters.attach(metrics);
    this.reads = new FreshReads(client, this::isOpen, counters);
    // A fence that cannot answer within the operation timeout fails the batch: recovery exports it later.
    this.sessions = new ClaimSession.Tracker(client, operationTimeout, counters);
    this.exported = new ExportedSpans(client, tracing, housekeeping, counters);
    this.endTransaction = new EndTransaction(client, layout, tracing, reads, sessions, exported, counters);
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
    ensurePersistent(layout.abandonedRoot());
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
      client.create().creatingParentsIfNeeded().forPath(path, NO_DATA);
    } catch (KeeperException.NodeExistsException alreadyThere) {
      // another host created it first: fine
    }
  }

  private boolean isOpen() {
    State now = state.get();
    return now == State.STARTED || now == State.CLOSING;
  }

  /**
   * Shuts down gracefully, as {@code BatchSpanProcessor.shutdown()} does: refuses new calls, waits for the calls
   * under way, flushes the pipeline so the spans this store handed to it reach their exporters, and waits until
   * their stored copies are removed (or their claims released after a failed export), all within the shutdown
   * timeout. Call it before shutting down the SDK and before closing the Curator client.
   *
   * <p>Whatever is still unsettled when the timeout ends stays in ZooKeeper, claimed by this session, and recovery
   * exports it once the session is gone: a span whose export was still under way then may be exported twice.
   *
   * @return completes when done; fails if something was left unsettled at the timeout
   */
  public CompletableResultCode shutdown() {
    if (state.compareAndSet(State.STARTED, State.CLOSING)) {
      Thread drainer = Threads.daemon("deferred-span-store-shutdown").newThread(this::drain);
      drainer.start();
    } else if (state.compareAndSet(State.LATENT, State.CLOSED)) {
      stopThreads();
      shutdownResult.succeed();
    }
    return shutdownResult;
  }

  private void drain() {
    long deadline = System.nanoTime() + shutdownTimeout.toNanos();
    boolean settled = false;
    try {
      callExecutor.shutdown();
      callExecutor.awaitTermination(remainingNanos(deadline), TimeUnit.NANOSECONDS);
      // Not joined: a processor already shut down never completes a flush; what counts is that spans settle.
      tracing.forceFlush();
      settled = exported.awaitSettled(Duration.ofNanos(remainingNanos(deadline)));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      if (!settled) {
        log.warn("shutdown: {} exported spans were not settled within {}; they stay in ZooKeeper and recovery "
            + "exports them once this session ends (a span an exporter still delivers may then be exported twice)",
            exported.unsettled(), shutdownTimeout);
      }
      state.set(State.CLOSED);
      stopThreads();
      if (settled) {
        shutdownResult.succeed();
      } else {
        shutdownResult.fail();
      }
    }
  }

  private static long remainingNanos(long deadline) {
    return Math.max(0, deadline - System.nanoTime());
  }

  private void stopThreads() {
    housekeeping.shutdownNow();
    callExecutor.shutdownNow();
  }

  /** {@link #shutdown()}, waiting for it at most the shutdown timeout. */
  @Override
  public void close() {
    shutdown().join(shutdownTimeout.toMillis() + 1_000, TimeUnit.MILLISECONDS);
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
   * tracing.announceBegun(record); // only if start events are on; after the commit
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
          // Explicitly empty: without data, Curator writes the client's IP address.
          client.transactionOp().create().withMode(CreateMode.PERSISTENT)
              .forPath(ZNodeLayout.markerPath(path, record.getSpanContext().getSpanId()), NO_DATA));
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
    long startNanos = System.nanoTime();
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
            byte[] stored = reads.untilAnswered("begin " + key, () -> reads.data(path, new Stat()));
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
    metrics.begun(startNanos);
    tracing.announceBegun(record); // committed: now it may be said to have begun
    return record;
  }

  /** Reads the open record under {@code key}, e.g. to begin child spans under it or to put it in a job request. */
  public Optional<DeferredSpanRecord> read(String key) {
    String path = layout.openPath(key);
    return call(
        "read " + key,
        () -> {
          byte[] data = reads.dataConfirmingAbsence(path, new Stat());
          return data == null ? Optional.empty() : Optional.of(DeferredSpanRecordCodec.decodeRecord(data, path));
        });
  }

  // ---------------------------------------------------------------- end

  /** {@link #endDeferredSpan(String, DeferredSpanEnding, List)} with operations as varargs. */
  public EndResult endDeferredSpan(String key, DeferredSpanEnding ending, CuratorOp... callerOps) {
    return endDeferredSpan(key, ending, Arrays.asList(callerOps));
  }

  /**
   * Ends the span under {@code key} in one transaction with the caller's operations (e.g. deleting the queue
   * item), then exports it through this host's pipeline. Every end has exactly one of the {@linkplain
   * EndResult.Outcome outcomes}; it is safe to retry, from this or any host.
   *
   * @throws io.deferredspans.sdk.DeferredSpanLimitException if the end is larger than ZooKeeper accepts in one
   *     transaction (nothing is sent)
   * @throws DeferredSpanStoreUnavailableException if ZooKeeper cannot be reached in time ({@linkplain
   *     DeferredSpanStoreUnavailableException#isOutcomeUnknown() says} whether something may have been applied)
   */
  public EndResult endDeferredSpan(String key, DeferredSpanEnding ending, List<CuratorOp> callerOps) {
    String path = layout.openPath(key);
    List<CuratorOp> ops = List.copyOf(callerOps);
    long startNanos = System.nanoTime();
    EndResult result = call("end " + key, () -> endTransaction.end(path, ending, ops));
    metrics.ended(result.getOutcome(), startNanos);
    return result;
  }

  private void expireAcknowledgements() {
    int expired = tracing.expireAcknowledgements(acknowledgementTimeout);
    if (expired > 0) {
      log.warn("{} deferred spans were never taken by an exporter within {} (a processor dropped them); handing "
          + "them to recovery", expired, acknowledgementTimeout);
    }
  }

  // ---------------------------------------------------------------- shared with recovery

  EndTransaction endTransaction() {
    return endTransaction;
  }

  ExportedSpans exportedSpans() {
    return exported;
  }

  ClaimSession.Tracker sessions() {
    return sessions;
  }

  FreshReads reads() {
    return reads;
  }

  static int firstFailedIndex(KeeperException e) {
    return EndTransaction.firstFailedIndex(e);
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

  StoreMetrics metrics() {
    return metrics;
  }

  private int unsettledExports() {
    return exported.unsettled();
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
    private Duration shutdownTimeout = Duration.ofSeconds(30);
    private MeterProvider meterProvider = MeterProvider.noop();

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
     * How long an exported span may wait for an exporter to <em>take</em> it before it is handed to the recovery
     * worker (a processor dropped it, e.g. from a full batch queue). Once an exporter has the span, only its
     * answer decides, however long the export takes. Must exceed the batch delay plus the time a full queue takes
     * to drain. Default 2 min.
     */
    public Builder acknowledgementTimeout(Duration acknowledgementTimeout) {
      this.acknowledgementTimeout = requirePositive(acknowledgementTimeout, "acknowledgementTimeout");
      return this;
    }

    /**
     * The longest {@link #shutdown()} waits for the spans this store handed to the pipeline to be acknowledged
     * and removed. Should exceed the batch delay plus the exporter's timeout. Default 30 s.
     */
    public Builder shutdownTimeout(Duration shutdownTimeout) {
      this.shutdownTimeout = requirePositive(shutdownTimeout, "shutdownTimeout");
      return this;
    }

    /**
     * Where the store's metrics go: the host's own {@code MeterProvider}, e.g. {@code sdk.getSdkMeterProvider()}
     * of the SDK autoconfigure built, so they are exported like every other metric of the host ({@code
     * OTEL_METRICS_EXPORTER}). Instruments: {@code deferred_span.begins}, {@code deferred_span.ends} (by {@code
     * deferred_span.end.outcome}), {@code deferred_span.operation.duration} (by {@code deferred_span.operation.name}),
     * {@code deferred_span.recovered}, {@code deferred_span.abandoned} (by {@code deferred_span.abandon_reason}),
     * {@code deferred_span.quarantined}, {@code deferred_span.dropped}, {@code deferred_span.removal.pending};
     * a started {@link DeferredSpanRecovery} that leads adds its own (docs/operations.md lists them all).
     * Default: no metrics.
     */
    public Builder meterProvider(MeterProvider meterProvider) {
      this.meterProvider = Objects.requireNonNull(meterProvider, "meterProvider");
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
