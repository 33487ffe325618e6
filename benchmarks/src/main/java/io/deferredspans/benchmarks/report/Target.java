package io.deferredspans.benchmarks.report;

/** What a figure should be, checked against its median. */
public record Target(String text, double atMost) {
  private static final Target NONE = new Target("-", Double.NaN);

  /** The median must not exceed {@code limit}. */
  public static Target atMost(double limit, String text) {
    return new Target(text, limit);
  }

  /** Context only: a baseline or an absolute cost that has no target of its own. */
  public static Target none() {
    return NONE;
  }

  public boolean isSet() {
    return !Double.isNaN(atMost);
  }

  /** Null when there is no target. */
  public Boolean metBy(Spread value) {
    return isSet() ? value.median() <= atMost : null;
  }
}
