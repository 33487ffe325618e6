package io.deferredspans.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.concurrent.atomic.LongAdder;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** What one recovery leader leaves for the next, on a real ZooKeeper: kept, bounded, and never fought over. */
class RecoveryProgressTest {
  @RegisterExtension static final StoreServers SERVERS = new StoreServers("recovery-progress");

  private CuratorFramework client() throws Exception {
    CuratorFramework client = CuratorFrameworkFactory.newClient(SERVERS.zookeeper().getConnectString(),
        new ExponentialBackoffRetry(100, 3));
    client.start();
    client.blockUntilConnected();
    SERVERS.closeAfterTest(client);
    client.create().creatingParentsIfNeeded().forPath(SERVERS.base());
    return client;
  }

  private static String spanId(int i) {
    return String.format("%016x", 0x1000_0000_0000L + i);
  }

  @Test
  void theNextLeaderReadsWhatTheLastWroteAndTheZnodeStaysBoundedKeepingTheLatestBackoffs() throws Exception {
    CuratorFramework client = client();
    ZNodeLayout layout = new ZNodeLayout(SERVERS.base());
    RecoveryProgress first = new RecoveryProgress(client, layout, new LongAdder());
    first.loadIfStale();
    long now = Duration.ofDays(20_000).toNanos();
    int spans = 20_000; // more than fit in 512 KiB
    for (int i = 0; i < spans; i++) {
      first.attempted(layout.endedPath(spanId(i)), now + Duration.ofSeconds(i).toNanos(),
          Duration.ofSeconds(30).toNanos(), Duration.ofMinutes(15).toNanos());
    }
    first.sweepShard(0x9c);
    String openPath = layout.openPath("missing-owner");
    first.ownerSeenMissing(openPath, now);
    first.saveIfChanged();

    RecoveryProgress next = new RecoveryProgress(client, layout, new LongAdder());
    next.loadIfStale();

    assertThat(client.getData().forPath(next.path()).length).isLessThanOrEqualTo(RecoveryProgress.MAX_BYTES);
    assertEquals(0x9c, next.sweepShard());
    assertThat(next.backoffCount()).isBetween(10_000, spans - 1);
    String latest = layout.endedPath(spanId(spans - 1));
    assertThat(next.backedOff(latest, now)).as("the backoff due last is kept").isTrue();
    assertThat(next.backoff(layout.endedPath(spanId(0)))).as("the one due soonest is the one left out").isNull();
    assertEquals(now / 1_000_000, next.ownerMissingSince(openPath) / 1_000_000);
  }

  @Test
  void aWorkerThatFindsAnotherVersionGoesOnFromTheOthersProgress() throws Exception {
    CuratorFramework client = client();
    ZNodeLayout layout = new ZNodeLayout(SERVERS.base());
    RecoveryProgress a = new RecoveryProgress(client, layout, new LongAdder());
    RecoveryProgress b = new RecoveryProgress(client, layout, new LongAdder());
    a.loadIfStale();
    b.loadIfStale();
    a.sweepShard(10);
    a.saveIfChanged();

    b.sweepShard(3);
    b.saveIfChanged(); // a wrote meanwhile: refused by the version, b reads a's at its next use
    b.loadIfStale();

    assertEquals(10, b.sweepShard());
  }
}
