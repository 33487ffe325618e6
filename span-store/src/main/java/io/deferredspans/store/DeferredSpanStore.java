package io.deferredspans.store;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanLimitException;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import io.deferredspans.sdk.internal.DeferredTracingUtil;
import io.opentelemetry.api.metrics.MeterProvider;
import io.opentelemetry.sdk.common.CompletableResultCode;
import java.io.Closeable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.KeeperException;
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
 *       exactly one transaction commits. If ZooKeeper's reply to the winning transaction is lost, the store
 *       reads back, on the same session, the finished span it wrote (it holds a token of this attempt) to tell
 *       "won" from "lost the race"; only when the session itself is gone does the call report the outcome unknown.
 *   <li><b>Nothing lost between end and export.</b> The winning transaction also stores the finished span, held
 *       by this session: its token names the session, whose one ephemeral liveness node ({@code BASE/live})
 *       stands in for a claim per span. The span stays in ZooKeeper until an exporter acknowledged it; if this
 *       host dies first, its liveness node vanishes with its session and a {@link DeferredSpanRecovery} exports
 *       it. The
 *       one window where a span can be exported twice is a crash (or session expiry) after the exporter accepted
 *       it but before the store removed it.
 * </ul>
 *
 * <h2>Connection states</h2>
 *
 * Calls never block the caller beyond the operation timeout. While the client is not connected to ZooKeeper (as
 * while Curator reports SUSPENDED or LOST) calls fail at once with {@link DeferredSpanStoreUnavailableException};
 * the store asks the connection at each call ({@code StoreCalls}) and keeps no state of its own about it. A
 * call that exceeds the timeout throws the same exception with {@linkplain
 * DeferredSpanStoreUnavailableException#isOutcomeUnknown() outcome unknown}. Once a call has returned, whatever
 * its outcome, nothing of it is sent again: every transaction the store writes is sent once, on one session, and
 * an unanswered one is settled by reading what it left behind on that same session, never by re-sending it
 * (Curator's retries, which may re-send on the session opened after an expiry, are not used for writes). If an
 * end that gave up did apply, its span is still exported, by this host or by recovery. Removals of exported
 * spans and releases of claims that fail are retried with backoff on a timer, on the session that holds the
 * claims, while it lives. A session expiry removes this host's liveness node and claims, which hands its
 * unexported spans to the recovery worker.
 *
 * <p>The {@link CuratorFramework} is handed in and must be started; the store never closes it. Call {@link
 * #start()} before use and {@link #close()} when done. Thread-safe.
 */
public final class DeferredSpanStore implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(DeferredSpanStore.class);
  private static final byte[] NO_DATA = new byte[0];
  /** ZooKeeper's default {@code jute.maxbuffer}: the largest request a server accepts unless configured. */
  static final int DEFAULT_SERVER_MAX_BUFFER_BYTES = 0xfffff;

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
  private final StoreCalls calls;
  private final BeginTransaction begin;
  private final ScheduledExecutorService housekeeping;
  private final StoreCounters counters = new StoreCounters();
  private final StoreMetrics metrics;
  private final FreshReads reads;
  private final ClaimSession.Tracker sessions;
  private final SessionFencedCall.Factory fences;
  private final ExportedSpans exported;
  private final EndTransaction endTransaction;
  private final EmbeddedEnd embeddedEnd;
  private final CallerOperations callerOperations;
  private final StoreCore core;
  private final CompletableResultCode shutdownResult = new CompletableResultCode();

  private DeferredSpanStore(Builder builder) {
    this.client = builder.client;
    this.tracing = builder.tracing;
    this.layout = new ZNodeLayout(builder.basePath);
    this.callerOperations = new CallerOperations(client.getNamespace(), layout);
    this.operationTimeout = builder.operationTimeout;
    this.acknowledgementTimeout = builder.acknowledgementTimeout;
    this.shutdownTimeout = builder.shutdownTimeout;
    this.housekeeping =
        Executors.newSingleThreadScheduledExecutor(
            Threads.daemon("deferred-span-store-housekeeping"));
    this.metrics = new StoreMetrics(builder.meterProvider, this::unsettledExports);
    counters.attach(metrics);
    this.reads = new FreshReads(client);
    // A fence that cannot answer within the operation timeout fails the batch: recovery exports it later.
    this.sessions = new ClaimSession.Tracker(client, layout, tracing.getHostName(), operationTimeout, counters);
    this.fences = new SessionFencedCall.Factory(client, sessions, this::isOpen, counters);
    this.calls = new StoreCalls(client, fences, builder.maxConcurrentCalls, operationTimeout,
        () -> state.get() == State.STARTED);
    this.exported = new ExportedSpans(client, tracing, housekeeping, fences, counters,
        builder.timedOutExportBackoff);
    this.endTransaction = new EndTransaction(client, layout, tracing, reads, fences, exported, counters,
        builder.serverMaxBufferBytes);
    this.embeddedEnd = new EmbeddedEnd(client, layout, tracing, endTransaction, exported, counters, calls);
    this.begin = new BeginTransaction(client, layout, endTransaction, calls, counters);
    this.core = new StoreCore(client, tracing, layout, counters, metrics, sessions, fences, exported, endTransaction);
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
    ensurePersistent(layout.liveRoot());
    sessions.current(); // announces this session alive now rather than in the first end
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
      calls.shutdown();
      calls.awaitTermination(remainingNanos(deadline));
      exported.stopHoldingTimedOut();
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
    calls.shutdownNow();
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
    return begin.ops(key, record, DeferredSpanRecordCodec.encode(record));
  }

  /**
   * Stores {@code record} under {@code key} together with the caller's operations, in one transaction.
   *
   * @throws DeferredSpanStoreException if a span is already open under {@code key} or a caller operation fails
   *     (nothing is written in either case)
   * @throws IllegalArgumentException if a caller operation acts on the store's own znodes (nothing is sent)
   * @throws DeferredSpanLimitException if the record is larger than the record format allows, or the whole
   *     transaction larger than the servers accept (nothing is sent)
   * @throws DeferredSpanStoreUnavailableException if ZooKeeper cannot be reached in time; if {@linkplain
   *     DeferredSpanStoreUnavailableException#isOutcomeUnknown() the outcome is unknown}, the transaction may have
   *     been applied, and nothing of it is sent again (see that exception for what to do)
   */
  public DeferredSpanRecord beginDeferredSpan(String key, DeferredSpanRecord record, CuratorOp... callerOps) {
    long startNanos = System.nanoTime();
    List<CuratorOp> ops = callerOperations.requireOutsideStore(Arrays.asList(callerOps), "begin " + key);
    if (begin.begin(key, record, ops)) {
      counters.begun.increment();
      metrics.begun(startNanos);
      tracing.announceBegun(record); // committed: now it may be said to have begun
    }
    return record;
  }

  /** Reads the open record under {@code key}, e.g. to begin child spans under it or to put it in a job request. */
  public Optional<DeferredSpanRecord> read(String key) {
    String path = layout.openPath(key);
    return calls.call(
        "read " + key,
        fence -> {
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
   * @throws IllegalArgumentException if a caller operation acts on the store's own znodes (nothing is sent)
   * @throws DeferredSpanLimitException if the finished span is larger than the record format allows (the end
   *     added too much), or the whole transaction larger than the servers accept (nothing is sent). A record
   *     larger than the format allows is not an exception but {@link EndResult.Outcome#REJECTED_RECORD}.
   * @throws DeferredSpanStoreUnavailableException if ZooKeeper cannot be reached in time ({@linkplain
   *     DeferredSpanStoreUnavailableException#isOutcomeUnknown() says} whether something may have been applied;
   *     nothing of this call is sent after it threw)
   */
  public EndResult endDeferredSpan(String key, DeferredSpanEnding ending, List<CuratorOp> callerOps) {
    String path = layout.openPath(key);
    List<CuratorOp> ops = callerOperations.requireOutsideStore(callerOps, "end " + key);
    long startNanos = System.nanoTime();
    EndResult result = calls.call("end " + key, fence -> endTransaction.end(fence, path, ending, ops));
    metrics.ended(result.getOutcome(), startNanos);
    return result;
  }

  /** {@link #endEmbeddedSpan(String, byte[], DeferredSpanEnding, List)} with operations as varargs. */
  public EndResult endEmbeddedSpan(
      String itemPath, byte[] recordBytes, DeferredSpanEnding ending, CuratorOp... dequeueOps) {
    return endEmbeddedSpan(itemPath, recordBytes, ending, Arrays.asList(dequeueOps));
  }

  /**
   * Ends a span whose record the caller keeps inside its own item znode (<b>embedded mode</b>), in one
   * transaction with the caller's dequeue, then exports it through this host's pipeline.
   *
   * <p>In embedded mode the begin costs no ZooKeeper operation: the caller puts {@link
   * DeferredSpanRecord#toBytes()} into the item's own data when it creates the item. To end, it reads the item
   * (as every consumer does), takes the record's bytes out of it and passes them here with operations that delete
   * or rewrite that item <b>at the version it read</b>:
   *
   * <pre>{@code
   * Stat stat = new Stat();
   * byte[] item = client.getData().storingStatIn(stat).forPath(itemPath);
   * EndResult result = store.endEmbeddedSpan(itemPath, recordBytesOf(item), DeferredSpanEnding.now(),
   *     client.transactionOp().delete().withVersion(stat.getVersion()).forPath(itemPath));
   * }</pre>
   *
   * The caller's versioned operation is what makes the end happen once: of hosts racing with the same bytes, only
   * one changes the item at that version (a rewrite must leave the record out of the item's new data, or a later
   * end could end it again). So the guarantees of {@link #endDeferredSpan} hold with these
   * differences: the item's paths must not be reused while an end of an earlier item of that path may still be
   * in flight (ZooKeeper's sequential nodes, as queues use, are never reused; a re-created node starts again at
   * version 0); recovery does not see open spans, so an item deleted without this call loses its span silently,
   * as it would its data; and the outcome {@link EndResult.Outcome#ABANDONED} does not occur. Between end and
   * export nothing differs: the finished span waits in ZooKeeper, held by this session, until an exporter
   * took it, and recovery exports it if this host dies first.
   *
   * @param itemPath the item's path (in the client's namespace), for the operations' check, errors and quarantine
   * @param recordBytes the record's bytes as {@link DeferredSpanRecord#toBytes()} wrote them, or {@code null} if
   *     the item holds none (tracing was disabled at begin): then only the caller's operations are applied
   *     ({@link EndResult.Outcome#NO_RECORD}). Bytes that are not a record this library reads are kept in
   *     quarantine and the operations applied ({@link EndResult.Outcome#REJECTED_RECORD}).
   * @throws IllegalArgumentException if no operation deletes or rewrites {@code itemPath} at a version, if one
   *     writes the record's bytes back into {@code itemPath}, or if one acts on the store's own znodes (nothing is
   *     sent in any of these cases)
   * @throws DeferredSpanLimitException as for {@link #endDeferredSpan}
   * @throws DeferredSpanStoreUnavailableException as for {@link #endDeferredSpan}; running the same end again
   *     is safe
   */
  public EndResult endEmbeddedSpan(
      String itemPath, byte[] recordBytes, DeferredSpanEnding ending, List<CuratorOp> dequeueOps) {
    Objects.requireNonNull(ending, "ending");
    List<CuratorOp> ops = callerOperations.requireOutsideStore(dequeueOps, "end " + itemPath);
    embeddedEnd.requireOnceOnly(itemPath, recordBytes, ops);
    long startNanos = System.nanoTime();
    EndResult result = embeddedEnd.end(itemPath, recordBytes, ending, ops);
    metrics.ended(result.getOutcome(), startNanos);
    return result;
  }

  private void expireAcknowledgements() {
    int expired = DeferredTracingUtil.expireAcknowledgements(tracing, acknowledgementTimeout);
    if (expired > 0) {
      log.warn("{} deferred spans were never taken by an exporter within {} (a processor dropped them); handing "
          + "them to recovery", expired, acknowledgementTimeout);
    }
  }

  // ---------------------------------------------------------------- shared with recovery

  /** The parts a {@link DeferredSpanRecovery} works with, handed to it once when it is built. */
  StoreCore core() {
    return core;
  }

  /** For tests: calls whose body is still running, including those whose caller already gave up waiting. */
  int callsInFlight() {
    return calls.inFlight();
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
    private Duration timedOutExportBackoff = Duration.ofMinutes(1);
    private MeterProvider meterProvider = MeterProvider.noop();
    private int serverMaxBufferBytes = DEFAULT_SERVER_MAX_BUFFER_BYTES;

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
     * The longest a span whose export timed out stays claimed by this host before recovery may send it again.
     * A timed-out export may have been delivered, and a hung collector keeps what it is sent: sending the span
     * again while it still hangs makes a copy each time. So its claim is kept until this host's exporter is
     * answered again (then it goes back to recovery at once, and the collector gets at most one more copy), or
     * for this long if no answer comes sooner. A refused export is handed back at once. Default 1 min.
     */
    public Builder timedOutExportBackoff(Duration timedOutExportBackoff) {
      this.timedOutExportBackoff = requirePositive(timedOutExportBackoff, "timedOutExportBackoff");
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

    /**
     * The {@code jute.maxbuffer} of the ZooKeeper <em>servers</em>, if they were configured with a larger one than
     * ZooKeeper's default of 1,048,575 bytes: the largest request they accept. It bounds only how large the
     * caller's own operations in an end may be; every record and finished span the record format allows fits
     * below the default whatever it is set to. The client's own {@code jute.maxbuffer} property is not consulted:
     * a client allowed larger packets than its servers would send requests they drop, connection after
     * connection. Default 1,048,575.
     */
    public Builder serverMaxBufferBytes(int serverMaxBufferBytes) {
      if (serverMaxBufferBytes < DEFAULT_SERVER_MAX_BUFFER_BYTES) {
        throw new IllegalArgumentException("serverMaxBufferBytes must be at least ZooKeeper's default of "
            + DEFAULT_SERVER_MAX_BUFFER_BYTES + ": every end of a valid record must fit");
      }
      this.serverMaxBufferBytes = serverMaxBufferBytes;
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
