package io.deferredspans.demo.scheduler;

import io.deferredspans.demo.common.DemoAttributes;
import io.deferredspans.otlp.json.ReceivedSpan;
import java.io.PrintStream;
import java.nio.charset.Charset;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Prints the end of a run: the waterfalls of the event and item traces, and a verdict line per item. */
final class RunReport {
  static final int OK = 0;
  static final int TRACE_BROKEN = 1;
  static final int RUN_FAILED = 2;
  /** Waterfalls for the first few items only: the verdict covers all of them. */
  private static final int ITEMS_DRAWN = 2;

  private final PrintStream out;
  private final Waterfall waterfall;

  RunReport(PrintStream out, int width) {
    this.out = out;
    this.waterfall = new Waterfall(width, Charset.defaultCharset().name().toUpperCase().startsWith("UTF"));
  }

  /** @param perTraceDir where {@link PerTraceFiles} wrote one file per trace */
  int print(DemoScenario.Outcome outcome, TraceFiles.Contents files, Path perTraceDir, TraceAnalysis.Report report) {
    out.println();
    for (TraceAnalysis.ItemTrace item : report.items().stream().limit(ITEMS_DRAWN).toList()) {
      item.linkedEventSpan().ifPresent(event -> {
        List<ReceivedSpan> eventTrace = files.spans().stream().filter(s -> s.traceId().equals(event.traceId())).toList();
        out.printf("Event trace %s (%d spans)%n", event.traceId(), eventTrace.size());
        waterfall.render(eventTrace).forEach(out::println);
        out.println();
      });
      out.printf("Queue item trace %s (%d spans)%n", item.traceId(), item.spans().size());
      waterfall.render(item.spans()).forEach(out::println);
      out.printf("  QueueItem links to: %s%n", item.linkedEventSpan()
          .map(e -> e.name() + " " + e.spanId() + " in event trace " + e.traceId() + " (" + Waterfall.who(e) + ")")
          .orElse("NOTHING RECEIVED"));
      printBuildSetLinks(item);
      out.println();
    }
    out.printf("Spans read from %d files in %s%s%n", files.files().size(),
        files.files().isEmpty() ? "-" : files.files().get(0).getParent(),
        files.unreadableLines() == 0 ? "" : " (" + files.unreadableLines() + " unreadable lines skipped)");
    for (TraceAnalysis.ItemTrace item : report.items()) {
      out.printf("  item trace %s: %d spans; QueueItem begun by %s, ended by %s%s%s%n", item.traceId(),
          item.spans().size(), item.beganBy(), item.endedBy(),
          item.crossProcess() ? " (different processes)" : " (same process)",
          item.problems().isEmpty() ? "" : "; PROBLEMS: " + String.join("; ", item.problems()));
    }
    for (TraceAnalysis.EventTrace trace : report.eventTraces()) {
      out.printf("  event trace %s: %d spans%s%n", trace.traceId(), trace.spans().size(),
          trace.problems().isEmpty() ? "" : "; PROBLEMS: " + String.join("; ", trace.problems()));
    }
    report.items().stream().findFirst().ifPresent(item -> out.printf(
        "One file per trace, for Jaeger's \"JSON File\" upload, in %s (the item trace: %s)%n", perTraceDir,
        perTraceDir.resolve(item.traceId() + PerTraceFiles.SUFFIX)));
    boolean traceOk = report.ok();
    out.printf("VERDICT: %s | spans received %d | item traces %d/%d | event traces %d | orphans %d | duplicates %d"
            + " | missing parents %d | children outside parents %d"
            + " | item span begun and ended by different processes: %s%s%n",
        !outcome.completed() ? "RUN FAILED" : traceOk ? "OK" : "TRACE BROKEN",
        report.totalSpans(), report.items().size(), report.expectedItems(), report.eventTraces().size(),
        report.orphans(), report.duplicates(),
        report.missingParents(), report.childrenOutsideParents(), report.anyCrossProcess() ? "yes" : "no",
        outcome.killed() == null ? "" : " (" + outcome.killed() + " was killed mid-item)");
    if (!outcome.completed()) {
      out.println("run failed: " + outcome.problem());
      return RUN_FAILED;
    }
    return traceOk ? OK : TRACE_BROKEN;
  }

  /** A build set begun by a gate reset links to the one it replaced (both are in the item's trace). */
  private void printBuildSetLinks(TraceAnalysis.ItemTrace item) {
    Map<String, ReceivedSpan> byId = new HashMap<>();
    item.spans().forEach(s -> byId.put(s.spanId(), s));
    for (ReceivedSpan buildSet : item.spans().stream().filter(s -> s.name().equals("BuildSet")).toList()) {
      for (ReceivedSpan.Link link : buildSet.links()) {
        ReceivedSpan linked = byId.get(link.spanId());
        out.printf("  BuildSet %s links to: %s %s (%s=%s)%n", buildSet.spanId(),
            linked == null ? "NOTHING RECEIVED" : linked.name(), link.spanId(), DemoAttributes.LINK.getKey(),
            link.attributes().getOrDefault(DemoAttributes.LINK.getKey(), "?"));
      }
    }
  }
}
