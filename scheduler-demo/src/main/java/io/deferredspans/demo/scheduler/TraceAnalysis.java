package io.deferredspans.demo.scheduler;

import io.deferredspans.otlp.json.ReceivedSpan;
import io.deferredspans.sdk.DeferredSpanAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Checks the spans of a run. Every trace, the event traces included: every parent present, no span ID twice. Each
 * queue item's trace besides: nothing abandoned, the expected spans under the right parents, every child's time
 * range inside its parent's, and the item's link to the event trace; and whether the item span was begun and ended
 * by different processes.
 */
final class TraceAnalysis {
  static final String ITEM_SPAN = "QueueItem";
  /** Each span name the item trace must hold, with the name its parent must have. */
  static final Map<String, String> EXPECTED_PARENTS = expectedParents();

  private TraceAnalysis() {}

  private static Map<String, String> expectedParents() {
    Map<String, String> parents = new LinkedHashMap<>();
    parents.put("BuildSet", ITEM_SPAN);
    parents.put("Merge", "BuildSet");
    parents.put("MergeJob", "Merge");
    parents.put("RequestNodes", "BuildSet");
    parents.put("Build", "BuildSet");
    parents.put("JobExecution", "Build");
    return parents;
  }

  /** One queue item's trace, de-duplicated by span ID, and what is wrong with it. */
  record ItemTrace(
      String traceId,
      ReceivedSpan item,
      List<ReceivedSpan> spans,
      int duplicates,
      List<ReceivedSpan> missingParents,
      List<String> outsideParents,
      List<ReceivedSpan> abandoned,
      Optional<ReceivedSpan> linkedEventSpan,
      List<String> structureProblems) {

    String beganBy() {
      return attribute(item, DeferredSpanAttributes.BEGAN_BY.getKey());
    }

    String endedBy() {
      return attribute(item, DeferredSpanAttributes.ENDED_BY.getKey());
    }

    boolean crossProcess() {
      return !beganBy().isEmpty() && !endedBy().isEmpty() && !beganBy().equals(endedBy());
    }

    List<String> problems() {
      List<String> problems = new ArrayList<>(structureProblems);
      if (duplicates > 0) {
        problems.add(duplicates + " duplicate span IDs");
      }
      missingParents.forEach(s -> problems.add(missingParent(s)));
      problems.addAll(outsideParents);
      abandoned.forEach(s -> problems.add(s.name() + " " + s.spanId() + " was abandoned (orphan)"));
      if (linkedEventSpan.isEmpty()) {
        problems.add("QueueItem has no link to a received span of the event trace");
      }
      return problems;
    }
  }

  /**
   * A trace without a queue item: an event's ({@code PatchsetUploaded} and the {@code ProcessTriggerEvent} spans
   * under it), or anything else the processes exported. Held to what every trace must be: whole.
   */
  record EventTrace(String traceId, List<ReceivedSpan> spans, int duplicates, List<ReceivedSpan> missingParents) {
    List<String> problems() {
      List<String> problems = new ArrayList<>();
      if (duplicates > 0) {
        problems.add(duplicates + " duplicate span IDs");
      }
      missingParents.forEach(s -> problems.add(missingParent(s)));
      return problems;
    }
  }

  /** Every trace of a run, and the run's totals. */
  record Report(int totalSpans, int unreadableLines, int expectedItems, List<ItemTrace> items,
      List<EventTrace> eventTraces) {
    int duplicates() {
      return items.stream().mapToInt(ItemTrace::duplicates).sum()
          + eventTraces.stream().mapToInt(EventTrace::duplicates).sum();
    }

    int missingParents() {
      return items.stream().mapToInt(i -> i.missingParents().size()).sum()
          + eventTraces.stream().mapToInt(e -> e.missingParents().size()).sum();
    }

    int childrenOutsideParents() {
      return items.stream().mapToInt(i -> i.outsideParents().size()).sum();
    }

    int orphans() {
      return items.stream().mapToInt(i -> i.abandoned().size()).sum();
    }

    /** Broken if any trace has a problem, or an item trace is missing. Unreadable lines are only reported. */
    boolean ok() {
      return items.size() == expectedItems && items.stream().allMatch(i -> i.problems().isEmpty())
          && eventTraces.stream().allMatch(e -> e.problems().isEmpty());
    }

    /** Whether the failover the demo shows happened: some item span was begun and ended by different processes. */
    boolean anyCrossProcess() {
      return items.stream().anyMatch(ItemTrace::crossProcess);
    }
  }

