package io.deferredspans.store;

import static org.awaitility.Awaitility.await;

import java.time.Duration;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingCluster;
import org.apache.curator.test.TestingZooKeeperServer;
import org.apache.zookeeper.client.FourLetterWordMain;

/** Which server of a test ensemble leads right now, asked the way an operator would ({@code srvr}). */
final class EnsembleRoles {
  private static final Duration WAIT = Duration.ofSeconds(60);

  private EnsembleRoles() {}

  static InstanceSpec leader(TestingCluster cluster) {
    return await().atMost(WAIT).ignoreExceptions().until(() -> {
      for (TestingZooKeeperServer server : cluster.getServers()) {
        InstanceSpec spec = server.getInstanceSpec();
        if (FourLetterWordMain.send4LetterWord("127.0.0.1", spec.getPort(), "srvr").contains("Mode: leader")) {
          return spec;
        }
      }
      return null;
    }, spec -> spec != null);
  }

  static InstanceSpec follower(TestingCluster cluster) {
    InstanceSpec leader = leader(cluster);
    return cluster.getInstances().stream().filter(s -> !s.equals(leader)).findFirst().orElseThrow();
  }
}
