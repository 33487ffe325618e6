package io.deferredspans.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.utils.ZKPaths;
import org.junit.jupiter.api.Test;

/** The public layout names exactly the znodes the store writes, so tools reading it cannot drift from the store. */
class DeferredSpanStoreLayoutTest {
  private final DeferredSpanStoreLayout layout = DeferredSpanStoreLayout.of("/deferred-spans");

  @Test
  void keysRoundTripThroughTheirZnodeNames() {
    for (String key : new String[] {"tenant/gate/item 1", ".", "..", "ä*%", "plain"}) {
      String name = ZKPaths.getNodeFromPath(layout.openPath(key));
      assertThat(DeferredSpanStoreLayout.keyOf(name)).isEqualTo(key);
    }
  }

  @Test
  void pathsAreTheStoresOwn() {
    ZNodeLayout internal = new ZNodeLayout("/deferred-spans");
    assertThat(layout.openShards()).hasSize(ZNodeLayout.SHARDS).isEqualTo(internal.openShards());
    assertThat(layout.endedShards()).isEqualTo(internal.endedShards());
    assertThat(layout.openPath("a/b")).isEqualTo(internal.openPath("a/b"));
    assertThat(layout.abandonedPath("a/b")).isEqualTo(internal.abandonedPath(internal.openPath("a/b")));
    assertThat(layout.openRoot()).isEqualTo("/deferred-spans/open");
    assertThat(ZKPaths.getPathAndNode(layout.openShards().get(0)).getPath()).isEqualTo(layout.openRoot());
  }

  @Test
  void readsMarkersAndClaimsAsTheStoreWritesThem() {
    DeferredTracing tracing = DeferredTracing.builder().setHostName("scheduler-1").build();
    DeferredSpanRecord record = tracing.spanBuilder("QueueItem").begin();
    String spanId = record.getSpanContext().getSpanId();
    String marker = ZKPaths.getNodeFromPath(ZNodeLayout.markerPath(layout.openPath("k"), spanId));
    assertThat(DeferredSpanStoreLayout.markerSpanId(marker)).contains(spanId);
    assertThat(DeferredSpanStoreLayout.markerSpanId("other")).isEqualTo(Optional.empty());

    // Never started: building a store touches no ZooKeeper, and claimData() is what an end writes.
    CuratorFramework unstarted = CuratorFrameworkFactory.newClient("localhost:1", new RetryOneTime(1));
    try (DeferredSpanStore store = DeferredSpanStore.builder(unstarted, tracing).build()) {
      assertThat(DeferredSpanStoreLayout.claimHolder(store.core().endTransaction().claimData())).isEqualTo("scheduler-1");
    }
    assertThat(DeferredSpanStoreLayout.claimHolder("old-host".getBytes(StandardCharsets.UTF_8))).isEqualTo("old-host");
  }

  @Test
  void readsTombstonesAsRecoveryWritesThem() {
    byte[] tombstone = ZNodeLayout.tombstoneData("00f067aa0ba902b7", "/items/gate/item-1");
    assertThat(DeferredSpanStoreLayout.tombstoneSpanId(tombstone)).isEqualTo("00f067aa0ba902b7");
    assertThat(DeferredSpanStoreLayout.tombstoneOwner(tombstone)).isEqualTo("/items/gate/item-1");
    byte[] ownerless = ZNodeLayout.tombstoneData("00f067aa0ba902b7", "");
    assertThat(DeferredSpanStoreLayout.tombstoneSpanId(ownerless)).isEqualTo("00f067aa0ba902b7");
    assertThat(DeferredSpanStoreLayout.tombstoneOwner(ownerless)).isEmpty();
    assertThat(new String(tombstone, StandardCharsets.UTF_8)).isEqualTo("00f067aa0ba902b7\n/items/gate/item-1");
  }
}
