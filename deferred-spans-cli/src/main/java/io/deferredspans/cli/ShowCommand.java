package io.deferredspans.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.deferredspans.cli.StoredItems.OpenSpan;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.store.DeferredSpanStoreLayout;
import io.opentelemetry.api.trace.SpanId;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.apache.curator.framework.api.CuratorEvent;
import org.apache.zookeeper.common.PathUtils;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code deferred-spans show KEY}: one open span in full, and whether an end or recovery would accept it. */
@Command(name = "show", description = "One open span: its decoded record, its span marker, whether its owner znode "
    + "exists, and its trace URL. Exit 6 if nothing is open under KEY, 7 if the record is unreadable.")
final class ShowCommand extends StoreCommand {
  @Parameters(paramLabel = "KEY", description = "The item key the span was begun under (not percent-encoded).")
  String key;

  @Mixin
  SpanOutputOptions output;

  /** What the marker children say: the record's own marker, none, or another span's. */
  private record Marker(String state, List<String> children) {}

  @Override
  int run(StoreConnection store, StoreReader reader, Instant now) throws Exception {
    DeferredSpanStoreLayout layout = store.layout();
    String path;
    try {
      path = layout.openPath(key);
    } catch (IllegalArgumentException e) {
      throw new CliException(ExitCodes.USAGE, e.getMessage());
    }
    Optional<CuratorEvent> read = reader.read(path);
    if (read.isEmpty()) {
      throw notOpen(reader, layout, path);
    }
    OpenSpan span = OpenSpan.decode(path, read.get().getData(), read.get().getStat().getCtime());
    Marker marker = marker(reader.children(path), span.record());
    Optional<Boolean> ownerExists = span.record() == null ? Optional.empty()
        : span.record().getOwner().filter(ShowCommand::isZnodePath).map(reader::exists);
    if (output.json) {
      ObjectNode node = ListCommand.toJson(span, now, output.traceUrl);
      node.put("marker", marker.state());
      node.putPOJO("children", marker.children());
      ownerExists.ifPresent(exists -> node.put("ownerExists", exists));
      if (span.record() == null) {
        node.put("data", new String(read.get().getData(), StandardCharsets.UTF_8));
      }
      printJson(node);
    } else {
      print(span, marker, ownerExists, read.get().getData(), now);
    }
    return span.record() == null ? ExitCodes.CORRUPT_RECORD : ExitCodes.OK;
  }

  private CliException notOpen(StoreReader reader, DeferredSpanStoreLayout layout, String path) {
    Optional<CuratorEvent> tombstone = reader.read(layout.abandonedPath(key));
    String message = "no open span under key " + key + " (" + path + ")";
    if (tombstone.isPresent()) {
      byte[] data = tombstone.get().getData();
      String owner = DeferredSpanStoreLayout.tombstoneOwner(data);
      message += "; recovery ended span " + DeferredSpanStoreLayout.tombstoneSpanId(data) + " as abandoned"
          + (owner.isEmpty() ? "" : " (owner " + owner + ")");
    }
    return new CliException(ExitCodes.NOT_FOUND, message);
  }

  private static Marker marker(List<String> children, DeferredSpanRecord record) {
    List<String> markers = children.stream()
        .map(DeferredSpanStoreLayout::markerSpanId).flatMap(Optional::stream).toList();
    if (record == null) {
      return new Marker(markers.isEmpty() ? "missing" : "span-" + String.join(", span-", markers), children);
    }
    String own = record.getSpanContext().getSpanId();
    if (markers.contains(own)) {
      return new Marker("present", children);
    }
    return new Marker(markers.isEmpty() ? "missing" : "mismatched", children);
  }

  private static boolean isZnodePath(String owner) {
    try {
      PathUtils.validatePath(owner);
      return true;
    } catch (IllegalArgumentException notAPath) {
      return false;
    }
  }

  private void print(OpenSpan span, Marker marker, Optional<Boolean> ownerExists, byte[] data, Instant now) {
    Table table = new Table("FIELD", "VALUE");
    table.row("key", span.key());
    table.row("path", span.path());
    DeferredSpanRecord record = span.record();
    if (record == null) {
      table.row("state", span.state().label);
      table.row("problem", span.error());
      table.row("created", span.started() + " (" + Durations.format(span.age(now)) + " ago)");
      table.row("marker", marker.state());
      table.row("data", printable(data));
      table.print(out());
      out().println("An end of this key moves the record to quarantine; recovery does so at its next scan.");
      out().flush();
      return;
    }
    table.row("name", record.getName());
    table.row("kind", record.getKind());
    table.row("trace id", record.getSpanContext().getTraceId());
    table.row("span id", record.getSpanContext().getSpanId());
    table.row("parent span id", SpanId.isValid(record.getParentSpanId()) ? record.getParentSpanId() : "(root)");
    table.row("sampled", record.isSampled() ? "yes" : "no (never exported)");
    table.row("started", span.started() + " (" + Durations.format(span.age(now)) + " ago)");
    table.row("began by", record.getBeganBy().isEmpty() ? null : record.getBeganBy());
    table.row("owner", record.getOwner().map(owner -> owner + ownerExists
        .map(exists -> exists ? " (exists)" : " (MISSING: recovery ends the span as abandoned after its grace period)")
        .orElse(" (not a znode path)")).orElse(null));
    table.row("marker", switch (marker.state()) {
      case "present" -> "span-" + record.getSpanContext().getSpanId() + " present";
      case "missing" -> "MISSING: an end will move this record to quarantine";
      default -> "MISMATCHED " + marker.children() + ": an end will move this record to quarantine";
    });
    record.getLinks().forEach(link -> table.row("link",
        link.getSpanContext().getTraceId() + "-" + link.getSpanContext().getSpanId()));
    record.getAttributes().forEach((attribute, value) -> table.row("attribute", attribute.getKey() + "=" + value));
    if (output.traceUrl != null) {
      table.row("trace url", TraceUrls.of(output.traceUrl, record));
    }
    table.print(out());
  }

  /** Raw bytes an operator can read in a terminal: text with control characters escaped, cut at 2 KiB. */
  static String printable(byte[] data) {
    String text = new String(data, 0, Math.min(data.length, 2048), StandardCharsets.UTF_8);
    StringBuilder out = new StringBuilder();
    text.codePoints().forEach(c -> {
      if (c == 0xfffd) {
        out.append('?'); // not UTF-8
      } else if (c < 0x20 || c == 0x7f) {
        out.append(String.format("\\x%02x", c & 0xff));
      } else {
        out.appendCodePoint(c);
      }
    });
    return out + (data.length > 2048 ? " ... (" + data.length + " bytes)" : "");
  }
}
