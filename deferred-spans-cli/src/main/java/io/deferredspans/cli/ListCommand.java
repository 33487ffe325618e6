package io.deferredspans.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.deferredspans.cli.StoredItems.OpenSpan;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code deferred-spans list}: one row per open span. */
@Command(name = "list", description = "Open spans, one row each (oldest first unless --sort says otherwise).")
final class ListCommand extends StoreCommand {
  /** Orders of the rows; every order breaks ties oldest first. */
  enum Sort {
    NAME, AGE, BEGAN_BY;

    static final class Converter implements ITypeConverter<Sort> {
      @Override
      public Sort convert(String value) {
        return Sort.valueOf(value.trim().toUpperCase(Locale.ROOT).replace('-', '_'));
      }
    }
  }

  @Option(names = "--sort", defaultValue = "age", converter = Sort.Converter.class, paramLabel = "name|age|began-by",
      description = "Order of the rows: by span name, by age (oldest first) or by the host that began it.")
  Sort sort;

  @Option(names = "--name", paramLabel = "NAME", split = ",",
      description = "Only spans with this name (repeat or comma-separate for several; CORRUPT for unreadable records).")
  List<String> names;

  @Option(names = "--began-by", paramLabel = "HOST", split = ",", description = "Only spans begun by this host.")
  List<String> beganBy;

  @Option(names = "--older-than", paramLabel = "DURATION", converter = Durations.Converter.class,
      description = "Only spans open longer than this, e.g. 10m, 2h, 7d.")
  Duration olderThan;

  @Option(names = "--limit", paramLabel = "N", description = "Print at most N rows (after sorting).")
  Integer limit;

  @Mixin
  SpanOutputOptions output;

  @Option(names = "--timing", description = "Print to stderr how long the listing took and how many ZooKeeper reads (and requests) it made.")
  boolean timing;

  @Override
  int run(StoreConnection store, StoreReader reader, Instant now) throws Exception {
    long startNanos = System.nanoTime();
    List<OpenSpan> all = reader.openSpans();
    long elapsedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
    Stream<OpenSpan> rows = all.stream().filter(span -> selected(span, now)).sorted(order());
    List<OpenSpan> shown = (limit == null ? rows : rows.limit(limit)).toList();
    if (output.json) {
      ArrayNode array = JSON.createArrayNode();
      shown.forEach(span -> array.add(toJson(span, now, output.traceUrl)));
      printJson(array);
    } else {
      printTable(shown, all.size(), now, store.layout().basePath());
    }
    if (timing) {
      err().printf(Locale.ROOT, "listed %,d open spans in %,d ms with %,d ZooKeeper reads in %,d requests%n",
          all.size(), elapsedMillis, reader.reads(), reader.requests());
      err().flush();
    }
    return ExitCodes.OK;
  }

  private boolean selected(OpenSpan span, Instant now) {
    return (names == null || names.contains(span.name()))
        && (beganBy == null || span.beganBy().filter(beganBy::contains).isPresent())
        && (olderThan == null || span.age(now).compareTo(olderThan) > 0);
  }

  private Comparator<OpenSpan> order() {
    Comparator<OpenSpan> oldestFirst = Comparator.comparing(OpenSpan::started).thenComparing(OpenSpan::key);
    return switch (sort) {
      case NAME -> Comparator.comparing(OpenSpan::name).thenComparing(oldestFirst);
      case BEGAN_BY -> Comparator.comparing((OpenSpan span) -> span.beganBy().orElse("")).thenComparing(oldestFirst);
      case AGE -> oldestFirst;
    };
  }

  private void printTable(List<OpenSpan> shown, int total, Instant now, String basePath) {
    Table table = output.traceUrl == null
        ? new Table("NAME", "KEY", "AGE", "TRACE ID", "SPAN ID", "BEGAN BY", "OWNER", "SAMPLED")
        : new Table("NAME", "KEY", "AGE", "TRACE ID", "SPAN ID", "BEGAN BY", "OWNER", "SAMPLED", "TRACE URL");
    for (OpenSpan span : shown) {
      if (span.record() == null) {
        table.row(span.name(), span.key(), Durations.format(span.age(now)), null, null, null, null, null, null);
        continue;
      }
      table.row(span.name(), span.key(), Durations.format(span.age(now)),
          span.record().getSpanContext().getTraceId(), span.record().getSpanContext().getSpanId(),
          span.beganBy().orElse(null), span.record().getOwner().orElse(null),
          span.record().isSampled() ? "yes" : "no", TraceUrls.of(output.traceUrl, span.record()));
    }
    if (total == 0) {
      out().println("no open spans in " + basePath);
      out().flush();
      return;
    }
    table.print(out());
    long unreadable = shown.stream().filter(span -> span.record() == null).count();
    out().printf(Locale.ROOT, "%,d of %,d open spans shown%s%n", shown.size(), total,
        unreadable == 0 ? "" : "; " + unreadable + " unreadable (see: show KEY)");
    out().flush();
  }

  static ObjectNode toJson(OpenSpan span, Instant now, String traceUrl) {
    ObjectNode node = JSON.createObjectNode();
    node.put("key", span.key());
    node.put("state", span.state().label);
    node.put("name", span.name());
    node.put("ageSeconds", span.age(now).getSeconds());
    node.put("startTime", span.started().toString());
    node.put("path", span.path());
    if (span.error() != null) {
      node.put("error", span.error());
    }
    if (span.record() == null) {
      return node;
    }
    node.put("traceId", span.record().getSpanContext().getTraceId());
    node.put("spanId", span.record().getSpanContext().getSpanId());
    node.put("parentSpanId", span.record().getParentSpanId());
    node.put("kind", span.record().getKind().name());
    node.put("beganBy", span.record().getBeganBy());
    node.put("owner", span.record().getOwner().orElse(null));
    node.put("sampled", span.record().isSampled());
    if (traceUrl != null) {
      node.put("traceUrl", TraceUrls.of(traceUrl, span.record()));
    }
    return node;
  }
}
