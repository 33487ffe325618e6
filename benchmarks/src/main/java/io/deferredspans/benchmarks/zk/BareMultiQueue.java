package io.deferredspans.benchmarks.zk;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import io.deferredspans.sdk.internal.DeferredTracingUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;

/**
 * ZooKeeper's own floor for what the library does, written by hand with no library code in the timed part: the
 * same znodes (sharded the same way), the same bytes (encoded before the batch starts), the same round trips.
 *
 * <ul>
 *   <li>enqueue: one multi creating the item, a record znode and its span marker;
 *   <li>dequeue: read the record with its version, then one multi deleting its marker and it at that version,
 *       creating the finished span (held by the session's liveness node, so no claim of its own), and deleting
 *       the item;
 *   <li>settle: the export cleanup as the store sends it: per 100 dequeued items a {@code sync} and a read (the
 *       export fence) and one multi deleting each finished span.
 * </ul>
 *
 * <p>{@link #embedded} is the floor of embedded mode ({@link EmbeddedSpanQueue}): enqueue = one plain create of
 * the item with the record inside; dequeue = read the item with its version, then one multi deleting it at that
 * version and creating the finished span; settle as above. The finished span's bytes are the codec's, without the
 * 43 bytes of the holder token the store adds. {@link #embeddedWithClaim} is what embedded mode sent before,
 * with an ephemeral claim per span created in the dequeue's multi and deleted in the cleanup: the reference for
 * what the liveness node bought.
 */
public final class BareMultiQueue implements QueueVariant {
  private static final int SHARDS = 256;
  // As the store's ExportedSpans: one cleanup multi per exporter batch of at most 100 spans.
  private static final int REMOVALS_PER_TRANSACTION = 100;

  private enum Mode { STANDARD, EMBEDDED, EMBEDDED_WITH_CLAIM }

  private record Prepared(
      String openPath, String markerPath, String endedPath, byte[] recordBytes, byte[] finishedBytes,
      byte[] embeddedItemData) {}

  private final CuratorFramework client;
  private final QueueItems items;
  private final DeferredTracing tracing;
  private final String base;
  private final Mode mode;
  private final Map<String, Prepared> prepared = new HashMap<>();
  private final List<String> awaitingCleanup = new ArrayList<>();
  private final byte[] claimBytes = BenchTracing.HOST_NAME.getBytes(StandardCharsets.UTF_8);

  public BareMultiQueue(CuratorFramework client, QueueItems items, DeferredTracing tracing, String base) {
    this(client, items, tracing, base, Mode.STANDARD);
  }

  private BareMultiQueue(
      CuratorFramework client, QueueItems items, DeferredTracing tracing, String base, Mode mode) {
    this.client = client;
    this.items = items;
    this.tracing = tracing;
    this.base = base;
    this.mode = mode;
  }

  /** The floor of embedded mode, finished spans under {@code base} (whose shards {@link #createShards} makes). */
  public static BareMultiQueue embedded(
      CuratorFramework client, QueueItems items, DeferredTracing tracing, String base) {
    return new BareMultiQueue(client, items, tracing, base, Mode.EMBEDDED);
  }

  /** Embedded mode's floor with a claim per span, as the store sent it before the liveness node. */
  public static BareMultiQueue embeddedWithClaim(
      CuratorFramework client, QueueItems items, DeferredTracing tracing, String base) {
    return new BareMultiQueue(client, items, tracing, base, Mode.EMBEDDED_WITH_CLAIM);
  }

  /** Creates the shard parents once, as the store's start() does for its own. */
  public void createShards() throws Exception {
    for (int i = 0; i < SHARDS; i++) {
      client.create().creatingParentsIfNeeded().forPath(ZKPaths.makePath(base, "open", shard(i)));
      client.create().creatingParentsIfNeeded().forPath(ZKPaths.makePath(base, "ended", shard(i)));
    }
  }

  @Override
  public String name() {
    return switch (mode) {
      case STANDARD -> "bare multi, same znodes and bytes (no library code)";
      case EMBEDDED -> "bare embedded: create item with record, read + 2-op multi (no library code)";
      case EMBEDDED_WITH_CLAIM -> "bare embedded with a claim per span: read + 3-op multi (no library code)";
    };
  }

