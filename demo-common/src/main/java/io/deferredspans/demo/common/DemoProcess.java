package io.deferredspans.demo.common;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.CreateMode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What every demo child process (scheduler, executor) does around its own work: start OpenTelemetry, connect to
 * ZooKeeper, announce itself with an ephemeral znode, and on SIGTERM close everything in reverse order so the
 * last spans are flushed.
 */
public final class DemoProcess {
  private static final Logger log = LoggerFactory.getLogger(DemoProcess.class);

  /** Flags every child takes. */
  public static final String ZOOKEEPER = "zookeeper";
  public static final String SESSION_TIMEOUT_MS = "session-timeout-ms";
  /** The process's name: its {@code service.instance.id}, its log and JSON lines file are named after it. */
  public static final String INSTANCE_ID = "instance-id";
  /** The launcher's OTLP/HTTP traces URL, which writes the process's JSON lines file. */
  public static final String TRACES_ENDPOINT = "traces-endpoint";

  private final DemoTelemetry telemetry;
  private final CuratorFramework client;
  private final List<AutoCloseable> components = new ArrayList<>();
  private final CountDownLatch stopped = new CountDownLatch(1);

  private DemoProcess(DemoTelemetry telemetry, CuratorFramework client) {
    this.telemetry = telemetry;
    this.client = client;
  }

  /** The value flags every child takes, and {@code own}. */
  public static Set<String> options(String... own) {
    Set<String> options = new HashSet<>(Set.of(ZOOKEEPER, SESSION_TIMEOUT_MS, INSTANCE_ID, TRACES_ENDPOINT));
    options.addAll(List.of(own));
    return options;
  }

  /**
   * Starts telemetry and the ZooKeeper client. OpenTelemetry settings come from {@code OTEL_*} variables and
   * {@code otel.*} system properties, as {@link DemoTelemetry} resolves them.
   *
   * @param role the service name, unless the user sets one
   */
  public static DemoProcess start(String role, CommandLine args) throws Exception {
    DemoTelemetry telemetry =
        DemoTelemetry.start(role, args.require(INSTANCE_ID), args.require(TRACES_ENDPOINT));
    CuratorFramework client;
    try {
      Duration session = Duration.ofMillis(args.getLong(SESSION_TIMEOUT_MS, 4_000));
      client = ZooKeeperConnection.connect(args.require(ZOOKEEPER), session);
    } catch (Exception | Error e) {
      telemetry.close();
      throw e;
    }
    DemoProcess process = new DemoProcess(telemetry, client);
    new Znodes(client).ensureFolders();
    log.info("{} {} started (pid {})", role, telemetry.instanceId(), ProcessHandle.current().pid());
    return process;
  }

  public DemoTelemetry telemetry() {
    return telemetry;
  }

  public CuratorFramework client() {
    return client;
  }

  /** Closed, newest first, at shutdown, before the ZooKeeper client and telemetry. */
  public <T extends AutoCloseable> T register(T component) {
    components.add(component);
    return component;
  }

  /**
   * Announces the process as ready (the launcher waits for this znode), then blocks until SIGTERM/SIGINT has
   * closed everything.
   */
  public void runUntilStopped() throws Exception {
    Runtime.getRuntime().addShutdownHook(new Thread(this::shutdown, "demo-shutdown"));
    client.create().withMode(CreateMode.EPHEMERAL)
        .forPath(DemoPaths.process(telemetry.instanceId()),
            Long.toString(ProcessHandle.current().pid()).getBytes(StandardCharsets.UTF_8));
    stopped.await();
  }

  private void shutdown() {
    log.info("{} shutting down", telemetry.instanceId());
    for (int i = components.size() - 1; i >= 0; i--) {
      try {
        components.get(i).close();
      } catch (Exception e) {
        log.warn("closing {} failed", components.get(i), e);
      }
    }
    client.close();
    telemetry.close();
    stopped.countDown();
  }
}
