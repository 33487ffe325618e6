package io.deferredspans.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.store.DeferredSpanStoreLayout;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.curator.test.TestingServer;
import org.apache.curator.utils.ZKPaths;
import org.junit.jupiter.api.Test;

/**
 * The commands read records many to a ZooKeeper request (a multi of getData operations), so that a big store costs
 * requests in the hundreds, not one per record; and an answer that holds many large records still arrives.
 */
class CliReadBatchingTest {
  private static final String BASE = "/deferred-spans";
  private static final DeferredSpanStoreLayout LAYOUT = DeferredSpanStoreLayout.of(BASE);
  private static final Pattern TIMING =
      Pattern.compile("listed ([\\d,]+) open spans in [\\d,]+ ms with ([\\d,]+) ZooKeeper reads in ([\\d,]+) requests");

  @Test
  void listReadsAHundredRecordsToARequest() throws Exception {
    int open = 450;
    try (TestingServer zookeeper = new TestingServer(true);
        AppHost host = AppHost.holdingExports("scheduler-1", zookeeper.getConnectString(), BASE)) {
      CountDownLatch begun = new CountDownLatch(open);
      AtomicInteger failed = new AtomicInteger();
      for (int i = 0; i < open; i++) {
        DeferredSpanRecord record = host.tracing.spanBuilder("QueueItem").setNoParent().begin();
        host.client.transaction().inBackground((client, event) -> {
          if (event.getResultCode() != 0) {
            failed.incrementAndGet();
          }
          begun.countDown();
        }).forOperations(host.store.beginOps("item-" + i, record));
      }
      assertThat(begun.await(60, TimeUnit.SECONDS)).isTrue();
      assertThat(failed).hasValue(0);

      Cli.Result list = Cli.run(zookeeper.getConnectString(), "list", "--timing");

      assertThat(list.exitCode()).as(list.toString()).isZero();
      assertThat(list.lines().get(list.lines().size() - 1)).startsWith("450 of 450 open spans shown");
      Matcher timing = TIMING.matcher(list.err());
      assertThat(timing.find()).as(list.err()).isTrue();
      int shards = LAYOUT.openShards().size();
      assertThat(number(timing.group(1))).isEqualTo(open);
      // One existence check, one listing per shard, one getData per record...
      assertThat(number(timing.group(2))).isEqualTo(1 + shards + open);
      // ...of which the getData go a hundred to a request.
      assertThat(number(timing.group(3))).isEqualTo(1 + shards + (open + 99) / 100);
    }
  }

  @Test
  void listReadsRecordsThatTogetherOutgrowTheDefaultLongestAnswer() throws Exception {
    try (TestingServer zookeeper = new TestingServer(true);
        AppHost host = AppHost.holdingExports("scheduler-1", zookeeper.getConnectString(), BASE)) {
      host.begin("item-1", "QueueItem", java.time.Duration.ofMinutes(1));
      // Three znodes of 700 KB (not records: another writer's): one multi answer holds ~2 MB, twice ZooKeeper
      // client's default jute.maxbuffer, which would drop the connection.
      byte[] large = new byte[700 * 1024];
      Arrays.fill(large, (byte) 'x');
      String shard = LAYOUT.openShards().get(0);
      for (int i = 0; i < 3; i++) {
        host.client.create().forPath(ZKPaths.makePath(shard, "large-" + i), large);
      }

      Cli.Result list = Cli.run(zookeeper.getConnectString(), "list");

      assertThat(list.exitCode()).as(list.toString()).isZero();
      assertThat(list.out()).contains("item-1", "large-0", "large-1", "large-2");
      assertThat(list.lines().get(list.lines().size() - 1)).startsWith("4 of 4 open spans shown; 3 unreadable");
    }
  }

  private static int number(String digits) {
    return Integer.parseInt(digits.replace(",", ""));
  }
}
