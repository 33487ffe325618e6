package io.deferredspans.store.simulation;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.store.DeferredSpanStoreException;
import io.deferredspans.store.DeferredSpanStoreLayout;
import io.deferredspans.store.DeferredSpanStoreUnavailableException;
import io.deferredspans.store.EndResult;
import io.deferredspans.store.simulation.FaultPlan.CallKind;
import io.deferredspans.store.simulation.HostileWriter.Planted;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.data.LongPointData;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;

/**
 * One seeded schedule: starts a few hosts on a fresh base path, runs random begins, ends, racing ends, restarts,
 * leadership moves and faults (every random choice drawn from the seed), heals, lets recovery finish, and checks
 * every {@link Invariant}. Threads and ZooKeeper make timing vary between runs of one seed; the choices do not.
 */
final class Simulation {
  /** Everything schedules share: one ZooKeeper server, a fault-free observer client, thread pools. */
  static final class Shared {
    final String connectString;
    final CuratorFramework observer;
    final DeferredTracing otherWriter;
    final ScheduledExecutorService timer;
    final ExecutorService racers;

    Shared(String connectString, CuratorFramework observer, DeferredTracing otherWriter,
        ScheduledExecutorService timer, ExecutorService racers) {
      this.connectString = connectString;
      this.observer = observer;
      this.otherWriter = otherWriter;
      this.timer = timer;
      this.racers = racers;
    }
  }

  private enum BeginOutcome {
    COMMITTED,
    ALREADY_OPEN,
    NOTHING_WRITTEN,
    UNKNOWN
  }

  /** One begin call and what it was told. */
  private static final class BeginCall {
    final String key;
    final String item;
    final DeferredSpanRecord record;
    BeginOutcome outcome;
    String detail = "";
    /** For a begin not reported committed: whether its item was absent when the call returned. */
    boolean absentAtReturn;

    BeginCall(String key, String item, DeferredSpanRecord record) {
      this.key = key;
      this.item = item;
      this.record = record;
    }
  }

  /** One end call and what it was told. */
  private static final class EndCall {
    final String key;
    final String host;
    final String outcome; // an EndResult.Outcome name, or UNKNOWN / NOTHING_APPLIED / ERROR
    final boolean callerOpsApplied;

    EndCall(String key, String host, String outcome, boolean callerOpsApplied) {
      this.key = key;
      this.host = host;
      this.outcome = outcome;
      this.callerOpsApplied = callerOpsApplied;
    }
  }

  private static final long HEAL_MILLIS = 6_000;
  private static final byte[] EMBEDDED_GARBAGE = "{\"v\":1,\"c\":\"garbage".getBytes(StandardCharsets.UTF_8);
  private static final int ZNODE_SHARDS = 256;
  /** Waits poll what the store watch saw; every so many polls they ask the server all the same. */
  private static final int SERVER_POLL_EVERY = 20;
  private static final long WINDOW_SLACK_NANOS = TimeUnit.MILLISECONDS.toNanos(SimHost.SESSION_TIMEOUT_MS);

  private final Shared shared;
  private final long seed;
  private final Random random;
  private final ScheduleReport report;
  private final FaultPlan.FaultCounts faults = new FaultPlan.FaultCounts();
  private final String root;
  private final String base;
  private final String items;
  private final DeferredSpanStoreLayout layout;
  private final List<SimHost> hosts = new ArrayList<>();
  private final Map<String, FaultPlan> plansByHost = new HashMap<>();
  private final Map<String, Boolean> unsettledShutdown = new HashMap<>();
  private final List<BeginCall> begins = new ArrayList<>();
  private final List<EndCall> ends = new ArrayList<>();
  private final Set<String> droppableSpans = new HashSet<>();
  /** Keys whose record rides inside the item (embedded mode); ended with {@code endEmbeddedSpan}. */
  private final Set<String> embeddedKeys = new HashSet<>();
  /** Each shard's children as last listed (the checks list every shard): what tearDown need not list again. */
  private final Map<String, List<String>> listedShards = new HashMap<>();
  private final Collector collector = new Collector();
  /**
   * Every host's store, restarted ones too, counts into one provider: what the retention bound dropped is then a
   * count the checks can hold the undelivered spans to, not a fault they excuse them by.
   */
  private final InMemoryMetricReader metrics = InMemoryMetricReader.create();
  private final SdkMeterProvider meters = SdkMeterProvider.builder().registerMetricReader(metrics).build();
  private long droppedAtBound;
  private long excusedByDrops;
  private SimHost withoutExporter;
  private double lossRate; // of every ZooKeeper call of every host, drawn per schedule
  private HostileWriter writer;
  private ItemWatch itemWatch;
  private StoreWatch storeWatch;
  private int maxRetainedSpans = 100_000;
  private boolean backlogDone;
  private int keys;
  private int incarnations;

  Simulation(Shared shared, long seed) {
    this.shared = shared;
    this.seed = seed;
    this.random = new Random(seed);
    this.report = new ScheduleReport(seed);
    this.root = "/sim-" + Long.toUnsignedString(seed) + "-" + System.nanoTime();
    this.base = root + "/store";
    this.items = root + "/items";
    this.layout = DeferredSpanStoreLayout.of(base);
  }

  ScheduleReport run() {
    long start = System.nanoTime();
    try {
      setUp();
      int steps = 6 + random.nextInt(9);
      for (int i = 0; i < steps; i++) {
        step();
        plansByHost.values().forEach(FaultPlan::disarm); // a fault its step did not reach must not hit the next
      }
      heal();
      check();
    } catch (Throwable e) {
      report.crash = e;
    } finally {
      tearDown();
      report.faults = faults.snapshot();
      report.millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    }
    return report;
  }

  // ================================================================ set-up

