package io.deferredspans.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.deferredspans.otlp.json.ReceivedSpan;
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanLimitException;
import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import io.opentelemetry.api.common.Attributes;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.RetryNTimes;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.utils.ZKPaths;
import org.apache.jute.BinaryInputArchive;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 15 §2.2, 2.6, 2.7: one size limit, everywhere. Every record the format allows can be ended, whatever
 * the client's {@code jute.maxbuffer}; bytes beyond the limit (or garbage of any size) are rejected records,
 * never an exception that no retry can get past; nothing the server would drop is ever sent.
 */
class RecordLimitsTest {
  // Read before any test raises the property: the in-process server keeps ZooKeeper's default whatever a client
  // of this JVM is then configured with (the server reads it once).
  private static final int IN_PROCESS_SERVER_MAX_BUFFER = BinaryInputArchive.maxBuffer;
  private static final int RAISED = 4 * 1024 * 1024;
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String SPAN_ID = "00f067aa0ba902b7";
  @RegisterExtension static final StoreServers SERVERS = new StoreServers("record-limits");

  private String items;

  @BeforeEach
  void freshPaths() {
    items = SERVERS.items();
  }

  private TestHost host(String name, UnaryOperator<DeferredSpanStore.Builder> options) throws Exception {
    return host(name, SERVERS.zookeeper().getConnectString(), options);
  }

  private TestHost host(String name, String connectString, UnaryOperator<DeferredSpanStore.Builder> options)
      throws Exception {
    TestHost host = SERVERS.closeAfterTest(TestHost.start(name, connectString,
        SERVERS.base(), TestHost.httpExporter(SERVERS.receiver().httpEndpoint()), options));
    host.client.createContainers(items);
    return host;
  }

  /** A host whose client allows packets of 4 MiB, as {@code -Djute.maxbuffer=4194304} does. */
  private TestHost hostWithLargeClientBuffer(String connectString, UnaryOperator<DeferredSpanStore.Builder> options)
      throws Exception {
    String before = System.getProperty("jute.maxbuffer");
    System.setProperty("jute.maxbuffer", Integer.toString(RAISED));
    try {
      return host("large-buffer", connectString, options);
    } finally {
      if (before == null) {
        System.clearProperty("jute.maxbuffer");
      } else {
        System.setProperty("jute.maxbuffer", before);
      }
    }
  }

  private static List<ConnectionState> states(TestHost host) {
    List<ConnectionState> states = new CopyOnWriteArrayList<>();
    host.client.getConnectionStateListenable().addListener((c, state) -> states.add(state));
    return states;
  }

  /** A begin record of exactly {@code size} bytes, valid but for its size: its attribute pads it. */
  private static byte[] recordOfSize(int size) {
    String head = "{\"v\":1,\"c\":\"4bf92f3577b34da6a3ce929d0e0e4736-" + SPAN_ID + "-01\",\"n\":\"QueueItem\","
        + "\"t\":" + System.currentTimeMillis() * 1_000_000 + ",\"a\":{\"pad\":\"";
    String tail = "\"}}";
    return (head + "p".repeat(size - head.length() - tail.length()) + tail).getBytes(StandardCharsets.UTF_8);
  }

  /** Writes {@code bytes} under {@code key} with the marker of {@link #SPAN_ID}, and the caller's item. */
  private String writeRaw(TestHost host, String key, byte[] bytes) throws Exception {
    String path = host.store.core().layout().openPath(key);
    host.client.transaction().forOperations(
        host.client.transactionOp().create().forPath(path, bytes),
        host.client.transactionOp().create().forPath(ZNodeLayout.markerPath(path, SPAN_ID), new byte[0]),
        host.client.transactionOp().create().forPath(items + "/" + key));
    return path;
  }

  private EndResult dequeue(TestHost host, String key, DeferredSpanEnding ending) throws Exception {
    return host.store.endDeferredSpan(key, ending, host.client.transactionOp().delete().forPath(items + "/" + key));
  }

  private int quarantined(TestHost host) throws Exception {
    return host.client.getChildren().forPath(ZKPaths.makePath(SERVERS.base(), "quarantine")).size();
  }

