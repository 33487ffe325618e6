package io.deferredspans.store;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.deferredspans.otlp.json.ReceivedSpan;
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.UnsupportedRecordVersionException;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Embedded mode: the record rides inside the caller's item znode, the begin sends nothing of ours, and the end's
 * once-only rests on the caller's versioned delete of that item. Real ZooKeeper, spans checked as the OTLP
 * receiver decoded them.
 */
class EmbeddedEndTest implements StoreTestHelpers {
  @RegisterExtension static final StoreServers SERVERS = new StoreServers("embedded");

  @Override
  public StoreServers servers() {
    return SERVERS;
  }

  /** An item as a caller might frame it: its own payload, a newline, then the record's bytes. */
  private static byte[] itemData(String payload, DeferredSpanRecord record) {
    byte[] head = (payload + "\n").getBytes(StandardCharsets.UTF_8);
    byte[] tail = record.toBytes();
    byte[] data = new byte[head.length + tail.length];
    System.arraycopy(head, 0, data, 0, head.length);
    System.arraycopy(tail, 0, data, head.length, tail.length);
    return data;
  }

  private static byte[] recordBytesOf(byte[] item) {
    for (int i = 0; i < item.length; i++) {
      if (item[i] == '\n') {
        return java.util.Arrays.copyOfRange(item, i + 1, item.length);
      }
    }
    throw new AssertionError("no record in the item");
  }

  /** Creates the item with its record inside, as the embedded begin does: one create of the caller's own. */
  private DeferredSpanRecord enqueueEmbedded(TestHost host, String key) throws Exception {
    DeferredSpanRecord record = host.tracing.spanBuilder("QueueItem").setNoParent().begin();
    host.client.create().forPath(item(key), itemData("job " + key, record));
    return record;
  }

  private EndResult dequeueEmbedded(TestHost host, String key) throws Exception {
    Stat stat = new Stat();
    byte[] item = host.client.getData().storingStatIn(stat).forPath(item(key));
    return host.store.endEmbeddedSpan(item(key), recordBytesOf(item), DeferredSpanEnding.now(),
        host.client.transactionOp().delete().withVersion(stat.getVersion()).forPath(item(key)));
  }

  @Test
  void beginWritesNothingOfOursAndTheEndExportsTheStoredSpanOnce() throws Exception {
    TestHost scheduler = host("scheduler-1");
    TestHost executor = host("executor-1");
    DeferredSpanRecord record = enqueueEmbedded(scheduler, "item-1");
    assertEquals(0, scheduler.openRecords(), "the begin stored nothing beside the item");

    EndResult result = dequeueEmbedded(executor, "item-1");

    assertEquals(EndResult.Outcome.ENDED, result.getOutcome());
    assertNull(executor.client.checkExists().forPath(item("item-1")));
    List<ReceivedSpan> spans = SERVERS.receiver().awaitSpans(1, Duration.ofSeconds(30));
    ReceivedSpan span = spans.get(0);
    assertEquals(record.getSpanContext().getTraceId(), span.traceId());
    assertEquals(record.getSpanContext().getSpanId(), span.spanId());
    assertEquals(record.getStartEpochNanos(), span.startEpochNanos());
    assertEquals("scheduler-1", span.attributes().get("deferred_span.began_by"));
    assertEquals("executor-1", span.attributes().get("deferred_span.ended_by"));
    await().atMost(Duration.ofSeconds(30)).until(() -> executor.storedFinishedSpans() == 0);
    executor.flush();
    assertEquals(1, SERVERS.receiver().spans().size());
  }

