package io.deferredspans.benchmarks.report;

import java.util.Arrays;

/**
 * A median with its spread over repetitions. Every figure is summarised this way because the machine is shared:
 * one sample says little, the spread says how much a figure can be trusted.
 */
public record Spread(double median, double p25, double p75, double min, double max, int samples) {

  public static Spread of(double... values) {
    if (values.length == 0) {
      throw new IllegalArgumentException("no samples");
    }
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    return new Spread(
        percentile(sorted, 0.50), percentile(sorted, 0.25), percentile(sorted, 0.75),
        sorted[0], sorted[sorted.length - 1], sorted.length);
  }

  /** The {@code fraction} quantile of unsorted values. */
  public static double quantile(double[] values, double fraction) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    return percentile(sorted, fraction);
  }

  /** Linear interpolation between closest ranks, as most statistics packages do. */
  static double percentile(double[] sorted, double fraction) {
    double rank = fraction * (sorted.length - 1);
    int low = (int) Math.floor(rank);
    int high = (int) Math.ceil(rank);
    return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
  }

  /** Element-wise ratios of two series measured side by side, repetition by repetition. */
  public static double[] ratios(double[] candidate, double[] baseline) {
    if (candidate.length != baseline.length) {
      throw new IllegalArgumentException("series of different lengths");
    }
    double[] ratios = new double[candidate.length];
    for (int i = 0; i < ratios.length; i++) {
      ratios[i] = candidate[i] / baseline[i];
    }
    return ratios;
  }
}
