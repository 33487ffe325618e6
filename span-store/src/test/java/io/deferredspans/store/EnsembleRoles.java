package io.deferredspans.store;

import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingCluster;
import org.apache.curator.test.TestingZooKeeperServer;
import org.apache.zookeeper.client.FourLetterWordMain;

/** Which server of a test ensemble leads right now, asked the way an operator would ({@code srvr}). */
final class EnsembleRoles {
  private static final Duration WAIT = Duration.ofSeconds(60);

  private EnsembleRoles() {}

  /**
   * A three-server ensemble whose servers' ports are all distinct. {@code new TestingCluster(3)} draws each port
   * by binding port 0 and letting it go, so two servers can draw the same one: the cluster then fails to build
   * ("Multiple entries with same key", seen once in CI on the client port).
   */
  static TestingCluster threeServers() {
    Set<Integer> ports = new HashSet<>();
    List<InstanceSpec> specs = new ArrayList<>();
    while (specs.size() < 3) {
      InstanceSpec spec = InstanceSpec.newInstanceSpec();
      List<Integer> own = List.of(spec.getPort(), spec.getElectionPort(), spec.getQuorumPort());
      if (new HashSet<>(own).size() == 3 && own.stream().noneMatch(ports::contains)) {
        ports.addAll(own);
        specs.add(spec);
      }
    }
    return new TestingCluster(specs);
  }

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
