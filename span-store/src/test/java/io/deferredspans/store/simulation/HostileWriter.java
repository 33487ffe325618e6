package io.deferredspans.store.simulation;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import io.deferredspans.sdk.internal.DeferredTracingUtil;
import io.deferredspans.store.DeferredSpanStoreLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.utils.ZKPaths;

/**
 * "Another writer": a second implementation, an operator or a host of another version, writing znodes straight
 * into the store as docs/znode-layout.md and docs/record-format.md describe them. Each plant says what the store
 * must do with it after healing.
 */
final class HostileWriter {
  private static final String OWNER_PLACEHOLDER = "/sim-owner-placeholder";
  // Under the spec's 1 MiB record limit, as issue 15 (2.2) found: a valid record an end cannot honour.
  private static final int HUGE_RECORD_BYTES = 960 * 1024;

  /** One planted znode and what must become of it. */
  static final class Planted {
    final Fault kind;
    final String path;
    final DeferredSpanRecord record; // null for bytes that are not a record
    final byte[] bytes;
    /** Must be ended as abandoned and exported (a valid orphan). */
    final boolean mustBeAbandoned;
    /** Must be left where it is, bytes unchanged (a newer format version). */
    final boolean mustStay;

    Planted(Fault kind, String path, DeferredSpanRecord record, byte[] bytes, boolean mustBeAbandoned,
        boolean mustStay) {
      this.kind = kind;
      this.path = path;
      this.record = record;
      this.bytes = bytes;
      this.mustBeAbandoned = mustBeAbandoned;
      this.mustStay = mustStay;
    }

    @Override
    public String toString() {
      return kind + " at " + path;
    }
  }

  private final CuratorFramework client;
  private final DeferredSpanStoreLayout layout;
  private final DeferredTracing writer;
  private final String missingOwners;
  private final List<Planted> planted = new ArrayList<>();
  private int next;

  HostileWriter(CuratorFramework client, DeferredSpanStoreLayout layout, DeferredTracing writer,
      String missingOwners) {
    this.client = client;
    this.layout = layout;
    this.writer = writer;
    this.missingOwners = missingOwners;
  }

  List<Planted> planted() {
    return planted;
  }

  /** A key whose open shard lies in {@code [fromShard, toShard]} (by {@code String.hashCode & 0xff}). */
  String keyInShards(String prefix, int fromShard, int toShard, Random random) {
    while (true) {
      String key = prefix + "-" + (next++) + "-" + random.nextInt(1_000_000);
      int shard = key.hashCode() & 0xff;
      if (shard >= fromShard && shard <= toShard) {
        return key;
      }
    }
  }

  private DeferredSpanRecord orphanRecord(String owner) {
    return writer.spanBuilder("Planted").setNoParent().setOwner(owner).begin();
  }

  private String missingOwner() {
    return missingOwners + "/never-created-" + (next++);
  }

  Planted orphan(String key) throws Exception {
    DeferredSpanRecord record = orphanRecord(missingOwner());
    return plantOpen(Fault.PLANTED_ORPHAN, key, record, DeferredSpanRecordCodec.encode(record), true, false, true);
  }

  Planted relativeOwner(String key) throws Exception {
    DeferredSpanRecord record = orphanRecord(OWNER_PLACEHOLDER);
    byte[] bytes = replace(DeferredSpanRecordCodec.encode(record), OWNER_PLACEHOLDER, "relative/item-" + next++);
    return plantOpen(Fault.PLANTED_RELATIVE_OWNER, key, record, bytes, false, false, true);
  }

  Planted huge(String key) throws Exception {
    DeferredSpanRecord record = orphanRecord(missingOwner());
    String json = new String(DeferredSpanRecordCodec.encode(record), StandardCharsets.UTF_8);
    String head = json.substring(0, json.length() - 1) + ",\"a\":{\"sim.pad\":\"";
    String pad = "x".repeat(HUGE_RECORD_BYTES - head.length() - 3);
    byte[] bytes = (head + pad + "\"}}").getBytes(StandardCharsets.UTF_8);
    return plantOpen(Fault.PLANTED_HUGE_RECORD, key, record, bytes, false, false, true);
  }

  Planted newerVersionOpen(String key) throws Exception {
    DeferredSpanRecord record = orphanRecord(missingOwner());
    byte[] bytes = newerVersion(DeferredSpanRecordCodec.encode(record));
    return plantOpen(Fault.PLANTED_NEWER_VERSION_OPEN, key, record, bytes, false, true, true);
  }

  Planted extraChild(String key) throws Exception {
    DeferredSpanRecord record = orphanRecord(missingOwner());
    Planted plant = plantOpen(
        Fault.PLANTED_EXTRA_CHILD, key, record, DeferredSpanRecordCodec.encode(record), false, false, true);
    client.create().forPath(ZKPaths.makePath(plant.path, "note-from-an-operator"), new byte[0]);
    return plant;
  }

  Planted garbage(String key) throws Exception {
    byte[] bytes = "{\"v\":1,\"this is\":\"not a record\"".getBytes(StandardCharsets.UTF_8);
    return plantOpen(Fault.PLANTED_GARBAGE, key, null, bytes, false, false, false);
  }

  /** A finished span of format version 2, unclaimed, as a newer host that died before its export leaves it. */
  Planted newerVersionFinished() throws Exception {
    DeferredSpanRecord record = orphanRecord(missingOwner());
    byte[] bytes = newerVersion(
        DeferredSpanRecordCodec.encode(DeferredTracingUtil.finish(writer, record, DeferredSpanEnding.now())));
    String path = layout.endedPath(record.getSpanContext().getSpanId());
    client.create().forPath(path, bytes);
    Planted plant = new Planted(Fault.PLANTED_NEWER_VERSION_FINISHED, path, record, bytes, false, true);
    planted.add(plant);
    return plant;
  }

  private Planted plantOpen(Fault kind, String key, DeferredSpanRecord record, byte[] bytes,
      boolean mustBeAbandoned, boolean mustStay, boolean withMarker) throws Exception {
    String path = layout.openPath(key);
    if (withMarker) {
      client.transaction().forOperations(
          client.transactionOp().create().forPath(path, bytes),
          client.transactionOp().create()
              .forPath(ZKPaths.makePath(path, "span-" + record.getSpanContext().getSpanId()), new byte[0]));
    } else {
      client.create().forPath(path, bytes);
    }
    Planted plant = new Planted(kind, path, record, bytes, mustBeAbandoned, mustStay);
    planted.add(plant);
    return plant;
  }

  private static byte[] newerVersion(byte[] encoded) {
    String json = new String(encoded, StandardCharsets.UTF_8);
    if (!json.startsWith("{\"v\":1,")) {
      throw new IllegalStateException("records start with the version: " + json);
    }
    return ("{\"v\":2," + json.substring("{\"v\":1,".length())).getBytes(StandardCharsets.UTF_8);
  }

  private static byte[] replace(byte[] encoded, String from, String to) {
    String json = new String(encoded, StandardCharsets.UTF_8);
    if (!json.contains(from)) {
      throw new IllegalStateException("no " + from + " in " + json);
    }
    return json.replace(from, to).getBytes(StandardCharsets.UTF_8);
  }
}
