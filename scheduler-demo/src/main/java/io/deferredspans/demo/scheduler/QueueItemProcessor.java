package io.deferredspans.demo.scheduler;

import io.deferredspans.demo.common.DemoAttributes;
import io.deferredspans.demo.common.DemoPaths;
import io.deferredspans.demo.common.DemoTelemetry;
import io.deferredspans.demo.common.Messages.BuildEntry;
import io.deferredspans.demo.common.Messages.BuildRequest;
import io.deferredspans.demo.common.Messages.BuildResult;
import io.deferredspans.demo.common.Messages.ItemState;
import io.deferredspans.demo.common.Messages.MergeRequest;
import io.deferredspans.demo.common.Messages.MergeResult;
import io.deferredspans.demo.common.Messages.NodeRequest;
import io.deferredspans.demo.common.Messages.QueueItem;
import io.deferredspans.demo.common.ZnodeJson;
import io.deferredspans.demo.common.Znodes;
import io.deferredspans.demo.common.Znodes.Versioned;
import io.deferredspans.sdk.DeferredSpanBuilder;
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.store.DeferredSpanStore;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.StatusCode;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorOp;

/**
 * Moves queue items through their states. Any scheduler may advance any item: every step reads the item with its
 * version and commits, in one transaction, the deferred span changes, the requests or results it consumes and the
 * item's new state written at that version. If the other scheduler moved first the transaction fails as a whole
 * and this one re-reads on its next pass. So a scheduler can die at any point without leaving half a step behind.
 *
 * <pre>
 * ENQUEUED  -- begin BuildSet and Merge spans, write merge request                        --> MERGING
 * MERGING   -- merge result arrived: end Merge, begin RequestNodes, note the node request     --> NODES_REQUESTED
 * NODES_REQUESTED -- request fulfilled: end RequestNodes, begin one Build span per job, write requests --> BUILDING
 * BUILDING  -- per build result: end that Build span (build uuid, job, result)
 *           -- a build failed (first build set only): per build still running, end its Build span as CANCELED
 *              and withdraw its request; then end BuildSet as reset and begin the next BuildSet (linked to it)
 *              and its Merge, write merge request                                          --> MERGING
 *           -- all results in: end BuildSet                                                --> COMPLETED
 * COMPLETED -- end QueueItem and delete the item (dequeue)
 * </pre>
 */
final class QueueItemProcessor {
  private static final String SUCCESS = "SUCCESS";
  private static final String FAILURE = "FAILURE";
  private static final String CANCELED = "CANCELED";
  /** Like a gate reset in Zuul, but bounded: the demo's failure is injected once, and the retry must be able to pass. */
  private static final int MAX_GATE_RESETS = 1;
  /** Value of {@code ci.link} on a BuildSet's link to the build set it replaces. */
  static final String PREVIOUS_BUILDSET = "previous_buildset";

  private final Znodes znodes;
  private final CuratorFramework client;
  private final DeferredSpanStore store;
  private final DeferredTracing deferred;
  private final JobPlan plan;

  QueueItemProcessor(Znodes znodes, DeferredSpanStore store, DemoTelemetry telemetry, JobPlan plan) {
    this.znodes = znodes;
    this.client = znodes.client();
    this.store = store;
    this.deferred = telemetry.deferred();
    this.plan = plan;
  }

  void advanceAll() throws Exception {
    for (String itemId : znodes.children(DemoPaths.QUEUE)) {
      Optional<Versioned<QueueItem>> item = znodes.read(DemoPaths.item(itemId), QueueItem.class);
      if (item.isPresent()) {
        advance(item.get());
      }
    }
  }

  private void advance(Versioned<QueueItem> item) throws Exception {
    switch (item.value().state()) {
      case ENQUEUED -> startBuildSet(item);
      case MERGING -> requestNodesWhenMerged(item);
      case NODES_REQUESTED -> launchBuildsWhenNodesArrive(item);
      case BUILDING -> collectBuildResults(item);
      case COMPLETED -> dequeue(item);
    }
  }

