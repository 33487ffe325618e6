package io.deferredspans.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.store.DeferredSpanStoreLayout;
import io.deferredspans.store.EndResult;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every read-only command against a real ZooKeeper holding open spans (one of them corrupt), finished spans
 * waiting for export (one claimed by a live host, one whose host lost its session) and a quarantined record.
 */
class CliTest {
  private static final String BASE = "/deferred-spans";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final DeferredSpanStoreLayout LAYOUT = DeferredSpanStoreLayout.of(BASE);

  private static TestingServer zookeeper;
  private static String zk;
  private static AppHost scheduler1;
  private static AppHost scheduler2;
  private static AppHost executor1;
  private static AppHost executor2;
  private static DeferredSpanRecord item1;
  private static DeferredSpanRecord item2;
  private static DeferredSpanRecord item3;
  private static DeferredSpanRecord done1;
  private static DeferredSpanRecord done2;

  @BeforeAll
  static void fillStore() throws Exception {
    zookeeper = new TestingServer(true);
    zk = zookeeper.getConnectString();
    scheduler1 = AppHost.holdingExports("scheduler-1", zk, BASE);
    scheduler2 = AppHost.holdingExports("scheduler-2", zk, BASE);
    executor1 = AppHost.holdingExports("executor-1", zk, BASE);
    executor2 = AppHost.holdingExports("executor-2", zk, BASE);

    item1 = scheduler1.begin("zuul/gate/item-1", "QueueItem", Duration.ofHours(2));
    item2 = scheduler1.begin("zuul/gate/item-2", "BuildSet", Duration.ofSeconds(1));
    scheduler1.client.delete().forPath(AppHost.ITEMS + "/zuul_gate_item-2"); // its owner is gone
    item3 = scheduler2.begin("item-3", "QueueItem", Duration.ofMinutes(30));
    corruptRecord("broken-open");

    corruptRecord("broken-ended");
    assertThat(scheduler1.store.endDeferredSpan("broken-ended", DeferredSpanEnding.now()).getOutcome())
        .isEqualTo(EndResult.Outcome.REJECTED_RECORD); // moved to quarantine by the end

    done1 = executor1.begin("done-1", "QueueItem", Duration.ofMinutes(5));
    assertThat(executor1.end("done-1").getOutcome()).isEqualTo(EndResult.Outcome.ENDED);
    done2 = executor2.begin("done-2", "BuildSet", Duration.ofMinutes(5));
    assertThat(executor2.end("done-2").getOutcome()).isEqualTo(EndResult.Outcome.ENDED);
    executor2.loseSession(); // its claim vanishes: the span waits, unclaimed, for a recovery worker
  }

  private static void corruptRecord(String key) throws Exception {
    scheduler1.client.create().forPath(LAYOUT.openPath(key), "{\"v\":1,\"n\":".getBytes(StandardCharsets.UTF_8));
  }

  @AfterAll
  static void close() throws Exception {
    for (AppHost host : List.of(scheduler1, scheduler2, executor1)) {
      host.close();
    }
    executor2.shutdownPipeline(); // its session is gone: the store's fence drops what its pipeline held
    zookeeper.close();
  }

  @Test
  void listPrintsOneRowPerOpenSpanOldestFirstWithCorruptRecordsMarked() {
    Cli.Result result = Cli.run(zk, "list");

    assertThat(result.exitCode()).as(result.toString()).isZero();
    List<String> lines = result.lines();
    assertThat(lines.get(0)).startsWith("NAME").contains("KEY", "AGE", "TRACE ID", "SPAN ID", "BEGAN BY", "OWNER",
        "SAMPLED");
    assertThat(lines.get(1)).startsWith("QueueItem").contains("zuul/gate/item-1", "2h00m",
        item1.getSpanContext().getTraceId(), item1.getSpanContext().getSpanId(), "scheduler-1",
        "/items/zuul_gate_item-1", "yes");
    assertThat(lines.get(2)).contains("item-3", "30m", "scheduler-2");
    assertThat(rowOf(lines, "broken-open")).startsWith("CORRUPT");
    assertThat(rowOf(lines, "zuul/gate/item-2")).startsWith("BuildSet");
    assertThat(lines.get(lines.size() - 1)).isEqualTo("4 of 4 open spans shown; 1 unreadable (see: show KEY)");
    assertThat(result.out()).doesNotContain("done-", "broken-ended"); // ended or quarantined: not open
    assertThat(result.err()).isEmpty();
  }

