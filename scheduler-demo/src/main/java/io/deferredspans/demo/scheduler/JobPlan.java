package io.deferredspans.demo.scheduler;

import io.deferredspans.demo.common.Messages.BuildEntry;
import io.deferredspans.demo.common.Messages.NodeRequest;
import java.time.Duration;
import java.util.List;
import java.util.UUID;

/**
 * The jobs the demo pipeline runs for every change, with durations scaled to the item lifetime asked for, so
 * that {@code --item-seconds 20} gives a twenty-second item and {@code --item-seconds 3600} an hour-long one.
 */
final class JobPlan {
  private record Job(String name, double shareOfItem) {}

  private static final List<Job> JOBS =
      List.of(new Job("tox-py311", 0.80), new Job("tox-linters", 0.45), new Job("build-docs", 0.60));
  private static final double MERGE_SHARE = 0.06;
  /** How long the simulated resource allocator takes to fulfil a node request. */
  private static final double NODE_REQUEST_SHARE = 0.04;
  private static final String NODE_LABEL = "ubuntu-jammy";

  private final Duration itemLifetime;

  JobPlan(Duration itemLifetime) {
    this.itemLifetime = itemLifetime;
  }

  long mergeMillis() {
    return share(MERGE_SHARE);
  }

  NodeRequest newNodeRequest(long nowMillis) {
    return new NodeRequest(newId(), NODE_LABEL, nowMillis, share(NODE_REQUEST_SHARE));
  }

  List<BuildEntry> newBuilds() {
    return JOBS.stream()
        .map(job -> new BuildEntry(newId(), job.name(), share(job.shareOfItem()), null))
        .toList();
  }

  private static String newId() {
    return UUID.randomUUID().toString().replace("-", "");
  }

  private long share(double share) {
    return Math.round(itemLifetime.toMillis() * share);
  }
}
