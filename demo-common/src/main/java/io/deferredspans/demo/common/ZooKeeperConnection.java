package io.deferredspans.demo.common;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;

/** Opens the one Curator client a demo process uses, and hands it to everything else in that process. */
public final class ZooKeeperConnection {
  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(20);

  private ZooKeeperConnection() {}

  /**
   * A started client, connected. A short session timeout makes a killed process's ephemeral znodes (claims,
   * leader latch) vanish quickly, which is what lets the survivors take over within the demo's minute.
   *
   * @throws IllegalStateException if ZooKeeper cannot be reached within 20 s
   */
  public static CuratorFramework connect(String connectString, Duration sessionTimeout) throws InterruptedException {
    CuratorFramework client =
        CuratorFrameworkFactory.builder()
            .connectString(connectString)
            .sessionTimeoutMs((int) sessionTimeout.toMillis())
            .connectionTimeoutMs((int) Math.min(sessionTimeout.toMillis(), 5_000))
            .retryPolicy(new ExponentialBackoffRetry(100, 5, 2_000))
            .build();
    client.start();
    if (!client.blockUntilConnected((int) CONNECT_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
      client.close();
      throw new IllegalStateException(
          "could not connect to ZooKeeper at " + connectString + " within " + CONNECT_TIMEOUT.toSeconds() + " s");
    }
    return client;
  }
}
