package io.deferredspans.demo.scheduler;

import io.deferredspans.demo.common.Messages.BuildEntry;
import io.deferredspans.demo.common.Messages.NodeRequest;
import java.time.Duration;
import java.util.List;
import java.util.UUID;

/**
 * The jobs the demo pipeline runs for every change, with durations scaled to the item lifetime asked for, so
 * that {@code --item-seconds 20} gives a twenty-second item and {@code --item-seconds 3600} an hour-long one.
 * Unless told not to, the first job of an item's first build set fails early, on purpose, to cause one gate reset.
 */
final class JobPlan {
  private record Job(String name, double shareOfItem) {}

  private static final List<Job> JOBS =
      List.of(new Job("tox-py311", 0.80), new Job("tox-linters", 0.45), new Job("build-docs", 0.60));
  private static final double MERGE_SHARE = 0.06;
  /** How long the simulated resource allocator takes to fulfil a node request. */
  private static final double NODE_REQUEST_SHARE = 0.04;
  private static final String NODE_LABEL = "ubuntu-jammy";
  /** The failing build fails early, so that the reset costs the item little time. */
  private static final double FAILING_BUILD_SHARE = 0.12;

  private final Duration itemLifetime;

  private final boolean gateReset;
  private final boolean failEveryBuildSet;

  JobPlan(Duration itemLifetime, boolean gateReset) {
    this(itemLifetime, gateReset, false);
  }

  /**
   * @param failEveryBuildSet the first job fails in the build set after the reset too, so that the run fails (the
   *     demo never asks for it; tests of a failed pipeline run do)
   */
  JobPlan(Duration itemLifetime, boolean gateReset, boolean failEveryBuildSet) {
    this.itemLifetime = itemLifetime;
    this.gateReset = gateReset;
    this.failEveryBuildSet = failEveryBuildSet;
  }

  long mergeMillis() {
    return share(MERGE_SHARE);
  }

  NodeRequest newNodeRequest(long nowMillis) {
    return new NodeRequest(newId(), NODE_LABEL, nowMillis, share(NODE_REQUEST_SHARE));
  }

  List<BuildEntry> newBuilds(int buildSetNumber) {
    boolean failFirstJob = gateReset && (buildSetNumber == 1 || failEveryBuildSet);
    return JOBS.stream()
        .map(job -> failFirstJob && job == JOBS.get(0)
            ? new BuildEntry(newId(), job.name(), share(FAILING_BUILD_SHARE), true, null)
            : new BuildEntry(newId(), job.name(), share(job.shareOfItem()), false, null))
        .toList();
  }

  private static String newId() {
    return UUID.randomUUID().toString().replace("-", "");
  }

  private long share(double share) {
    return Math.round(itemLifetime.toMillis() * share);
  }
}
