package io.deferredspans.store;

import static io.deferredspans.store.RecoveryFixture.WAIT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link DeferredSpanRecovery}, the shell: what it refuses to be built on, that only the leader holds the watch,
 * its lifecycle and its leadership listener.
 */
class DeferredSpanRecoveryTest {
  @RegisterExtension static final StoreServers SERVERS = new StoreServers("deferred-span-recovery");

  private final OtlpTestReceiver receiver = SERVERS.receiver();
  private final RecoveryFixture fixture = new RecoveryFixture(SERVERS);

  // ---------------------------------------------------------------- 2.4 no recovery without an exporter

  @Test
  void recoveryRefusesToRunWhereItWouldDeleteOtherHostsSpansUnexported() throws Exception {
    TestHost host = fixture.host("host");
    DeferredSpanStore disabled =
        DeferredSpanStore.builder(host.client, DeferredTracing.noop()).basePath(SERVERS.base()).build();
    IllegalStateException noTracing =
        assertThrows(IllegalStateException.class, () -> DeferredSpanRecovery.builder(disabled).build());
    assertThat(noTracing).hasMessageContaining("tracing enabled").hasMessageContaining("OTEL_SDK_DISABLED");

    DeferredTracing noExporter = DeferredTracing.builder().setHostName("no-exporter").build();
    DeferredSpanStore exportsNowhere =
        DeferredSpanStore.builder(host.client, noExporter).basePath(SERVERS.base()).build();
    IllegalStateException nowhere =
        assertThrows(IllegalStateException.class, () -> DeferredSpanRecovery.builder(exportsNowhere).build());
    assertThat(nowhere).hasMessageContaining("exporter").hasMessageContaining("OTEL_TRACES_EXPORTER=none");
  }

  // ---------------------------------------------------------------- 2.12 only the leader watches

  @Test
  void onlyTheLeaderIsNotifiedOfEnds() throws Exception {
    List<TestHost> hosts = new ArrayList<>();
    List<DeferredSpanRecovery> workers = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      TestHost host = fixture.host("worker-" + i);
      hosts.add(host);
      DeferredSpanRecovery worker = fixture.recovery(host, options -> options.scanInterval(Duration.ofHours(1)));
      worker.start();
      workers.add(worker);
    }
    await().atMost(WAIT).until(() -> workers.stream().filter(DeferredSpanRecovery::hasLeadership).count() == 1);
    DeferredSpanRecovery leader = workers.stream().filter(DeferredSpanRecovery::hasLeadership).findFirst()
        .orElseThrow();
    TestHost ender = hosts.get(0);
    int ends = 200;
    for (int i = 0; i < ends; i++) {
      fixture.enqueue(ender, "end-" + i);
    }
    // The watch registers in the background: one end first, seen by the leader, then count from there.
    fixture.enqueue(ender, "probe");
    ender.store.endDeferredSpan("probe", DeferredSpanEnding.now(),
        ender.client.transactionOp().delete().forPath(fixture.item("probe")));
    await().atMost(WAIT).until(() -> leader.watchEvents() >= 2);
    receiver.awaitSpans(1, WAIT);
    await().atMost(WAIT).until(() -> ender.storedFinishedSpans() == 0);
    long[] before = workers.stream().mapToLong(DeferredSpanRecovery::watchEvents).toArray();

    for (int i = 0; i < ends; i++) {
      assertEquals(EndResult.Outcome.ENDED, ender.store.endDeferredSpan("end-" + i, DeferredSpanEnding.now(),
          ender.client.transactionOp().delete().forPath(fixture.item("end-" + i))).getOutcome());
    }
    receiver.awaitSpans(ends + 1, WAIT);
    await().atMost(WAIT).until(() -> ender.storedFinishedSpans() == 0);
    // Span created and span deleted (its ender's liveness node holds it, no claim of its own): two per end, to
    // the leader only.
    int leaderIndex = workers.indexOf(leader);
    await().atMost(WAIT).until(() -> leader.watchEvents() - before[leaderIndex] >= 2L * ends);

    for (int i = 0; i < workers.size(); i++) {
      long got = workers.get(i).watchEvents() - before[i];
      System.out.printf("watch: %s %d got %d notifications for %d ends%n", i == leaderIndex ? "leader" : "follower",
          i, got, ends);
      if (i != leaderIndex) {
        assertEquals(0, got, "a follower holds no watch"); // 400 each
      }
    }
    assertEquals(2L * ends, leader.watchEvents() - before[leaderIndex]);
  }

  // ---------------------------------------------------------------- lifecycle

  @Test
  void closedWorkerCannotBeStartedAgain() throws Exception {
    DeferredSpanRecovery recovery = fixture.recovery(fixture.host("host"), UnaryOperator.identity());
    recovery.close();

    assertThrows(IllegalStateException.class, recovery::start);
    assertThat(recovery.hasLeadership()).isFalse();
  }

  // ---------------------------------------------------------------- the leadership listener

  @Test
  void leadershipListenersAreToldWhoLeadsAndWhenLeadershipMoves() throws Exception {
    List<DeferredSpanRecovery> workers = new ArrayList<>();
    List<BlockingQueue<Boolean>> heard = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      DeferredSpanRecovery worker = fixture.recovery(fixture.host("worker-" + i),
          options -> options.scanInterval(Duration.ofHours(1)));
      BlockingQueue<Boolean> changes = new LinkedBlockingQueue<>();
      worker.addLeadershipListener(changes::add); // before start: no change is missed
      worker.start();
      workers.add(worker);
      heard.add(changes);
    }
    await().atMost(WAIT).until(() -> workers.stream().filter(DeferredSpanRecovery::hasLeadership).count() == 1);
    int first = workers.get(0).hasLeadership() ? 0 : 1;
    int second = 1 - first;

    assertEquals(Boolean.TRUE, heard.get(first).poll(WAIT.toMillis(), TimeUnit.MILLISECONDS));
    workers.get(first).close(); // a close ends its leadership without telling its own listener
    assertEquals(Boolean.TRUE, heard.get(second).poll(WAIT.toMillis(), TimeUnit.MILLISECONDS), "took over");
    assertThat(workers.get(second).hasLeadership()).isTrue();
    assertThat(heard.get(first)).isEmpty();
    assertThat(heard.get(second)).isEmpty();
  }
}
