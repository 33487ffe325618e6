package io.deferredspans.benchmarks.report;

/** What a figure should be, checked against its median: at most a limit (a cost) or at least one (a throughput). */
public record Target(String text, double limit, boolean atLeast) {
  private static final Target NONE = new Target("-", Double.NaN, false);

  /** The median must not exceed {@code limit}. */
  public static Target atMost(double limit, String text) {
    return new Target(text, limit, false);
  }

  /** The median must reach {@code limit}. */
  public static Target atLeast(double limit, String text) {
    return new Target(text, limit, true);
  }

  /** Context only: a baseline or an absolute cost that has no target of its own. */
  public static Target none() {
    return NONE;
  }

  public boolean isSet() {
    return !Double.isNaN(limit);
  }

  /** Null when there is no target. */
  public Boolean metBy(Spread value) {
    if (!isSet()) {
      return null;
    }
    return atLeast ? value.median() >= limit : value.median() <= limit;
  }
}
