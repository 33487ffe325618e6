package io.deferredspans.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.store.DeferredSpanStoreLayout;
import java.time.Duration;
import org.apache.curator.test.TestingServer;
import org.apache.curator.utils.ZKPaths;
import org.junit.jupiter.api.Test;

/**
 * A znode under {@code open/} whose name is not the store's URL encoding of any key (another writer, or a hand
 * edit): the commands show it as an invalid key and go on with the rest of the store.
 */
class CliInvalidKeyTest {
  private static final String BASE = "/deferred-spans";
  private static final DeferredSpanStoreLayout LAYOUT = DeferredSpanStoreLayout.of(BASE);
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void listAndStatsShowANameThatIsNotValidUrlEncodingAsAnInvalidKeyAndGoOn() throws Exception {
    try (TestingServer zookeeper = new TestingServer(true);
        AppHost host = AppHost.holdingExports("scheduler-1", zookeeper.getConnectString(), BASE)) {
      String zk = zookeeper.getConnectString();
      host.begin("item-1", "QueueItem", Duration.ofMinutes(5));
      DeferredSpanRecord stray = host.tracing.spanBuilder("Stray").setNoParent().begin();
      // "100%" cannot be decoded: '%' must be followed by two hex digits.
      host.client.create().forPath(ZKPaths.makePath(LAYOUT.openShards().get(0), "100%"),
          stray.toBytes());

      Cli.Result list = Cli.run(zk, "list");
      assertThat(list.exitCode()).as(list.toString()).isZero();
      assertThat(list.out()).contains("item-1");
      assertThat(list.lines().stream().filter(line -> line.contains("100%")).findFirst().orElseThrow())
          .contains("Stray", "invalid key");
      assertThat(list.lines().get(list.lines().size() - 1)).startsWith("2 of 2 open spans shown");

      JsonNode rows = JSON.readTree(Cli.run(zk, "list", "--json").out());
      assertThat(rows.size()).isEqualTo(2);
      JsonNode invalid = rows.findParents("path").stream()
          .filter(row -> row.get("path").asText().endsWith("/100%")).findFirst().orElseThrow();
      assertThat(invalid.get("state").asText()).isEqualTo("INVALID-KEY");
      assertThat(invalid.get("key").asText()).contains("100%");

      Cli.Result stats = Cli.run(zk, "stats", "--json");
      assertThat(stats.exitCode()).as(stats.toString()).isZero();
      JsonNode counts = JSON.readTree(stats.out());
      assertThat(counts.at("/open/total").asInt()).isEqualTo(2);
      assertThat(counts.at("/open/byState/ok").asInt()).isEqualTo(1);
      assertThat(counts.at("/open/byState/INVALID-KEY").asInt()).isEqualTo(1);
      Cli.Result table = Cli.run(zk, "stats");
      assertThat(table.exitCode()).as(table.toString()).isZero();
      assertThat(table.out()).contains("INVALID-KEY 1");
    }
  }
}