  @Test
  void hostsRacingToEndTheSameItemsEndEachOnceAndExportEachOnce() throws Exception {
    TestHost a = host("racer");
    TestHost b = host("racer"); // the same host name: only the item's version tells the racers apart
    int items = 40;
    List<String> spanIds = new ArrayList<>();
    for (int i = 0; i < items; i++) {
      spanIds.add(enqueueEmbedded(a, "item-" + i).getSpanContext().getSpanId());
    }
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      int ended = 0;
      int lost = 0;
      for (int i = 0; i < items; i++) {
        String key = "item-" + i;
        Stat stat = new Stat();
        byte[] bytes = recordBytesOf(a.client.getData().storingStatIn(stat).forPath(item(key)));
        CountDownLatch go = new CountDownLatch(1);
        List<Future<EndResult>> racers = new ArrayList<>();
        for (TestHost host : List.of(a, b)) {
          Callable<EndResult> end = () -> {
            go.await();
            return host.store.endEmbeddedSpan(item(key), bytes, DeferredSpanEnding.now(),
                host.client.transactionOp().delete().withVersion(stat.getVersion()).forPath(item(key)));
          };
          racers.add(pool.submit(end));
        }
        go.countDown();
        for (Future<EndResult> racer : racers) {
          EndResult.Outcome outcome = racer.get().getOutcome();
          if (outcome == EndResult.Outcome.ENDED) {
            ended++;
          } else {
            assertEquals(EndResult.Outcome.CALLER_OPERATIONS_FAILED, outcome);
            lost++;
          }
        }
      }
      assertEquals(items, ended, "every item ended by exactly one racer");
      assertEquals(items, lost);
    } finally {
      pool.shutdownNow();
    }
    SERVERS.receiver().awaitSpans(items, Duration.ofSeconds(30));
    await().atMost(Duration.ofSeconds(30)).until(() -> a.storedFinishedSpans() == 0);
    a.flush();
    b.flush();
    Map<String, Long> copies = SERVERS.receiver().spans().stream()
        .collect(Collectors.groupingBy(ReceivedSpan::spanId, Collectors.counting()));
    assertEquals(items, copies.size());
    assertTrue(copies.keySet().containsAll(spanIds));
    assertTrue(copies.values().stream().allMatch(n -> n == 1), "exported once each: " + copies);
  }

  @Test
  void aLateEndWithTheSameBytesAfterCleanupAppliesNothing() throws Exception {
    TestHost host = host("host-1");
    enqueueEmbedded(host, "item-1");
    Stat stat = new Stat();
    byte[] bytes = recordBytesOf(host.client.getData().storingStatIn(stat).forPath(item("item-1")));
    assertEquals(EndResult.Outcome.ENDED, dequeueEmbedded(host, "item-1").getOutcome());
    await().atMost(Duration.ofSeconds(30)).until(() -> host.store.stats().removed() == 1);

    EndResult late = host.store.endEmbeddedSpan(item("item-1"), bytes, DeferredSpanEnding.now(),
        host.client.transactionOp().delete().withVersion(stat.getVersion()).forPath(item("item-1")));

    assertEquals(EndResult.Outcome.CALLER_OPERATIONS_FAILED, late.getOutcome());
    assertEquals(0, host.storedFinishedSpans(), "the late end stored no second finished span");
    host.flush();
    assertEquals(1, SERVERS.receiver().spans().size());
  }

  /**
   * The window the embedded mode leaves to its caller (embedding.md, 5b): the begin is the caller's create, so a
   * create applied twice (Curator retrying it after a lost reply, once another host had dequeued the first copy)
   * is an item dequeued twice, and its span is ended twice. Nothing of ours was written at the begin that could
   * tell the copy from a new item; the standard begin, sent once, cannot be applied twice.
   */
  @Test
  void anItemCreatedAgainAfterItsEndIsEndedAgainSoTheCallersCreateMustBeSentOnce() throws Exception {
    TestHost host = host("host-1");
    DeferredSpanRecord record = enqueueEmbedded(host, "item-1");
    assertEquals(EndResult.Outcome.ENDED, dequeueEmbedded(host, "item-1").getOutcome());
    await().atMost(Duration.ofSeconds(30)).until(() -> host.store.stats().removed() == 1);

    host.client.create().forPath(item("item-1"), itemData("job item-1", record)); // the retried create

    assertEquals(EndResult.Outcome.ENDED, dequeueEmbedded(host, "item-1").getOutcome());
    SERVERS.receiver().awaitSpans(2, Duration.ofSeconds(30));
    String spanId = record.getSpanContext().getSpanId();
    assertEquals(List.of(spanId, spanId), SERVERS.receiver().spans().stream().map(ReceivedSpan::spanId).toList());
  }

  @Test
  void anItemRewrittenAtItsVersionEndsOnceToo() throws Exception {
    TestHost host = host("host-1");
    enqueueEmbedded(host, "item-1");
    Stat stat = new Stat();
    byte[] bytes = recordBytesOf(host.client.getData().storingStatIn(stat).forPath(item("item-1")));
    byte[] moved = "job item-1, done".getBytes(StandardCharsets.UTF_8);

    Callable<EndResult> rewriteAtTheVersionRead = () -> host.store.endEmbeddedSpan(item("item-1"), bytes,
        DeferredSpanEnding.now(),
        host.client.transactionOp().setData().withVersion(stat.getVersion()).forPath(item("item-1"), moved));

    EndResult first = rewriteAtTheVersionRead.call();
    EndResult again = rewriteAtTheVersionRead.call();

    assertEquals(EndResult.Outcome.ENDED, first.getOutcome());
    assertEquals(EndResult.Outcome.CALLER_OPERATIONS_FAILED, again.getOutcome());
    assertArrayEquals(moved, host.client.getData().forPath(item("item-1")));
    SERVERS.receiver().awaitSpans(1, Duration.ofSeconds(30));
    host.flush();
    assertEquals(1, SERVERS.receiver().spans().size());
  }

  @Test
  void operationsThatCannotMakeTheEndOnceOnlyAreRefusedBeforeAnythingIsSent() throws Exception {
    TestHost host = host("host-1");
    enqueueEmbedded(host, "item-1");
    byte[] bytes = recordBytesOf(host.client.getData().forPath(item("item-1")));
    host.client.create().forPath(item("other"));

    for (var ops : List.of(
        List.of(host.client.transactionOp().delete().forPath(item("item-1"))), // any version
        List.of(host.client.transactionOp().delete().withVersion(0).forPath(item("other"))),
        List.of(host.client.transactionOp().check().withVersion(0).forPath(item("item-1"))),
        List.<CuratorOp>of())) {
      IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
          () -> host.store.endEmbeddedSpan(item("item-1"), bytes, DeferredSpanEnding.now(), ops));
      assertTrue(refused.getMessage().contains("at the version it was read with"), refused.getMessage());
    }
    for (String notAPath : new String[] {"item-1", "", item("item-1") + "/"}) {
      assertThrows(IllegalArgumentException.class, () -> host.store.endEmbeddedSpan(notAPath, bytes,
          DeferredSpanEnding.now(), host.client.transactionOp().delete().withVersion(0).forPath(item("item-1"))));
    }
    assertNotNull(host.client.checkExists().forPath(item("item-1")));
    assertNotNull(host.client.checkExists().forPath(item("other")));
    assertEquals(0, host.storedFinishedSpans());
  }

  @Test
  void aRewriteThatKeepsTheRecordInTheItemIsRefusedBeforeAnythingIsSent() throws Exception {
    // The item would still hold the span after its end, so every later dequeue of it would end it again.
    TestHost host = host("host-1");
    DeferredSpanRecord record = enqueueEmbedded(host, "item-1");
    Stat stat = new Stat();
    byte[] item = host.client.getData().storingStatIn(stat).forPath(item("item-1"));
    byte[] bytes = recordBytesOf(item);
    byte[] stillHoldingIt = itemData("job item-1, retried", record);

    for (List<CuratorOp> ops : List.of(
        List.of(host.client.transactionOp().setData().withVersion(stat.getVersion())
            .forPath(item("item-1"), stillHoldingIt)),
        List.of(host.client.transactionOp().delete().withVersion(stat.getVersion()).forPath(item("item-1")),
            host.client.transactionOp().create().forPath(item("item-1"), stillHoldingIt)))) {
      IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
          () -> host.store.endEmbeddedSpan(item("item-1"), bytes, DeferredSpanEnding.now(), ops));
      assertTrue(refused.getMessage().contains("still holds the record"), refused.getMessage());
    }
    assertArrayEquals(item, host.client.getData().forPath(item("item-1")), "nothing was sent");
    assertEquals(0, host.storedFinishedSpans());
  }

  @Test
  void operationsOnTheStoresOwnZnodesAreRefusedBeforeAnythingIsSent() throws Exception {
    // A caller's node where the finished span goes would be committed in its place (and exported by recovery);
    // a caller's delete of a claim or a parent would break what the store guarantees of every other span.
    TestHost host = host("host-1");
    DeferredSpanRecord record = enqueueEmbedded(host, "item-1");
    byte[] bytes = recordBytesOf(host.client.getData().forPath(item("item-1")));
    String planted = host.store.core().layout().endedPath(record.getSpanContext().getSpanId());
    enqueue(host, "standard");
    String quarantine = ZKPaths.makePath(SERVERS.base(), "quarantine");

    List<IllegalArgumentException> refusals = List.of(
        assertThrows(IllegalArgumentException.class, () -> host.store.endEmbeddedSpan(item("item-1"), bytes,
            DeferredSpanEnding.now(),
            host.client.transactionOp().delete().withVersion(0).forPath(item("item-1")),
            host.client.transactionOp().create().forPath(planted, "foreign".getBytes(StandardCharsets.UTF_8)))),
        assertThrows(IllegalArgumentException.class, () -> host.store.endDeferredSpan("standard",
            DeferredSpanEnding.now(), host.client.transactionOp().delete().forPath(item("standard")),
            host.client.transactionOp().delete().forPath(quarantine))),
        assertThrows(IllegalArgumentException.class, () -> host.store.beginDeferredSpan("another",
            host.tracing.spanBuilder("QueueItem").setNoParent().begin(),
            host.client.transactionOp().delete().forPath(SERVERS.base()))));

    for (IllegalArgumentException refused : refusals) {
      assertTrue(refused.getMessage().contains("inside the store's own tree"), refused.getMessage());
    }
    assertNull(host.client.checkExists().forPath(planted));
    assertNotNull(host.client.checkExists().forPath(quarantine));
    assertNotNull(host.client.checkExists().forPath(item("item-1")));
    assertNotNull(host.client.checkExists().forPath(item("standard")));
    assertEquals(1, host.openRecords(), "only the standard span is open");
    assertEquals(EndResult.Outcome.ENDED, dequeueEmbedded(host, "item-1").getOutcome());
  }

  @Test
  void unreadableBytesAreQuarantinedAndTheItemIsStillDequeued() throws Exception {
    TestHost host = host("host-1");
    byte[] garbage = "{\"v\":1,\"c\":\"not a context\"}".getBytes(StandardCharsets.UTF_8);
    byte[] newer = "{\"v\":2,\"x\":1}".getBytes(StandardCharsets.UTF_8);
    host.client.create().forPath(item("corrupt"));
    host.client.create().forPath(item("newer"));

    EndResult corrupt = host.store.endEmbeddedSpan(item("corrupt"), garbage, DeferredSpanEnding.now(),
        host.client.transactionOp().delete().withVersion(0).forPath(item("corrupt")));
    EndResult newerVersion = host.store.endEmbeddedSpan(item("newer"), newer, DeferredSpanEnding.now(),
        host.client.transactionOp().delete().withVersion(0).forPath(item("newer")));

    assertEquals(EndResult.Outcome.REJECTED_RECORD, corrupt.getOutcome());
    assertEquals(EndResult.Outcome.REJECTED_RECORD, newerVersion.getOutcome());
    assertInstanceOf(UnsupportedRecordVersionException.class, newerVersion.getRecordError().orElseThrow());
    assertTrue(corrupt.getRecordError().orElseThrow().getMessage().contains(item("corrupt")));
    assertNull(host.client.checkExists().forPath(item("corrupt")));
    assertNull(host.client.checkExists().forPath(item("newer")));
    String quarantine = ZKPaths.makePath(SERVERS.base(), "quarantine");
    List<byte[]> kept = new ArrayList<>();
    for (String name : host.client.getChildren().forPath(quarantine)) {
      kept.add(host.client.getData().forPath(ZKPaths.makePath(quarantine, name)));
    }
    assertEquals(2, kept.size());
    assertTrue(kept.stream().anyMatch(b -> java.util.Arrays.equals(b, garbage)));
    assertTrue(kept.stream().anyMatch(b -> java.util.Arrays.equals(b, newer)));
    assertEquals(2, host.store.stats().rejected());
  }

  @Test
  void anItemWithoutARecordIsDequeuedAsNoRecord() throws Exception {
    TestHost host = host("host-1");
    host.client.create().forPath(item("item-1"));

    EndResult result = host.store.endEmbeddedSpan(item("item-1"), null, DeferredSpanEnding.now(),
        host.client.transactionOp().delete().withVersion(0).forPath(item("item-1")));

    assertEquals(EndResult.Outcome.NO_RECORD, result.getOutcome());
    assertNull(host.client.checkExists().forPath(item("item-1")));
  }

  @Test
  void theSameRecordEmbeddedInTwoItemsIsExportedOnceAndDoesNotBlockTheSecondItem() throws Exception {
    // An hour's batch delay keeps the first end's finished span in ZooKeeper until the flush below.
    TestHost host = host("host-1", UnaryOperator.identity(), Duration.ofHours(1));
    DeferredSpanRecord record = host.tracing.spanBuilder("QueueItem").setNoParent().begin();
    host.client.create().forPath(item("first"), itemData("first", record));
    host.client.create().forPath(item("copy"), itemData("copy", record));
    assertEquals(EndResult.Outcome.ENDED, dequeueEmbedded(host, "first").getOutcome());

    EndResult copy = dequeueEmbedded(host, "copy");

    assertEquals(EndResult.Outcome.REJECTED_RECORD, copy.getOutcome());
    assertTrue(copy.getRecordError().orElseThrow().getMessage().contains("already ended"));
    assertNull(host.client.checkExists().forPath(item("copy")), "the caller's dequeue was applied");
    host.flush();
    assertEquals(1, SERVERS.receiver().awaitSpans(1, Duration.ofSeconds(30)).size());
    await().atMost(Duration.ofSeconds(30)).until(() -> host.storedFinishedSpans() == 0);
    assertEquals(1, SERVERS.receiver().spans().size());
  }

  @Test
  void anUnsampledSpanIsEndedWithTheItemAndNothingIsStoredOrExported() throws Exception {
    TestHost host = host("host-1");
    DeferredSpanRecord record = io.deferredspans.sdk.DeferredTracing.builder().setSampler(Sampler.alwaysOff())
        .setHostName("host-u").build().spanBuilder("QueueItem").setNoParent().begin();
    host.client.create().forPath(item("item-1"), itemData("x", record));

    EndResult result = dequeueEmbedded(host, "item-1");

    assertEquals(EndResult.Outcome.ENDED, result.getOutcome());
    assertNull(host.client.checkExists().forPath(item("item-1")));
    assertEquals(0, host.storedFinishedSpans());
    host.flush();
    assertEquals(0, SERVERS.receiver().spans().size());
  }

  @Test
  void aSpanWhoseEnderLostItsSessionBeforeExportingIsExportedOnceByRecovery() throws Exception {
    TestHost ender = host("ender", UnaryOperator.identity(), Duration.ofHours(1));
    TestHost worker = host("worker");
    DeferredSpanRecord record = enqueueEmbedded(worker, "item-1");
    DeferredSpanRecovery recovery = recovery(worker, UnaryOperator.identity());
    recovery.start();

    assertEquals(EndResult.Outcome.ENDED, dequeueEmbedded(ender, "item-1").getOutcome());
    ender.expireSession(SERVERS.zookeeper().getConnectString()); // its claim vanishes, its span unexported

    List<ReceivedSpan> spans = SERVERS.receiver().awaitSpans(1, Duration.ofSeconds(30));
    assertEquals(record.getSpanContext().getSpanId(), spans.get(0).spanId());
    await().atMost(Duration.ofSeconds(30)).until(() -> worker.storedFinishedSpans() == 0);
    ender.flush(); // the fence refuses what the lost session held
    worker.flush();
    assertEquals(1, SERVERS.receiver().spans().size());
  }

  @Test
  void anItemOfAnotherNamespaceIsNamedByItsFullPath() throws Exception {
    TestHost host = host("host-1");
    var scoped = host.client.usingNamespace("tenant");
    scoped.create().creatingParentsIfNeeded().withMode(CreateMode.PERSISTENT).forPath("/q/item-1",
        host.tracing.spanBuilder("QueueItem").setNoParent().begin().toBytes());
    Stat stat = new Stat();
    byte[] bytes = scoped.getData().storingStatIn(stat).forPath("/q/item-1");

    IllegalArgumentException wrongPath = assertThrows(IllegalArgumentException.class,
        () -> host.store.endEmbeddedSpan("/q/item-1", bytes, DeferredSpanEnding.now(),
            scoped.transactionOp().delete().withVersion(stat.getVersion()).forPath("/q/item-1")));
    EndResult result = host.store.endEmbeddedSpan("/tenant/q/item-1", bytes, DeferredSpanEnding.now(),
        scoped.transactionOp().delete().withVersion(stat.getVersion()).forPath("/q/item-1"));

    assertTrue(wrongPath.getMessage().contains("/q/item-1"));
    assertEquals(EndResult.Outcome.ENDED, result.getOutcome());
    assertNull(scoped.checkExists().forPath("/q/item-1"));
  }
}
