package io.deferredspans.store;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooDefs;

/**
 * One simulated host in its own JVM, for fault tests that kill hosts for real. Reports what it did as one line
 * per event on stdout, which {@link HostProcess} reads:
 *
 * <pre>
 * BEGUN key traceId spanId startEpochNanos
 * ENDED key spanId | LOST key | NORECORD key | FAILED key reason
 * DONE            (all work finished, exports acknowledged and cleaned up)
 * LEADER          (recovery worker leads)
 * SESSION_LOST    (Curator reported LOST: this host's session may have expired)
 * STOPPED         (work mode: shut down gracefully, in the documented order, on SIGTERM)
 * </pre>
 *
 * Usage: {@code --name N --zk CONNECT --base PATH --otlp URL [--batch-delay-ms D] MODE ...} with MODE one of
 * {@code begin PREFIX COUNT} (COUNT 0: until killed), {@code end KEYS_FILE SEED}, {@code recover}, {@code work
 * PREFIX} (begin items and end random ones, any host's, with a recovery worker, until SIGTERM or SIGKILL).
 */
public final class HostProcessMain {
  static final String ITEMS = "/items";
  private static final String EMBEDDED = "-emb-";
  /** The work mode's recovery grace period: longer than the sessions ChaosTest gives its hosts, as in production. */
  static final Duration WORK_GRACE = Duration.ofSeconds(6);

  private HostProcessMain() {}

