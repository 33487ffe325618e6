package io.deferredspans.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.deferredspans.cli.StoredItems.OpenSpan;
import io.deferredspans.cli.StoredItems.PendingSpan;
import io.deferredspans.cli.StoredItems.State;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.apache.curator.utils.ZKPaths;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code deferred-spans stats}: the store at a glance. */
@Command(name = "stats", description = "Counts by state and by span name, the oldest open span, the export backlog, "
    + "quarantine and abandoned tombstones, and which recovery worker leads.")
final class StatsCommand extends StoreCommand {
  @Option(names = "--json", description = "One JSON object.")
  boolean json;

  /** Recovery workers contending, and the leader's name (their LeaderLatch participant IDs are host names). */
  private record Recovery(int workers, Optional<String> leader) {}

  @Override
  int run(StoreConnection store, StoreReader reader, Instant now) throws Exception {
    List<OpenSpan> open = reader.openSpans();
    List<PendingSpan> pending = reader.pendingSpans();
    int quarantined = reader.children(store.layout().quarantineRoot()).size();
    int abandoned = reader.children(store.layout().abandonedRoot()).size();
    Recovery recovery = recovery(store, reader);

    Map<String, Long> byState = count(open, span -> span.state().label);
    Map<String, Long> byName = count(open.stream().filter(span -> span.state() == State.OK).toList(), OpenSpan::name);
    Optional<OpenSpan> oldest = open.stream().filter(span -> span.state() == State.OK)
        .min(Comparator.comparing(OpenSpan::started));
    long unclaimed = pending.stream().filter(span -> span.claimHolder().isEmpty()).count();
    Optional<PendingSpan> oldestPending = pending.stream().min(Comparator.comparingLong(PendingSpan::createdMillis));

    if (json) {
      ObjectNode node = JSON.createObjectNode();
      node.put("basePath", store.layout().basePath());
      ObjectNode openNode = node.putObject("open");
      openNode.put("total", open.size());
      byState.forEach(openNode.putObject("byState")::put);
      byName.forEach(openNode.putObject("byName")::put);
      oldest.ifPresent(span -> openNode.set("oldest", ListCommand.toJson(span, now, null)));
      ObjectNode pendingNode = node.putObject("pending");
      pendingNode.put("total", pending.size());
      pendingNode.put("unclaimed", unclaimed);
      oldestPending.ifPresent(span -> pendingNode.put("oldestWaitingSeconds", span.waiting(now).getSeconds()));
      node.put("quarantined", quarantined);
      node.put("abandonedTombstones", abandoned);
      ObjectNode recoveryNode = node.putObject("recovery");
      recoveryNode.put("workers", recovery.workers());
      recoveryNode.put("leader", recovery.leader().orElse(null));
      printJson(node);
      return ExitCodes.OK;
    }
    Table table = new Table("WHAT", "COUNT", "DETAIL");
    table.row("open spans", number(open.size()), byState.entrySet().stream()
        .map(entry -> entry.getKey() + " " + number(entry.getValue())).collect(Collectors.joining(", ")));
    byName.forEach((name, count) -> table.row("  " + name, number(count), ""));
    table.row("oldest open", oldest.map(span -> Durations.format(span.age(now))).orElse(""),
        oldest.map(span -> span.name() + ", key " + span.key()).orElse(""));
    table.row("pending export", number(pending.size()), number(unclaimed) + " unclaimed"
        + oldestPending.map(span -> ", oldest waiting " + Durations.format(span.waiting(now))).orElse(""));
    table.row("quarantined", number(quarantined), quarantined == 0 ? "" : "see: quarantine list");
    table.row("abandoned tombstones", number(abandoned), "spans recovery ended as abandoned, not yet dequeued");
    table.row("recovery workers", number(recovery.workers()),
        recovery.leader().map(leader -> "leader " + leader).orElse("none running: nothing is recovered"));
    table.print(out());
    return ExitCodes.OK;
  }

  private static <T> Map<String, Long> count(List<T> items, Function<T, String> key) {
    return items.stream().collect(Collectors.groupingBy(key, TreeMap::new, Collectors.counting()));
  }

  private static String number(long value) {
    return String.format(Locale.ROOT, "%,d", value);
  }

  /** Curator's LeaderLatch: the participant with the lowest sequence number leads. */
  private static Recovery recovery(StoreConnection store, StoreReader reader) {
    String latch = store.layout().recoveryLeaderPath();
    List<String> participants = reader.children(latch).stream()
        .filter(name -> name.contains("latch-"))
        .sorted(Comparator.comparing((String name) -> name.substring(name.lastIndexOf("latch-")))).toList();
    Optional<String> leader = participants.stream().findFirst()
        .flatMap(first -> reader.read(ZKPaths.makePath(latch, first)))
        .map(event -> new String(event.getData(), StandardCharsets.UTF_8));
    return new Recovery(participants.size(), leader);
  }
}