  @Test
  void largestRecordTheFormatAllowsIsEndedWithTheLargestEndingItAllows() throws Exception {
    TestHost host = host("host", UnaryOperator.identity());
    String key = "\u20ac".repeat(1024); // the longest key, and the longest encoded name (9216 characters)
    writeRaw(host, key, recordOfSize(DeferredSpanRecordCodec.MAX_RECORD_BYTES));
    // What an end may add to a record at its limit, less the finished span's own fields: events of 4 KiB each.
    int events = (DeferredSpanRecordCodec.MAX_FINISHED_BYTES - DeferredSpanRecordCodec.MAX_RECORD_BYTES) / 4_160;
    DeferredSpanEnding.Builder ending = DeferredSpanEnding.builder();
    for (int i = 0; i < events; i++) {
      ending.addEvent("step-" + i, System.currentTimeMillis() * 1_000_000,
          Attributes.builder().put("log", "l".repeat(4_000)).build());
    }

    // The caller's operations: the dequeue, and 160 KiB more, which the limits leave room for.
    EndResult result = host.store.endDeferredSpan(key, ending.build(),
        host.client.transactionOp().delete().forPath(items + "/" + key),
        host.client.transactionOp().create().forPath(items + "/receipt", new byte[160 * 1024]));

    assertEquals(EndResult.Outcome.ENDED, result.getOutcome());
    ReceivedSpan span = SERVERS.receiver().awaitSpans(1, WAIT).get(0);
    assertEquals(SPAN_ID, span.spanId());
    assertEquals(events, span.events().size());
    assertThat(DeferredSpanRecordCodec.encode(result.getSpan().orElseThrow()).length)
        .isLessThanOrEqualTo(DeferredSpanRecordCodec.MAX_FINISHED_BYTES);
  }

  @Test
  void recordsLargerThanTheFormatAllowsAndGarbageOfAnySizeAreRejectedNotAnException() throws Exception {
    TestHost host = host("host", UnaryOperator.identity());
    List<ConnectionState> states = states(host);
    byte[] garbage = new byte[1_040_000];
    java.util.Arrays.fill(garbage, (byte) 'x');
    List<byte[]> oversized = List.of(
        recordOfSize(1_000_000), recordOfSize(DeferredSpanRecordCodec.MAX_RECORD_BYTES + 1), garbage);
    for (int i = 0; i < oversized.size(); i++) {
      String key = "oversized-" + i;
      String path = writeRaw(host, key, oversized.get(i));

      EndResult result = dequeue(host, key, DeferredSpanEnding.now());

      assertEquals(EndResult.Outcome.REJECTED_RECORD, result.getOutcome(), key);
      assertNull(host.client.checkExists().forPath(items + "/" + key), key + ": the item was dequeued");
      assertNull(host.client.checkExists().forPath(path), key + ": the record left open/");
      assertEquals(i + 1, quarantined(host), key + ": kept in quarantine");
    }
    for (String name : host.client.getChildren().forPath(ZKPaths.makePath(SERVERS.base(), "quarantine"))) {
      byte[] kept = host.client.getData().forPath(ZKPaths.makePath(SERVERS.base(), "quarantine", name));
      assertThat(kept.length).as("a quarantined copy is never larger than a finished span may be")
          .isLessThanOrEqualTo(DeferredSpanRecordCodec.MAX_FINISHED_BYTES);
    }
    assertThat(states).doesNotContain(ConnectionState.SUSPENDED);
  }

  @Test
  void garbageNeverBlocksADequeueWhoseOwnOperationsAreLarge() throws Exception {
    // The caller rewrites its 600 KB item as it dequeues; the garbage in its place would take 700 KB more in
    // quarantine, and both together more than a transaction may: the quarantined copy must give way, not the item.
    TestHost host = host("host", UnaryOperator.identity());
    byte[] garbage = new byte[700 * 1024];
    java.util.Arrays.fill(garbage, (byte) 'x');
    byte[] rewritten = new byte[600 * 1024];
    java.util.Arrays.fill(rewritten, (byte) 'r');
    writeRaw(host, "standard", garbage);
    host.client.create().forPath(items + "/embedded");

    EndResult standard = host.store.endDeferredSpan("standard", DeferredSpanEnding.now(),
        host.client.transactionOp().setData().forPath(items + "/standard", rewritten));
    EndResult embedded = host.store.endEmbeddedSpan(items + "/embedded", garbage, DeferredSpanEnding.now(),
        host.client.transactionOp().setData().withVersion(0).forPath(items + "/embedded", rewritten));

    assertEquals(EndResult.Outcome.REJECTED_RECORD, standard.getOutcome());
    assertEquals(EndResult.Outcome.REJECTED_RECORD, embedded.getOutcome());
    for (String item : List.of("standard", "embedded")) {
      assertThat(host.client.getData().forPath(items + "/" + item)).as(item + ": the dequeue applied")
          .isEqualTo(rewritten);
    }
    assertEquals(2, quarantined(host));
    for (String name : host.client.getChildren().forPath(ZKPaths.makePath(SERVERS.base(), "quarantine"))) {
      byte[] kept = host.client.getData().forPath(ZKPaths.makePath(SERVERS.base(), "quarantine", name));
      assertThat(kept).as("the head of the garbage is kept").isNotEmpty()
          .isEqualTo(java.util.Arrays.copyOf(garbage, kept.length));
    }
  }

  @Test
  void recoveryQuarantinesARecordLargerThanTheFormatAllowsInsteadOfFailingEveryScan() throws Exception {
    TestHost host = host("host", UnaryOperator.identity());
    String path = writeRaw(host, "too-old-and-too-large", recordOfSize(1_000_000));
    DeferredSpanRecovery recovery = SERVERS.closeAfterTest(DeferredSpanRecovery.builder(host.store)
        .gracePeriod(Duration.ZERO).maxAge(Duration.ofNanos(1)).build());

    DeferredSpanRecovery.ScanResult scan = recovery.scanNow();

    assertEquals(1, scan.quarantined(), scan.toString());
    assertNull(host.client.checkExists().forPath(path));
  }

