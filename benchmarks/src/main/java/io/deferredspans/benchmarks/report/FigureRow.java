package io.deferredspans.benchmarks.report;

/** One line of a figure's table: a metric, its median and spread, and whether it meets its target. */
public record FigureRow(String figure, String metric, Spread value, String unit, Target target, String note) {

  public Boolean met() {
    return target.metBy(value);
  }

  public static FigureRow ratio(String figure, String metric, double[] ratios, Target target, String note) {
    return new FigureRow(figure, metric, Spread.of(ratios), "x", target, note);
  }

  public static FigureRow context(String figure, String metric, double[] values, String unit, String note) {
    return new FigureRow(figure, metric, Spread.of(values), unit, Target.none(), note);
  }
}
