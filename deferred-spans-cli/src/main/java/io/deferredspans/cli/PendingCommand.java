package io.deferredspans.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.deferredspans.cli.StoredItems.PendingSpan;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code deferred-spans pending}: finished spans an exporter has not acknowledged yet. */
@Command(name = "pending", description = "Finished spans waiting for an exporter's acknowledgement, oldest first, "
    + "with the host whose session claims each (unclaimed: recovery exports it after its grace period).")
final class PendingCommand extends StoreCommand {
  @Option(names = "--json", description = "A JSON array, one object per span.")
  boolean json;

  @Override
  int run(StoreConnection store, StoreReader reader, Instant now) throws Exception {
    List<PendingSpan> pending = reader.pendingSpans().stream()
        .sorted(Comparator.comparingLong(PendingSpan::createdMillis)).toList();
    if (json) {
      ArrayNode array = JSON.createArrayNode();
      pending.forEach(span -> array.add(toJson(span, now)));
      printJson(array);
      return ExitCodes.OK;
    }
    if (pending.isEmpty()) {
      out().println("no finished spans waiting for export in " + store.layout().basePath());
      out().flush();
      return ExitCodes.OK;
    }
    Table table = new Table("NAME", "SPAN ID", "TRACE ID", "ENDED BY", "CLAIMED BY", "WAITING", "STATUS");
    for (PendingSpan span : pending) {
      table.row(span.name(), span.spanId(),
          span.span() == null ? null : span.span().getRecord().getSpanContext().getTraceId(),
          span.span() == null ? null : span.span().getEndedBy(),
          span.claimHolder().orElse("(unclaimed)"), Durations.format(span.waiting(now)),
          span.span() == null ? null : span.span().getStatus().getStatusCode());
    }
    table.print(out());
    long unclaimed = pending.stream().filter(span -> span.claimHolder().isEmpty()).count();
    out().printf(Locale.ROOT, "%,d waiting, %,d unclaimed%n", pending.size(), unclaimed);
    out().flush();
    return ExitCodes.OK;
  }

  private static ObjectNode toJson(PendingSpan span, Instant now) {
    ObjectNode node = JSON.createObjectNode();
    node.put("spanId", span.spanId());
    node.put("state", span.state().label);
    node.put("name", span.name());
    node.put("path", span.path());
    node.put("claimedBy", span.claimHolder().orElse(null));
    node.put("waitingSeconds", span.waiting(now).getSeconds());
    if (span.span() == null) {
      node.put("error", span.error());
      return node;
    }
    node.put("traceId", span.span().getRecord().getSpanContext().getTraceId());
    node.put("endedBy", span.span().getEndedBy());
    node.put("beganBy", span.span().getRecord().getBeganBy());
    node.put("status", span.span().getStatus().getStatusCode().name());
    node.put("endTime", StoredItems.instant(span.span().getEndEpochNanos()).toString());
    return node;
  }
}
