package io.deferredspans.store.simulation;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;

/**
 * What goes wrong under one host's ZooKeeper calls, decided by the schedule: faults armed for the next matching
 * call, a seeded rate of connection losses before sending, freezes and held replies. Shared by every {@link
 * FaultyZooKeeper} handle the host's Curator client opens (a new one after each session expiry), so it also keeps
 * the times at which the host lost a session: a duplicate export is in a documented window only if it follows one.
 */
final class FaultPlan {
  static final String STORE_CALL_THREAD = "deferred-span-store-call";
  static final String RECOVERY_THREAD = "deferred-span-recovery";

  enum CallKind {
    CREATE,
    DELETE,
    SET_DATA,
    GET_DATA,
    EXISTS,
    GET_CHILDREN,
    MULTI
  }

  /** A fault for the next call of {@code kind} on a thread named {@code threadPrefix}, on a path ending so. */
  private static final class Armed {
    final Fault fault;
    final CallKind kind;
    final String threadPrefix;
    final String pathSuffix;

    Armed(Fault fault, CallKind kind, String threadPrefix, String pathSuffix) {
      this.fault = fault;
      this.kind = kind;
      this.threadPrefix = threadPrefix;
      this.pathSuffix = pathSuffix;
    }

    boolean matches(CallKind call, String path) {
      return call == kind && Thread.currentThread().getName().startsWith(threadPrefix)
          && (pathSuffix == null || (path != null && path.endsWith(pathSuffix)));
    }
  }

  private final String connectString;
  private final Random random;
  private final FaultCounts counts;
  private final List<Armed> armed = new ArrayList<>();
  private final List<CountDownLatch> heldReplies = new ArrayList<>();
  private final List<Long> sessionLossNanos = new ArrayList<>();
  private final List<Long> livenessDeletedNanos = new ArrayList<>();
  private final AtomicReference<ZooKeeper> current = new AtomicReference<>();
  private final AtomicInteger handles = new AtomicInteger();
  private final AtomicInteger heldCallsUnsettled = new AtomicInteger();
  private volatile double connectionLossRate;
  private volatile CountDownLatch frozen;
  private volatile boolean healed;

  FaultPlan(String connectString, long seed, double connectionLossRate, FaultCounts counts) {
    this.connectString = connectString;
    this.random = new Random(seed);
    this.connectionLossRate = connectionLossRate;
    this.counts = counts;
  }

  // ------------------------------------------------------------ set by the schedule

  synchronized void arm(Fault fault, CallKind kind, String threadPrefix, String pathSuffix) {
    armed.add(new Armed(fault, kind, threadPrefix, pathSuffix));
  }

  synchronized void disarm() {
    armed.clear();
  }

  /** Disarms what was armed for threads named {@code threadPrefix} only. */
  synchronized void disarm(String threadPrefix) {
    armed.removeIf(fault -> fault.threadPrefix.equals(threadPrefix));
  }

  synchronized boolean hasArmed() {
    return !armed.isEmpty();
  }

  /** Ends this host's session on the server between two calls, as the ensemble does after a pause. */
  void expireSessionBetweenCalls() throws Exception {
    counts.add(Fault.SESSION_EXPIRED_BETWEEN_CALLS);
    expireOnServer(current.get());
  }

  /** Blocks every call of the host while the ensemble expires its session; thaws once Curator has a new one. */
  void freezePastSessionTimeout() throws Exception {
    counts.add(Fault.HOST_FROZEN_PAST_SESSION_TIMEOUT);
    int before = handles.get();
    CountDownLatch gate = new CountDownLatch(1);
    frozen = gate;
    try {
      expireOnServer(current.get());
      SimClock.awaitQuietly(() -> handles.get() > before, 3_000);
    } finally {
      frozen = null;
      gate.countDown();
    }
  }

  /** Lets held replies go: each is lost, and its session expires, as if the host had been paused meanwhile. */
  void releaseHeldReplies() {
    List<CountDownLatch> release;
    synchronized (this) {
      release = new ArrayList<>(heldReplies);
      heldReplies.clear();
    }
    release.forEach(CountDownLatch::countDown);
  }

  /** Faults off: nothing armed, no losses, nothing frozen or held. What is under way completes. */
  void heal() {
    healed = true;
    connectionLossRate = 0;
    synchronized (this) {
      armed.clear();
    }
    releaseHeldReplies();
    CountDownLatch gate = frozen;
    if (gate != null) {
      gate.countDown();
    }
  }

  /** Whether every call whose reply was held has come back through Curator's retry (or given up). */
  boolean heldCallsSettled() {
    return heldCallsUnsettled.get() == 0;
  }

  synchronized List<Long> sessionLossNanos() {
    return new ArrayList<>(sessionLossNanos);
  }

  synchronized void recordSessionLoss() {
    sessionLossNanos.add(System.nanoTime());
  }

  synchronized List<Long> livenessDeletedNanos() {
    return new ArrayList<>(livenessDeletedNanos);
  }