  private void startBuildSet(Versioned<QueueItem> item) throws Exception {
    QueueItem value = item.value();
    Optional<DeferredSpanRecord> itemSpan = store.read(SpanKeys.item(value.id()));
    if (itemSpan.isEmpty()) {
      return; // ended meanwhile (dequeued by the other scheduler)
    }
    QueueItem merging = value.withState(ItemState.MERGING);
    List<CuratorOp> ops = beginBuildSetOps(merging, itemSpan.get(), Optional.empty());
    ops.add(updateOp(item, merging));
    Transitions.attempt("start build set of " + value.id(), () -> client.transaction().forOperations(ops));
  }

  /**
   * Begins build set number {@code value.buildSetNumber()} and its Merge, and writes the merge request. A build set
   * that replaces a reset one links to it: it is not the old one's child, nor its sibling by accident.
   */
  private List<CuratorOp> beginBuildSetOps(QueueItem value, DeferredSpanRecord itemSpan,
      Optional<DeferredSpanRecord> previousBuildSet) throws Exception {
    String owner = DemoPaths.item(value.id());
    DeferredSpanBuilder builder =
        deferred.spanBuilder("BuildSet").setParent(itemSpan.asParentContext()).setOwner(owner);
    previousBuildSet.ifPresent(previous ->
        builder.addLink(previous.getSpanContext(), Attributes.of(DemoAttributes.LINK, PREVIOUS_BUILDSET)));
    DeferredSpanRecord buildSet = builder.begin();
    DeferredSpanRecord merge =
        deferred.spanBuilder("Merge").setParent(buildSet.asParentContext()).setOwner(owner).begin();
    MergeRequest request =
        new MergeRequest(value.id(), value.change(), value.project(), plan.mergeMillis(), merge.traceparent());
    List<CuratorOp> ops = new ArrayList<>();
    ops.addAll(store.beginOps(SpanKeys.buildSet(value.id(), value.buildSetNumber()), buildSet));
    ops.addAll(store.beginOps(SpanKeys.merge(value.id(), value.buildSetNumber()), merge));
    ops.add(client.transactionOp().create().forPath(DemoPaths.mergeRequest(value.id()), ZnodeJson.write(request)));
    return ops;
  }

  private void requestNodesWhenMerged(Versioned<QueueItem> item) throws Exception {
    QueueItem value = item.value();
    Optional<Versioned<MergeResult>> result = znodes.read(DemoPaths.mergeResult(value.id()), MergeResult.class);
    Optional<DeferredSpanRecord> buildSet = store.read(SpanKeys.buildSet(value.id(), value.buildSetNumber()));
    if (result.isEmpty() || buildSet.isEmpty()) {
      return;
    }
    NodeRequest nodeRequest = plan.newNodeRequest(System.currentTimeMillis());
    // Begun here, ended by whichever scheduler sees the request fulfilled: it may be the other one.
    DeferredSpanRecord span =
        deferred.spanBuilder("RequestNodes").setParent(buildSet.get().asParentContext())
            .setOwner(DemoPaths.item(value.id())).begin();
    List<CuratorOp> ops = new ArrayList<>(store.beginOps(SpanKeys.nodeRequest(nodeRequest.id()), span));
    ops.add(client.transactionOp().delete().withVersion(result.get().version()).forPath(DemoPaths.mergeResult(value.id())));
    ops.add(updateOp(item, value.withNodeRequest(ItemState.NODES_REQUESTED, nodeRequest)));
    DeferredSpanEnding ending =
        DeferredSpanEnding.builder()
            .setAttribute(DemoAttributes.MERGER_HOSTNAME, result.get().value().merger())
            .setAttribute(DemoAttributes.RESULT, result.get().value().result())
            .build();
    Transitions.attemptEnd("request nodes for " + value.id(),
        () -> store.endDeferredSpan(SpanKeys.merge(value.id(), value.buildSetNumber()), ending, ops));
  }