  static Report analyze(List<ReceivedSpan> all, int unreadableLines, int expectedItems) {
    Map<String, List<ReceivedSpan>> byTrace = new LinkedHashMap<>();
    all.stream().sorted(Comparator.comparingLong(ReceivedSpan::startEpochNanos))
        .forEach(s -> byTrace.computeIfAbsent(s.traceId(), t -> new ArrayList<>()).add(s));
    Map<String, ReceivedSpan> allById = new HashMap<>();
    all.forEach(s -> allById.putIfAbsent(s.spanId(), s));
    List<ItemTrace> items = new ArrayList<>();
    List<EventTrace> eventTraces = new ArrayList<>();
    for (Map.Entry<String, List<ReceivedSpan>> trace : byTrace.entrySet()) {
      Optional<ReceivedSpan> item = trace.getValue().stream().filter(s -> s.name().equals(ITEM_SPAN)).findFirst();
      if (item.isPresent()) {
        items.add(itemTrace(item.get(), trace.getValue(), allById));
      } else {
        Map<String, ReceivedSpan> unique = unique(trace.getValue());
        eventTraces.add(new EventTrace(trace.getKey(), List.copyOf(unique.values()),
            trace.getValue().size() - unique.size(), missingParents(unique)));
      }
    }
    return new Report(all.size(), unreadableLines, expectedItems, items, eventTraces);
  }

  /** The trace's spans by ID, each once (the first copy), in the trace's order. */
  private static Map<String, ReceivedSpan> unique(List<ReceivedSpan> trace) {
    Map<String, ReceivedSpan> unique = new LinkedHashMap<>();
    trace.forEach(s -> unique.putIfAbsent(s.spanId(), s));
    return unique;
  }

  private static List<ReceivedSpan> missingParents(Map<String, ReceivedSpan> unique) {
    return unique.values().stream().filter(s -> !s.isRoot() && !unique.containsKey(s.parentSpanId())).toList();
  }

  private static String missingParent(ReceivedSpan span) {
    return span.name() + " " + span.spanId() + ": parent " + span.parentSpanId() + " missing";
  }

  private static ItemTrace itemTrace(ReceivedSpan item, List<ReceivedSpan> trace, Map<String, ReceivedSpan> allById) {
    Map<String, ReceivedSpan> unique = unique(trace);
    List<ReceivedSpan> spans = List.copyOf(unique.values());
    List<ReceivedSpan> missingParents = missingParents(unique);
    List<String> outsideParents = new ArrayList<>();
    for (ReceivedSpan span : spans) {
      ReceivedSpan parent = unique.get(span.parentSpanId());
      if (parent != null) {
        outsideOf(span, parent).ifPresent(outsideParents::add);
      }
    }
    List<ReceivedSpan> abandoned =
        spans.stream().filter(s -> Boolean.TRUE.equals(s.attributes().get(DeferredSpanAttributes.ABANDONED.getKey())))
            .toList();
    Optional<ReceivedSpan> linked =
        item.links().stream().map(l -> allById.get(l.spanId()))
            .filter(Objects::nonNull).filter(s -> !s.traceId().equals(item.traceId())).findFirst();
    List<String> structure = new ArrayList<>();
    if (!item.isRoot()) {
      structure.add("QueueItem is not the root of its trace");
    }
    EXPECTED_PARENTS.forEach((name, parentName) -> {
      List<ReceivedSpan> named = spans.stream().filter(s -> s.name().equals(name)).toList();
      if (named.isEmpty()) {
        structure.add("no " + name + " span");
      }
      for (ReceivedSpan span : named) {
        ReceivedSpan parent = unique.get(span.parentSpanId());
        if (parent != null && !parent.name().equals(parentName)) {
          structure.add(name + " " + span.spanId() + " is under " + parent.name() + ", not " + parentName);
        }
      }
    });
    return new ItemTrace(item.traceId(), item, spans, trace.size() - spans.size(), missingParents, outsideParents,
        abandoned, linked, structure);
  }

  /**
   * What is wrong if {@code child} does not lie within {@code parent}'s time range. Backends flag a child that
   * starts before or ends after its parent, and in this demo it would mean that a span was ended before the work
   * under it was done (a Build ended while its JobExecution still ran).
   */
  static Optional<String> outsideOf(ReceivedSpan child, ReceivedSpan parent) {
    List<String> how = new ArrayList<>();
    if (child.startEpochNanos() < parent.startEpochNanos()) {
      how.add("starts " + millis(parent.startEpochNanos() - child.startEpochNanos()) + " before it");
    }
    if (child.endEpochNanos() > parent.endEpochNanos()) {
      how.add("ends " + millis(child.endEpochNanos() - parent.endEpochNanos()) + " after it");
    }
    return how.isEmpty() ? Optional.empty()
        : Optional.of(child.name() + " " + child.spanId() + " lies outside its parent " + parent.name() + " "
            + parent.spanId() + ": " + String.join(" and ", how));
  }

  private static String millis(long nanos) {
    return String.format(Locale.ROOT, "%.3f ms", nanos / 1e6);
  }

  static String attribute(ReceivedSpan span, String key) {
    Object value = span.attributes().get(key);
    return value == null ? "" : value.toString();
  }
}