  private void setUp() throws Exception {
    CuratorFramework observer = shared.observer;
    // One transaction for the whole layout: the store's start() then finds every shard and creates nothing.
    List<CuratorOp> ops = new ArrayList<>();
    for (String path : List.of(root, base, layout.openRoot(), layout.endedRoot(), items)) {
      ops.add(observer.transactionOp().create().forPath(path, new byte[0]));
    }
    for (String shard : layout.openShards()) {
      ops.add(observer.transactionOp().create().forPath(shard, new byte[0]));
    }
    for (String shard : layout.endedShards()) {
      ops.add(observer.transactionOp().create().forPath(shard, new byte[0]));
    }
    ops.add(observer.transactionOp().create().forPath(layout.quarantineRoot(), new byte[0]));
    ops.add(observer.transactionOp().create().forPath(layout.abandonedRoot(), new byte[0]));
    try {
      observer.transaction().forOperations(ops);
    } catch (KeeperException.NodeExistsException retriedAfterALostReply) {
      // The observer's own transaction, retried by Curator after a lost reply: fine if it is all there.
      if (observer.checkExists().forPath(layout.abandonedRoot()) == null) {
        throw retriedAfterALostReply;
      }
    }
    itemWatch = ItemWatch.start(observer, items);
    storeWatch = StoreWatch.start(observer, layout.openRoot(), layout.endedRoot());
    writer = new HostileWriter(observer, layout, shared.otherWriter, root + "/owners");

    if (random.nextInt(100) < 10) {
      maxRetainedSpans = 2;
    }
    lossRate = random.nextBoolean() ? 0 : 0.02;
    int count = 2 + random.nextInt(2);
    for (int i = 0; i < count; i++) {
      hosts.add(startHost("h" + i, lossRate, true));
    }
    if (random.nextInt(100) < 12) {
      faults.add(Fault.RECOVERY_WITHOUT_EXPORTER);
      try {
        withoutExporter = startHost("no-exporter", lossRate, false);
        // Not refused: what it deletes unexported shows as COMMITTED_SPAN_NOT_EXPORTED (hole 2.4).
        report.step("host without exporter runs recovery");
      } catch (IllegalStateException refused) {
        report.step("recovery refused on a host without exporter, as documented: " + refused.getMessage());
      }
    }
    report.step(count + " hosts" + (maxRetainedSpans < 100_000 ? ", maxRetainedSpans=" + maxRetainedSpans : "")
        + (lossRate > 0 ? ", 2% connection loss" : ""));
  }

  private SimHost startHost(String name, double lossRate, boolean withExporter) throws Exception {
    String incarnation = name + "#" + (++incarnations);
    FaultPlan plan = new FaultPlan(shared.connectString, seed * 31 + incarnations, lossRate, faults);
    plansByHost.put(incarnation, plan);
    return SimHost.start(incarnation, shared.connectString, base, plan, collector, shared.timer, withExporter,
        maxRetainedSpans, meters);
  }

  private void tearDown() {
    List<SimHost> all = new ArrayList<>(hosts);
    if (withoutExporter != null) {
      all.add(withoutExporter);
    }
    plansByHost.values().forEach(FaultPlan::heal);
    List<Future<?>> stopping = new ArrayList<>();
    for (SimHost host : all) {
      stopping.add(shared.racers.submit(host::shutdown));
    }
    for (Future<?> stop : stopping) {
      try {
        stop.get(30, TimeUnit.SECONDS);
      } catch (Exception e) {
        // best effort: the next schedule has its own paths
      }
    }
    meters.close();
    if (itemWatch != null) {
      itemWatch.stop();
    }
    if (storeWatch != null) {
      storeWatch.stop();
    }
    removeTree();
  }

  /**
   * Deletes the schedule's whole tree in one transaction, in the runner's thread. Every schedule's tree adds to
   * the server's: its 512 shards, left behind, would make the count of descendants (recovery's, at every pass)
   * cost more with every schedule, as ZooKeeper counts them over every node it holds. The shards the checks listed
   * are not listed again; whatever comes after them (or a tree the checks never listed) fails the transaction,
   * and the tree is then deleted node by node.
   */
  private void removeTree() {
    CuratorFramework observer = shared.observer;
    try {
      List<String> postOrder = new ArrayList<>();
      collectForDeletion(root, postOrder);
      List<CuratorOp> ops = new ArrayList<>();
      for (String path : postOrder) {
        ops.add(observer.transactionOp().delete().forPath(path));
      }
      observer.transaction().forOperations(ops);
    } catch (Exception changedMeanwhile) {
      try {
        observer.delete().guaranteed().deletingChildrenIfNeeded().forPath(root);
      } catch (Exception e) {
        // left for the server's temp directory
      }
    }
  }

  private void collectForDeletion(String path, List<String> postOrder) throws Exception {
    List<String> children = listedShards.get(path);
    if (children == null) {
      children = shared.observer.getChildren().forPath(path);
    }
    for (String child : children) {
      collectForDeletion(ZKPaths.makePath(path, child), postOrder);
    }
    postOrder.add(path);
  }

  // ================================================================ steps

  private void step() throws Exception {
    int roll = random.nextInt(100);
    if (roll < 30) {
      begin(anyHost(), zooKeeperFault(), true);
    } else if (roll < 52) {
      existingKey().ifPresentOrElse(key -> end(anyHost(), key, zooKeeperFault()),
          () -> begin(anyHost(), zooKeeperFault(), true));
    } else if (roll < 59) {
      raceEnds();
    } else if (roll < 63) {
      restart();
    } else if (roll < 69) {
      moveLeadership();
    } else if (roll < 72) {
      SimHost host = anyHost();
      report.step("freeze " + host.name);
      host.plan.freezePastSessionTimeout();
    } else if (roll < 75) {
      SimHost host = anyHost();
      report.step("expire " + host.name);
      host.plan.expireSessionBetweenCalls();
    } else if (roll < 83) {
      exporterFault();
    } else if (roll < 92) {
      plant();
    } else if (roll < 94) {
      leadershipChurn();
    } else if (roll < 96) {
      recoveryClaimFault();
    } else if (roll < 98) {
      deleteLivenessNode(anyHost());
    } else {
      report.step("release held replies");
      hosts.forEach(host -> host.plan.releaseHeldReplies());
    }
    if (maxRetainedSpans < 100_000 && !backlogDone && random.nextInt(4) == 0) {
      backlogAboveRetentionBound();
    }
  }

  private SimHost anyHost() {
    return hosts.get(random.nextInt(hosts.size()));
  }

