package io.deferredspans.store;

import io.deferredspans.testing.otlp.OtlpTestReceiver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One real ZooKeeper server and one OTLP receiver for a whole test class, with fresh znode paths, a reset
 * receiver and its own closeables for every test. Register as a static {@code @RegisterExtension} field.
 */
final class StoreServers implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback, AfterEachCallback {
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

  @Override
  public void beforeEach(ExtensionContext context) {
    int n = testNumber.incrementAndGet();
    base = "/" + prefix + "-" + n;
    items = "/items-" + n;
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
}
