package io.deferredspans.benchmarks.zk;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import java.util.Arrays;
import org.apache.zookeeper.data.Stat;

/**
 * The library in embedded mode: the record's bytes ride inside the item's own data, so the begin is the item's
 * one plain create (no operation of ours); the dequeue reads the item with its version, as every consumer does,
 * and ends with {@code endEmbeddedSpan} and the item's delete at that version; settle = flush the span pipeline
 * and wait until the store removed every exported span from ZooKeeper.
 *
 * <p>The item's data is the queue's usual payload, a newline, then {@link DeferredSpanRecord#toBytes()}: the
 * payload has no newline, so the first one frames the record.
 */
public final class EmbeddedSpanQueue implements QueueVariant {
  private static final byte SEPARATOR = '\n';

  private final BenchClient host;
  private final QueueItems items;

  public EmbeddedSpanQueue(BenchClient host, QueueItems items) {
    this.host = host;
    this.items = items;
  }

  @Override
  public String name() {
    return "embedded: item with record inside / read item + endEmbeddedSpan";
  }

  @Override
  public void enqueue(String key) throws Exception {
    String itemPath = items.path(key);
    DeferredSpanRecord record = DeferredSpanQueue.beginRecord(host, itemPath);
    host.client.create().forPath(itemPath, itemData(items.payload(key), record.toBytes()));
  }

  @Override
  public void dequeue(String key) throws Exception {
    String itemPath = items.path(key);
    Stat stat = new Stat();
    byte[] item = host.client.getData().storingStatIn(stat).forPath(itemPath);
    DeferredSpanQueue.requireEnded(key,
        host.store.endEmbeddedSpan(itemPath, recordBytesOf(item), DeferredSpanEnding.now(),
            host.client.transactionOp().delete().withVersion(stat.getVersion()).forPath(itemPath)));
  }

  @Override
  public void awaitDequeuesSettled() {
    DeferredSpanQueue.awaitCleanup(host);
  }

  /** The item's data with the record inside: payload, newline, record bytes. */
  static byte[] itemData(byte[] payload, byte[] recordBytes) {
    byte[] data = Arrays.copyOf(payload, payload.length + 1 + recordBytes.length);
    data[payload.length] = SEPARATOR;
    System.arraycopy(recordBytes, 0, data, payload.length + 1, recordBytes.length);
    return data;
  }

  /** The record's bytes out of an item written by {@link #itemData}. */
  static byte[] recordBytesOf(byte[] item) {
    for (int i = 0; i < item.length; i++) {
      if (item[i] == SEPARATOR) {
        return Arrays.copyOfRange(item, i + 1, item.length);
      }
    }
    throw new IllegalStateException("item without an embedded record (" + item.length + " bytes)");
  }
}