  private void launchBuildsWhenNodesArrive(Versioned<QueueItem> item) throws Exception {
    QueueItem value = item.value();
    NodeRequest nodeRequest = value.nodeRequest();
    Optional<DeferredSpanRecord> buildSet = store.read(SpanKeys.buildSet(value.id(), value.buildSetNumber()));
    if (!nodeRequest.fulfilledAt(System.currentTimeMillis()) || buildSet.isEmpty()) {
      return;
    }
    List<BuildEntry> builds = plan.newBuilds(value.buildSetNumber());
    List<CuratorOp> ops = new ArrayList<>();
    for (BuildEntry build : builds) {
      // The Build span starts now, at launch, and is ended by whichever scheduler sees the build's result.
      DeferredSpanRecord span =
          deferred.spanBuilder("Build").setParent(buildSet.get().asParentContext())
              .setOwner(DemoPaths.item(value.id())).begin();
      BuildRequest request =
          new BuildRequest(build.uuid(), value.id(), build.job(), value.change(), build.durationMillis(),
              build.failsOnPurpose(), span.traceparent());
      ops.addAll(store.beginOps(SpanKeys.build(build.uuid()), span));
      ops.add(client.transactionOp().create().forPath(DemoPaths.buildRequest(build.uuid()), ZnodeJson.write(request)));
    }
    ops.add(updateOp(item, value.withBuilds(ItemState.BUILDING, builds)));
    DeferredSpanEnding ending =
        DeferredSpanEnding.builder()
            .setAttribute(DemoAttributes.NODE_REQUEST_ID, nodeRequest.id())
            .setAttribute(DemoAttributes.NODE_LABEL, nodeRequest.label())
            .build();
    Transitions.attemptEnd("launch builds of " + value.id(),
        () -> store.endDeferredSpan(SpanKeys.nodeRequest(nodeRequest.id()), ending, ops));
  }

  private void collectBuildResults(Versioned<QueueItem> item) throws Exception {
    QueueItem value = item.value();
    for (BuildEntry build : value.builds()) {
      if (build.done()) {
        continue;
      }
      Optional<Versioned<BuildResult>> result = znodes.read(DemoPaths.buildResult(build.uuid()), BuildResult.class);
      if (result.isPresent()) {
        // One build per pass: the item's version changes with each, and the next pass re-reads it.
        finishBuild(item, build, result.get());
        return;
      }
    }
    boolean failed = value.builds().stream().anyMatch(b -> FAILURE.equals(b.result()));
    if (failed && value.buildSetNumber() <= MAX_GATE_RESETS) {
      Optional<BuildEntry> stillRunning = value.builds().stream().filter(b -> !b.done()).findFirst();
      if (stillRunning.isPresent()) {
        cancelBuild(item, stillRunning.get()); // one per pass, like results
      } else {
        resetGate(item);
      }
    } else if (value.buildsDone() == value.builds().size()) {
      completeBuildSet(item);
    }
  }

  private void finishBuild(Versioned<QueueItem> item, BuildEntry build, Versioned<BuildResult> result) throws Exception {
    QueueItem value = item.value();
    String outcome = result.value().result();
    DeferredSpanEnding ending =
        buildEnding(build, outcome)
            .setAttribute(DemoAttributes.EXECUTOR_HOSTNAME, result.value().executor())
            .setStatus(SUCCESS.equals(outcome) ? StatusCode.UNSET : StatusCode.ERROR)
            .build();
    List<CuratorOp> ops =
        List.of(
            client.transactionOp().delete().withVersion(result.version()).forPath(DemoPaths.buildResult(build.uuid())),
            updateOp(item, value.withBuilds(ItemState.BUILDING, withResult(value, build, outcome))));
    Transitions.attemptEnd("finish build " + build.job() + " of " + value.id(),
        () -> store.endDeferredSpan(SpanKeys.build(build.uuid()), ending, ops));
  }

  /**
   * Withdraws a build of a reset build set: deletes its request (and an executor's claim on it, which makes that
   * executor stop the job) and ends its Build span as cancelled. If the build's result arrives meanwhile, the
   * request is gone, the transaction fails, and the next pass takes the result instead.
   */
  private void cancelBuild(Versioned<QueueItem> item, BuildEntry build) throws Exception {
    QueueItem value = item.value();
    String request = DemoPaths.buildRequest(build.uuid());
    List<CuratorOp> ops = new ArrayList<>();
    if (znodes.exists(DemoPaths.claim(request))) {
      ops.add(client.transactionOp().delete().forPath(DemoPaths.claim(request)));
    }
    ops.add(client.transactionOp().delete().forPath(request));
    ops.add(updateOp(item, value.withBuilds(ItemState.BUILDING, withResult(value, build, CANCELED))));
    DeferredSpanEnding ending = buildEnding(build, CANCELED).build();
    Transitions.attemptEnd("cancel build " + build.job() + " of " + value.id(),
        () -> store.endDeferredSpan(SpanKeys.build(build.uuid()), ending, ops));
  }