  private Fault zooKeeperFault() {
    int roll = random.nextInt(100);
    if (roll < 50) {
      return null;
    } else if (roll < 58) {
      return Fault.CONNECTION_LOSS_BEFORE_SEND;
    } else if (roll < 70) {
      return Fault.REPLY_DROPPED;
    } else if (roll < 79) {
      return Fault.REPLY_DROPPED_SESSION_EXPIRED;
    } else if (roll < 93) {
      return Fault.REPLY_HELD_PAST_TIMEOUT;
    } else {
      return Fault.CLIENT_SESSION_EXPIRY_BEFORE_CALL;
    }
  }

  private void armForNextStoreCall(SimHost host, Fault fault) {
    if (fault != null) {
      host.plan.arm(fault, CallKind.MULTI, FaultPlan.STORE_CALL_THREAD, null);
    }
  }

  private BeginCall begin(SimHost host, Fault fault, boolean logged) {
    String key = "k" + (keys++);
    String item = ZKPaths.makePath(items, key);
    DeferredSpanRecord record = host.tracing.spanBuilder("QueueItem").setNoParent().setOwner(item).begin();
    BeginCall call = new BeginCall(key, item, record);
    begins.add(call);
    if (random.nextInt(3) == 0) {
      beginEmbedded(call, host, logged);
      return call;
    }
    armForNextStoreCall(host, fault);
    try {
      byte[] nonce = (seed + ":" + key).getBytes(StandardCharsets.UTF_8);
      host.store.beginDeferredSpan(key, record, host.client.transactionOp().create().forPath(item, nonce));
      call.outcome = BeginOutcome.COMMITTED;
    } catch (DeferredSpanStoreUnavailableException e) {
      call.outcome = e.isOutcomeUnknown() ? BeginOutcome.UNKNOWN : BeginOutcome.NOTHING_WRITTEN;
      call.detail = e.getMessage();
    } catch (DeferredSpanStoreException e) {
      call.outcome = e.getMessage() != null && e.getMessage().contains("already open")
          ? BeginOutcome.ALREADY_OPEN : BeginOutcome.UNKNOWN;
      call.detail = e.getMessage();
    } catch (Exception e) {
      call.outcome = BeginOutcome.UNKNOWN;
      call.detail = e.toString();
    } finally {
      disarm(host);
    }
    if (call.outcome != BeginOutcome.COMMITTED) {
      call.absentAtReturn = absentNow(item);
    }
    if (logged) {
      report.step("begin " + key + "@" + host.name + (fault == null ? "" : "[" + fault + "]") + "=" + call.outcome);
    }
    return call;
  }

  /**
   * The embedded begin is the caller's own create of its item with the record inside: nothing of the store's is
   * sent, so there is nothing of ours to fault. It goes through the observer, which no fault reaches.
   */
  private void beginEmbedded(BeginCall call, SimHost host, boolean logged) {
    faults.add(Fault.EMBEDDED_BEGIN);
    embeddedKeys.add(call.key);
    try {
      shared.observer.create().forPath(call.item, embeddedItem(call.key, call.record.toBytes()));
      call.outcome = BeginOutcome.COMMITTED;
    } catch (Exception e) {
      call.outcome = BeginOutcome.UNKNOWN;
      call.detail = e.toString();
    }
    if (logged) {
      report.step("begin-embedded " + call.key + "@" + host.name + "=" + call.outcome);
    }
  }

  /** An item as an embedded-mode caller frames it: its own data, a newline, the record's bytes. */
  private byte[] embeddedItem(String key, byte[] recordBytes) {
    byte[] head = (seed + ":" + key + "\n").getBytes(StandardCharsets.UTF_8);
    byte[] data = Arrays.copyOf(head, head.length + recordBytes.length);
    System.arraycopy(recordBytes, 0, data, head.length, recordBytes.length);
    return data;
  }

  private static byte[] embeddedRecordOf(byte[] item) {
    for (int i = 0; i < item.length; i++) {
      if (item[i] == '\n') {
        return Arrays.copyOfRange(item, i + 1, item.length);
      }
    }
    throw new IllegalStateException("an embedded item without its record");
  }

  /** Whether {@code path} is absent right now, as the leader sees it; false if that cannot be told. */
  private boolean absentNow(String path) {
    try {
      shared.observer.getZookeeperClient().getZooKeeper().sync(path);
      return shared.observer.checkExists().forPath(path) == null;
    } catch (Exception cannotTell) {
      return false;
    }
  }

  private java.util.Optional<String> existingKey() throws Exception {
    List<String> children = shared.observer.getChildren().forPath(items);
    if (children.isEmpty() || random.nextInt(10) == 0) {
      return begins.isEmpty() ? java.util.Optional.empty()
          : java.util.Optional.of(begins.get(random.nextInt(begins.size())).key);
    }
    children.sort(null);
    return java.util.Optional.of(children.get(random.nextInt(children.size())));
  }

  private EndCall end(SimHost host, String key, Fault fault) {
    EndCall call = endCall(host, key, fault);
    report.step("end " + key + "@" + host.name + (fault == null ? "" : "[" + fault + "]") + "=" + call.outcome);
    return call;
  }

  private EndCall endCall(SimHost host, String key, Fault fault) {
    String item = ZKPaths.makePath(items, key);
    armForNextStoreCall(host, fault);
    EndCall call;
    try {
      DeferredSpanEnding ending = DeferredSpanEnding.builder().setAttribute("sim.ender", host.name).build();
      EndResult result;
      if (embeddedKeys.contains(key)) {
        // The consumer reads its item (with the record in it); an item already gone is ended with the bytes it
        // was begun with, as a late consumer holding them would: that end must apply nothing.
        Stat stat = new Stat();
        byte[] data;
        try {
          data = shared.observer.getData().storingStatIn(stat).forPath(item);
        } catch (KeeperException.NoNodeException gone) {
          data = embeddedItem(key, recordBytesBegunAs(key));
        }
        result = host.store.endEmbeddedSpan(item, embeddedRecordOf(data), ending,
            host.client.transactionOp().delete().withVersion(stat.getVersion()).forPath(item));
      } else {
        Stat stat = shared.observer.checkExists().forPath(item);
        CuratorOp dequeue = host.client.transactionOp().delete()
            .withVersion(stat == null ? 0 : stat.getVersion()).forPath(item);
        result = host.store.endDeferredSpan(key, ending, dequeue);
      }
      call = new EndCall(key, host.name, result.getOutcome().name(), result.callerOperationsApplied());
    } catch (DeferredSpanStoreUnavailableException e) {
      call = new EndCall(key, host.name, e.isOutcomeUnknown() ? "UNKNOWN" : "NOTHING_APPLIED", false);
    } catch (Exception e) {
      call = new EndCall(key, host.name, "ERROR " + e.getClass().getSimpleName(), false);
    } finally {
      disarm(host);
    }
    synchronized (ends) {
      ends.add(call);
    }
    return call;
  }

