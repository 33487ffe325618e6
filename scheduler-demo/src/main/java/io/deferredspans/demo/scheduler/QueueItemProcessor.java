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
import io.opentelemetry.api.trace.SpanKind;
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
 *           -- a build failed (first build set only): ask for every build still running to be cancelled; the
 *              executor answers with a result (cancellation) like any other, and an unclaimed request is
 *              withdrawn with its Build span ended as cancelled; once all are in, end BuildSet as reset and
 *              begin the next BuildSet (linked to it) and its Merge, write merge request   --> MERGING
 *           -- all results in: end BuildSet                                                --> COMPLETED
 * COMPLETED -- end QueueItem and delete the item (dequeue)
 * </pre>
 */
final class QueueItemProcessor {
  private static final String SUCCESS = DemoAttributes.RESULT_SUCCESS;
  private static final String FAILURE = DemoAttributes.RESULT_FAILURE;
  private static final String CANCELLATION = DemoAttributes.RESULT_CANCELLATION;
  /** Like a gate reset in Zuul, but bounded: the demo's failure is injected once, and the retry must be able to pass. */
  private static final int MAX_GATE_RESETS = 1;
  /** Value of {@code zuul.link} on a BuildSet's link to the build set it replaces. */
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
        new MergeRequest(value.id(), value.change(), plan.mergeMillis(), merge.traceparent());
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
            .setAllAttributes(DemoAttributes.worker(result.get().value().merger()))
            .setAttribute(DemoAttributes.MERGE_RESULT, result.get().value().result())
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
      // The Build span starts now, at launch, and is ended by whichever scheduler sees the build's result. It is
      // a task run (CICD conventions: kind INTERNAL), whose name, id and URL a sampler may need: set at begin.
      DeferredSpanRecord span =
          deferred.spanBuilder("Build").setParent(buildSet.get().asParentContext())
              .setSpanKind(SpanKind.INTERNAL)
              .setAllAttributes(DemoAttributes.taskRun(DemoPaths.TENANT, build.job(), build.uuid()))
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
      List<BuildEntry> stillRunning = value.builds().stream().filter(b -> !b.done()).toList();
      if (stillRunning.isEmpty()) {
        resetGate(item);
      } else {
        cancelBuilds(item, stillRunning);
      }
    } else if (value.buildsDone() == value.builds().size()) {
      completeBuildSet(item);
    }
  }

  private void finishBuild(Versioned<QueueItem> item, BuildEntry build, Versioned<BuildResult> result) throws Exception {
    QueueItem value = item.value();
    String outcome = result.value().result();
    DeferredSpanEnding ending =
        buildEnding(outcome).setAllAttributes(DemoAttributes.worker(result.value().executor())).build();
    List<CuratorOp> ops =
        List.of(
            client.transactionOp().delete().withVersion(result.version()).forPath(DemoPaths.buildResult(build.uuid())),
            updateOp(item, value.withBuilds(ItemState.BUILDING, withResult(value, build, outcome))));
    Transitions.attemptEnd("finish build " + build.job() + " of " + value.id(),
        () -> store.endDeferredSpan(SpanKeys.build(build.uuid()), ending, ops));
  }

  /**
   * Cancels the builds of a reset build set without ending a Build span before its child: a {@code JobExecution}
   * under it may still be running on an executor. So the scheduler only asks, with a {@code cancel} znode under each
   * request; the executor holding the claim stops the job, ends {@code JobExecution}, and then answers with result
   * {@code cancellation}, which {@link #finishBuild} takes like any result. A request no executor has claimed has
   * no child span: it is withdrawn and its Build span ended at once.
   */
  private void cancelBuilds(Versioned<QueueItem> item, List<BuildEntry> stillRunning) throws Exception {
    for (BuildEntry build : stillRunning) {
      String request = DemoPaths.buildRequest(build.uuid());
      if (!znodes.exists(DemoPaths.cancel(request))) {
        // NoNode: answered meanwhile, and the next pass takes the result. NodeExists: the other scheduler asked.
        Transitions.attempt("ask to cancel build " + build.job() + " of " + item.value().id(),
            () -> client.create().forPath(DemoPaths.cancel(request)));
      }
    }
    for (BuildEntry build : stillRunning) {
      String request = DemoPaths.buildRequest(build.uuid());
      if (znodes.exists(request) && !znodes.exists(DemoPaths.claim(request))) {
        withdrawUnclaimed(item, build); // one per pass: it changes the item's version
        return;
      }
    }
  }

  /**
   * Deletes an unclaimed build request and ends its Build span as cancelled, in one transaction. An executor that
   * claims the request meanwhile makes the transaction fail (a znode with a {@code claim} child cannot be deleted):
   * that executor then sees the cancel request and answers it. A result that arrives meanwhile has deleted the
   * request, so the transaction fails too and the next pass takes the result.
   */
  private void withdrawUnclaimed(Versioned<QueueItem> item, BuildEntry build) throws Exception {
    QueueItem value = item.value();
    String request = DemoPaths.buildRequest(build.uuid());
    List<CuratorOp> ops =
        List.of(
            client.transactionOp().delete().forPath(DemoPaths.cancel(request)),
            client.transactionOp().delete().forPath(request),
            updateOp(item, value.withBuilds(ItemState.BUILDING, withResult(value, build, CANCELLATION))));
    DeferredSpanEnding ending = buildEnding(CANCELLATION).build();
    Transitions.attemptEnd("withdraw unclaimed build " + build.job() + " of " + value.id(),
        () -> store.endDeferredSpan(SpanKeys.build(build.uuid()), ending, ops));
  }

  /** A Build's end: its result (its name, id and URL are in the record since launch), and why it failed. */
  private static DeferredSpanEnding.Builder buildEnding(String outcome) {
    DeferredSpanEnding.Builder ending =
        DeferredSpanEnding.builder().setAttribute(DemoAttributes.TASK_RUN_RESULT, outcome);
    return FAILURE.equals(outcome)
        ? ending.setStatus(StatusCode.ERROR).setAttribute(DemoAttributes.ERROR_TYPE, DemoAttributes.ERROR_FAILURE)
        : ending;
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
            .setAttribute(DemoAttributes.BUILDSET_RESULT, FAILURE)
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
            .setAttribute(DemoAttributes.BUILDSET_RESULT, success ? SUCCESS : FAILURE)
            .setStatus(success ? StatusCode.UNSET : StatusCode.ERROR)
            .build();
    Transitions.attemptEnd("complete build set of " + value.id(),
        () -> store.endDeferredSpan(SpanKeys.buildSet(value.id(), value.buildSetNumber()), ending,
            updateOp(item, value.withState(ItemState.COMPLETED))));
  }

  /** The item's result is its last build set's: a reset build set was replaced, not the end of the item. */
  private void dequeue(Versioned<QueueItem> item) throws Exception {
    QueueItem value = item.value();
    boolean success = value.builds().stream().allMatch(b -> SUCCESS.equals(b.result()));
    // The pipeline's name, the run's id and URL are in the record since the item was enqueued.
    DeferredSpanEnding.Builder ending =
        DeferredSpanEnding.builder()
            .setAttribute(DemoAttributes.PIPELINE_RESULT, success ? SUCCESS : FAILURE)
            .setAllAttributes(DemoAttributes.vcs(value.change()))
            .setAttribute(DemoAttributes.TENANT, DemoPaths.TENANT)
            .setAttribute(DemoAttributes.EVENT_ID, value.eventId());
    if (!success) {
      ending.setStatus(StatusCode.ERROR).setAttribute(DemoAttributes.ERROR_TYPE, DemoAttributes.ERROR_FAILURE);
    }
    Transitions.attemptEnd("dequeue " + value.id(),
        () -> store.endDeferredSpan(SpanKeys.item(value.id()), ending.build(),
            client.transactionOp().delete().withVersion(item.version()).forPath(DemoPaths.item(value.id()))));
  }

  private CuratorOp updateOp(Versioned<QueueItem> item, QueueItem newValue) throws Exception {
    return client.transactionOp().setData().withVersion(item.version())
        .forPath(DemoPaths.item(newValue.id()), ZnodeJson.write(newValue));
  }
}
