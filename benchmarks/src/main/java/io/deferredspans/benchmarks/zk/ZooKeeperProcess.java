package io.deferredspans.benchmarks.zk;

import java.io.File;
import java.nio.file.Files;
import org.apache.curator.test.TestingServer;

/**
 * Main class of the child JVM that runs the benchmark's ZooKeeper server. A separate JVM keeps the server's
 * heap and threads out of the client's measurements (the memory figure would otherwise count every znode).
 *
 * <p>Prints {@code CONNECT <connect string>} and {@code DATA <dir>} on stdout once serving, then runs until its
 * stdin closes, i.e. until the parent exits or closes it, so it can never outlive the run.
 */
public final class ZooKeeperProcess {
  private ZooKeeperProcess() {}

  public static void main(String[] args) throws Exception {
    File dataDir = args.length > 0 ? new File(args[0]) : Files.createTempDirectory("deferred-spans-bench-zk").toFile();
    try (TestingServer server = new TestingServer(-1, dataDir, true)) {
      System.out.println("DATA " + dataDir.getAbsolutePath());
      System.out.println("CONNECT " + server.getConnectString());
      System.out.flush();
      while (System.in.read() != -1) {
        // parent alive: keep serving
      }
    }
  }
}
