package io.deferredspans.demo.scheduler;

import io.deferredspans.demo.common.DemoAttributes;
import io.deferredspans.otlp.json.ReceivedSpan;
import io.deferredspans.sdk.DeferredSpanAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Draws one trace as a text waterfall: a line per span, indented under its parent, with a bar for its time range
 * on the trace's time axis, its duration, and the process that began and the one that ended it.
 *
 * <pre>
 * QueueItem                     |██████████████████████████████████████|  19.8s scheduler-1 → scheduler-2
 *   BuildSet                    | █████████████████████████████████████|  19.5s scheduler-1 → scheduler-2
 * </pre>
 */
final class Waterfall {
  private static final int NAME_COLUMNS = 30;
  private static final int DURATION_COLUMNS = 7;
  private static final int WHO_COLUMNS = 25;
  private static final String SERVICE_INSTANCE = "service.instance.id";

  private final int barColumns;
  private final char fill;

  /** @param unicode whether the terminal takes block characters; '#' otherwise */
  Waterfall(int width, boolean unicode) {
    this.barColumns = Math.max(20, width - NAME_COLUMNS - DURATION_COLUMNS - WHO_COLUMNS - 4);
    this.fill = unicode ? '█' : '#';
  }

  List<String> render(List<ReceivedSpan> spans) {
    long start = spans.stream().mapToLong(ReceivedSpan::startEpochNanos).min().orElse(0);
    long end = spans.stream().mapToLong(ReceivedSpan::endEpochNanos).max().orElse(start);
    Set<String> ids = new HashSet<>();
    spans.forEach(s -> ids.add(s.spanId()));
    Map<String, List<ReceivedSpan>> children = new HashMap<>();
    List<ReceivedSpan> roots = new ArrayList<>();
    spans.stream().sorted(Comparator.comparingLong(ReceivedSpan::startEpochNanos)).forEach(s -> {
      if (s.isRoot() || !ids.contains(s.parentSpanId())) {
        roots.add(s);
      } else {
        children.computeIfAbsent(s.parentSpanId(), p -> new ArrayList<>()).add(s);
      }
    });
    List<String> lines = new ArrayList<>();
    lines.add(axis(end - start));
    for (ReceivedSpan root : roots) {
      draw(root, 0, start, Math.max(1, end - start), children, lines);
    }
    return lines;
  }

  private void draw(ReceivedSpan span, int depth, long traceStart, long traceLength,
      Map<String, List<ReceivedSpan>> children, List<String> lines) {
    String name = "  ".repeat(depth) + (span.isRoot() || depth > 0 ? "" : "? ") + span.name();
    lines.add(String.format("%-" + NAME_COLUMNS + "s|%s|%" + DURATION_COLUMNS + "s %s",
        clip(name, NAME_COLUMNS), bar(span, traceStart, traceLength),
        seconds(span.endEpochNanos() - span.startEpochNanos()), who(span) + outcome(span)));
    for (ReceivedSpan child : children.getOrDefault(span.spanId(), List.of())) {
      draw(child, depth + 1, traceStart, traceLength, children, lines);
    }
  }

  private String bar(ReceivedSpan span, long traceStart, long traceLength) {
    int from = (int) Math.min(barColumns - 1, (span.startEpochNanos() - traceStart) * barColumns / traceLength);
    int to = (int) Math.ceil((double) (span.endEpochNanos() - traceStart) * barColumns / traceLength);
    to = Math.max(from + 1, Math.min(barColumns, to));
    return " ".repeat(from) + String.valueOf(fill).repeat(to - from) + " ".repeat(barColumns - to);
  }

  private String axis(long traceLength) {
    String right = seconds(traceLength);
    String scale = "0s" + " ".repeat(Math.max(1, barColumns - 2 - right.length())) + right;
    return String.format("%-" + NAME_COLUMNS + "s|%s|%" + DURATION_COLUMNS + "s %s", "span", scale, "took",
        "began → ended by");
  }

  /** Deferred spans say who began and who ended them; ordinary spans were begun and ended by their exporter. */
  static String who(ReceivedSpan span) {
    String beganBy = TraceAnalysis.attribute(span, DeferredSpanAttributes.BEGAN_BY.getKey());
    String endedBy = TraceAnalysis.attribute(span, DeferredSpanAttributes.ENDED_BY.getKey());
    String abandoned = Boolean.TRUE.equals(span.attributes().get(DeferredSpanAttributes.ABANDONED.getKey()))
        ? " ABANDONED" : "";
    if (beganBy.isEmpty()) {
      Object instance = span.resourceAttributes().get(SERVICE_INSTANCE);
      return instance == null ? "?" : instance.toString();
    }
    return (beganBy.equals(endedBy) ? beganBy : beganBy + " → " + endedBy) + abandoned;
  }

  /** Results not worth a mention: the builds' and the merger's. */
  private static final Set<String> SUCCESSFUL_RESULTS = Set.of(DemoAttributes.RESULT_SUCCESS, "merged");

  /** Failed and cancelled builds and a reset build set stand out: ERROR status, and their result but success. */
  private static String outcome(ReceivedSpan span) {
    String status = "STATUS_CODE_ERROR".equals(span.statusCode()) ? " ERROR" : "";
    String result = DemoAttributes.RESULT_KEYS.stream().map(k -> TraceAnalysis.attribute(span, k.getKey()))
        .filter(r -> !r.isEmpty()).findFirst().orElse("");
    return result.isEmpty() || SUCCESSFUL_RESULTS.contains(result) ? status : status + " " + result;
  }

  static String seconds(long nanos) {
    return String.format("%.1fs", nanos / 1e9);
  }

  private static String clip(String text, int columns) {
    return text.length() <= columns - 1 ? text : text.substring(0, columns - 2) + "…";
  }
}
