package io.deferredspans.store;

import static io.deferredspans.store.RecoveryFixture.stderrOf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import java.util.function.UnaryOperator;
import org.apache.curator.utils.ZKPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link Quarantine}: what recovery can neither read nor end is moved to quarantine, for the right reason, and
 * reported as quarantined, never as abandoned (issue 15, sections 2.11 and 2.13).
 */
class QuarantineTest {
  @RegisterExtension static final StoreServers SERVERS = new StoreServers("quarantine");

  private final OtlpTestReceiver receiver = SERVERS.receiver();
  private final RecoveryFixture fixture = new RecoveryFixture(SERVERS);

  // ---------------------------------------------------------------- 2.11 and 2.13: true reports

  @Test
  void recordRecoveryQuarantinesIsNeverReportedAbandonedAndIsCountedAsQuarantined() throws Exception {
    TestHost host = fixture.host("host");
    String key = "markerless";
    String owner = SERVERS.items() + "-owner";
    host.client.create().forPath(owner);
    DeferredSpanRecord record = host.tracing.spanBuilder("QueueItem").setNoParent().setOwner(owner).begin();
    host.store.beginDeferredSpan(key, record, host.client.transactionOp().create().forPath(fixture.item(key)));
    String path = host.store.core().layout().openPath(key);
    host.client.delete().forPath(ZNodeLayout.markerPath(path, record.getSpanContext().getSpanId()));
    host.client.delete().forPath(owner);
    DeferredSpanRecovery recovery = fixture.recovery(host, UnaryOperator.identity());

    int quarantined = 0;
    for (int scan = 0; scan < 2; scan++) {
      quarantined += recovery.scanNow().quarantined(); // 0: the end quarantined it, the scan did not count it
    }
    EndResult dequeue = host.store.endDeferredSpan(key, DeferredSpanEnding.now(),
        host.client.transactionOp().delete().forPath(fixture.item(key)));

    assertEquals(1, quarantined);
    assertNotEquals(EndResult.Outcome.ABANDONED, dequeue.getOutcome(), "ABANDONED says it was exported: it was not");
    host.flush();
    assertThat(receiver.spans()).isEmpty();
  }

  @Test
  void recordWithAnExtraChildIsQuarantinedForThatReason() throws Exception {
    TestHost host = fixture.host("host");
    String key = "extra-child";
    fixture.orphan(host, key);
    String path = host.store.core().layout().openPath(key);
    host.client.create().forPath(ZKPaths.makePath(path, "stray"));
    DeferredSpanRecovery recovery = fixture.recovery(host, UnaryOperator.identity());

    String log = stderrOf(() -> {
      recovery.scanNow();
      recovery.scanNow();
    });

    assertThat(host.client.checkExists().forPath(path)).isNull();
    assertThat(log).contains("children other than its span marker: [stray]").doesNotContain("already ended");
  }

  @Test
  void recordWithoutAnyDataIsNeitherLostNorPassedOverSilently() throws Exception {
    TestHost host = fixture.host("host");
    String path = host.store.core().layout().openPath("no-data");
    host.client.create().forPath(path, null); // as another writer may leave it: a znode holding no data at all
    DeferredSpanRecovery recovery = fixture.recovery(host, UnaryOperator.identity());

    DeferredSpanRecovery.ScanResult result = recovery.scanNow();

    boolean left = host.client.checkExists().forPath(path) != null;
    boolean quarantined = !host.client.getChildren().forPath(host.store.core().layout().quarantineRoot()).isEmpty();
    assertThat(left || quarantined).as("kept, never lost").isTrue();
    assertThat(result.skipped() + result.quarantined()).as("reported, not taken for an ended span").isPositive();
  }
}
