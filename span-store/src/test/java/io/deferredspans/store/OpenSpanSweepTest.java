package io.deferredspans.store;

import static io.deferredspans.store.RecoveryFixture.TICK;
import static io.deferredspans.store.RecoveryFixture.WAIT;
import static io.deferredspans.store.RecoveryFixture.keyInShard;
import static io.deferredspans.store.RecoveryFixture.writeRecord;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link OpenSpanSweep}: the paced sweep of open spans and its orphan rules, against a real ZooKeeper and counted on
 * the OTLP wire (issue 15, section 2: each test here failed on the code before the fix it names). Recovery's clock
 * is the test's where time matters; several leaders in a row are separate workers on the same store.
 */
class OpenSpanSweepTest {
  @RegisterExtension static final StoreServers SERVERS = new StoreServers("open-span-sweep");

  private final OtlpTestReceiver receiver = SERVERS.receiver();
  private final RecoveryFixture fixture = new RecoveryFixture(SERVERS);

  // ---------------------------------------------------------------- 2.1 an owner that is not a znode path

  @Test
  void recordWhoseOwnerIsNotAnAbsolutePathNeitherStopsTheSweepNorIsEndedForIt() throws Exception {
    TestHost host = fixture.host("host");
    String badKey = keyInShard(host, "relative", shard -> shard < 0x40);
    DeferredSpanRecord bad = host.tracing.spanBuilder("Stray").setNoParent().setOwner("/placeholder").begin();
    // Another writer's record: the same bytes, with an owner that is no znode path.
    byte[] bytes = new String(DeferredSpanRecordCodec.encode(bad), StandardCharsets.UTF_8)
        .replace("\"/placeholder\"", "\"relative/item\"").getBytes(StandardCharsets.UTF_8);
    String badPath = writeRecord(host, badKey, bytes, bad.getSpanContext().getSpanId());
    DeferredSpanRecord orphan = fixture.orphan(host, keyInShard(host, "orphan", shard -> shard > 0xc0));
    DeferredSpanRecovery recovery = fixture.recovery(host, UnaryOperator.identity());

    int abandoned = 0;
    for (int scan = 0; scan < 2; scan++) {
      abandoned += recovery.scanNow().abandoned(); // threw IllegalArgumentException ("Path must start with /")
    }

    assertEquals(1, abandoned, "the orphan in a later shard was ended");
    assertEquals(orphan.getSpanContext().getSpanId(), receiver.awaitSpans(1, WAIT).get(0).spanId());
    // Left for the maximum age (this codec reads it), or quarantined (a codec that refuses such owners).
    boolean left = host.client.checkExists().forPath(badPath) != null;
    boolean quarantined = !host.client.getChildren().forPath(host.store.core().layout().quarantineRoot()).isEmpty();
    assertThat(left || quarantined).as("the bad record is left or quarantined, never lost").isTrue();
  }

  // ---------------------------------------------------------------- 2.2 one record's failure stops nothing

  @Test
  void recordWhoseAbandonAlwaysFailsDoesNotStopTheTicksFromEndingOthers() throws Exception {
    TestHost host = fixture.host("host");
    // A record within the format's 512 KiB, written by another writer, whose owner is a 500 KiB znode path. Its
    // abandoning end carries the owner twice, in the finished span and in the tombstone a later dequeue reads:
    // about 1 MiB, more than one transaction may take, so that end is refused before it is sent, each time.
    // (A record larger than the format allows, the old way to make an abandon fail, is quarantined instead.)
    String hugeOwner = fixture.item("huge-owner-" + "x".repeat(500 * 1024));
    DeferredSpanRecord huge = host.tracing.spanBuilder("Huge").setNoParent().setOwner(hugeOwner).begin();
    byte[] hugeBytes = DeferredSpanRecordCodec.encode(huge);
    assertThat(hugeBytes.length).as("a record the format allows").isLessThanOrEqualTo(
        DeferredSpanRecordCodec.MAX_RECORD_BYTES);
    String hugePath = writeRecord(host, keyInShard(host, "huge", shard -> shard < 0x40), hugeBytes,
        huge.getSpanContext().getSpanId());
    String laterKey = keyInShard(host, "later", shard -> shard > 0xc0);
    DeferredSpanRecord later = fixture.enqueue(host, laterKey);
    TestClock clock = new TestClock();
    // One pass per tick, so every tick reaches every shard.
    DeferredSpanRecovery recovery = fixture.recovery(host, options -> options.scanInterval(TICK).clock(clock)
        .sweep(TICK, 1_000_000).fullScanInterval(Duration.ofDays(1)));

    recovery.tick(); // the huge record's owner is seen missing
    host.client.delete().forPath(fixture.item(laterKey)); // now the other one is an orphan too
    int abandoned = 0;
    int skipped = 0;
    for (int tick = 0; tick < 4; tick++) {
      clock.advance(TICK);
      DeferredSpanRecovery.ScanResult result = recovery.tick(); // threw DeferredSpanLimitException, every tick
      abandoned += result.abandoned();
      skipped += result.skipped();
    }

    assertEquals(1, abandoned);
    assertEquals(later.getSpanContext().getSpanId(), receiver.awaitSpans(1, WAIT).get(0).spanId());
    assertThat(skipped).as("the huge record's abandon failed on the ticks that tried it").isPositive();
    assertNotNull(host.client.checkExists().forPath(hugePath), "left where it is, never lost");
  }

  // ---------------------------------------------------------------- 2.9 the sweep survives leadership changes

  @Test
  void orphanInALateShardIsEndedThoughLeadershipMovesMoreOftenThanOnePass() throws Exception {
    TestHost host = fixture.host("host");
    for (int i = 0; i < 300; i++) {
      fixture.enqueue(host, "idle-" + i);
    }
    DeferredSpanRecord orphan = fixture.orphan(host, keyInShard(host, "late", shard -> shard >= 0xf0));
    TestClock clock = new TestClock();
    int abandoned = 0;
    // A pass takes about 100 ticks; each leader leads for 20 of them, then another worker takes over.
    for (int leader = 0; leader < 12 && abandoned == 0; leader++) {
      DeferredSpanRecovery recovery = fixture.recovery(host, options -> options.scanInterval(TICK).clock(clock)
          .sweep(Duration.ofSeconds(1_000), 100));
      for (int tick = 0; tick < 20; tick++) {
        abandoned += recovery.tick().abandoned();
        clock.advance(TICK);
      }
      recovery.close();
    }

    assertEquals(1, abandoned, "every new leader started at shard 00 and never got past the early shards");
    assertEquals(orphan.getSpanContext().getSpanId(), receiver.awaitSpans(1, WAIT).get(0).spanId());
  }
}
