package io.deferredspans.store;

import io.deferredspans.sdk.DeferredSpanRecord;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.function.IntPredicate;
import org.apache.curator.utils.ZKPaths;

/**
 * What the tests of recovery's recipes add to {@link StoreTestHelpers} (hosts, recovery workers closed after the
 * test with grace period zero unless a test sets one, queue items with their spans): hosts that time out on the
 * collector, records written as another writer would, and orphans. Time is the test's {@link TestClock} where it matters.
 */
final class RecoveryFixture implements StoreTestHelpers {
  static final Duration WAIT = Duration.ofSeconds(30);
  static final Duration TICK = Duration.ofSeconds(10);

  private final StoreServers servers;

  RecoveryFixture(StoreServers servers) {
    this.servers = servers;
  }

  @Override
  public StoreServers servers() {
    return servers;
  }

  /** A host whose exporter gives up on the collector after {@code timeout}, and holds a timed-out claim 2 s. */
  TestHost hostTimingOutAfter(String name, Duration timeout) throws Exception {
    return host(name,
        OtlpHttpSpanExporter.builder().setEndpoint(servers.receiver().httpEndpoint()).setTimeout(timeout)
            .setRetryPolicy(null).build(),
        store -> store.timedOutExportBackoff(Duration.ofSeconds(2)), Duration.ofMillis(20));
  }

  /** An orphan: a span whose owner is deleted without its end. */
  DeferredSpanRecord orphan(TestHost host, String key) throws Exception {
    DeferredSpanRecord record = enqueue(host, key);
    host.client.delete().forPath(item(key));
    return record;
  }

  static int shardOf(String openPath) {
    return Integer.parseInt(ZKPaths.getNodeFromPath(ZKPaths.getPathAndNode(openPath).getPath()), 16);
  }

  /** A key of this test whose record lands in a shard that {@code shard} accepts. */
  static String keyInShard(TestHost host, String prefix, IntPredicate shard) {
    for (int i = 0; ; i++) {
      String key = prefix + "-" + i;
      if (shard.test(shardOf(host.store.core().layout().openPath(key)))) {
        return key;
      }
    }
  }

  /** Writes a record as another writer would: bytes and span marker, no caller item. */
  static String writeRecord(TestHost host, String key, byte[] bytes, String spanId) throws Exception {
    String path = host.store.core().layout().openPath(key);
    host.client.create().forPath(path, bytes);
    host.client.create().forPath(ZNodeLayout.markerPath(path, spanId), new byte[0]);
    return path;
  }

  static String onlyEndedPath(TestHost host) throws Exception {
    for (String shard : host.store.core().layout().endedShards()) {
      List<String> spans = host.client.getChildren().forPath(shard);
      if (!spans.isEmpty()) {
        return ZKPaths.makePath(shard, spans.get(0));
      }
    }
    throw new AssertionError("no finished span stored");
  }

  interface Step {
    void run() throws Exception;
  }

  /** What the store logged (slf4j-simple writes to System.err) while {@code step} ran. */
  static String stderrOf(Step step) throws Exception {
    PrintStream original = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      step.run();
    } finally {
      System.setErr(original);
    }
    return captured.toString(StandardCharsets.UTF_8);
  }
}