  @Test
  void listAsJsonCarriesEveryColumnAndTheCorruptRecordsProblem() throws Exception {
    Cli.Result result = Cli.run(zk, "list", "--json", "--trace-url", "http://jaeger:16686/trace/{traceId}");

    assertThat(result.exitCode()).as(result.toString()).isZero();
    JsonNode rows = JSON.readTree(result.out());
    assertThat(rows.size()).isEqualTo(4);
    JsonNode first = rows.get(0);
    assertThat(first.get("key").asText()).isEqualTo("zuul/gate/item-1");
    assertThat(first.get("name").asText()).isEqualTo("QueueItem");
    assertThat(first.get("state").asText()).isEqualTo("ok");
    assertThat(first.get("traceId").asText()).isEqualTo(item1.getSpanContext().getTraceId());
    assertThat(first.get("spanId").asText()).isEqualTo(item1.getSpanContext().getSpanId());
    assertThat(first.get("beganBy").asText()).isEqualTo("scheduler-1");
    assertThat(first.get("owner").asText()).isEqualTo("/items/zuul_gate_item-1");
    assertThat(first.get("sampled").asBoolean()).isTrue();
    assertThat(first.get("ageSeconds").asLong()).isBetween(7_200L, 7_260L);
    assertThat(first.get("traceUrl").asText())
        .isEqualTo("http://jaeger:16686/trace/" + item1.getSpanContext().getTraceId());
    JsonNode corrupt = find(rows, "broken-open");
    assertThat(corrupt.get("state").asText()).isEqualTo("CORRUPT");
    assertThat(corrupt.get("error").asText()).contains(LAYOUT.openPath("broken-open"));
    assertThat(corrupt.has("traceUrl")).isFalse();
  }

  @Test
  void listSortsAndFilters() throws Exception {
    assertThat(keys(Cli.run(zk, "list", "--json", "--sort", "name")))
        .containsExactly("zuul/gate/item-2", "broken-open", "zuul/gate/item-1", "item-3");
    assertThat(keys(Cli.run(zk, "list", "--json", "--sort", "began-by")).subList(1, 4))
        .containsExactly("zuul/gate/item-1", "zuul/gate/item-2", "item-3"); // the corrupt record has no host
    assertThat(keys(Cli.run(zk, "list", "--json", "--name", "QueueItem")))
        .containsExactly("zuul/gate/item-1", "item-3");
    assertThat(keys(Cli.run(zk, "list", "--json", "--began-by", "scheduler-2"))).containsExactly("item-3");
    assertThat(keys(Cli.run(zk, "list", "--json", "--older-than", "10m")))
        .containsExactly("zuul/gate/item-1", "item-3");
    assertThat(keys(Cli.run(zk, "list", "--json", "--older-than", "1h", "--name", "QueueItem,BuildSet")))
        .containsExactly("zuul/gate/item-1");
    assertThat(keys(Cli.run(zk, "list", "--json", "--limit", "1"))).containsExactly("zuul/gate/item-1");

    Cli.Result badSort = Cli.run(zk, "list", "--sort", "owner");
    assertThat(badSort.exitCode()).isEqualTo(ExitCodes.USAGE);
    assertThat(badSort.err()).contains("--sort");
  }