  private static DeferredSpanEnding.Builder buildEnding(BuildEntry build, String outcome) {
    return DeferredSpanEnding.builder()
        .setAttribute(DemoAttributes.BUILD_UUID, build.uuid())
        .setAttribute(DemoAttributes.JOB_NAME, build.job())
        .setAttribute(DemoAttributes.RESULT, outcome);
  }

  private static List<BuildEntry> withResult(QueueItem value, BuildEntry build, String outcome) {
    return value.builds().stream().map(b -> b.uuid().equals(build.uuid()) ? b.withResult(outcome) : b).toList();
  }

  /**
   * Ends the failed build set as reset and, in the same transaction, begins the next one (linked to it) with its
   * merge: the item is never without an open build set, and a scheduler dying here leaves either both or neither.
   */
  private void resetGate(Versioned<QueueItem> item) throws Exception {
    QueueItem value = item.value();
    Optional<DeferredSpanRecord> itemSpan = store.read(SpanKeys.item(value.id()));
    String buildSetKey = SpanKeys.buildSet(value.id(), value.buildSetNumber());
    Optional<DeferredSpanRecord> failedBuildSet = store.read(buildSetKey);
    if (itemSpan.isEmpty() || failedBuildSet.isEmpty()) {
      return; // the other scheduler moved on meanwhile
    }
    QueueItem next = value.withNextBuildSet(ItemState.MERGING);
    List<CuratorOp> ops = beginBuildSetOps(next, itemSpan.get(), failedBuildSet);
    ops.add(updateOp(item, next));
    DeferredSpanEnding ending =
        DeferredSpanEnding.builder()
            .setAttribute(DemoAttributes.RESULT, FAILURE)
            .setAttribute(DemoAttributes.BUILDSET_RESET, true)
            .setStatus(StatusCode.ERROR, "gate reset: a build failed; the builds run again in a new build set")
            .build();
    Transitions.attemptEnd("reset gate of " + value.id(), () -> store.endDeferredSpan(buildSetKey, ending, ops));
  }

  private void completeBuildSet(Versioned<QueueItem> item) throws Exception {
    QueueItem value = item.value();
    boolean success = value.builds().stream().allMatch(b -> SUCCESS.equals(b.result()));
    DeferredSpanEnding ending =
        DeferredSpanEnding.builder()
            .setAttribute(DemoAttributes.RESULT, success ? SUCCESS : "FAILURE")
            .setStatus(success ? StatusCode.UNSET : StatusCode.ERROR)
            .build();
    Transitions.attemptEnd("complete build set of " + value.id(),
        () -> store.endDeferredSpan(SpanKeys.buildSet(value.id(), value.buildSetNumber()), ending,
            updateOp(item, value.withState(ItemState.COMPLETED))));
  }

  private void dequeue(Versioned<QueueItem> item) throws Exception {
    QueueItem value = item.value();
    DeferredSpanEnding ending =
        DeferredSpanEnding.builder()
            .setAttribute(DemoAttributes.EVENT_ID, value.eventId())
            .setAttribute(DemoAttributes.TENANT, DemoPaths.TENANT)
            .setAttribute(DemoAttributes.PIPELINE, DemoPaths.PIPELINE)
            .setAttribute(DemoAttributes.CHANGE, value.change())
            .setAttribute(DemoAttributes.ITEM_ID, value.id())
            .build();
    Transitions.attemptEnd("dequeue " + value.id(),
        () -> store.endDeferredSpan(SpanKeys.item(value.id()), ending,
            client.transactionOp().delete().withVersion(item.version()).forPath(DemoPaths.item(value.id()))));
  }

  private CuratorOp updateOp(Versioned<QueueItem> item, QueueItem newValue) throws Exception {
    return client.transactionOp().setData().withVersion(item.version())
        .forPath(DemoPaths.item(newValue.id()), ZnodeJson.write(newValue));
  }
}