  @Test
  void clientAllowingLargerPacketsThanTheServerSendsNothingTheServerWouldDrop() throws Exception {
    assertEquals(0xfffff, IN_PROCESS_SERVER_MAX_BUFFER, "the server takes ZooKeeper's default");
    TestHost host = hostWithLargeClientBuffer(SERVERS.zookeeper().getConnectString(),
        store -> store.operationTimeout(Duration.ofSeconds(5)));
    List<ConnectionState> states = states(host);
    String item = items + "/big-item";
    host.store.beginDeferredSpan("big", host.tracing.spanBuilder("QueueItem").setNoParent().begin());

    // The caller's operation alone is over the server's 1 MiB default; the client's 4 MiB would let it out.
    DeferredSpanLimitException refused = assertThrows(DeferredSpanLimitException.class,
        () -> host.store.endDeferredSpan("big", DeferredSpanEnding.now(),
            host.client.transactionOp().create().forPath(item, new byte[1_100_000])));

    assertThat(refused.getMessage()).contains("nothing was sent");
    assertThat(states).doesNotContain(ConnectionState.SUSPENDED);
    assertTrue(host.store.read("big").isPresent(), "the span is still open");
    assertNull(host.client.checkExists().forPath(item));
  }

  @Test
  void endLargerThanTheFormatAllowsIsRefusedEvenWhereZooKeeperWouldTakeIt() throws Exception {
    // Server and client both raised to 4 MiB: the end would be accepted, and then found larger than any valid
    // finished span by every recovery that reads it.
    RaisedServer server = SERVERS.closeAfterTest(RaisedServer.start());
    TestHost host = hostWithLargeClientBuffer(server.connectString, store -> store.serverMaxBufferBytes(RAISED));
    List<ConnectionState> states = states(host);
    host.store.beginDeferredSpan("wordy", host.tracing.spanBuilder("QueueItem").setNoParent()
        .setOwner(items + "/wordy").begin(), host.client.transactionOp().create().forPath(items + "/wordy"));
    DeferredSpanEnding.Builder ending = DeferredSpanEnding.builder();
    for (int i = 0; i < 128; i++) {
      ending.addEvent("step-" + i, System.currentTimeMillis() * 1_000_000,
          Attributes.builder().put("log", "y".repeat(8_500)).build());
    }

    DeferredSpanLimitException refused =
        assertThrows(DeferredSpanLimitException.class, () -> dequeue(host, "wordy", ending.build()));

    assertThat(refused.getMessage()).contains("nothing was sent");
    assertThat(states).doesNotContain(ConnectionState.SUSPENDED);
    assertNotNull(host.client.checkExists().forPath(items + "/wordy"), "the item was not dequeued");
    assertEquals(EndResult.Outcome.ENDED, dequeue(host, "wordy", DeferredSpanEnding.now()).getOutcome());
  }

  /** A ZooKeeper server in its own JVM, started with {@code -Djute.maxbuffer} raised to 4 MiB. */
  private static final class RaisedServer implements AutoCloseable {
    final String connectString;
    private final Process process;

    private RaisedServer(String connectString, Process process) {
      this.connectString = connectString;
      this.process = process;
    }

    static RaisedServer start() throws Exception {
      InstanceSpec spec = InstanceSpec.newInstanceSpec();
      // A log of its own: builds running side by side each start one, and a failed start must be explained.
      File log = File.createTempFile("raised-zookeeper-", ".log");
      Process process = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"), "-Xmx128m",
          "-Djute.maxbuffer=" + RAISED, "-Dzookeeper.forceSync=no", "-cp", System.getProperty("java.class.path"),
          "org.apache.zookeeper.server.ZooKeeperServerMain", Integer.toString(spec.getPort()),
          spec.getDataDirectory().getAbsolutePath())
          .redirectErrorStream(true)
          .redirectOutput(log)
          .start();
      RaisedServer server = new RaisedServer(spec.getConnectString(), process);
      try (CuratorFramework probe = CuratorFrameworkFactory.newClient(spec.getConnectString(),
          new RetryNTimes(100, 100))) {
        probe.start();
        assertTrue(probe.blockUntilConnected((int) WAIT.toSeconds(), TimeUnit.SECONDS),
            () -> "raised server on port " + spec.getPort() + " is up (alive: " + process.isAlive() + "); its log:\n"
                + readQuietly(log));
      } catch (RuntimeException | Error | InterruptedException e) {
        server.close();
        throw e;
      }
      return server;
    }

    private static String readQuietly(File log) {
      try {
        return Files.readString(log.toPath());
      } catch (IOException e) {
        return "(unreadable: " + e + ")";
      }
    }

    @Override
    public void close() throws InterruptedException {
      process.destroy();
      process.waitFor(30, TimeUnit.SECONDS);
    }
  }
}
