package io.deferredspans.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.deferredspans.otlp.json.ReceivedSpan;
import io.deferredspans.sdk.CorruptDeferredSpanRecordException;
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.sdk.FinishedDeferredSpan;
import io.deferredspans.sdk.TraceParent;
import io.deferredspans.sdk.UnsupportedRecordVersionException;
import io.deferredspans.sdk.internal.DeferredTracingUtil;
import io.deferredspans.testing.TestExporters;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.test.TestingServer;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Begin on one host, end on another, against a real ZooKeeper server and a real OTLP wire. */
class DeferredSpanStoreTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  @RegisterExtension static final StoreServers SERVERS = new StoreServers("deferred-spans");

  private final TestingServer zookeeper = SERVERS.zookeeper();
  private final OtlpTestReceiver receiver = SERVERS.receiver();
  private String basePath;
  private String itemsPath;

  @BeforeEach
  void freshPaths() {
    basePath = SERVERS.base();
    itemsPath = SERVERS.items();
  }

  private TestHost host(String name) throws Exception {
    return host(name, TestHost.Transport.HTTP);
  }

  private TestHost host(String name, TestHost.Transport transport) throws Exception {
    TestHost host =
        TestHost.start(name, zookeeper.getConnectString(), basePath, TestHost.exporter(transport, receiver));
    SERVERS.closeAfterTest(host);
    host.client.createContainers(itemsPath);
    return host;
  }

  private DeferredSpanRecovery recovery(TestHost host) {
    DeferredSpanRecovery recovery =
        DeferredSpanRecovery.builder(host.store).gracePeriod(Duration.ZERO).build();
    SERVERS.closeAfterTest(recovery);
    return recovery;
  }

  private String itemPath(String key) {
    return ZKPaths.makePath(itemsPath, key);
  }

  /** Enqueues an item the way a scheduler does: the item znode and its span in one transaction. */
  private DeferredSpanRecord enqueue(TestHost host, String key, SpanContext cause) throws Exception {
    DeferredSpanRecord record =
        host.tracing.spanBuilder("QueueItem").setNoParent().addLink(cause).setOwner(itemPath(key)).begin();
    host.store.beginDeferredSpan(
        key, record, host.client.transactionOp().create().forPath(itemPath(key), key.getBytes(StandardCharsets.UTF_8)));
    return record;
  }

  private CuratorOp dequeueOp(TestHost host, String key) throws Exception {
    return host.client.transactionOp().delete().forPath(itemPath(key));
  }

  private static SpanContext eventContext() {
    return SpanContext.create(
        "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", TraceFlags.getSampled(), TraceState.getDefault());
  }

  @ParameterizedTest
  @EnumSource(TestHost.Transport.class)
  void spanBegunOnOneHostIsEndedOnAnotherWithTheStoredIdsAndStartTime(TestHost.Transport transport)
      throws Exception {
    TestHost a = host("host-a", transport);
    TestHost b = host("host-b", transport);

    DeferredSpanRecord record = enqueue(a, "item-1", eventContext());
    long endBefore = b.tracing.getClock().now();
    EndResult result =
        b.store.endDeferredSpan(
            "item-1",
            DeferredSpanEnding.builder().setAttribute("zuul.pipeline", "gate").setStatus(StatusCode.OK).build(),
            dequeueOp(b, "item-1"));
    long endAfter = b.tracing.getClock().now();

    assertEquals(EndResult.Outcome.ENDED, result.getOutcome());
    ReceivedSpan span = receiver.awaitSpans(1, WAIT).get(0);
    assertEquals(record.getSpanContext().getTraceId(), span.traceId());
    assertEquals(record.getSpanContext().getSpanId(), span.spanId());
    assertEquals("", span.parentSpanId());
    assertEquals("QueueItem", span.name());
    assertEquals(record.getStartEpochNanos(), span.startEpochNanos());
    assertThat(span.endEpochNanos()).isBetween(endBefore, endAfter);
    assertEquals("host-b", span.resourceAttributes().get("service.instance.id"));
    assertEquals("host-a", span.attributes().get("deferred_span.began_by"));
    assertEquals("host-b", span.attributes().get("deferred_span.ended_by"));
    assertEquals("gate", span.attributes().get("zuul.pipeline"));
    assertEquals("STATUS_CODE_OK", span.statusCode());
    assertEquals(1, span.links().size());
    assertEquals(eventContext().getSpanId(), span.links().get(0).spanId());
    assertEquals(transport.name().toLowerCase(java.util.Locale.ROOT), span.transport());

    assertNull(b.client.checkExists().forPath(itemPath("item-1")), "the item was dequeued with the end");
    assertEquals(0, b.openRecords());
    await().atMost(WAIT).until(() -> b.storedFinishedSpans() == 0);
    assertEquals(1, b.store.stats().removed());
  }

  @Test
  void childSpansOnOtherHostsAttachToTheStoredSpan() throws Exception {
    TestHost a = host("host-a");
    TestHost merger = host("merger-1");
    TestHost b = host("host-b");
    DeferredSpanRecord item = enqueue(a, "item-1", eventContext());

    // The merger only sees a job request carrying the item's traceparent.
    String traceparent = merger.store.read("item-1").orElseThrow().traceparent();
    SpanContext remoteParent = TraceParent.parse(traceparent);
    Span mergeJob =
        merger.tracing.getTracerProvider().orElseThrow().get("merger")
            .spanBuilder("MergeJob").setParent(io.opentelemetry.context.Context.root().with(Span.wrap(remoteParent)))
            .startSpan();
    mergeJob.end();
    b.store.endDeferredSpan("item-1", DeferredSpanEnding.now(), dequeueOp(b, "item-1"));

    List<ReceivedSpan> spans = receiver.awaitSpans(2, WAIT);
    ReceivedSpan child = spans.stream().filter(s -> s.name().equals("MergeJob")).findFirst().orElseThrow();
    assertEquals(item.getSpanContext().getTraceId(), child.traceId());
    assertEquals(item.getSpanContext().getSpanId(), child.parentSpanId());
    assertEquals("merger-1", child.resourceAttributes().get("service.instance.id"));
  }

  @Test
  void deferredChildSpansNestUnderDeferredParents() throws Exception {
    TestHost a = host("host-a");
    TestHost b = host("host-b");
    DeferredSpanRecord item = enqueue(a, "item-1", eventContext());
    DeferredSpanRecord buildSet =
        b.tracing.spanBuilder("BuildSet").setParent(b.store.read("item-1").orElseThrow().getSpanContext()).begin();
    b.store.beginDeferredSpan("item-1/buildset", buildSet);

    a.store.endDeferredSpan("item-1/buildset", DeferredSpanEnding.now());
    a.store.endDeferredSpan("item-1", DeferredSpanEnding.now(), dequeueOp(a, "item-1"));

    List<ReceivedSpan> spans = receiver.awaitSpans(2, WAIT);
    ReceivedSpan exportedBuildSet = spans.stream().filter(s -> s.name().equals("BuildSet")).findFirst().orElseThrow();
    assertEquals(item.getSpanContext().getSpanId(), exportedBuildSet.parentSpanId());
    assertEquals(item.getSpanContext().getTraceId(), exportedBuildSet.traceId());
  }

  @Test
  void beginIsAtomicWithTheCallersOperations() throws Exception {
    TestHost a = host("host-a");
    DeferredSpanRecord record = a.tracing.spanBuilder("QueueItem").begin();
    CuratorOp impossible = a.client.transactionOp().create().forPath("/no-such-parent/item");

    DeferredSpanStoreException failure =
        assertThrows(DeferredSpanStoreException.class, () -> a.store.beginDeferredSpan("item-1", record, impossible));
    assertThat(failure).hasMessageContaining("caller's operation #0");
    assertTrue(a.store.read("item-1").isEmpty(), "no record without its item");

    enqueue(a, "item-2", eventContext());
    DeferredSpanRecord second = a.tracing.spanBuilder("QueueItem").begin();
    CuratorOp otherItem = a.client.transactionOp().create().forPath(itemPath("other"));
    assertThat(assertThrows(DeferredSpanStoreException.class,
        () -> a.store.beginDeferredSpan("item-2", second, otherItem))).hasMessageContaining("already open");
    assertNull(a.client.checkExists().forPath(itemPath("other")), "no item without its record");
  }

  @Test
  void beginOpsJoinTheCallersOwnTransaction() throws Exception {
    TestHost a = host("host-a");
    DeferredSpanRecord record = a.tracing.spanBuilder("QueueItem").setOwner(itemPath("item-1")).begin();
    List<CuratorOp> ops = new ArrayList<>(a.store.beginOps("item-1", record));
    ops.add(a.client.transactionOp().create().forPath(itemPath("item-1")));
    a.client.transaction().forOperations(ops);

    assertEquals(record, a.store.read("item-1").orElseThrow());
  }

  @Test
  void endIsAtomicWithTheCallersOperations() throws Exception {
    TestHost a = host("host-a");
    TestHost b = host("host-b");
    enqueue(a, "item-1", eventContext());

    CuratorOp impossible = b.client.transactionOp().delete().forPath(itemPath("not-there"));
    EndResult refused = b.store.endDeferredSpan("item-1", DeferredSpanEnding.now(), impossible);
    assertEquals(EndResult.Outcome.CALLER_OPERATIONS_FAILED, refused.getOutcome());
    assertEquals(0, refused.getCallerOperationFailure().orElseThrow().getIndex());
    assertEquals(KeeperException.Code.NONODE, refused.getCallerOperationFailure().orElseThrow().getCode());
    assertFalse(refused.callerOperationsApplied());
    assertTrue(b.store.read("item-1").isPresent(), "the span stays open when the dequeue fails");
    assertEquals(0, b.storedFinishedSpans());

    assertEquals(EndResult.Outcome.ENDED,
        b.store.endDeferredSpan("item-1", DeferredSpanEnding.now(), dequeueOp(b, "item-1")).getOutcome());
    receiver.awaitSpans(1, WAIT);
    b.flush();
    assertEquals(1, receiver.spans().size());
  }

  @Test
  void slowEnderOfAnOldSpanCannotEndANewSpanUnderTheSameKey() throws Exception {
    TestHost a = host("host-a");
    TestHost b = host("host-b");
    DeferredSpanRecord first = a.tracing.spanBuilder("QueueItem").begin();
    a.store.beginDeferredSpan("slot-1", first);
    // Host B reads the first span and stalls before its end transaction...
    String path = b.store.core().layout().openPath("slot-1");
    Stat staleStat = new Stat();
    byte[] staleBytes = b.client.getData().storingStatIn(staleStat).forPath(path);
    FinishedDeferredSpan stale =
        DeferredTracingUtil.finish(b.tracing, b.store.read("slot-1").orElseThrow(), DeferredSpanEnding.now());
    // ...while host A ends it, its stored copy is cleaned up, and the key is reused for a new span.
    assertEquals(EndResult.Outcome.ENDED, a.store.endDeferredSpan("slot-1", DeferredSpanEnding.now()).getOutcome());
    await().atMost(WAIT).until(() -> a.storedFinishedSpans() == 0);
    DeferredSpanRecord second = a.tracing.spanBuilder("QueueItem").begin();
    a.store.beginDeferredSpan("slot-1", second);

    // B wakes up and commits its end at the version it read: 0, like every record's, the new one's included.
    EndResult late = b.store.core().endTransaction().commit(path, staleStat, staleBytes, stale, List.of());

    assertEquals(EndResult.Outcome.ALREADY_ENDED, late.getOutcome());
    assertEquals(second, a.store.read("slot-1").orElseThrow(), "the new span is untouched");
    receiver.awaitSpans(1, WAIT);
    a.flush();
    b.flush();
    assertEquals(1, receiver.spans().size(), "the first span was exported once");
    assertEquals(first.getSpanContext().getSpanId(), receiver.spans().get(0).spanId());
  }

  @Test
  void secondEndOfTheSameSpanDoesNothing() throws Exception {
    TestHost a = host("host-a");
    TestHost b = host("host-b");
    enqueue(a, "item-1", eventContext());
    assertEquals(EndResult.Outcome.ENDED, b.store.endDeferredSpan("item-1", DeferredSpanEnding.now()).getOutcome());

    EndResult again = a.store.endDeferredSpan("item-1", DeferredSpanEnding.now());
    assertEquals(EndResult.Outcome.NO_RECORD, again.getOutcome());
    receiver.awaitSpans(1, WAIT);
    a.flush();
    b.flush();
    assertEquals(1, receiver.spans().size());
  }

  @Test
  void unsampledSpanIsStoredForItsChildrenButNeverExported() throws Exception {
    TestHost a = host("host-a");
    TestHost b = host("host-b");
    DeferredTracing unsampled =
        DeferredTracing.builder().setSampler(Sampler.alwaysOff()).setHostName("host-u").build();
    DeferredSpanRecord record = unsampled.spanBuilder("QueueItem").begin();
    a.store.beginDeferredSpan("item-1", record);
    assertFalse(a.store.read("item-1").orElseThrow().isSampled());

    assertEquals(EndResult.Outcome.ENDED, b.store.endDeferredSpan("item-1", DeferredSpanEnding.now()).getOutcome());
    await().atMost(WAIT).until(() -> b.storedFinishedSpans() == 0);
    b.flush();
    assertEquals(0, receiver.spans().size());
  }

  @Test
  void disabledTracingWritesNothingAndStillAppliesTheCallersOperations() throws Exception {
    TestHost a = host("host-a");
    DeferredSpanRecord record = DeferredTracing.noop().spanBuilder("QueueItem").begin();
    assertTrue(a.store.beginOps("item-1", record).isEmpty());
    a.store.beginDeferredSpan("item-1", record, a.client.transactionOp().create().forPath(itemPath("item-1")));
    assertEquals(0, a.openRecords());

    EndResult result = a.store.endDeferredSpan("item-1", DeferredSpanEnding.now(), dequeueOp(a, "item-1"));
    assertEquals(EndResult.Outcome.NO_RECORD, result.getOutcome());
    assertTrue(result.callerOperationsApplied());
    assertNull(a.client.checkExists().forPath(itemPath("item-1")));
  }

  @Test
  void endInterruptedAfterCommitIsExportedByTheRecoveryWorker() throws Exception {
    TestHost a = host("host-a");
    // Host B commits the end but "crashes" before its exporter answers: its exporter never completes, and its
    // session then ends, taking its claim with it.
    TestHost b = TestHost.start("host-b", zookeeper.getConnectString(), basePath, TestExporters.neverAnswering());
    DeferredSpanRecord record = enqueue(a, "item-1", eventContext());
    assertEquals(EndResult.Outcome.ENDED,
        b.store.endDeferredSpan("item-1", DeferredSpanEnding.now(), dequeueOp(b, "item-1")).getOutcome());
    b.client.close();

    DeferredSpanRecovery recovery = recovery(a);
    await().atMost(WAIT).until(() -> recovery.scanNow().recovered() == 1);

    ReceivedSpan span = receiver.awaitSpans(1, WAIT).get(0);
    assertEquals(record.getSpanContext().getSpanId(), span.spanId());
    assertEquals("host-b", span.attributes().get("deferred_span.ended_by"));
    assertEquals("host-a", span.resourceAttributes().get("service.instance.id"), "exported by the recovering host");
    await().atMost(WAIT).until(() -> a.storedFinishedSpans() == 0);
    assertEquals(0, recovery.scanNow().recovered());
    a.flush();
    assertEquals(1, receiver.spans().size());
    b.store.close();
  }

  @Test
  void exporterOutageHandsTheSpanToRecoveryOnceTheReceiverIsBack() throws Exception {
    TestHost a = host("host-a");
    TestHost b = host("host-b");
    enqueue(a, "item-1", eventContext());
    receiver.setFailing(true);

    b.store.endDeferredSpan("item-1", DeferredSpanEnding.now(), dequeueOp(b, "item-1"));
    await().atMost(WAIT).until(() -> b.store.stats().exportFailed() == 1);
    assertEquals(1, b.storedFinishedSpans(), "kept in ZooKeeper while undelivered");

    receiver.setFailing(false);
    DeferredSpanRecovery recovery = recovery(a);
    await().atMost(WAIT).until(() -> recovery.scanNow().recovered() == 1);
    receiver.awaitSpans(1, WAIT);
    await().atMost(WAIT).until(() -> a.storedFinishedSpans() == 0);
    a.flush();
    assertEquals(1, receiver.spans().size());
    assertThat(receiver.rejectedRequestCount()).isPositive();
  }

  @Test
  void spanWhoseItemVanishedIsEndedAsAbandoned() throws Exception {
    TestHost a = host("host-a");
    DeferredSpanRecord record = enqueue(a, "item-1", eventContext());
    a.client.delete().forPath(itemPath("item-1")); // dequeued by a buggy or old scheduler, no end

    DeferredSpanRecovery recovery = recovery(a);
    assertEquals(0, recovery.scanNow().abandoned(), "the first sighting only starts the grace period");
    assertEquals(1, recovery.scanNow().abandoned());

    ReceivedSpan span = receiver.awaitSpans(1, WAIT).get(0);
    assertEquals(record.getSpanContext().getSpanId(), span.spanId());
    assertEquals("STATUS_CODE_ERROR", span.statusCode());
    assertEquals(true, span.attributes().get("deferred_span.abandoned"));
    assertEquals("owner_deleted", span.attributes().get("deferred_span.abandon_reason"));
    assertEquals(EndResult.Outcome.NO_RECORD, a.store.endDeferredSpan("item-1", DeferredSpanEnding.now()).getOutcome());
  }

  @Test
  void spanOlderThanTheMaximumAgeIsEndedAsAbandoned() throws Exception {
    TestHost a = host("host-a");
    DeferredSpanRecord old =
        a.tracing.spanBuilder("QueueItem").setStartTimestamp(Instant.now().minus(Duration.ofDays(2))).begin();
    a.store.beginDeferredSpan("item-1", old);
    DeferredSpanRecovery recovery =
        DeferredSpanRecovery.builder(a.store).maxAge(Duration.ofDays(1)).build();
    SERVERS.closeAfterTest(recovery);

    assertEquals(1, recovery.scanNow().abandoned());
    ReceivedSpan span = receiver.awaitSpans(1, WAIT).get(0);
    assertEquals("max_age_exceeded", span.attributes().get("deferred_span.abandon_reason"));
  }

  @Test
  void corruptRecordIsRejectedAndQuarantinedWithoutHarmingOtherSpans() throws Exception {
    TestHost a = host("host-a");
    TestHost b = host("host-b");
    enqueue(a, "good", eventContext());
    byte[] garbage = "{\"v\":1,\"c\":\"00000000000000000000000000000000-0000000000000000-01\"}"
        .getBytes(StandardCharsets.UTF_8);
    a.client.create().forPath(a.store.core().layout().openPath("bad"), garbage);
    a.client.create().forPath(itemPath("bad"));

    EndResult bad = b.store.endDeferredSpan("bad", DeferredSpanEnding.now(), dequeueOp(b, "bad"));
    assertEquals(EndResult.Outcome.REJECTED_RECORD, bad.getOutcome());
    assertInstanceOf(CorruptDeferredSpanRecordException.class, bad.getRecordError().orElseThrow());
    assertThat(bad.getRecordError().get()).hasMessageContaining("bad");
    assertTrue(bad.callerOperationsApplied());
    assertNull(b.client.checkExists().forPath(itemPath("bad")), "the dequeue went through");
    List<String> quarantined = b.client.getChildren().forPath(ZKPaths.makePath(basePath, "quarantine"));
    assertEquals(1, quarantined.size());
    assertThat(b.client.getData().forPath(ZKPaths.makePath(basePath, "quarantine", quarantined.get(0))))
        .isEqualTo(garbage);

    assertEquals(EndResult.Outcome.ENDED,
        b.store.endDeferredSpan("good", DeferredSpanEnding.now(), dequeueOp(b, "good")).getOutcome());
    assertEquals(1, receiver.awaitSpans(1, WAIT).size());
  }

  @Test
  void recoveryScanQuarantinesGarbageAndKeepsGoing() throws Exception {
    TestHost a = host("host-a");
    a.client.create().forPath(a.store.core().layout().openPath("junk-1"), new byte[] {(byte) 0xff, 0, 1});
    a.client.create().forPath(a.store.core().layout().openPath("junk-2"), new byte[0]);
    byte[] huge = new byte[900 * 1024];
    java.util.Arrays.fill(huge, (byte) '[');
    a.client.create().forPath(a.store.core().layout().openPath("junk-huge"), huge);
    a.client.create().forPath(a.store.core().layout().openPath("newer"), "{\"v\":7}".getBytes(StandardCharsets.UTF_8));
    enqueue(a, "live", eventContext());
    DeferredSpanRecord old =
        a.tracing.spanBuilder("QueueItem").setStartTimestamp(Instant.now().minus(Duration.ofDays(30))).begin();
    a.store.beginDeferredSpan("old", old);

    DeferredSpanRecovery.ScanResult scan = recovery(a).scanNow();
    assertEquals(3, scan.quarantined());
    assertEquals(1, scan.abandoned());
    assertEquals(2, a.openRecords(), "the newer-format record and the live span stay");
    assertEquals(EndResult.Outcome.ENDED,
        a.store.endDeferredSpan("live", DeferredSpanEnding.now(), dequeueOp(a, "live")).getOutcome());
  }

  @Test
  void recordOfANewerFormatIsLeftForANewerHost() throws Exception {
    TestHost a = host("host-a");
    a.client.create().forPath(a.store.core().layout().openPath("future"), "{\"v\":2,\"x\":[]}".getBytes(StandardCharsets.UTF_8));
    a.client.create().forPath(itemPath("future"));

    EndResult result = a.store.endDeferredSpan("future", DeferredSpanEnding.now(), dequeueOp(a, "future"));
    assertEquals(EndResult.Outcome.REJECTED_RECORD, result.getOutcome());
    assertEquals(2, ((UnsupportedRecordVersionException) result.getRecordError().orElseThrow()).getVersion());
    assertNotNull(a.client.checkExists().forPath(a.store.core().layout().openPath("future")));
    assertEquals(0, recovery(a).scanNow().quarantined(), "younger than the maximum age: left alone");
  }

  @Test
  void callsFailFastWhileZooKeeperIsDownAndWorkAgainAfterwards() throws Exception {
    TestHost a = host("host-a");
    enqueue(a, "item-1", eventContext());
    zookeeper.stop();
    try {
      await().atMost(WAIT).until(() -> !a.client.getZookeeperClient().isConnected());
      DeferredSpanStoreUnavailableException failure =
          assertThrows(DeferredSpanStoreUnavailableException.class,
              () -> a.store.endDeferredSpan("item-1", DeferredSpanEnding.now(), dequeueOp(a, "item-1")));
      assertFalse(failure.isOutcomeUnknown(), "nothing was sent");
      assertThrows(DeferredSpanStoreUnavailableException.class,
          () -> a.store.beginDeferredSpan("item-2", a.tracing.spanBuilder("QueueItem").begin()));
    } finally {
      zookeeper.restart();
    }
    await().atMost(WAIT).until(() -> a.client.getZookeeperClient().isConnected());
    assertEquals(EndResult.Outcome.ENDED,
        a.store.endDeferredSpan("item-1", DeferredSpanEnding.now(), dequeueOp(a, "item-1")).getOutcome());
    assertEquals(1, receiver.awaitSpans(1, WAIT).size());
  }

  @Test
  void exactlyOneRecoveryWorkerLeadsAndAnotherTakesOver() throws Exception {
    TestHost a = host("host-a");
    TestHost b = host("host-b");
    DeferredSpanRecovery first = recovery(a);
    DeferredSpanRecovery second = recovery(b);
    first.start();
    second.start();
    await().atMost(WAIT).until(() -> first.hasLeadership() ^ second.hasLeadership());

    DeferredSpanRecovery leader = first.hasLeadership() ? first : second;
    DeferredSpanRecovery follower = leader == first ? second : first;
    leader.close();
    await().atMost(WAIT).until(follower::hasLeadership);
  }

  @Test
  void storeLayoutKeysAreEncodedIntoOneZnodeName() {
    assertEquals("tenant%2Fpipeline%2Fitem+1", ZNodeLayout.encodeKey("tenant/pipeline/item 1"));
    assertEquals("%2E%2E", ZNodeLayout.encodeKey(".."));
    assertThrows(IllegalArgumentException.class, () -> ZNodeLayout.encodeKey(""));
  }

  @Test
  void spanMarkerIsPersistentAndEmpty() throws Exception {
    // Curator fills a create without data with the client's IP address; the format says the marker is empty.
    TestHost a = host("host-a");
    DeferredSpanRecord record = a.store.beginDeferredSpan("tenant/item 1", a.tracing.spanBuilder("QueueItem").begin());

    Stat stat = new Stat();
    byte[] data = a.client.getData().storingStatIn(stat)
        .forPath(ZNodeLayout.markerPath(a.store.core().layout().openPath("tenant/item 1"), record.getSpanContext().getSpanId()));
    assertEquals(0, data.length, () -> "marker holds " + new String(data, StandardCharsets.UTF_8));
    assertEquals(0, stat.getEphemeralOwner(), "marker must outlive the session that began the span");
  }

  @Test
  void keyWithAnUnpairedSurrogateIsRefusedAtBeginAndNothingIsWritten() throws Exception {
    // URLEncoder would turn the lone surrogate into '?': "a\uD800" and "a\uDC00" would share one znode.
    TestHost a = host("host-a");
    DeferredSpanRecord record = a.tracing.spanBuilder("QueueItem").begin();
    CuratorOp item = a.client.transactionOp().create().forPath(itemPath("item-1"));

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> a.store.beginDeferredSpan("a\uD800", record, item));

    assertTrue(e.getMessage().contains("surrogate"), e.getMessage());
    assertNull(a.client.checkExists().forPath(itemPath("item-1")));
    assertThrows(IllegalArgumentException.class, () -> a.store.beginDeferredSpan("\uDC00a", record));
    assertThrows(IllegalArgumentException.class, () -> a.store.beginDeferredSpan("\uDBFF\uDBFF", record));
  }

  @Test
  void autoconfiguredPipelineCarriesDeferredSpansToTheConfiguredExporter() throws Exception {
    TestHost a = host("host-a");
    io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdkBuilder sdkBuilder =
        io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk.builder()
            .disableShutdownHook()
            .addPropertiesSupplier(() -> Map.of(
                "otel.traces.exporter", "otlp",
                "otel.exporter.otlp.protocol", "grpc",
                "otel.exporter.otlp.endpoint", receiver.grpcEndpoint(),
                "otel.bsp.schedule.delay", "20",
                "otel.metrics.exporter", "none",
                "otel.logs.exporter", "none",
                "otel.service.name", "autoconfigured",
                "otel.resource.attributes", "service.instance.id=host-auto"));
    io.deferredspans.sdk.DeferredTracingAutoConfiguration capture =
        io.deferredspans.sdk.DeferredTracingAutoConfiguration.install(sdkBuilder);
    io.opentelemetry.sdk.OpenTelemetrySdk sdk = sdkBuilder.build().getOpenTelemetrySdk();
    try {
      DeferredTracing tracing = capture.build(sdk.getSdkTracerProvider());
      assertTrue(tracing.acknowledgesExports());
      assertEquals("host-auto", tracing.getHostName());
      try (DeferredSpanStore store =
          DeferredSpanStore.builder(a.client, tracing).basePath(basePath).build()) {
        store.start();
        enqueue(a, "item-1", eventContext());
        assertEquals(EndResult.Outcome.ENDED,
            store.endDeferredSpan("item-1", DeferredSpanEnding.now(), dequeueOp(a, "item-1")).getOutcome());
        ReceivedSpan span = receiver.awaitSpans(1, WAIT).get(0);
        assertEquals("autoconfigured", span.resourceAttributes().get("service.name"));
        assertEquals("host-auto", span.attributes().get("deferred_span.ended_by"));
        await().atMost(WAIT).until(() -> store.stats().removed() == 1);
      }
    } finally {
      sdk.shutdown().join(10, java.util.concurrent.TimeUnit.SECONDS);
    }
  }
}