  private byte[] recordBytesBegunAs(String key) {
    return begins.stream().filter(call -> call.key.equals(key)).findFirst()
        .map(call -> call.record.toBytes()).orElse(EMBEDDED_GARBAGE);
  }

  private void disarm(SimHost host) {
    host.plan.disarm(FaultPlan.STORE_CALL_THREAD);
  }

  private void raceEnds() throws Exception {
    java.util.Optional<String> key = existingKey();
    if (key.isEmpty()) {
      return;
    }
    faults.add(Fault.RACING_ENDS);
    List<SimHost> racers = new ArrayList<>(hosts);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<EndCall>> calls = new ArrayList<>();
    List<Fault> chosen = new ArrayList<>();
    for (SimHost racer : racers) {
      Fault fault = random.nextInt(4) == 0 ? Fault.REPLY_DROPPED : null;
      chosen.add(fault);
      calls.add(shared.racers.submit(() -> {
        go.await();
        return endCall(racer, key.get(), fault);
      }));
    }
    go.countDown();
    List<String> outcomes = new ArrayList<>();
    for (Future<EndCall> call : calls) {
      outcomes.add(call.get(30, TimeUnit.SECONDS).outcome);
    }
    report.step("race " + key.get() + " " + chosen + "=" + outcomes);
  }

  private void restart() throws Exception {
    int index = random.nextInt(hosts.size());
    SimHost old = hosts.get(index);
    faults.add(Fault.GRACEFUL_RESTART);
    boolean settled = old.shutdown();
    unsettledShutdown.put(old.name, !settled);
    if (!settled) {
      old.plan.recordSessionLoss();
    }
    String name = old.name.substring(0, old.name.indexOf('#'));
    SimHost fresh = startHost(name, 0, true);
    hosts.set(index, fresh);
    report.step("restart " + old.name + (settled ? "" : " (unsettled)") + " as " + fresh.name);
  }

  private void moveLeadership() throws Exception {
    for (SimHost host : allHosts()) {
      if (host.leads()) {
        faults.add(Fault.LEADERSHIP_MOVE);
        host.restartRecovery();
        report.step("leadership leaves " + host.name);
        return;
      }
    }
  }

  private List<SimHost> allHosts() {
    List<SimHost> all = new ArrayList<>(hosts);
    if (withoutExporter != null) {
      all.add(withoutExporter);
    }
    return all;
  }

  private void exporterFault() {
    SimHost host = anyHost();
    int roll = random.nextInt(4);
    RecordingExporter.Mode mode = RecordingExporter.Mode.values()[roll];
    if (mode == RecordingExporter.Mode.REFUSE) {
      faults.add(Fault.EXPORT_REFUSED);
    } else if (mode == RecordingExporter.Mode.FAIL_AFTER_DELIVERY) {
      faults.add(Fault.EXPORT_FAILED_AFTER_DELIVERY);
    } else if (mode == RecordingExporter.Mode.HANG) {
      faults.add(Fault.EXPORT_HUNG);
    }
    host.setExporterMode(mode);
    report.step("exporter of " + host.name + " " + mode);
  }

  private void plant() throws Exception {
    int roll = random.nextInt(8);
    Planted plant;
    switch (roll) {
      case 0:
        plant = writer.relativeOwner(writer.keyInShards("rel", 0, 0x3f, random));
        break;
      case 1:
        // Huge records are slow to write: a few schedules get one.
        plant = random.nextInt(3) == 0
            ? writer.huge(writer.keyInShards("huge", 0, 0x3f, random))
            : writer.orphan(writer.keyInShards("orphan", 0, 0xff, random));
        break;
      case 2:
        plant = writer.newerVersionFinished();
        break;
      case 3:
        plant = writer.newerVersionOpen(writer.keyInShards("v2", 0, 0xff, random));
        break;
      case 4:
        plant = writer.extraChild(writer.keyInShards("extra", 0, 0x3f, random));
        break;
      case 5:
        plant = writer.garbage(writer.keyInShards("garbage", 0, 0x3f, random));
        break;
      case 6:
        plantEmbeddedGarbage();
        plant = writer.orphan(writer.keyInShards("orphan", 0, 0xff, random));
        break;
      default:
        plant = writer.orphan(writer.keyInShards("orphan", 0, 0xff, random));
    }
    faults.add(plant.kind);
    // A valid orphan after it, in a later shard: whatever the plant does, recovery must still end this one.
    Planted after = writer.orphan(writer.keyInShards("after", 0x40, 0xff, random));
    faults.add(after.kind);
    report.step("plant " + plant + ", orphan " + after.path);
  }

  /**
   * Deletes the liveness node of {@code host}'s current session, as an operator's {@code deleteall} or a hostile
   * client would, while the session lives on. Nothing if it has none (it has ended nothing yet).
   */
  private void deleteLivenessNode(SimHost host) throws Exception {
    long session = host.client.getZookeeperClient().getZooKeeper().getSessionId();
    String live = ZKPaths.makePath(layout.basePath(), "live", String.format("%016x", session));
    try {
      shared.observer.delete().forPath(live);
    } catch (KeeperException.NoNodeException e) {
      report.step("no liveness node of " + host.name + " to delete");
      return;
    }
    host.plan.recordLivenessDeleted();
    faults.add(Fault.LIVENESS_NODE_DELETED);
    report.step("another writer deletes " + live + " of " + host.name);
  }

