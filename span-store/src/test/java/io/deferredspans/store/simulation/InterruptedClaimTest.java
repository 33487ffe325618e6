package io.deferredspans.store.simulation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.store.DeferredSpanStoreUnavailableException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingServer;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Recovery closed (leadership given up, a host shutting down) while its claim on a span was applied on the
 * server and its answer not yet back: the claim belongs to a session that lives on with the host, so unless it is
 * given back no other worker exports the span for as long as that host runs. Found by {@link FaultSimulationTest}
 * as {@code LEFT_BEHIND} ("claimed by hN") under leadership moves; each test holds the reply of the one call at
 * issue (applied, answer held) and closes recovery while it waits.
 */
class InterruptedClaimTest {
  private static final String BASE = "/interrupted-claim";

  private TestingServer zookeeper;
  private ScheduledExecutorService timer;
  private Collector collector;
  private FaultPlan plan;
  private SimHost host;

  @BeforeEach
  void startHost() throws Exception {
    zookeeper = new TestingServer(new InstanceSpec(null, -1, -1, -1, true, -1, 100, 5_000), true);
    timer = Executors.newScheduledThreadPool(1);
    collector = new Collector();
    plan = new FaultPlan(zookeeper.getConnectString(), 1, 0, new FaultPlan.FaultCounts());
    host = SimHost.start("h0", zookeeper.getConnectString(), BASE, plan, collector, timer, true, 10_000,
        io.opentelemetry.api.metrics.MeterProvider.noop());
    await().atMost(Duration.ofSeconds(10)).until(host::leads);
  }

  @AfterEach
  void stopHost() throws Exception {
    plan.heal();
    host.shutdown();
    timer.shutdownNow();
    zookeeper.close();
  }

  @Test
  void recoveryClosedDuringItsClaimOfAFinishedSpanGivesTheClaimBack() throws Exception {
    // A span ended while the collector refused it: its claim is given back and recovery's turn comes.
    host.setExporterMode(RecordingExporter.Mode.REFUSE);
    plan.arm(Fault.REPLY_HELD_PAST_TIMEOUT, FaultPlan.CallKind.MULTI, FaultPlan.RECOVERY_THREAD,
        "/" + "claim");
    String spanId = beginAndEnd("k1");
    await().atMost(Duration.ofSeconds(10)).until(() -> !plan.heldCallsSettled());
    String claim = ZKPaths.makePath(endedPath(spanId), "claim");
    assertThat(host.client.checkExists().forPath(claim)).as("recovery's claim, applied").isNotNull();

    host.recovery().close();

    assertClaimGivenBackAndSpanExportedOnce(spanId, claim);
  }

  @Test
  void recoveryClosedDuringItsAbandonOfAnOrphanGivesTheClaimBack() throws Exception {
    // The orphan's owner never exists; recovery ends it as abandoned in a multi that also creates its claim.
    plan.arm(Fault.REPLY_HELD_PAST_TIMEOUT, FaultPlan.CallKind.MULTI, FaultPlan.RECOVERY_THREAD, null);
    DeferredSpanRecord orphan =
        host.tracing.spanBuilder("Orphan").setNoParent().setOwner(BASE + "-items/never-created").begin();
    host.store.beginDeferredSpan("orphan", orphan);
    String spanId = orphan.getSpanContext().getSpanId();
    await().atMost(Duration.ofSeconds(10)).until(() -> !plan.heldCallsSettled());
    String claim = ZKPaths.makePath(endedPath(spanId), "claim");
    assertThat(host.client.checkExists().forPath(endedPath(spanId))).as("the abandon, applied").isNotNull();

    host.recovery().close();

    assertClaimGivenBackAndSpanExportedOnce(spanId, claim);
  }

  private void assertClaimGivenBackAndSpanExportedOnce(String spanId, String claim) throws Exception {
    // The host and its session live on: a claim left now would be held until the host stops.
    await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
      Stat held = host.client.checkExists().forPath(claim);
      assertThat(held).as("claim of live session 0x%x", host.client.getZookeeperClient().getZooKeeper()
          .getSessionId()).isNull();
    });
    assertThat(host.connected()).isTrue();
    plan.heal();
    host.setExporterMode(RecordingExporter.Mode.OK);
    host.startRecovery();
    await().atMost(Duration.ofSeconds(15)).until(() -> host.client.checkExists().forPath(endedPath(spanId)) == null);
    assertThat(collector.kept().stream().filter(copy -> copy.spanId.equals(spanId)
        && !copy.answeredFailure())).as("copies the collector kept and acknowledged").hasSize(1);
  }

  private String beginAndEnd(String key) throws Exception {
    String item = BASE + "-items/" + key;
    host.client.create().creatingParentsIfNeeded().forPath(BASE + "-items");
    DeferredSpanRecord record = host.tracing.spanBuilder("QueueItem").setNoParent().setOwner(item).begin();
    host.store.beginDeferredSpan(key, record,
        host.client.transactionOp().create().forPath(item, key.getBytes(StandardCharsets.UTF_8)));
    try {
      host.store.endDeferredSpan(key, io.deferredspans.sdk.DeferredSpanEnding.builder().build(),
          host.client.transactionOp().delete().forPath(item));
    } catch (DeferredSpanStoreUnavailableException e) {
      throw new AssertionError("the end itself had no fault", e);
    }
    return record.getSpanContext().getSpanId();
  }

  private static String endedPath(String spanId) {
    return ZKPaths.makePath(ZKPaths.makePath(BASE + "/ended", spanId.substring(0, 2)), spanId);
  }
}