  @Test
  void showDecodesTheRecordAndChecksMarkerAndOwner() throws Exception {
    Cli.Result result = Cli.run(zk, "show", "zuul/gate/item-1", "--trace-url", "http://jaeger:16686/trace/{traceId}");

    assertThat(result.exitCode()).as(result.toString()).isZero();
    assertThat(result.out()).contains(
        "span id         " + item1.getSpanContext().getSpanId(),
        "marker          span-" + item1.getSpanContext().getSpanId() + " present",
        "owner           /items/zuul_gate_item-1 (exists)",
        "began by        scheduler-1",
        "parent span id  (root)",
        "trace url       http://jaeger:16686/trace/" + item1.getSpanContext().getTraceId());

    Cli.Result orphan = Cli.run(zk, "show", "zuul/gate/item-2", "--json");
    JsonNode node = JSON.readTree(orphan.out());
    assertThat(node.get("ownerExists").asBoolean()).isFalse();
    assertThat(node.get("marker").asText()).isEqualTo("present");
    assertThat(node.get("spanId").asText()).isEqualTo(item2.getSpanContext().getSpanId());
    assertThat(Cli.run(zk, "show", "zuul/gate/item-2").out())
        .contains("/items/zuul_gate_item-2 (MISSING: recovery ends the span as abandoned after its grace period)");
  }

  @Test
  void showOfAMissingOrCorruptRecordSaysSoWithItsOwnExitCode() {
    Cli.Result missing = Cli.run(zk, "show", "no-such-item");
    assertThat(missing.exitCode()).isEqualTo(ExitCodes.NOT_FOUND);
    assertThat(missing.err().strip()).isEqualTo("deferred-spans: no open span under key no-such-item ("
        + LAYOUT.openPath("no-such-item") + ")");

    Cli.Result corrupt = Cli.run(zk, "show", "broken-open");
    assertThat(corrupt.exitCode()).isEqualTo(ExitCodes.CORRUPT_RECORD);
    assertThat(corrupt.out()).contains("state    CORRUPT", "marker   missing", "data     {\"v\":1,\"n\":");
    assertThat(corrupt.out() + corrupt.err()).doesNotContain("Exception", "\tat ");
  }

  @Test
  void pendingShowsFinishedSpansWithTheirClaimHolder() throws Exception {
    Cli.Result table = Cli.run(zk, "pending");
    assertThat(table.exitCode()).as(table.toString()).isZero();
    assertThat(table.lines().get(0)).startsWith("NAME").contains("SPAN ID", "ENDED BY", "CLAIMED BY", "WAITING");
    assertThat(rowOf(table.lines(), done1.getSpanContext().getSpanId())).contains("QueueItem", "executor-1", "UNSET");
    assertThat(rowOf(table.lines(), done2.getSpanContext().getSpanId())).contains("BuildSet", "(unclaimed)");
    assertThat(table.lines().get(table.lines().size() - 1)).isEqualTo("2 waiting, 1 unclaimed");

    JsonNode rows = JSON.readTree(Cli.run(zk, "pending", "--json").out());
    assertThat(rows.size()).isEqualTo(2);
    JsonNode claimed = findBy(rows, "spanId", done1.getSpanContext().getSpanId());
    assertThat(claimed.get("claimedBy").asText()).isEqualTo("executor-1");
    assertThat(claimed.get("endedBy").asText()).isEqualTo("executor-1");
    assertThat(claimed.get("traceId").asText()).isEqualTo(done1.getSpanContext().getTraceId());
    assertThat(findBy(rows, "spanId", done2.getSpanContext().getSpanId()).get("claimedBy").isNull()).isTrue();
  }

  @Test
  void quarantineListsAndShowsUnreadableRecords() throws Exception {
    JsonNode rows = JSON.readTree(Cli.run(zk, "quarantine", "list", "--json").out());
    JsonNode record = findBy(rows, "key", "broken-ended");
    assertThat(record.get("from").asText()).startsWith("open/").endsWith("/broken-ended");
    String id = record.get("id").asText();
    assertThat(Cli.run(zk, "quarantine", "list").out()).contains(id);

    Cli.Result shown = Cli.run(zk, "quarantine", "show", id);
    assertThat(shown.exitCode()).as(shown.toString()).isZero();
    assertThat(shown.out()).contains("key          broken-ended", "problem      deferred span record",
        "data         {\"v\":1,\"n\":");

    assertThat(Cli.run(zk, "quarantine", "show", "nothing-0000000099").exitCode()).isEqualTo(ExitCodes.NOT_FOUND);
    assertThat(Cli.run(zk, "quarantine", "show", "../open").exitCode()).isEqualTo(ExitCodes.USAGE);
  }