  /** An item whose embedded record is not one: its end (by a step or at heal) quarantines the bytes, dequeues it. */
  private void plantEmbeddedGarbage() throws Exception {
    String key = "g" + (keys++);
    embeddedKeys.add(key);
    shared.observer.create().forPath(ZKPaths.makePath(items, key), embeddedItem(key, EMBEDDED_GARBAGE));
    faults.add(Fault.PLANTED_EMBEDDED_GARBAGE);
  }

  /**
   * Leadership moves every two thirds of a sweep period for three periods, while an orphan waits in a late shard
   * and a span the collector keeps is answered with failure: each leader must carry on where the last one stopped
   * (2.9), and back off as the last one did (2.10).
   */
  private void leadershipChurn() throws Exception {
    faults.add(Fault.LEADERSHIP_CHURN);
    Planted orphan = writer.orphan(writer.keyInShards("late", 0xc0, 0xff, random));
    faults.add(orphan.kind);
    hosts.forEach(host -> host.setExporterMode(RecordingExporter.Mode.FAIL_AFTER_DELIVERY));
    faults.add(Fault.EXPORT_FAILED_AFTER_DELIVERY);
    BeginCall call = begin(hosts.get(0), null, false);
    if (call.outcome == BeginOutcome.COMMITTED) {
      endCall(hosts.get(0), call.key, null);
    }
    // Shorter than a pass, long enough that a leader on a loaded machine gets a few ticks (and an export) in.
    long period = SimHost.SWEEP_PERIOD.toMillis() * 2 / 3;
    int orphanShard = Integer.parseInt(ZKPaths.getNodeFromPath(ZKPaths.getPathAndNode(orphan.path).getPath()), 16);
    SweepWatch sweep = new SweepWatch(orphanShard);
    ScheduledFuture<?> mover = shared.timer.scheduleWithFixedDelay(() -> {
      try {
        // Where the sweep stands as leadership leaves: the next leader must go on from about there.
        sweep.seen(sweepPosition());
        moveLeadership();
      } catch (Exception e) {
        // the next move tries again
      }
    }, period, period, TimeUnit.MILLISECONDS);
    boolean ended;
    long limit;
    try {
      // A pass takes one sweep period, and the owner is checked again a grace period later: without load the
      // orphan is ended within a few periods. The time is not the invariant (this machine's 16 schedules at once
      // starve the leaders' ticks); what the leaders kept is: see SweepWatch.
      limit = 10 * SimHost.SWEEP_PERIOD.toMillis() + SimHost.GRACE_PERIOD.toMillis();
      ended = SimClock.awaitQuietly(() -> shared.observer.checkExists().forPath(orphan.path) == null, limit);
    } finally {
      mover.cancel(false);
    }
    String lost = sweep.lost();
    if (!ended && lost != null) {
      report.violation(Invariant.SWEEP_PROGRESS_LOST, orphan.path + " (shard " + Integer.toHexString(orphanShard)
          + ") still open after " + limit + " ms of leadership moving every " + period + " ms: " + lost
          + "; sweep positions " + sweep.positions());
    } else if (!ended) {
      // Each leader went on from the last one's position, only slowly: the orphan must still be ended by the end
      // of healing (ORPHAN_NOT_ABANDONED).
      report.step("orphan " + orphan.path + " not yet ended after " + limit + " ms of churn; sweep positions "
          + sweep.positions());
    }
    hosts.forEach(host -> host.setExporterMode(RecordingExporter.Mode.OK));
    report.step("leadership churn, orphan " + orphan.path + (ended ? " ended" : " NOT ended")
        + ", " + call.key + " failing");
  }

  /** The sweep's position in the persisted recovery progress, or -1 if there is none. */
  private int sweepPosition() throws Exception {
    byte[] data;
    try {
      data = shared.observer.getData().forPath(ZKPaths.makePath(base, "recovery-progress"));
    } catch (KeeperException.NoNodeException none) {
      return -1;
    }
    for (String line : new String(data, java.nio.charset.StandardCharsets.UTF_8).split("\n")) {
      if (line.startsWith("sweep ")) {
        return Integer.parseInt(line.substring("sweep ".length()).trim());
      }
    }
    return -1;
  }

  /**
   * Issue 15 2.9 as an invariant: a new leader goes on from where the last one's sweep stood. Lost progress is a
   * sweep that had not reached the orphan's shard yet and was back near shard 00 at a later move, or no progress
   * kept at all after several moves (every leader starting at 00). A small step back (two workers that both
   * believed they led, one tick's work redone) is not counted.
   */
  private static final class SweepWatch {
    private final int orphanShard;
    private final List<Integer> positions = new ArrayList<>();
    private String lost;

    SweepWatch(int orphanShard) {
      this.orphanShard = orphanShard;
    }

    synchronized void seen(int position) {
      int last = positions.isEmpty() ? -1 : positions.get(positions.size() - 1);
      positions.add(position);
      // From the last quarter of a pass back to its start is a pass completed, not progress lost.
      boolean wrapped = last >= ZNODE_SHARDS * 3 / 4;
      if (lost == null && last >= 0 && last <= orphanShard && !wrapped && position >= 0 && position < last - 64) {
        lost = "the sweep went back from shard " + last + " to " + position + " across a change of leader";
      }
      if (lost == null && positions.size() >= 4 && positions.stream().allMatch(p -> p < 0)) {
        lost = "no sweep progress kept after " + positions.size() + " changes of leader";
      }
    }

    synchronized String lost() {
      return lost;
    }

    synchronized List<Integer> positions() {
      return List.copyOf(positions);
    }
  }

  /** The recovery leader's next claim is applied, its reply lost and its session expired (2.5). */
  private void recoveryClaimFault() {
    SimHost leader = allHosts().stream().filter(SimHost::leads).findFirst().orElse(null);
    if (leader == null) {
      return;
    }
    leader.plan.arm(Fault.RECOVERY_CLAIM_REPLY_LOST_SESSION_EXPIRED, CallKind.MULTI, FaultPlan.RECOVERY_THREAD,
        "/" + DeferredSpanStoreLayout.CLAIM);
    SimHost ender = anyHost();
    ender.setExporterMode(RecordingExporter.Mode.REFUSE); // its claim is released: recovery takes the span
    faults.add(Fault.EXPORT_REFUSED);
    BeginCall call = begin(ender, null, false);
    if (call.outcome == BeginOutcome.COMMITTED) {
      endCall(ender, call.key, null);
    }
    boolean taken = SimClock.awaitQuietly(() -> !leader.plan.hasArmed(), 2_000);
    ender.setExporterMode(RecordingExporter.Mode.OK);
    report.step("claim fault on leader " + leader.name + (taken ? " hit" : " missed") + ", " + call.key
        + " refused by " + ender.name);
  }

