package io.deferredspans.store;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestInstanceFactoryContext;
import org.junit.jupiter.api.extension.TestInstancePreConstructCallback;

/**
 * One real ZooKeeper server and one OTLP receiver for a whole test class, with fresh znode paths, a reset
 * receiver and its own closeables for every test. Register as a static {@code @RegisterExtension} field. The paths
 * are fresh from the test instance on (JUnit makes one per test), so a field may hold them:
 * {@code private final String base = SERVERS.base();}. {@link StoreTestHelpers} gives a class the helpers below
 * under their short names.
 */
final class StoreServers
    implements BeforeAllCallback, AfterAllCallback, TestInstancePreConstructCallback, BeforeEachCallback,
        AfterEachCallback {
  private final String prefix;
  private final AtomicInteger testNumber = new AtomicInteger();
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private TestingServer zookeeper;
  private OtlpTestReceiver receiver;
  private String base;
  private String items;

  StoreServers(String prefix) {
    this.prefix = prefix;
  }

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    zookeeper = new TestingServer(true);
    receiver = OtlpTestReceiver.start();
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    receiver.close();
    zookeeper.close();
  }

  /** Fresh paths as JUnit makes the instance for a test, so that its fields can read them. */
  @Override
  public void preConstructTestInstance(TestInstanceFactoryContext factoryContext, ExtensionContext context) {
    int n = testNumber.incrementAndGet();
    base = "/" + prefix + "-" + n;
    items = "/items-" + n;
  }

  @Override
  public void beforeEach(ExtensionContext context) {
    receiver.reset();
    receiver.setFailing(false);
    receiver.releaseReplies();
  }

  @Override
  public void afterEach(ExtensionContext context) throws Exception {
    receiver.releaseReplies(); // a test that held replies must not leave its hosts' exports hanging
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
    closeables.clear();
  }

  TestingServer zookeeper() {
    return zookeeper;
  }

  OtlpTestReceiver receiver() {
    return receiver;
  }

  /** This test's store base path. */
  String base() {
    return base;
  }

  /** This test's parent of queue items. */
  String items() {
    return items;
  }

  /** Closed after this test, in reverse order of registration. */
  <T extends AutoCloseable> T closeAfterTest(T closeable) {
    closeables.add(closeable);
    return closeable;
  }

  /** A host on this class's server and this test's store, closed after the test, with this test's items parent. */
  TestHost host(String name, SpanExporter exporter, UnaryOperator<DeferredSpanStore.Builder> options,
      Duration batchDelay) throws Exception {
    TestHost host = closeAfterTest(
        TestHost.start(name, zookeeper.getConnectString(), base, exporter, options, batchDelay));
    host.client.createContainers(items);
    return host;
  }

  /** A recovery worker on {@code host}'s store with no grace period unless {@code options} say otherwise. */
  DeferredSpanRecovery recovery(TestHost host, UnaryOperator<DeferredSpanRecovery.Builder> options) {
    return closeAfterTest(
        options.apply(DeferredSpanRecovery.builder(host.store).gracePeriod(Duration.ZERO)).build());
  }

  /** The queue item of {@code key}: what its span is owned by. */
  String item(String key) {
    return items + "/" + key;
  }

  /** Begins a "QueueItem" span under {@code key} from {@code host}, with its queue item. */
  DeferredSpanRecord enqueue(TestHost host, String key) throws Exception {
    return host.enqueue(key, item(key));
  }

  /** Ends {@code key}'s span from {@code host}, deleting its queue item in the same transaction. */
  EndResult dequeue(TestHost host, String key, DeferredSpanEnding ending) throws Exception {
    return host.dequeue(key, item(key), ending);
  }
}