  @Test
  void quarantineDeleteNeedsYesAndDeletesOnlyTheRecordNamed() throws Exception {
    corruptRecord("to-delete");
    scheduler1.store.endDeferredSpan("to-delete", DeferredSpanEnding.now());
    String id = findBy(JSON.readTree(Cli.run(zk, "quarantine", "list", "--json").out()), "key", "to-delete")
        .get("id").asText();

    Cli.Result refused = Cli.run(zk, "quarantine", "delete", id);
    assertThat(refused.exitCode()).isEqualTo(ExitCodes.USAGE);
    assertThat(refused.err()).contains("add --yes");
    assertThat(scheduler1.client.checkExists().forPath(LAYOUT.quarantineRoot() + "/" + id)).isNotNull();

    Cli.Result deleted = Cli.run(zk, "quarantine", "delete", id, "--yes");
    assertThat(deleted.exitCode()).as(deleted.toString()).isZero();
    assertThat(deleted.out().strip()).isEqualTo("deleted " + LAYOUT.quarantineRoot() + "/" + id);
    assertThat(scheduler1.client.checkExists().forPath(LAYOUT.quarantineRoot() + "/" + id)).isNull();
    assertThat(keysOf(JSON.readTree(Cli.run(zk, "quarantine", "list", "--json").out()))).contains("broken-ended");
    assertThat(Cli.run(zk, "quarantine", "delete", id, "--yes").exitCode()).isEqualTo(ExitCodes.NOT_FOUND);
  }

  @Test
  void statsCountsByStateAndNameWithTheBacklog() throws Exception {
    JsonNode stats = JSON.readTree(Cli.run(zk, "stats", "--json").out());

    assertThat(stats.at("/open/total").asInt()).isEqualTo(4);
    assertThat(stats.at("/open/byState/ok").asInt()).isEqualTo(3);
    assertThat(stats.at("/open/byState/CORRUPT").asInt()).isEqualTo(1);
    assertThat(stats.at("/open/byName/QueueItem").asInt()).isEqualTo(2);
    assertThat(stats.at("/open/byName/BuildSet").asInt()).isEqualTo(1);
    assertThat(stats.at("/open/oldest/key").asText()).isEqualTo("zuul/gate/item-1");
    assertThat(stats.at("/pending/total").asInt()).isEqualTo(2);
    assertThat(stats.at("/pending/unclaimed").asInt()).isEqualTo(1);
    assertThat(stats.at("/quarantined").asInt()).isGreaterThanOrEqualTo(1);
    assertThat(stats.at("/recovery/workers").asInt()).isZero();

    Cli.Result table = Cli.run(zk, "stats");
    assertThat(table.exitCode()).isZero();
    assertThat(rowOf(table.lines(), "open spans")).contains("4", "CORRUPT 1, ok 3");
    assertThat(rowOf(table.lines(), "oldest open")).contains("2h00m", "QueueItem, key zuul/gate/item-1");
    assertThat(rowOf(table.lines(), "pending export")).contains("2", "1 unclaimed");
    assertThat(rowOf(table.lines(), "recovery workers")).contains("none running");
  }

  private static String rowOf(List<String> lines, String text) {
    return lines.stream().filter(line -> line.contains(text)).findFirst()
        .orElseThrow(() -> new AssertionError("no line with " + text + " in " + lines));
  }

  private static List<String> keys(Cli.Result result) throws Exception {
    assertThat(result.exitCode()).as(result.toString()).isZero();
    return keysOf(JSON.readTree(result.out()));
  }

  private static List<String> keysOf(JsonNode rows) {
    List<String> keys = new ArrayList<>();
    rows.forEach(row -> keys.add(row.get("key").asText()));
    return keys;
  }

  private static JsonNode find(JsonNode rows, String key) {
    return findBy(rows, "key", key);
  }

  private static JsonNode findBy(JsonNode rows, String field, String value) {
    for (JsonNode row : rows) {
      if (value.equals(row.path(field).asText())) {
        return row;
      }
    }
    throw new AssertionError("no row with " + field + "=" + value + " in " + rows);
  }
}