  @Override
  public void prepare(List<String> keys) {
    prepared.clear();
    for (String key : keys) {
      DeferredSpanRecord record =
          tracing.spanBuilder("QueueItem").setNoParent().setOwner(items.path(key)).begin();
      String spanId = record.getSpanContext().getSpanId();
      prepared.put(key, new Prepared(
          ZKPaths.makePath(base, "open", shard(key.hashCode()), key),
          ZKPaths.makePath(base, "open", shard(key.hashCode()), key, "span-" + spanId),
          ZKPaths.makePath(base, "ended", spanId.substring(0, 2), spanId),
          DeferredSpanRecordCodec.encode(record),
          DeferredSpanRecordCodec.encode(DeferredTracingUtil.finish(tracing, record, DeferredSpanEnding.now())),
          EmbeddedSpanQueue.itemData(items.payload(key), DeferredSpanRecordCodec.encode(record))));
    }
  }

  @Override
  public void enqueue(String key) throws Exception {
    Prepared p = prepared.get(key);
    if (mode != Mode.STANDARD) {
      client.create().forPath(items.path(key), p.embeddedItemData());
      return;
    }
    client.transaction().forOperations(
        client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(p.openPath(), p.recordBytes()),
        client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(p.markerPath()),
        client.transactionOp().create().forPath(items.path(key), items.payload(key)));
  }

  @Override
  public void dequeue(String key) throws Exception {
    Prepared p = prepared.get(key);
    Stat stat = new Stat();
    if (mode != Mode.STANDARD) {
      client.getData().storingStatIn(stat).forPath(items.path(key));
      List<CuratorOp> ops = new ArrayList<>(3);
      ops.add(client.transactionOp().delete().withVersion(stat.getVersion()).forPath(items.path(key)));
      ops.add(client.transactionOp().create().withMode(CreateMode.PERSISTENT)
          .forPath(p.endedPath(), p.finishedBytes()));
      if (mode == Mode.EMBEDDED_WITH_CLAIM) {
        ops.add(client.transactionOp().create().withMode(CreateMode.EPHEMERAL)
            .forPath(ZKPaths.makePath(p.endedPath(), "claim"), claimBytes));
      }
      client.transaction().forOperations(ops);
      awaitingCleanup.add(p.endedPath());
      return;
    }
    client.getData().storingStatIn(stat).forPath(p.openPath());
    client.transaction().forOperations(
        client.transactionOp().delete().forPath(p.markerPath()),
        client.transactionOp().delete().withVersion(stat.getVersion()).forPath(p.openPath()),
        client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(p.endedPath(), p.finishedBytes()),
        client.transactionOp().delete().forPath(items.path(key)));
    awaitingCleanup.add(p.endedPath());
  }

  @Override
  public void awaitDequeuesSettled() throws Exception {
    for (int from = 0; from < awaitingCleanup.size(); from += REMOVALS_PER_TRANSACTION) {
      List<String> batch =
          awaitingCleanup.subList(from, Math.min(awaitingCleanup.size(), from + REMOVALS_PER_TRANSACTION));
      exportFence();
      List<CuratorOp> ops = new ArrayList<>(2 * batch.size());
      for (String endedPath : batch) {
        if (mode == Mode.EMBEDDED_WITH_CLAIM) {
          ops.add(client.transactionOp().delete().forPath(ZKPaths.makePath(endedPath, "claim")));
        }
        ops.add(client.transactionOp().delete().forPath(endedPath));
      }
      try {
        client.transaction().forOperations(ops);
      } catch (KeeperException.NoNodeException impossible) {
        throw new IllegalStateException("bare cleanup found a span missing under " + base, impossible);
      }
    }
    awaitingCleanup.clear();
  }

  /** The store's fence before an export batch: a {@code sync} through the leader, then a read in its wake. */
  private void exportFence() throws Exception {
    client.getZookeeperClient().getZooKeeper().sync("/", (rc, path, ctx) -> { }, null);
    client.checkExists().forPath(base);
  }

  private static String shard(int hash) {
    return String.format("%02x", hash & (SHARDS - 1));
  }
}
