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
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.store.DeferredSpanStore;
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
 *           -- all results in: end BuildSet                                                --> COMPLETED
 * COMPLETED -- end QueueItem and delete the item (dequeue)
 * </pre>
 */
final class QueueItemProcessor {
  private static final String SUCCESS = "SUCCESS";

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
    String owner = DemoPaths.item(value.id());
    DeferredSpanRecord buildSet =
        deferred.spanBuilder("BuildSet").setParent(itemSpan.get().asParentContext()).setOwner(owner).begin();
    DeferredSpanRecord merge =
        deferred.spanBuilder("Merge").setParent(buildSet.asParentContext()).setOwner(owner).begin();
    MergeRequest request =
        new MergeRequest(value.id(), value.change(), value.project(), plan.mergeMillis(), merge.traceparent());
    List<CuratorOp> ops = new ArrayList<>();
    ops.addAll(store.beginOps(SpanKeys.buildSet(value.id()), buildSet));
    ops.addAll(store.beginOps(SpanKeys.merge(value.id()), merge));
    ops.add(client.transactionOp().create().forPath(DemoPaths.mergeRequest(value.id()), ZnodeJson.write(request)));
    ops.add(updateOp(item, value.withState(ItemState.MERGING)));
    Transitions.attempt("start build set of " + value.id(), () -> client.transaction().forOperations(ops));
  }

  private void requestNodesWhenMerged(Versioned<QueueItem> item) throws Exception {
    QueueItem value = item.value();
    Optional<Versioned<MergeResult>> result = znodes.read(DemoPaths.mergeResult(value.id()), MergeResult.class);
    Optional<DeferredSpanRecord> buildSet = store.read(SpanKeys.buildSet(value.id()));
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
        () -> store.endDeferredSpan(SpanKeys.merge(value.id()), ending, ops));
  }

  private void launchBuildsWhenNodesArrive(Versioned<QueueItem> item) throws Exception {
    QueueItem value = item.value();
    NodeRequest nodeRequest = value.nodeRequest();
    Optional<DeferredSpanRecord> buildSet = store.read(SpanKeys.buildSet(value.id()));
    if (!nodeRequest.fulfilledAt(System.currentTimeMillis()) || buildSet.isEmpty()) {
      return;
    }
    List<BuildEntry> builds = plan.newBuilds();
    List<CuratorOp> ops = new ArrayList<>();
    for (BuildEntry build : builds) {
      // The Build span starts now, at launch, and is ended by whichever scheduler sees the build's result.
      DeferredSpanRecord span =
          deferred.spanBuilder("Build").setParent(buildSet.get().asParentContext())
              .setOwner(DemoPaths.item(value.id())).begin();
      BuildRequest request =
          new BuildRequest(build.uuid(), value.id(), build.job(), value.change(), build.durationMillis(), span.traceparent());
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
    if (value.buildsDone() == value.builds().size()) {
      completeBuildSet(item);
    }
  }

  private void finishBuild(Versioned<QueueItem> item, BuildEntry build, Versioned<BuildResult> result) throws Exception {
    QueueItem value = item.value();
    String outcome = result.value().result();
    List<BuildEntry> builds =
        value.builds().stream().map(b -> b.uuid().equals(build.uuid()) ? b.withResult(outcome) : b).toList();
    DeferredSpanEnding ending =
        DeferredSpanEnding.builder()
            .setAttribute(DemoAttributes.BUILD_UUID, build.uuid())
            .setAttribute(DemoAttributes.JOB_NAME, build.job())
            .setAttribute(DemoAttributes.RESULT, outcome)
            .setAttribute(DemoAttributes.EXECUTOR_HOSTNAME, result.value().executor())
            .setStatus(SUCCESS.equals(outcome) ? StatusCode.UNSET : StatusCode.ERROR)
            .build();
    List<CuratorOp> ops =
        List.of(
            client.transactionOp().delete().withVersion(result.version()).forPath(DemoPaths.buildResult(build.uuid())),
            updateOp(item, value.withBuilds(ItemState.BUILDING, builds)));
    Transitions.attemptEnd("finish build " + build.job() + " of " + value.id(),
        () -> store.endDeferredSpan(SpanKeys.build(build.uuid()), ending, ops));
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
        () -> store.endDeferredSpan(SpanKeys.buildSet(value.id()), ending,
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
