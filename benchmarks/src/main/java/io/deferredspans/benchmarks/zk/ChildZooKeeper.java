package io.deferredspans.benchmarks.zk;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.curator.test.InstanceSpec;

/** A real ZooKeeper server (curator-test's TestingServer) in a child JVM started from this JVM's classpath. */
public final class ChildZooKeeper implements AutoCloseable {
  private final Process process;
  private final String connectString;
  private final Path dataDir;

  private ChildZooKeeper(Process process, String connectString, Path dataDir) {
    this.process = process;
    this.connectString = connectString;
    this.dataDir = dataDir;
  }

  /** Starts the server and waits until it accepts connections; its log goes to {@code log}. */
  public static ChildZooKeeper start(Path log) throws IOException {
    Path dataDir = Files.createTempDirectory("deferred-spans-bench-zk");
    return start(log, dataDir, List.of(dataDir.toString()));
  }

  /**
   * Starts an ensemble of {@code size} servers, each in its own child JVM, and returns them once each has
   * printed its address (the quorum forms as they find each other; a client's connect blocks until it has).
   */
  public static List<ChildZooKeeper> startEnsemble(int size, Path logDir) throws IOException {
    Path dataDir = Files.createTempDirectory("deferred-spans-bench-ensemble");
    List<String> ports = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      ports.add(InstanceSpec.getRandomPort() + "," + InstanceSpec.getRandomPort() + ","
          + InstanceSpec.getRandomPort());
    }
    List<ChildZooKeeper> servers = new ArrayList<>();
    try {
      for (int i = 0; i < size; i++) {
        List<String> args = new ArrayList<>(List.of("quorum", Integer.toString(i), dataDir.toString()));
        args.addAll(ports);
        servers.add(start(logDir.resolve("zookeeper-ensemble-" + (i + 1) + ".log"),
            dataDir.resolve("server-" + (i + 1)), args));
      }
      return servers;
    } catch (IOException | RuntimeException e) {
      for (ChildZooKeeper server : servers) {
        server.closeQuietly();
      }
      throw e;
    }
  }

  /** The connect string of a whole ensemble. */
  public static String connectString(List<ChildZooKeeper> servers) {
    return String.join(",", servers.stream().map(ChildZooKeeper::connectString).toList());
  }

  private void closeQuietly() {
    try {
      close();
    } catch (IOException | InterruptedException e) {
      process.destroyForcibly();
    }
  }

  private static ChildZooKeeper start(Path log, Path dataDir, List<String> args) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-Xms512m");
    command.add("-Xmx1g"); // 100,000 open records plus their queue items fit easily
    command.add("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn");
    // e.g. a flight recording of the server: -Dbenchmarks.zookeeper.jvmArgs=-XX:StartFlightRecording=filename=zk.jfr
    String extra = System.getProperty("benchmarks.zookeeper.jvmArgs", "").strip();
    if (!extra.isEmpty()) {
      command.addAll(List.of(extra.split("\\s+")));
    }
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(ZooKeeperProcess.class.getName());
    command.addAll(args);
    Files.createDirectories(log.toAbsolutePath().getParent());
    Process process =
        new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.to(log.toFile())).start();
    BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    String line;
    while ((line = out.readLine()) != null) {
      if (line.startsWith("CONNECT ")) {
        return new ChildZooKeeper(process, line.substring("CONNECT ".length()), dataDir);
      }
    }
    process.destroyForcibly();
    throw new IOException("ZooKeeper child process exited before serving; see " + log);
  }

  public String connectString() {
    return connectString;
  }

  public Path dataDir() {
    return dataDir;
  }

  /** The child's pid, so its memory can be told apart from the client's. */
  public long pid() {
    return process.pid();
  }

  @Override
  public void close() throws IOException, InterruptedException {
    process.getOutputStream().close(); // the child exits when its stdin closes
    if (!process.waitFor(15, TimeUnit.SECONDS)) {
      process.destroyForcibly();
    }
    deleteRecursively(dataDir.toFile());
  }

  private static void deleteRecursively(File file) {
    File[] children = file.listFiles();
    if (children != null) {
      for (File child : children) {
        deleteRecursively(child);
      }
    }
    file.delete();
  }
}
