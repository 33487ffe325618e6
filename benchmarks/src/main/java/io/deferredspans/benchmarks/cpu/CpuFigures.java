package io.deferredspans.benchmarks.cpu;

import io.deferredspans.benchmarks.RunOptions;
import io.deferredspans.benchmarks.report.FigureRow;
import io.deferredspans.benchmarks.report.Spread;
import io.deferredspans.benchmarks.report.Target;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * Runs {@link EndPathBenchmark} as several short JMH runs ("rounds"), each with all benchmarks in one fresh fork
 * apiece, and divides within a round: a slow phase of the shared machine then hits both sides of a ratio rather
 * than one.
 */
public final class CpuFigures {
  public static final String FIGURE = "3. CPU of begin/end without ZooKeeper (JMH)";

  private CpuFigures() {}

  public static List<FigureRow> run(RunOptions options) throws Exception {
    Map<String, double[]> nanos = new HashMap<>();
    for (int round = 0; round < options.jmhRounds(); round++) {
      for (RunResult result : runRound(options)) {
        String benchmark = result.getParams().getBenchmark();
        String method = benchmark.substring(benchmark.lastIndexOf('.') + 1);
        nanos.computeIfAbsent(method, m -> new double[options.jmhRounds()])[round] =
            result.getPrimaryResult().getScore();
      }
    }
    double[] sdkStartEnd = nanos.get("sdkSpanStartEnd");
    double[] sdkStart = nanos.get("sdkSpanStart");
    List<FigureRow> rows = new ArrayList<>();
    String note = options.jmhRounds() + " JMH rounds x " + options.jmhMeasurementIterations() + " iterations";
    rows.add(FigureRow.ratio(FIGURE, "end: decode+finish+export / SDK span start+end",
        Spread.ratios(nanos.get("deferredDecodeFinishExport"), sdkStartEnd), Target.atMost(2.0, "<= 2.0x"), note));
    rows.add(FigureRow.ratio(FIGURE, "end as the store runs it (+encode finished) / SDK start+end",
        Spread.ratios(nanos.get("deferredDecodeFinishEncodeExport"), sdkStartEnd), Target.none(), ""));
    rows.add(FigureRow.ratio(FIGURE, "begin: spanBuilder.begin+encode / SDK span start",
        Spread.ratios(nanos.get("deferredBeginEncode"), sdkStart), Target.none(), ""));
    for (Map.Entry<String, double[]> entry : nanos.entrySet()) {
      rows.add(FigureRow.context(FIGURE, "  abs: " + entry.getKey(), entry.getValue(), "ns/op", ""));
    }
    return rows;
  }

  private static Collection<RunResult> runRound(RunOptions options) throws Exception {
    TimeValue iteration = TimeValue.milliseconds(options.jmhIterationTime().toMillis());
    Options jmh = new OptionsBuilder()
        .include(EndPathBenchmark.class.getName() + "\\.")
        .forks(options.jmhForks())
        .warmupIterations(options.jmhWarmupIterations())
        .warmupTime(iteration)
        .measurementIterations(options.jmhMeasurementIterations())
        .measurementTime(iteration)
        .jvmArgsAppend("-Xms1g", "-Xmx1g", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn")
        .verbosity(VerboseMode.SILENT)
        .shouldFailOnError(true)
        .build();
    return new Runner(jmh).run();
  }
}
