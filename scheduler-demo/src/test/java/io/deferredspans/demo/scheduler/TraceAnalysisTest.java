package io.deferredspans.demo.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import io.deferredspans.otlp.json.ReceivedSpan;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The verdict must fail the run for exactly the faults the demo exists to rule out. */
class TraceAnalysisTest {
  private static final String ITEM_TRACE = "0af7651916cd43dd8448eb211c80319c";
  private static final String EVENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";

  private static ReceivedSpan span(String trace, String id, String parent, String name, long start, long end,
      Map<String, Object> attributes, List<ReceivedSpan.Link> links) {
    return new ReceivedSpan(ReceivedSpan.TRANSPORT_FILE, trace, id, parent, name, "SPAN_KIND_INTERNAL",
        start * 1_000_000_000L, end * 1_000_000_000L, "STATUS_CODE_UNSET", "", attributes, List.of(), links,
        Map.of("service.instance.id", "executor-1"), "test", "");
  }

  private static ReceivedSpan span(String id, String parent, String name, long start, long end) {
    return span(ITEM_TRACE, id, parent, name, start, end, Map.of(), List.of());
  }

  /** A whole run: the event trace, the item (begun by scheduler-1, ended by scheduler-2) and its children. */
  private static List<ReceivedSpan> wholeRun() {
    List<ReceivedSpan> spans = new ArrayList<>();
    spans.add(span(EVENT_TRACE, "e000000000000001", "e000000000000000", "ProcessTriggerEvent", 0, 1, Map.of(),
        List.of()));
    spans.add(span(ITEM_TRACE, "a000000000000001", "", "QueueItem", 1, 20,
        Map.of("deferred_span.began_by", "scheduler-1", "deferred_span.ended_by", "scheduler-2"),
        List.of(new ReceivedSpan.Link(EVENT_TRACE, "e000000000000001", Map.of()))));
    spans.add(span("a000000000000002", "a000000000000001", "BuildSet", 2, 19));
    spans.add(span("a000000000000003", "a000000000000002", "Merge", 2, 4));
    spans.add(span("a000000000000004", "a000000000000003", "MergeJob", 3, 4));
    spans.add(span("a000000000000005", "a000000000000002", "Build", 4, 18));
    spans.add(span("a000000000000006", "a000000000000005", "JobExecution", 5, 17));
    spans.add(span("a000000000000009", "a000000000000002", "RequestNodes", 4, 4)); // last: indices above stay put
    spans.add(span(EVENT_TRACE, "e000000000000000", "", "PatchsetUploaded", 0, 0, Map.of(), List.of()));
    return spans;
  }

  /** Index of PatchsetUploaded in {@link #wholeRun()}, the event trace's root. */
  private static final int EVENT_ROOT = 8;

  @Test
  void wholeTraceBegunAndEndedByDifferentProcessesPasses() {
    TraceAnalysis.Report report = TraceAnalysis.analyze(wholeRun(), 0, 1);

    assertThat(report.ok()).as("%s", report.items().get(0).problems()).isTrue();
    assertThat(report.anyCrossProcess()).isTrue();
    assertThat(report.items().get(0).linkedEventSpan()).isPresent();
  }

  @Test
  void duplicatesMissingParentsOrphansAndMissingLinksBreakTheTrace() {
    List<ReceivedSpan> spans = wholeRun();
    spans.add(spans.get(5)); // Build exported twice
    spans.add(span("a000000000000007", "ffffffffffffffff", "Build", 6, 7)); // parent never arrived
    spans.add(span(ITEM_TRACE, "a000000000000008", "a000000000000002", "Build", 6, 8,
        Map.of("deferred_span.abandoned", true), List.of()));
    spans.remove(0); // the linked event span

    TraceAnalysis.Report report = TraceAnalysis.analyze(spans, 0, 1);

    assertThat(report.ok()).isFalse();
    assertThat(report.duplicates()).isEqualTo(1);
    assertThat(report.missingParents()).isEqualTo(1);
    assertThat(report.orphans()).isEqualTo(1);
    assertThat(report.items().get(0).problems()).anyMatch(p -> p.contains("no link"));
  }