  public static void main(String[] argv) throws Exception {
    Map<String, String> options = new HashMap<>();
    List<String> mode = new ArrayList<>();
    for (int i = 0; i < argv.length; i++) {
      if (argv[i].startsWith("--")) {
        options.put(argv[i].substring(2), argv[++i]);
      } else {
        mode.add(argv[i]);
      }
    }
    String name = options.get("name");
    CuratorFramework client = CuratorFrameworkFactory.newClient(
        options.get("zk"), Integer.parseInt(options.getOrDefault("session-ms", "10000")), 5_000,
        new ExponentialBackoffRetry(100, 5));
    client.getConnectionStateListenable().addListener((c, state) -> {
      if (state == org.apache.curator.framework.state.ConnectionState.LOST) {
        report("SESSION_LOST");
      }
    });
    client.start();
    client.blockUntilConnected(30, TimeUnit.SECONDS);
    DeferredTracing tracing = DeferredTracing.builder()
        .setResource(Resource.getDefault().merge(Resource.create(Attributes.of(
            AttributeKey.stringKey("service.name"), "fault-host",
            AttributeKey.stringKey("service.instance.id"), name))))
        .addSpanExporter(TestHost.httpExporter(options.get("otlp")), exporter -> BatchSpanProcessor.builder(exporter)
            .setScheduleDelay(Duration.ofMillis(Long.parseLong(options.getOrDefault("batch-delay-ms", "50"))))
            .build())
        .build();
    DeferredSpanStore store = DeferredSpanStore.builder(client, tracing).basePath(options.get("base")).build();
    store.start();
    switch (mode.get(0)) {
      case "begin":
        begin(client, tracing, store, mode.get(1), Integer.parseInt(mode.get(2)));
        break;
      case "end":
        end(client, store, Files.readAllLines(Path.of(mode.get(1))), Long.parseLong(mode.get(2)));
        break;
      case "recover":
        recover(store);
        break;
      case "work":
        work(name, client, tracing, store, mode.get(1)); // returns only through SIGTERM's shutdown hook
        return;
      default:
        throw new IllegalArgumentException("unknown mode " + mode);
    }
    tracing.getTracerProvider().orElseThrow().forceFlush().join(30, TimeUnit.SECONDS);
    long ended = store.stats().ended();
    while (store.stats().removed() < ended) {
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10)); // a process, not a test: polling is fine
    }
    report("DONE");
    store.close();
    client.close();
    System.exit(0);
  }

  private static void begin(CuratorFramework client, DeferredTracing tracing, DeferredSpanStore store,
      String prefix, int count) throws Exception {
    client.createContainers(ITEMS);
    for (int i = 0; count == 0 || i < count; i++) {
      String key = prefix + "-" + i;
      String item = ITEMS + "/" + key;
      DeferredSpanRecord record = tracing.spanBuilder("QueueItem").setNoParent().setOwner(item).begin();
      store.beginDeferredSpan(key, record, client.transactionOp().create().forPath(item));
      report("BEGUN " + key + " " + record.getSpanContext().getTraceId() + " "
          + record.getSpanContext().getSpanId() + " " + record.getStartEpochNanos());
    }
  }

  private static void end(CuratorFramework client, DeferredSpanStore store, List<String> keys, long seed) {
    List<String> order = new ArrayList<>(keys);
    Collections.shuffle(order, new Random(seed));
    for (String key : order) {
      endOne(client, store, key);
    }
  }

  private static void endOne(CuratorFramework client, DeferredSpanStore store, String key) {
    try {
      EndResult result = endItem(client, store, key);
      switch (result.getOutcome()) {
        case ENDED:
          report("ENDED " + key + " " + result.getSpan().orElseThrow().getRecord().getSpanContext().getSpanId());
          break;
        case ALREADY_ENDED:
          report("LOST " + key);
          break;
        default:
          report(result.getOutcome().name() + " " + key);
      }
    } catch (DeferredSpanStoreException e) {
      report("FAILED " + key + " " + e.getClass().getSimpleName());
    } catch (Exception e) {
      report("FAILED " + key + " " + e);
    }
  }

  /** Whether {@code key}'s item carries its record inside (embedded mode), as {@code work} begins every third. */
  static boolean isEmbedded(String key) {
    return key.contains(EMBEDDED);
  }

  /**
   * Ends {@code key}'s span and deletes its item, the way its begin stored it: in the store, or inside the item,
   * read first as a consumer reads it. An embedded item already gone is what a standard end reports for it.
   */
  static EndResult endItem(CuratorFramework client, DeferredSpanStore store, String key) throws Exception {
    String item = ITEMS + "/" + key;
    if (!isEmbedded(key)) {
      return store.endDeferredSpan(key, DeferredSpanEnding.now(), client.transactionOp().delete().forPath(item));
    }
    org.apache.zookeeper.data.Stat stat = new org.apache.zookeeper.data.Stat();
    byte[] record;
    try {
      record = client.getData().storingStatIn(stat).forPath(item);
    } catch (KeeperException.NoNodeException gone) {
      return EndResult.callerOperationsFailed(0, KeeperException.Code.NONODE);
    }
    return store.endEmbeddedSpan(item, record, DeferredSpanEnding.now(),
        client.transactionOp().delete().withVersion(stat.getVersion()).forPath(item));
  }

  private static void recover(DeferredSpanStore store) throws Exception {
    DeferredSpanRecovery recovery = DeferredSpanRecovery.builder(store)
        .scanInterval(Duration.ofMillis(200)).gracePeriod(Duration.ofMillis(500)).build();
    recovery.start();
    while (!recovery.hasLeadership()) {
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
    }
    report("LEADER");
    // Runs until killed, or until the test closes our stdin.
    while (System.in.read() >= 0) {
      // ignore input
    }
    recovery.close();
  }

  /**
   * Begins an item, then ends a random open item (any host's), over and over, with a recovery worker running. A
   * SIGTERM stops it the way a service should stop: recovery, store (draining), SDK, Curator, in that order.
   */
  private static void work(String name, CuratorFramework client, DeferredTracing tracing, DeferredSpanStore store,
      String prefix) throws Exception {
    client.createContainers(ITEMS);
    DeferredSpanRecovery recovery = DeferredSpanRecovery.builder(store)
        .scanInterval(Duration.ofMillis(500)).gracePeriod(WORK_GRACE)
        .retryBackoff(Duration.ofMillis(500), Duration.ofSeconds(5)).build();
    recovery.start();
    // Its presence, gone when the session is and back with the next one: how a test sees that a paused host's
    // session expired, even if an earlier one had expired before.
    PersistentNode presence = new PersistentNode(client, CreateMode.EPHEMERAL, false, "/hosts/" + name, new byte[0]);
    presence.start();
    presence.waitForInitialCreate(30, TimeUnit.SECONDS);
    java.util.concurrent.atomic.AtomicBoolean running = new java.util.concurrent.atomic.AtomicBoolean(true);
    java.util.concurrent.CountDownLatch loopDone = new java.util.concurrent.CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      running.set(false);
      try {
        loopDone.await(30, TimeUnit.SECONDS);
        presence.close();
        recovery.close();
        store.close();
        tracing.getTracerProvider().orElseThrow().shutdown().join(30, TimeUnit.SECONDS);
        client.close();
      } catch (Exception e) {
        report("FAILED shutdown " + e);
      }
      report("STOPPED");
    }));
    Random random = new Random(name.hashCode());
    List<String> open = new ArrayList<>();
    try {
      for (int i = 0; running.get(); i++) {
        boolean embedded = i % 3 == 2;
        String key = prefix + (embedded ? EMBEDDED : "-") + i;
        try {
          DeferredSpanRecord record = tracing.spanBuilder("QueueItem").setNoParent().setOwner(ITEMS + "/" + key)
              .begin();
          if (embedded) {
            createOnce(client, ITEMS + "/" + key, record.toBytes()); // the whole begin: nothing of ours
          } else {
            store.beginDeferredSpan(key, record, client.transactionOp().create().forPath(ITEMS + "/" + key));
          }
          report("BEGUN " + key + " " + record.getSpanContext().getTraceId() + " "
              + record.getSpanContext().getSpanId() + " " + record.getStartEpochNanos());
        } catch (Exception e) {
          report("FAILED " + key + " " + e.getClass().getSimpleName());
        }
        if (open.isEmpty()) {
          try {
            open.addAll(client.getChildren().forPath(ITEMS));
            Collections.shuffle(open, random);
          } catch (Exception e) {
            report("FAILED listing " + e.getClass().getSimpleName());
          }
        }
        if (!open.isEmpty()) {
          endOne(client, store, open.remove(open.size() - 1));
        }
      }
    } finally {
      loopDone.countDown();
    }
  }

  /**
   * An embedded begin as a careful caller writes it: its item's create sent once, a lost reply settled by reading
   * the item back. Curator's retrying create would, after a lost reply, create the item a second time if another
   * host had dequeued and ended it in between (a host paused with its create in flight), and its span would be
   * ended twice (docs/embedding.md, 5b).
   */
  static void createOnce(CuratorFramework client, String path, byte[] data) throws Exception {
    try {
      client.getZookeeperClient().getZooKeeper().create(path, data, ZooDefs.Ids.OPEN_ACL_UNSAFE,
          CreateMode.PERSISTENT);
    } catch (KeeperException e) {
      if (!KeeperErrors.isConnectionProblem(e)) {
        throw e;
      }
      // Ordered after the create on its session, or read after that session ended: the create's outcome is final.
      byte[] stored;
      try {
        stored = client.getData().forPath(path);
      } catch (KeeperException.NoNodeException absent) {
        throw new IllegalStateException("no answer, and no item: not created, or created and already ended", e);
      }
      if (!Arrays.equals(stored, data)) {
        throw new IllegalStateException("no answer, and another item under the path", e);
      }
    }
  }

  private static synchronized void report(String line) {
    System.out.println(line);
    System.out.flush();
  }
}