  private void backlogAboveRetentionBound() throws Exception {
    faults.add(Fault.BACKLOG_ABOVE_RETENTION_BOUND);
    hosts.forEach(host -> host.setExporterMode(RecordingExporter.Mode.REFUSE));
    SimHost ender = anyHost();
    for (int i = 0; i < maxRetainedSpans + 3; i++) {
      BeginCall call = begin(ender, null, false);
      droppableSpans.add(call.record.getSpanContext().getSpanId());
      if (call.outcome == BeginOutcome.COMMITTED) {
        endCall(ender, call.key, null);
      }
    }
    // Before the next full scan (FULL_SCAN_INTERVAL, 10 s), the only place a bound enforced at full scans would
    // act; 60 scan intervals (6 s), so that a starved leader's ticks still come in (10 intervals of 40 ms, the first
    // bound, and 75 failed without a hole at 16 schedules on 2 cores: the same seeds pass alone; 150 of 40 ms were
    // the same 6 s).
    long limit = 60 * SimHost.SCAN_INTERVAL.toMillis() + SimHost.GRACE_PERIOD.toMillis();
    java.util.concurrent.atomic.AtomicInteger waiting = new java.util.concurrent.atomic.AtomicInteger();
    int[] polls = new int[1];
    boolean bounded = SimClock.awaitQuietly(() -> {
      if (storeWatch.finishedSpans() > maxRetainedSpans && polls[0]++ % SERVER_POLL_EVERY != 0) {
        return false; // the watch says not yet: no need to list 256 shards to be told so
      }
      waiting.set(finishedSpans().size());
      return waiting.get() <= maxRetainedSpans;
    }, limit);
    if (!bounded) {
      report.violation(Invariant.RETENTION_BOUND_EXCEEDED, waiting.get() + " finished spans still waiting after "
          + limit + " ms of recovery ticks, maxRetainedSpans=" + maxRetainedSpans);
    }
    hosts.forEach(host -> host.setExporterMode(RecordingExporter.Mode.OK));
    report.step("backlog of " + (maxRetainedSpans + 3) + " refused spans" + (bounded ? "" : " NOT bounded"));
    backlogDone = true;
  }

  // ================================================================ heal

