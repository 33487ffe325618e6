package io.deferredspans.demo.scheduler;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import org.apache.zookeeper.server.embedded.ExitHandler;
import org.apache.zookeeper.server.embedded.ZooKeeperServerEmbedded;

/**
 * A standalone ZooKeeper server inside the launcher, so a new user needs nothing installed. Uses ZooKeeper's own
 * {@link ZooKeeperServerEmbedded}; a fatal server error is logged rather than calling {@code System.exit}, so the
 * launcher can still stop its child processes.
 */
final class EmbeddedZooKeeper implements AutoCloseable {
  private final ZooKeeperServerEmbedded server;
  private final String connectString;

  private EmbeddedZooKeeper(ZooKeeperServerEmbedded server, String connectString) {
    this.server = server;
    this.connectString = connectString;
  }

  /** @param dataDir where the server keeps its snapshots and logs; created if missing */
  static EmbeddedZooKeeper start(Path dataDir) throws Exception {
    Files.createDirectories(dataDir);
    Properties config = new Properties();
    config.setProperty("clientPort", Integer.toString(freePort()));
    config.setProperty("clientPortAddress", "127.0.0.1");
    config.setProperty("dataDir", dataDir.resolve("data").toAbsolutePath().toString());
    // Short ticks allow the short sessions that let survivors take over from a killed process quickly.
    config.setProperty("tickTime", "500");
    config.setProperty("minSessionTimeout", "1000");
    config.setProperty("admin.enableServer", "false");
    ZooKeeperServerEmbedded server =
        ZooKeeperServerEmbedded.builder().baseDir(dataDir).configuration(config).exitHandler(ExitHandler.LOG_ONLY).build();
    server.start(30_000);
    return new EmbeddedZooKeeper(server, server.getConnectionString());
  }

  String connectString() {
    return connectString;
  }

  @Override
  public void close() {
    server.close();
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }
}
