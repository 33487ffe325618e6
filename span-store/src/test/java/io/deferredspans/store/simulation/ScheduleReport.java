package io.deferredspans.store.simulation;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/** What one schedule did and which invariants it broke, with enough detail to start debugging a seed. */
final class ScheduleReport {
  final long seed;
  final List<String> steps = new ArrayList<>();
  final Map<Invariant, List<String>> violations = new EnumMap<>(Invariant.class);
  final Map<String, Integer> duplicatesByWindow = new java.util.TreeMap<>();
  Map<Fault, Integer> faults = new EnumMap<>(Fault.class);
  long millis;
  Throwable crash;

  ScheduleReport(long seed) {
    this.seed = seed;
  }

  private final long startNanos = System.nanoTime();

  synchronized void step(String what) {
    steps.add("+" + (System.nanoTime() - startNanos) / 1_000_000 + "ms " + what);
  }

  synchronized void violation(Invariant invariant, String detail) {
    violations.computeIfAbsent(invariant, i -> new ArrayList<>()).add(detail);
  }

  synchronized void duplicateIn(String window) {
    duplicatesByWindow.merge(window, 1, Integer::sum);
  }

  boolean failed() {
    return !violations.isEmpty() || crash != null;
  }

  @Override
  public synchronized String toString() {
    StringBuilder out = new StringBuilder("seed ").append(seed).append(" (").append(millis).append(" ms)");
    if (crash != null) {
      out.append("\n  the simulation itself failed: ").append(crash);
    }
    violations.forEach((invariant, details) -> {
      out.append("\n  ").append(invariant).append(" x").append(details.size());
      details.stream().limit(3).forEach(d -> out.append("\n    ").append(d));
    });
    out.append("\n  faults: ").append(faults);
    out.append("\n  steps: ").append(String.join(" | ", steps));
    return out.toString();
  }
}
