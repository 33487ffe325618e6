package io.deferredspans.benchmarks;

import java.time.Duration;
import java.util.List;

/**
 * How much of each figure to run. {@link #full()} gives the published figures in a few minutes; {@link #quick()}
 * is the ~1 minute smoke run of {@code benchmarks/run --short}; {@link #smoke()} only proves every harness
 * still works (unit test; JMH then runs in-process, forks 0, which proves the benchmarks run, not their speed).
 */
public record RunOptions(
    String name,
    int warmupReps,
    int reps,
    int batch,
    List<Integer> clientCounts,
    int cyclesPerConcurrencyRun,
    List<Integer> openRecordLevels,
    int heapReadings,
    List<Duration> scheduleDelays,
    int latencyReps,
    int latencySpansPerType,
    int jmhRounds,
    int jmhForks,
    int jmhWarmupIterations,
    int jmhMeasurementIterations,
    Duration jmhIterationTime,
    Duration recoveryWindow) {

  public static RunOptions full() {
    return new RunOptions("full", 1, 7, 300, List.of(1, 2, 4, 8), 600, List.of(1_000, 10_000, 100_000), 5,
        List.of(Duration.ofMillis(1000), Duration.ofMillis(50)), 3, 150, 5, 1, 3, 3, Duration.ofSeconds(1),
        Duration.ofSeconds(120));
  }

  public static RunOptions quick() {
    // Under 3 minutes with the build at a load average of ~4 (the embedded variants made it 4 min 50 s, the
    // fills of figures 6b, 8 and 9 and the ensemble of 6c taking most): fewer open records and cycles, a shorter
    // recovery window. Same code paths; the full run is what docs/benchmarks.md publishes.
    return new RunOptions("short", 1, 3, 100, List.of(1, 2, 4, 8), 120, List.of(1_000, 2_000, 4_000), 3,
        List.of(Duration.ofMillis(1000), Duration.ofMillis(50)), 2, 60, 2, 1, 1, 2, Duration.ofMillis(300),
        Duration.ofSeconds(5));
  }

  /** The same run with other client counts for figure 6 (e.g. only 8, to profile that run). */
  public RunOptions withClientCounts(List<Integer> counts) {
    return new RunOptions(name, warmupReps, reps, batch, List.copyOf(counts), cyclesPerConcurrencyRun,
        openRecordLevels, heapReadings, scheduleDelays, latencyReps, latencySpansPerType, jmhRounds, jmhForks,
        jmhWarmupIterations, jmhMeasurementIterations, jmhIterationTime, recoveryWindow);
  }

  public static RunOptions smoke() {
    return new RunOptions("smoke", 0, 2, 10, List.of(1, 2), 20, List.of(100, 300), 2,
        List.of(Duration.ofMillis(50)), 1, 10, 1, 0, 0, 1, Duration.ofMillis(100), Duration.ofSeconds(2));
  }
}
