package io.deferredspans.demo.common;

import java.util.List;

/**
 * The JSON bodies of the demo's znodes. Requests carry only a small parent context (a W3C traceparent), as
 * Zuul's do; the deferred spans themselves live in the {@code DeferredSpanStore}.
 */
public final class Messages {
  private Messages() {}

  /**
   * A patchset of a change in the code-review system (Gerrit's model: a change has numbered patchsets, each a
   * commit).
   *
   * @param project {@code owner/repository}
   * @param revision the patchset's commit, 40 hex digits
   */
  public record Change(String project, int number, int patchset, String revision) {
    /** The repository's owner, the part of {@link #project} before the last {@code /} (empty if none). */
    public String owner() {
      int slash = project.lastIndexOf('/');
      return slash < 0 ? "" : project.substring(0, slash);
    }

    /** The repository's name without its owner. */
    public String repository() {
      return project.substring(project.lastIndexOf('/') + 1);
    }

    /** Gerrit's ref for the patchset: {@code refs/changes/<last two digits>/<change>/<patchset>}. */
    public String ref() {
      return String.format("refs/changes/%02d/%d/%d", number % 100, number, patchset);
    }

    /** Zuul's way to write it: {@code change,patchset}. */
    @Override
    public String toString() {
      return number + "," + patchset;
    }
  }

  /** A "patchset uploaded" event from the code-review system, waiting for a scheduler. */
  public record TriggerEvent(String id, Change change, String traceparent, long createdAtMillis) {}

  /** The states a queue item goes through; each transition is one ZooKeeper transaction. */
  public enum ItemState {
    ENQUEUED,
    MERGING,
    NODES_REQUESTED,
    BUILDING,
    COMPLETED
  }

  /**
   * One job of an item's build set, and its result once known.
   *
   * @param failsOnPurpose the executor is to report this build as failed: the demo's way to cause a gate reset
   */
  public record BuildEntry(String uuid, String job, long durationMillis, boolean failsOnPurpose, String result) {
    public BuildEntry withResult(String newResult) {
      return new BuildEntry(uuid, job, durationMillis, failsOnPurpose, newResult);
    }

    public boolean done() {
      return result != null;
    }
  }

  /**
   * The nodes asked of the resource allocator for an item's builds. The demo has no allocator: a request counts as
   * fulfilled once it is {@code fulfilMillis} old, which any scheduler can tell from {@code requestedAtMillis}.
   */
  public record NodeRequest(String id, String label, long requestedAtMillis, long fulfilMillis) {
    public boolean fulfilledAt(long nowMillis) {
      return nowMillis - requestedAtMillis >= fulfilMillis;
    }
  }

  /** A change under test in a pipeline queue. */
  public record QueueItem(
      String id,
      String eventId,
      Change change,
      String enqueuedBy,
      long enqueuedAtMillis,
      ItemState state,
      int buildSetNumber,
      NodeRequest nodeRequest,
      List<BuildEntry> builds) {

    public QueueItem withState(ItemState newState) {
      return new QueueItem(
          id, eventId, change, enqueuedBy, enqueuedAtMillis, newState, buildSetNumber, nodeRequest, builds);
    }

    public QueueItem withNodeRequest(ItemState newState, NodeRequest newRequest) {
      return new QueueItem(
          id, eventId, change, enqueuedBy, enqueuedAtMillis, newState, buildSetNumber, newRequest, builds);
    }

    public QueueItem withBuilds(ItemState newState, List<BuildEntry> newBuilds) {
      return new QueueItem(id, eventId, change, enqueuedBy, enqueuedAtMillis, newState, buildSetNumber,
          nodeRequest, List.copyOf(newBuilds));
    }

    /** After a gate reset: the next build set starts from the merge, with no node request and no builds yet. */
    public QueueItem withNextBuildSet(ItemState newState) {
      return new QueueItem(
          id, eventId, change, enqueuedBy, enqueuedAtMillis, newState, buildSetNumber + 1, null, List.of());
    }

    public long buildsDone() {
      return builds.stream().filter(BuildEntry::done).count();
    }
  }

  public record MergeRequest(String itemId, Change change, long durationMillis, String traceparent) {}

  public record MergeResult(String itemId, String merger, String result) {}

  public record BuildRequest(
      String uuid, String itemId, String job, Change change, long durationMillis, boolean failsOnPurpose,
      String traceparent) {}

  public record BuildResult(String uuid, String itemId, String job, String result, String executor) {}
}