  /** Another writer deleted this host's liveness node, now. */
  synchronized void recordLivenessDeleted() {
    livenessDeletedNanos.add(System.nanoTime());
  }

  ZooKeeper current() {
    return current.get();
  }

  // ------------------------------------------------------------ used by the handles

  void newHandle(ZooKeeper handle) {
    if (handles.getAndIncrement() > 0) {
      recordSessionLoss(); // Curator opens a new handle only after the last session ended
    }
    current.set(handle);
  }

  <T> T run(ZooKeeper handle, CallKind kind, String path, FaultyZooKeeper.Call<T> call)
      throws KeeperException, InterruptedException {
    Fault fault = next(kind, path);
    return fault == null ? call.call() : inject(handle, fault, call);
  }

  /**
   * The fault for a call of {@code kind} on {@code path} the calling thread is about to make, or null; blocks
   * first while the host is frozen. Decided on the caller's thread: the plan matches faults by thread name.
   */
  Fault next(CallKind kind, String path) throws InterruptedException {
    CountDownLatch gate = frozen;
    if (gate != null) {
      gate.await(10, TimeUnit.SECONDS);
    }
    return take(kind, path);
  }

  /** Makes {@code call} with {@code fault}: what is applied and what answer comes back. */
  <T> T inject(ZooKeeper handle, Fault fault, FaultyZooKeeper.Call<T> call)
      throws KeeperException, InterruptedException {
    counts.add(fault);
    switch (fault) {
      case CONNECTION_LOSS_BEFORE_SEND:
        throw new KeeperException.ConnectionLossException();
      case CLIENT_SESSION_EXPIRY_BEFORE_CALL:
        recordSessionLoss();
        handle.getTestable().injectSessionExpiration();
        return call.call();
      case REPLY_DROPPED:
        applyIgnoringReply(call);
        throw new KeeperException.ConnectionLossException();
      case REPLY_DROPPED_SESSION_EXPIRED:
      case RECOVERY_CLAIM_REPLY_LOST_SESSION_EXPIRED:
        applyIgnoringReply(call);
        expireOnServerQuietly(handle);
        throw new KeeperException.ConnectionLossException();
      case REPLY_HELD_PAST_TIMEOUT:
        applyIgnoringReply(call);
        CountDownLatch release = new CountDownLatch(1);
        synchronized (this) {
          heldReplies.add(release);
        }
        heldCallsUnsettled.incrementAndGet();
        try {
          release.await(60, TimeUnit.SECONDS);
          expireOnServerQuietly(handle);
        } finally {
          heldCallsUnsettled.decrementAndGet();
        }
        throw new KeeperException.ConnectionLossException();
      default:
        throw new IllegalStateException("not a ZooKeeper call fault: " + fault);
    }
  }

  private static void applyIgnoringReply(FaultyZooKeeper.Call<?> call) throws InterruptedException {
    try {
      call.call();
    } catch (KeeperException refused) {
      // the server answered with an error: nothing was applied, and the reply is lost all the same
    }
  }

  private synchronized Fault take(CallKind kind, String path) {
    if (healed) {
      return null;
    }
    for (Iterator<Armed> it = armed.iterator(); it.hasNext(); ) {
      Armed next = it.next();
      if (next.matches(kind, path)) {
        it.remove();
        return next.fault;
      }
    }
    String thread = Thread.currentThread().getName();
    boolean ours = thread.startsWith(STORE_CALL_THREAD) || thread.startsWith(RECOVERY_THREAD);
    return ours && random.nextDouble() < connectionLossRate ? Fault.CONNECTION_LOSS_BEFORE_SEND : null;
  }

  private void expireOnServerQuietly(ZooKeeper handle) {
    try {
      expireOnServer(handle);
    } catch (Exception e) {
      throw new IllegalStateException("could not expire a session", e);
    }
  }

  /** A second handle joins the session and closes it: the ensemble ends it, ephemerals go at once. */
  private void expireOnServer(ZooKeeper handle) throws Exception {
    if (handle == null) {
      return;
    }
    recordSessionLoss();
    CountDownLatch joined = new CountDownLatch(1);
    ZooKeeper twin = new ZooKeeper(connectString, handle.getSessionTimeout(), event -> {
      if (event.getState() == Watcher.Event.KeeperState.SyncConnected) {
        joined.countDown();
      }
    }, handle.getSessionId(), handle.getSessionPasswd());
    try {
      joined.await(5, TimeUnit.SECONDS);
    } finally {
      twin.close();
    }
  }

  /** Per-schedule tally of what was injected. */
  static final class FaultCounts {
    private final Map<Fault, Integer> counts = new EnumMap<>(Fault.class);

    synchronized void add(Fault fault) {
      counts.merge(fault, 1, Integer::sum);
    }

    synchronized boolean contains(Fault fault) {
      return counts.containsKey(fault);
    }

    synchronized Map<Fault, Integer> snapshot() {
      Map<Fault, Integer> copy = new EnumMap<>(Fault.class);
      copy.putAll(counts);
      return copy;
    }
  }
}
