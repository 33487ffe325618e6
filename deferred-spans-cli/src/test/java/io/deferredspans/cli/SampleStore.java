package io.deferredspans.cli;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.store.DeferredSpanStoreLayout;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingServer;

/**
 * A real ZooKeeper holding a small store in every state the CLI shows, for trying the commands by hand and for
 * the output pasted into docs/operations.md. Runs until its standard input closes.
 *
 * <p>Usage: {@code SampleStore [PORT]} (default 2181); prints {@code READY host:port} when filled.
 */
public final class SampleStore {
  private SampleStore() {}

  public static void main(String[] args) throws Exception {
    int port = args.length > 0 ? Integer.parseInt(args[0]) : 2181;
    File data = Files.createTempDirectory("sample-store").toFile();
    try (TestingServer zookeeper = new TestingServer(new InstanceSpec(data, port, -1, -1, true, -1), true)) {
      String zk = zookeeper.getConnectString();
      String base = "/deferred-spans";
      AppHost scheduler1 = AppHost.holdingExports("scheduler-1", zk, base);
      AppHost scheduler2 = AppHost.holdingExports("scheduler-2", zk, base);
      AppHost executor1 = AppHost.holdingExports("executor-1", zk, base);
      AppHost executor2 = AppHost.holdingExports("executor-2", zk, base);
      scheduler1.begin("tenant-a/gate/change-1042", "QueueItem", Duration.ofHours(3).plusMinutes(12));
      scheduler2.begin("tenant-a/check/change-1043", "QueueItem", Duration.ofMinutes(47));
      scheduler1.begin("tenant-a/gate/change-1042/buildset-2", "BuildSet", Duration.ofMinutes(18));
      scheduler2.begin("tenant-b/check/change-77", "QueueItem", Duration.ofMinutes(2));
      scheduler1.client.delete().forPath(AppHost.ITEMS + "/tenant-b_check_change-77"); // dequeued without an end
      DeferredSpanStoreLayout layout = DeferredSpanStoreLayout.of(base);
      byte[] garbage = "{\"v\":1,\"c\":\"4bf92f35".getBytes(StandardCharsets.UTF_8);
      scheduler1.client.create().forPath(layout.openPath("tenant-b/gate/change-80"), garbage);
      scheduler1.client.create().forPath(layout.openPath("tenant-a/gate/change-999"), garbage);
      scheduler1.store.endDeferredSpan("tenant-a/gate/change-999", DeferredSpanEnding.now()); // to quarantine
      executor1.begin("tenant-a/gate/change-1001", "QueueItem", Duration.ofMinutes(25));
      executor1.end("tenant-a/gate/change-1001");
      executor2.begin("tenant-a/check/change-1002", "QueueItem", Duration.ofMinutes(9));
      executor2.end("tenant-a/check/change-1002");
      executor2.loseSession(); // a crashed executor: its finished span waits, unclaimed, for recovery
      System.out.println("READY " + zk);
      System.out.flush();
      while (System.in.read() >= 0) {
        // run until stdin closes
      }
      for (AppHost host : new AppHost[] {scheduler1, scheduler2, executor1}) {
        host.close();
      }
    }
  }
}
