package io.deferredspans.demo.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import io.deferredspans.demo.common.DemoAttributes;
import io.deferredspans.demo.common.DemoPaths;
import io.deferredspans.demo.common.DemoTelemetry;
import io.deferredspans.demo.common.Messages.BuildEntry;
import io.deferredspans.demo.common.Messages.BuildResult;
import io.deferredspans.demo.common.Messages.Change;
import io.deferredspans.demo.common.Messages.ItemState;
import io.deferredspans.demo.common.Messages.QueueItem;
import io.deferredspans.demo.common.ZnodeJson;
import io.deferredspans.demo.common.Znodes;
import io.deferredspans.demo.common.ZooKeeperConnection;
import io.deferredspans.otlp.json.OtlpJsonLines;
import io.deferredspans.otlp.json.ReceivedSpan;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.store.DeferredSpanStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.test.TestingServer;
import org.apache.zookeeper.CreateMode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A gate reset's cancellations, one scheduler against a real ZooKeeper and span store, the executor's part played
 * by hand: a Build span is ended at once only where no executor holds the request, and otherwise only on the
 * executor's answer, so that no JobExecution can outlive its Build.
 */
class QueueItemProcessorTest {
  private static final String ITEM = "item-ev-1";
  private static final String TASK_RUN_RESULT = "cicd.pipeline.task.run.result";

  @TempDir Path dir;

  private TestingServer zookeeper;
  private CuratorFramework client;
  private TraceFileSink traceFiles;
  private DemoTelemetry telemetry;
  private DeferredSpanStore store;
  private Znodes znodes;
  private QueueItemProcessor processor;

  @BeforeEach
  void start() throws Exception {
    zookeeper = new TestingServer(true);
    client = ZooKeeperConnection.connect(zookeeper.getConnectString(), Duration.ofSeconds(10));
    znodes = new Znodes(client);
    znodes.ensureFolders();
    traceFiles = TraceFileSink.start(dir);
    telemetry = DemoTelemetry.start("scheduler", "scheduler-1", traceFiles.endpoint());
    store = DeferredSpanStore.builder(client, telemetry.deferred()).basePath(DemoPaths.SPAN_STORE).build();
    store.start();
    processor = new QueueItemProcessor(znodes, store, telemetry, new JobPlan(Duration.ofSeconds(20), true));
  }

  @AfterEach
  void stop() throws Exception {
    if (store != null) {
      store.close();
    }
    if (telemetry != null) {
      telemetry.close();
    }
    if (traceFiles != null) {
      traceFiles.close();
    }
    if (client != null) {
      client.close();
    }
    if (zookeeper != null) {
      zookeeper.close();
    }
  }

  private Path traceFile() {
    return TraceFileSink.file(dir, "scheduler-1");
  }

  @Test
  void gateResetEndsAnUnclaimedBuildAtOnceAndAClaimedOneOnlyOnTheExecutorsAnswer() throws Exception {
    BuildEntry failed = new BuildEntry("b1", "tox-py311", 1_000, true, "failure");
    BuildEntry unclaimed = launch(new BuildEntry("b2", "tox-linters", 9_000, false, null));
    BuildEntry running = launch(new BuildEntry("b3", "build-docs", 9_000, false, null));
    String runningRequest = DemoPaths.buildRequest(running.uuid());
    client.create().withMode(CreateMode.EPHEMERAL).forPath(DemoPaths.claim(runningRequest)); // an executor has it
    client.create().forPath(DemoPaths.item(ITEM), ZnodeJson.write(item(List.of(failed, unclaimed, running))));

    processor.advanceAll();

    // The unclaimed build is withdrawn: its request is gone and its Build span ended as cancelled.
    assertThat(znodes.exists(DemoPaths.buildRequest(unclaimed.uuid()))).isFalse();
    assertThat(store.read(SpanKeys.build(unclaimed.uuid()))).isEmpty();
    assertThat(readItem().builds()).extracting(BuildEntry::result).containsExactly("failure", "cancellation", null);
    // The claimed one is only asked to stop: its Build span stays open while its JobExecution may still run.
    assertThat(znodes.exists(DemoPaths.cancel(runningRequest))).isTrue();
    assertThat(znodes.exists(runningRequest)).isTrue();
    assertThat(store.read(SpanKeys.build(running.uuid()))).isPresent();

    processor.advanceAll(); // nothing more to do until the executor answers
    assertThat(store.read(SpanKeys.build(running.uuid()))).isPresent();

    // The executor ends JobExecution, then answers (as RequestQueue.complete does, in one transaction).
    client.transaction().forOperations(
        client.transactionOp().create().forPath(DemoPaths.buildResult(running.uuid()), ZnodeJson.write(
            new BuildResult(running.uuid(), ITEM, running.job(), "cancellation", "executor-1"))),
        client.transactionOp().delete().forPath(DemoPaths.cancel(runningRequest)),
        client.transactionOp().delete().forPath(DemoPaths.claim(runningRequest)),
        client.transactionOp().delete().forPath(runningRequest));
    processor.advanceAll();

    assertThat(store.read(SpanKeys.build(running.uuid()))).isEmpty();
    assertThat(readItem().builds()).extracting(BuildEntry::result)
        .containsExactly("failure", "cancellation", "cancellation");
    telemetry.flush();
    List<ReceivedSpan> builds = OtlpJsonLines.readSpans(traceFile());
    assertThat(builds).extracting(s -> s.name() + " " + s.attributes().get("cicd.pipeline.task.name") + "="
            + s.attributes().get(TASK_RUN_RESULT))
        .containsExactlyInAnyOrder("Build tox-linters=cancellation", "Build build-docs=cancellation");
    assertThat(builds).filteredOn(s -> "build-docs".equals(s.attributes().get("cicd.pipeline.task.name")))
        .singleElement().satisfies(s -> assertThat(s.attributes()).containsEntry("cicd.worker.name", "executor-1"));
  }

  /** What the scheduler does when it launches a build: its Build span and its request, in one transaction. */
  private BuildEntry launch(BuildEntry build) throws Exception {
    DeferredSpanRecord span =
        telemetry.deferred().spanBuilder("Build").setOwner(DemoPaths.item(ITEM))
            .setAllAttributes(DemoAttributes.taskRun(DemoPaths.TENANT, build.job(), build.uuid())).begin();
    store.beginDeferredSpan(SpanKeys.build(build.uuid()), span,
        client.transactionOp().create().forPath(DemoPaths.buildRequest(build.uuid()), new byte[0]));
    return build;
  }

  private static QueueItem item(List<BuildEntry> builds) {
    Change change = new Change("example/project", 1001, 1, "0".repeat(40));
    return new QueueItem(ITEM, "ev-1", change, "scheduler-1", 0, ItemState.BUILDING, 1, null, builds);
  }

  private QueueItem readItem() throws Exception {
    return znodes.read(DemoPaths.item(ITEM), QueueItem.class).orElseThrow().value();
  }
}