  private void heal() throws Exception {
    report.step("heal");
    plansByHost.values().forEach(FaultPlan::heal);
    allHosts().forEach(host -> host.setExporterMode(RecordingExporter.Mode.OK));
    SimClock.awaitQuietly(() -> plansByHost.values().stream().allMatch(FaultPlan::heldCallsSettled), 5_000);
    SimClock.awaitQuietly(() -> allHosts().stream().allMatch(SimHost::connected), 5_000);
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(HEAL_MILLIS);
    // A queue drains: whatever item is left is dequeued, by any host, until none is left.
    while (System.nanoTime() < deadline) {
      // Curator's retry of a call that already returned may still land: catch up first.
      SimClock.awaitQuietly(() -> plansByHost.values().stream().allMatch(FaultPlan::heldCallsSettled), 2_000);
      List<String> left = shared.observer.getChildren().forPath(items);
      if (left.isEmpty()) {
        break;
      }
      left.sort(null);
      for (String key : left) {
        endCall(hosts.get(random.nextInt(hosts.size())), key, null);
      }
    }
    // Counted by the server in one call each: what may stay is a newer version's record (with its marker) and
    // finished span; everything else must be gone.
    long stayingOpen = writer.planted().stream()
        .filter(p -> p.mustStay && p.kind == Fault.PLANTED_NEWER_VERSION_OPEN).count();
    long stayingFinished = writer.planted().stream()
        .filter(p -> p.mustStay && p.kind == Fault.PLANTED_NEWER_VERSION_FINISHED).count();
    // Polled on what the store watch saw (no ZooKeeper call), confirmed by the server once it looks done; the
    // server is also asked every SERVER_POLL_EVERY polls, in case the watch missed an event.
    int[] polls = new int[1];
    SimClock.awaitQuietly(() -> (storeWatch.belowOpenShards() <= 2 * stayingOpen
            && storeWatch.belowEndedShards() <= stayingFinished || polls[0]++ % SERVER_POLL_EVERY == 0)
        && descendants(layout.openRoot()) <= ZNODE_SHARDS + 2 * stayingOpen
        && descendants(layout.endedRoot()) <= ZNODE_SHARDS + stayingFinished
        && shared.observer.getChildren().forPath(items).isEmpty(),
        Math.max(500, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
    for (SimHost host : allHosts()) {
      try {
        scanNow(host);
      } catch (Exception e) {
        report.violation(Invariant.RECOVERY_SCAN_FAILED, host.name + ": " + e);
        break;
      }
    }
    allHosts().forEach(host -> host.tracing.forceFlush().join(2, TimeUnit.SECONDS));
    itemWatch.catchUp();
  }

  /**
   * One scan on {@code host}. A session that a starved machine let expire (1 s sessions) is not a record stopping
   * the scan: once the host is connected again, it scans again, up to three times; anything else is thrown.
   */
  private static void scanNow(SimHost host) throws Exception {
    for (int attempt = 1; ; attempt++) {
      try {
        host.recovery().scanNow();
        return;
      } catch (KeeperException.SessionExpiredException | KeeperException.ConnectionLossException e) {
        if (attempt == 3) {
          throw e;
        }
        SimClock.awaitQuietly(host::connected, 5_000);
      }
    }
  }

  private long descendants(String path) throws Exception {
    return shared.observer.getZookeeperClient().getZooKeeper().getAllChildrenNumber(path);
  }

  private List<String> openRecords() throws Exception {
    return childrenOfShards(layout.openRoot(), layout.openShards());
  }

  private List<String> finishedSpans() throws Exception {
    return childrenOfShards(layout.endedRoot(), layout.endedShards());
  }

  /**
   * Every node one level below {@code shards}. When the server counts no node below {@code root} but the shards
   * (one call, consistent at one point of time), there is none to list: 256 listings saved.
   */
  private List<String> childrenOfShards(String root, List<String> shards) throws Exception {
    List<String> paths = new ArrayList<>();
    if (descendants(root) == shards.size()) {
      shards.forEach(shard -> listedShards.put(shard, List.of()));
      return paths;
    }
    for (String shard : shards) {
      List<String> children = shared.observer.getChildren().forPath(shard);
      listedShards.put(shard, children);
      for (String child : children) {
        paths.add(ZKPaths.makePath(shard, child));
      }
    }
    return paths;
  }

  // ================================================================ invariants

  private void check() throws Exception {
    // The census first: whatever it finds was created before it, so the watch, caught up after it, saw it too
    // (a retry that lands this late is still counted against its call).
    checkLeftBehind();
    itemWatch.catchUp();
    Map<String, List<Collector.Delivery>> copies = collector.kept().stream()
        .collect(Collectors.groupingBy(d -> d.spanId));
    checkCallerOperations();
    checkEndedOnce();
    checkExports(copies);
    checkDuplicates(copies);
  }

  private void checkCallerOperations() {
    for (BeginCall call : begins) {
      List<Long> created = itemWatch.createdAt(call.item);
      List<Long> deleted = itemWatch.deletedAt(call.item);
      if (created.size() > 1) {
        report.violation(Invariant.CALLER_OP_APPLIED_TWICE,
            call.item + " created " + created.size() + " times; its begin returned " + call.outcome);
      }
      if (!deleted.isEmpty() && created.stream().anyMatch(at -> at > deleted.get(0))) {
        report.violation(Invariant.APPLIED_AFTER_RETURN, call.item + " created again after its end removed it"
            + " (begin returned " + call.outcome + (call.detail.isEmpty() ? "" : ": " + call.detail) + ")");
      } else if (call.absentAtReturn && !created.isEmpty()) {
        report.violation(Invariant.APPLIED_AFTER_RETURN, call.item + " created after its begin had returned "
            + call.outcome + (call.detail.isEmpty() ? "" : ": " + call.detail));
      }
      if (call.outcome == BeginOutcome.COMMITTED && created.isEmpty()) {
        report.violation(Invariant.CALLER_OP_OUTCOME_WRONG, call.item + ": begin committed, item never created");
      }
      if ((call.outcome == BeginOutcome.NOTHING_WRITTEN || call.outcome == BeginOutcome.ALREADY_OPEN)
          && !created.isEmpty()) {
        report.violation(Invariant.CALLER_OP_OUTCOME_WRONG,
            call.item + ": begin said nothing was written (" + call.detail + "), item created");
      }
    }
    for (EndCall call : ends) {
      String item = ZKPaths.makePath(items, call.key);
      if (call.callerOpsApplied && itemWatch.deletedAt(item).isEmpty()) {
        report.violation(Invariant.CALLER_OP_OUTCOME_WRONG,
            item + ": end by " + call.host + " returned " + call.outcome + " (applied), item never deleted");
      }
    }
  }

  private void checkEndedOnce() {
    Map<String, List<EndCall>> ended = ends.stream().filter(call -> call.outcome.equals("ENDED"))
        .collect(Collectors.groupingBy(call -> call.key));
    ended.forEach((key, calls) -> {
      if (calls.size() > 1) {
        report.violation(Invariant.ENDED_TWICE, key + " ENDED by "
            + calls.stream().map(call -> call.host).collect(Collectors.toList()));
      }
    });
  }

  private void checkExports(Map<String, List<Collector.Delivery>> copies) {
    for (BeginCall call : begins) {
      boolean committed = call.outcome == BeginOutcome.COMMITTED || !itemWatch.createdAt(call.item).isEmpty();
      if (!committed || !call.record.isSampled()) {
        continue;
      }
      String stillOpenAt = embeddedKeys.contains(call.key) ? call.item : layout.openPath(call.key);
      checkExported(call.record, stillOpenAt, copies, call.key + " (begin " + call.outcome + ")");
    }
    for (Planted plant : writer.planted()) {
      if (plant.mustBeAbandoned) {
        checkExported(plant.record, plant.path, copies, plant.toString());
      }
    }
  }

  private void checkExported(DeferredSpanRecord record, String openPath,
      Map<String, List<Collector.Delivery>> copies, String what) {
    String spanId = record.getSpanContext().getSpanId();
    List<Collector.Delivery> received = copies.getOrDefault(spanId, List.of());
    if (received.isEmpty()) {
      boolean open = !absentNow(openPath);
      if (!open && droppedAtTheBound("ended, never delivered: " + what + " span " + spanId)) {
        return;
      }
      if (!droppableSpans.contains(spanId)) {
        // Still open: recovery never ended it (see LEFT_BEHIND); gone: it was ended and removed undelivered.
        report.violation(Invariant.COMMITTED_SPAN_NOT_EXPORTED, what + " span " + spanId + " never exported: "
            + (open ? "still open" : "ended, never delivered")
            + (withoutExporter != null ? " (a host without exporter ran recovery)" : ""));
      }
      return;
    }
    for (Collector.Delivery copy : received) {
      if (!copy.traceId.equals(record.getSpanContext().getTraceId())
          || copy.startEpochNanos != record.getStartEpochNanos()) {
        report.violation(Invariant.EXPORTED_WITH_WRONG_IDS, what + ": copy from " + copy.host + " has trace "
            + copy.traceId + " start " + copy.startEpochNanos);
        return;
      }
    }
  }

  /**
   * Past maxRetainedSpans the oldest unclaimed finished spans are dropped, whichever they are (configuration.md),
   * in any schedule that sets the bound: the backlog step's, or spans that pile up behind a hung exporter (seed 484
   * on a loaded machine). Each drop the stores counted excuses one missing span, and no more.
   */
  private boolean droppedAtTheBound(String what) {
    if (excusedByDrops >= droppedAtBound) {
      droppedAtBound = metrics.collectAllMetrics().stream() // the hosts still run while the checks do
          .filter(metric -> metric.getName().equals("deferred_span.dropped"))
          .flatMap(metric -> metric.getLongSumData().getPoints().stream())
          .mapToLong(LongPointData::getValue).sum();
    }
    if (excusedByDrops >= droppedAtBound) {
      return false;
    }
    excusedByDrops++;
    report.step("dropped at the retention bound (" + excusedByDrops + " of " + droppedAtBound + "): " + what);
    return true;
  }

  /**
   * Every copy after the first must be in a documented window (architecture.md): the collector kept an earlier
   * copy while the export was answered with failure or timed out; or the host of an earlier copy lost its
   * session (or shut down unsettled) around it, before removing the stored copy. The first window is bounded by
   * recovery's backoff: one retry per backoff step.
   */
  private void checkDuplicates(Map<String, List<Collector.Delivery>> copies) {
    copies.forEach((spanId, received) -> {
      Long firstFailure = null;
      int afterFailure = 0;
      boolean reported = false;
      for (int i = 0; i < received.size(); i++) {
        Collector.Delivery copy = received.get(i);
        if (i > 0) {
          List<Collector.Delivery> earlier = received.subList(0, i);
          if (firstFailure != null) {
            report.duplicateIn("collector kept a failed or timed-out export");
            afterFailure++;
            long elapsed = copy.atNanos - firstFailure;
            if (afterFailure > allowedRetries(elapsed) && !reported) {
              report.violation(Invariant.EXPORT_RETRY_BOUND_EXCEEDED, spanId + ": " + afterFailure
                  + " copies within " + TimeUnit.NANOSECONDS.toMillis(elapsed) + " ms of the first failed export"
                  + " (backoff " + SimHost.RETRY_BACKOFF.toMillis() + " ms): " + received);
              reported = true; // one violation per span
            }
          } else if (earlier.stream().anyMatch(this::hostLostSessionAround)) {
            report.duplicateIn("host lost its session (or shut down unsettled) after its export");
          } else if (received.stream().anyMatch(this::hostLostLivenessAround)) {
            report.duplicateIn("another writer deleted the liveness node of the host that held it");
          } else {
            report.violation(Invariant.DUPLICATE_OUTSIDE_WINDOWS, spanId + ": " + received);
          }
        }
        if (copy.answeredFailure() && firstFailure == null) {
          firstFailure = copy.atNanos;
        }
      }
    });
  }

  /** Copies after the first failed export allowed within {@code elapsed}: 1 + one per backoff step, + 1 slack. */
  private static int allowedRetries(long elapsedNanos) {
    // Recovery's backoff doubles from RETRY_BACKOFF up to MAX_RETRY_BACKOFF (configuration.md), then stays there.
    long step = SimHost.RETRY_BACKOFF.toNanos();
    long due = step;
    int steps = 0;
    while (due <= elapsedNanos && steps < 1_000) {
      steps++;
      step = Math.min(step * 2, SimHost.MAX_RETRY_BACKOFF.toNanos());
      due += step;
    }
    return 2 + steps;
  }

  private boolean hostLostSessionAround(Collector.Delivery copy) {
    FaultPlan plan = plansByHost.get(copy.host);
    if (plan == null) {
      return false;
    }
    return plan.sessionLossNanos().stream().anyMatch(loss -> loss >= copy.atNanos - WINDOW_SLACK_NANOS);
  }

  /**
   * Whether another writer deleted the liveness node of the host of {@code copy} around its export: recovery may
   * then have taken the span that host held, and exported it beside the host's own copy.
   */
  private boolean hostLostLivenessAround(Collector.Delivery copy) {
    FaultPlan plan = plansByHost.get(copy.host);
    return plan != null && plan.livenessDeletedNanos().stream()
        .anyMatch(deleted -> Math.abs(deleted - copy.atNanos) <= WINDOW_SLACK_NANOS);
  }

  private void checkLeftBehind() throws Exception {
    Map<String, Planted> planted = writer.planted().stream().collect(Collectors.toMap(p -> p.path, p -> p));
    for (String path : openRecords()) {
      Planted plant = planted.get(path);
      if (plant != null && plant.mustStay) {
        continue;
      }
      if (plant != null && plant.mustBeAbandoned) {
        report.violation(Invariant.ORPHAN_NOT_ABANDONED, path + " (owner never existed) still open; also planted: "
            + writer.planted().stream().filter(p -> !p.mustBeAbandoned).map(p -> p.kind.name())
            .collect(Collectors.toList()));
      } else {
        report.violation(Invariant.LEFT_BEHIND, "open record " + path + (plant == null ? "" : " (" + plant.kind
            + ")") + " " + shared.observer.getChildren().forPath(path));
      }
    }
    for (String path : finishedSpans()) {
      Planted plant = planted.get(path);
      if (plant != null && plant.mustStay) {
        continue;
      }
      String claim = ZKPaths.makePath(path, DeferredSpanStoreLayout.CLAIM);
      String holder = "";
      try {
        holder = " claimed by "
            + DeferredSpanStoreLayout.claimHolder(shared.observer.getData().forPath(claim));
      } catch (KeeperException.NoNodeException unclaimed) {
        holder = " unclaimed";
      }
      report.violation(Invariant.LEFT_BEHIND, "finished span " + path + holder);
    }
    for (String item : shared.observer.getChildren().forPath(items)) {
      report.violation(Invariant.LEFT_BEHIND, "caller item " + item + " never dequeued; its ends: "
          + ends.stream().filter(call -> call.key.equals(item)).map(call -> call.host + "=" + call.outcome)
          .collect(Collectors.toList()));
    }
    for (Planted plant : writer.planted()) {
      if (!plant.mustStay) {
        continue;
      }
      byte[] now = null;
      try {
        now = shared.observer.getData().forPath(plant.path);
      } catch (KeeperException.NoNodeException gone) {
        // checked below
      }
      if (now == null && droppedAtTheBound("newer-version span removed: " + plant)) {
        continue; // the bound drops whatever the version, and the orphans recovery ends are enough (seed 581)
      }
      if (!Arrays.equals(now, plant.bytes)) {
        report.violation(Invariant.NEWER_VERSION_NOT_LEFT, plant + (now == null ? " was removed" : " changed")
            + "; quarantine holds " + shared.observer.getChildren().forPath(layout.quarantineRoot()).size());
      }
    }
  }
}
