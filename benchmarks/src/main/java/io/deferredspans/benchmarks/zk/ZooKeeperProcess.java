package io.deferredspans.benchmarks.zk;

import java.io.File;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.QuorumConfigBuilder;
import org.apache.curator.test.TestingServer;
import org.apache.curator.test.TestingZooKeeperServer;

/**
 * Main class of the child JVM that runs the benchmark's ZooKeeper server. A separate JVM keeps the server's
 * heap and threads out of the client's measurements (the memory figure would otherwise count every znode).
 *
 * <p>Prints {@code CONNECT <connect string>} and {@code DATA <dir>} on stdout once serving, then runs until its
 * stdin closes, i.e. until the parent exits or closes it, so it can never outlive the run.
 */
public final class ZooKeeperProcess {
  private ZooKeeperProcess() {}

  /**
   * {@code [DATA_DIR]}: one standalone server. {@code quorum INDEX DATA_DIR PORTS...}: server INDEX (0-based) of an
   * ensemble, one child JVM per server, where each PORTS is {@code client,election,quorum} of one server.
   */
  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("quorum")) {
      int index = Integer.parseInt(args[1]);
      List<InstanceSpec> specs = new ArrayList<>();
      for (int i = 3; i < args.length; i++) {
        String[] ports = args[i].split(",");
        File dir = new File(args[2], "server-" + (i - 2));
        Files.createDirectories(dir.toPath());
        specs.add(new InstanceSpec(dir, Integer.parseInt(ports[0]), Integer.parseInt(ports[1]),
            Integer.parseInt(ports[2]), true, i - 2));
      }
      try (TestingZooKeeperServer server = new TestingZooKeeperServer(new QuorumConfigBuilder(specs), index)) {
        server.start();
        serveUntilParentExits(specs.get(index).getDataDirectory(), specs.get(index).getConnectString());
      }
      return;
    }
    File dataDir = args.length > 0 ? new File(args[0]) : Files.createTempDirectory("deferred-spans-bench-zk").toFile();
    try (TestingServer server = new TestingServer(-1, dataDir, true)) {
      serveUntilParentExits(dataDir, server.getConnectString());
    }
  }

  private static void serveUntilParentExits(File dataDir, String connectString) throws Exception {
    System.out.println("DATA " + dataDir.getAbsolutePath());
    System.out.println("CONNECT " + connectString);
    System.out.flush();
    while (System.in.read() != -1) {
      // parent alive: keep serving
    }
  }
}
