package io.deferredspans.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import java.time.Duration;
import java.util.function.UnaryOperator;
import org.apache.curator.utils.ZKPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link TombstoneCleanup}: a tombstone of an abandoned span stays while a dequeue can still come for it (its
 * owner exists, and it is younger than the maximum age and a day), and is deleted once none can.
 */
class TombstoneCleanupTest {
  @RegisterExtension static final StoreServers SERVERS = new StoreServers("tombstone-cleanup");

  private final RecoveryFixture fixture = new RecoveryFixture(SERVERS);

  private static String tombstonePath(TestHost host, String key) {
    ZNodeLayout layout = host.store.core().layout();
    return layout.abandonedPath(layout.openPath(key));
  }

  @Test
  void tombstoneOfAnOwnerThatIsGoneIsDeletedWithTheScanThatWroteIt() throws Exception {
    TestHost host = fixture.host("host");
    fixture.orphan(host, "gone");
    DeferredSpanRecovery recovery = fixture.recovery(host, UnaryOperator.identity());

    recovery.scanNow(); // the owner is seen missing
    assertEquals(1, recovery.scanNow().abandoned()); // ended, and the cleanup after the sweep finds it gone

    assertThat(host.client.checkExists().forPath(tombstonePath(host, "gone"))).isNull();
  }

  @Test
  void tombstoneWhoseOwnerExistsStaysForItsDequeueUntilADayIsOver() throws Exception {
    TestHost host = fixture.host("host");
    DeferredSpanRecord record = fixture.enqueue(host, "old");
    TestClock clock = new TestClock();
    DeferredSpanRecovery recovery = fixture.recovery(host, options -> options.clock(clock)
        .maxAge(Duration.ofMinutes(30)));
    clock.advance(Duration.ofHours(1));
    assertEquals(1, recovery.scanNow().abandoned()); // max_age_exceeded, its item still queued
    String tombstone = tombstonePath(host, "old");

    clock.advance(Duration.ofHours(12));
    recovery.scanNow();
    byte[] data = host.client.getData().forPath(tombstone);
    assertThat(ZNodeLayout.tombstoneSpanId(data)).isEqualTo(record.getSpanContext().getSpanId());
    assertThat(ZNodeLayout.tombstoneOwner(data)).isEqualTo(fixture.item("old"));

    clock.advance(Duration.ofHours(13)); // more than a day after it was written: no dequeue is waited for
    recovery.scanNow();
    assertThat(host.client.checkExists().forPath(tombstone)).isNull();
  }

  @Test
  void tombstoneIsKeptForALaterDequeueWhichIsToldAbandonedAndClearsIt() throws Exception {
    TestHost host = fixture.host("host");
    fixture.enqueue(host, "late");
    TestClock clock = new TestClock();
    DeferredSpanRecovery recovery = fixture.recovery(host, options -> options.clock(clock)
        .maxAge(Duration.ofMinutes(30)));
    clock.advance(Duration.ofHours(1));
    assertEquals(1, recovery.scanNow().abandoned());
    recovery.scanNow();

    EndResult dequeue = host.store.endDeferredSpan("late", DeferredSpanEnding.now(),
        host.client.transactionOp().delete().forPath(fixture.item("late")));

    assertEquals(EndResult.Outcome.ABANDONED, dequeue.getOutcome());
    assertThat(host.client.checkExists().forPath(tombstonePath(host, "late"))).isNull();
  }

  @Test
  void tombstoneWhoseOwnerIsNoZnodePathIsDeleted() throws Exception {
    TestHost host = fixture.host("host");
    String kept = ZKPaths.makePath(host.store.core().layout().abandonedRoot(), "kept");
    String stray = ZKPaths.makePath(host.store.core().layout().abandonedRoot(), "stray");
    host.client.create().forPath(fixture.item("kept"));
    host.client.create().forPath(kept, ZNodeLayout.tombstoneData("00f067aa0ba902b7", fixture.item("kept")));
    host.client.create().forPath(stray, ZNodeLayout.tombstoneData("00f067aa0ba902b8", "relative/item"));
    DeferredSpanRecovery recovery = fixture.recovery(host, UnaryOperator.identity());

    recovery.scanNow();

    assertThat(host.client.checkExists().forPath(stray)).isNull();
    assertThat(host.client.checkExists().forPath(kept)).isNotNull();
  }
}