  /** Every trace the report prints is checked, not only item traces: here the launcher's span never arrived. */
  @Test
  void eventTraceWithoutItsRootBreaksTheRun() {
    List<ReceivedSpan> spans = wholeRun();
    assertThat(spans.remove(EVENT_ROOT).name()).isEqualTo("PatchsetUploaded");

    TraceAnalysis.Report report = TraceAnalysis.analyze(spans, 0, 1);

    assertThat(report.ok()).isFalse();
    assertThat(report.missingParents()).isEqualTo(1);
    assertThat(report.items().get(0).problems()).isEmpty();
  }

  @Test
  void eventSpanExportedTwiceBreaksTheRun() {
    List<ReceivedSpan> spans = wholeRun();
    spans.add(spans.get(EVENT_ROOT));

    TraceAnalysis.Report report = TraceAnalysis.analyze(spans, 0, 1);

    assertThat(report.ok()).isFalse();
    assertThat(report.duplicates()).isEqualTo(1);
  }

  @Test
  void missingItemTraceOrMisplacedSpanBreaksTheRun() {
    assertThat(TraceAnalysis.analyze(List.of(), 0, 1).ok()).isFalse();

    List<ReceivedSpan> spans = wholeRun();
    spans.set(4, span("a000000000000004", "a000000000000002", "MergeJob", 3, 4)); // under BuildSet, not Merge
    assertThat(TraceAnalysis.analyze(spans, 0, 1).items().get(0).problems())
        .containsExactly("MergeJob a000000000000004 is under BuildSet, not Merge");
  }

  @Test
  void childThatOutlivesItsParentBreaksTheTrace() {
    List<ReceivedSpan> spans = wholeRun();
    // The cancelled build's fault: the scheduler ended Build at 18 s, the executor's JobExecution ran until 19 s.
    spans.set(6, span("a000000000000006", "a000000000000005", "JobExecution", 5, 19));

    TraceAnalysis.Report report = TraceAnalysis.analyze(spans, 0, 1);

    assertThat(report.ok()).isFalse();
    assertThat(report.childrenOutsideParents()).isEqualTo(1);
    assertThat(report.items().get(0).problems()).containsExactly(
        "JobExecution a000000000000006 lies outside its parent Build a000000000000005: ends 1000.000 ms after it");
  }

  @Test
  void childThatStartsBeforeItsParentBreaksTheTrace() {
    List<ReceivedSpan> spans = wholeRun();
    spans.set(4, span("a000000000000004", "a000000000000003", "MergeJob", 1, 4)); // Merge began at 2 s

    TraceAnalysis.Report report = TraceAnalysis.analyze(spans, 0, 1);

    assertThat(report.ok()).isFalse();
    assertThat(report.items().get(0).problems()).singleElement().asString()
        .contains("MergeJob a000000000000004 lies outside its parent Merge").contains("starts 1000.000 ms before it");
  }

  @Test
  void childEndingExactlyWithItsParentIsInside() {
    List<ReceivedSpan> spans = wholeRun();
    spans.set(6, span("a000000000000006", "a000000000000005", "JobExecution", 4, 18)); // Build: 4 s to 18 s

    TraceAnalysis.Report report = TraceAnalysis.analyze(spans, 0, 1);

    assertThat(report.ok()).as("%s", report.items().get(0).problems()).isTrue();
    assertThat(report.childrenOutsideParents()).isZero();
  }

  @Test
  void waterfallIndentsChildrenAndScalesBarsToTheTrace() {
    List<String> lines = new Waterfall(100, false).render(wholeRun().subList(1, 7));

    assertThat(lines).hasSize(7).allSatisfy(line -> assertThat(line.length()).isLessThanOrEqualTo(100));
    assertThat(lines.get(1)).startsWith("QueueItem ").endsWith("scheduler-1 → scheduler-2");
    assertThat(lines.get(2)).startsWith("  BuildSet ");
    assertThat(lines.get(4)).startsWith("      MergeJob ").endsWith("executor-1");
    // QueueItem spans the whole axis: its bar has no blank.
    String itemBar = lines.get(1).substring(lines.get(1).indexOf('|') + 1, lines.get(1).lastIndexOf('|'));
    assertThat(itemBar).matches("#+");
  }
}
