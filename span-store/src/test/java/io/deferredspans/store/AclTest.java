package io.deferredspans.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.ACLProvider;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.test.TestingServer;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.junit.jupiter.api.Test;

/**
 * The store's znodes take the ACLs of the Curator client handed in: with digest credentials and creator-only
 * ACLs, a client without them can neither read, forge, end nor delete span records.
 */
class AclTest {
  private static final String BASE = "/deferred-spans";

  /** Creator-only ACLs under the store's base path; everything else stays open, as the caller decides. */
  private static final ACLProvider STORE_ONLY = new ACLProvider() {
    @Override
    public List<ACL> getDefaultAcl() {
      return ZooDefs.Ids.OPEN_ACL_UNSAFE;
    }

    @Override
    public List<ACL> getAclForPath(String path) {
      return path.startsWith(BASE) ? ZooDefs.Ids.CREATOR_ALL_ACL : ZooDefs.Ids.OPEN_ACL_UNSAFE;
    }
  };

  private static CuratorFramework client(TestingServer zookeeper, String credentials) throws Exception {
    CuratorFrameworkFactory.Builder builder = CuratorFrameworkFactory.builder()
        .connectString(zookeeper.getConnectString())
        .retryPolicy(new ExponentialBackoffRetry(100, 3))
        .aclProvider(STORE_ONLY);
    if (credentials != null) {
      builder.authorization("digest", credentials.getBytes(StandardCharsets.UTF_8));
    }
    CuratorFramework client = builder.build();
    client.start();
    client.blockUntilConnected(30, TimeUnit.SECONDS);
    return client;
  }

  @Test
  void clientWithoutCredentialsCanNeitherReadNorChangeSpanRecords() throws Exception {
    try (TestingServer zookeeper = new TestingServer(true);
        CuratorFramework trusted = client(zookeeper, "deferred-spans:s3cret");
        CuratorFramework stranger = client(zookeeper, null);
        CuratorFramework wrongPassword = client(zookeeper, "deferred-spans:guess")) {
      DeferredTracing tracing = DeferredTracing.builder().setHostName("scheduler").build();
      try (DeferredSpanStore store = DeferredSpanStore.builder(trusted, tracing).basePath(BASE).build()) {
        store.start();
        DeferredSpanRecord record = tracing.spanBuilder("QueueItem").begin();
        store.beginDeferredSpan("item-1", record);
        String path = store.core().layout().openPath("item-1");
        String shard = org.apache.curator.utils.ZKPaths.getPathAndNode(path).getPath();

        for (CuratorFramework outsider : List.of(stranger, wrongPassword)) {
          assertThrows(KeeperException.NoAuthException.class, () -> outsider.getData().forPath(path));
          assertThrows(KeeperException.NoAuthException.class, () -> outsider.getChildren().forPath(shard));
          assertThrows(KeeperException.NoAuthException.class,
              () -> outsider.setData().forPath(path, "{\"v\":1}".getBytes(StandardCharsets.UTF_8)));
          assertThrows(KeeperException.NoAuthException.class, () -> outsider.delete().forPath(path));
          // Without credentials ZooKeeper answers InvalidACL (it cannot be the "creator"), with wrong ones NoAuth.
          KeeperException forged = assertThrows(KeeperException.class,
              () -> outsider.create().forPath(store.core().layout().openPath("forged"), new byte[] {1}));
          assertTrue(forged instanceof KeeperException.NoAuthException
              || forged instanceof KeeperException.InvalidACLException, forged.toString());
          try (DeferredSpanStore outsiderStore =
              DeferredSpanStore.builder(outsider, tracing).basePath(BASE).build()) {
            assertThrows(KeeperException.NoAuthException.class, outsiderStore::start);
          }
        }

        assertEquals(record, store.read("item-1").orElseThrow(), "untouched");
        assertEquals(List.of(ZooDefs.Perms.ALL),
            trusted.getACL().forPath(path).stream().map(ACL::getPerms).toList());
        assertEquals(EndResult.Outcome.ENDED, store.endDeferredSpan("item-1", DeferredSpanEnding.now()).getOutcome());
      }
    }
  }
}
