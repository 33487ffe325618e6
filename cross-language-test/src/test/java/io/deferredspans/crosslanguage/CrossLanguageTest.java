package io.deferredspans.crosslanguage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deferredspans.otlp.json.ReceivedSpan;
import io.deferredspans.sdk.CorruptDeferredSpanRecordException;
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.sdk.TraceParent;
import io.deferredspans.sdk.UnsupportedRecordVersionException;
import io.deferredspans.store.DeferredSpanStore;
import io.deferredspans.store.EndResult;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.test.TestingServer;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Python client and the Java library on one real ZooKeeper, with {@code deferred-spans serve} in its own JVM
 * exporting to an OTLP receiver that decodes what arrives on the wire. Each test uses keys of its own.
 */
class CrossLanguageTest {
  private static final String BASE = "/deferred-spans";
  private static final String ITEMS = "/items";
  private static final Duration WAIT = Duration.ofSeconds(60);

  private static TestingServer zookeeper;
  private static OtlpTestReceiver receiver;
  private static CuratorFramework client;
  private static DeferredTracing tracing;
  private static DeferredSpanStore store;
  private static ServeService serve;
  private static PythonDriver python;

  @BeforeAll
  static void start() throws Exception {
    Python.interpreter(); // fails first, and says why, on a machine without Python and kazoo
    zookeeper = new TestingServer(true);
    receiver = OtlpTestReceiver.start();
    client = CuratorFrameworkFactory.newClient(zookeeper.getConnectString(), 10_000, 5_000,
        new ExponentialBackoffRetry(100, 3));
    client.start();
    client.blockUntilConnected(30, TimeUnit.SECONDS);
    tracing = DeferredTracing.builder()
        .setHostName("java-1")
        .setResource(Resource.getDefault().merge(
            Resource.create(Attributes.of(AttributeKey.stringKey("service.name"), "java-executor"))))
        .addSpanExporter(OtlpHttpSpanExporter.builder().setEndpoint(receiver.httpEndpoint()).build(),
            exporter -> BatchSpanProcessor.builder(exporter).setScheduleDelay(Duration.ofMillis(50)).build())
        .build();
    store = DeferredSpanStore.builder(client, tracing).basePath(BASE).build();
    store.start();
    // Persistent, not a container: the server removes an emptied container within a minute, and on a slow
    // machine a later test of this class would find no parent for its item.
    client.create().creatingParentsIfNeeded().forPath(ITEMS);
    serve = ServeService.start(zookeeper.getConnectString(), receiver.httpEndpoint(), WAIT);
    python = PythonDriver.start("py-1", zookeeper.getConnectString(), BASE, 10);
  }

  @AfterAll
  static void stop() throws Exception {
    for (AutoCloseable closeable : new AutoCloseable[] {python, serve, store::close, client, receiver, zookeeper}) {
      if (closeable != null) {
        closeable.close();
      }
    }
    if (tracing != null) {
      tracing.getTracerProvider().orElseThrow().shutdown().join(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void pythonBeginsAndJavaEndsWithTheIdsStartAndOwnerPythonStored() throws Exception {
    JsonNode begun = python.call(Map.of("op", "begin", "key", "py-begun/1", "name", "QueueItem",
        "item", ITEMS + "/py-begun-1"));
    SpanContext parent = TraceParent.parse(begun.get("traceparent").asText());
    assertEquals(begun.get("spanId").asText(), parent.getSpanId());

    DeferredSpanRecord record = store.read("py-begun/1").orElseThrow();
    assertThat(record.getOwner()).hasValue(ITEMS + "/py-begun-1");
    EndResult end = store.endDeferredSpan("py-begun/1",
        DeferredSpanEnding.builder().setAttribute("zuul.result", "SUCCESS").build(),
        client.transactionOp().delete().forPath(ITEMS + "/py-begun-1"));

    assertEquals(EndResult.Outcome.ENDED, end.getOutcome());
    ReceivedSpan span = awaitExportedOnce(begun.get("spanId").asText());
    assertEquals(begun.get("traceId").asText(), span.traceId());
    assertEquals(begun.get("start").asLong(), span.startEpochNanos());
    assertEquals("QueueItem", span.name());
    assertThat(span.attributes()).containsEntry("deferred_span.began_by", "py-1")
        .containsEntry("deferred_span.ended_by", "java-1").containsEntry("zuul.result", "SUCCESS");
    assertThat(span.resourceAttributes()).containsEntry("service.name", "java-executor");
    assertNull(client.checkExists().forPath(ITEMS + "/py-begun-1"), "the item was dequeued with the end");
  }

  @ParameterizedTest(name = "claim={0}")
  @ValueSource(booleans = {true, false})
  void javaBeginsAndPythonEndsAndServeExportsItOnce(boolean claim) throws Exception {
    String key = "java-begun/" + claim;
    String item = ITEMS + "/java-begun-" + claim;
    DeferredSpanRecord record = tracing.spanBuilder("BuildSet").setNoParent().setOwner(item).begin();
    store.beginDeferredSpan(key, record, client.transactionOp().create().forPath(item));

    JsonNode end = python.call(Map.of("op", "end", "key", key, "deleteItem", item, "claim", claim,
        "attributes", Map.of("zuul.result", "SUCCESS")));

    assertEquals("ENDED", end.get("outcome").asText());
    assertBegunByJavaEndedByPythonExportedOnceByServe(record, item);
  }

  @Test
  void pythonAndJavaRacingToEndOneSpanGetExactlyOneEnded() throws Exception {
    ExecutorService executor = Executors.newSingleThreadExecutor();
    try {
      List<String> spanIds = new ArrayList<>();
      for (int round = 0; round < 10; round++) {
        String key = "raced/" + round;
        String item = ITEMS + "/raced-" + round;
        DeferredSpanRecord record = tracing.spanBuilder("QueueItem").setNoParent().setOwner(item).begin();
        store.beginDeferredSpan(key, record, client.transactionOp().create().forPath(item));
        spanIds.add(record.getSpanContext().getSpanId());

        CompletableFuture<EndResult> java = CompletableFuture.supplyAsync(() -> {
          try {
            return store.endDeferredSpan(key, DeferredSpanEnding.now(),
                client.transactionOp().delete().forPath(item));
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        }, executor);
        python.send(Map.of("op", "end", "key", key, "deleteItem", item));
        String pythonOutcome = python.next().get("outcome").asText();
        String javaOutcome = java.get(60, TimeUnit.SECONDS).getOutcome().name();

        List<String> outcomes = List.of(pythonOutcome, javaOutcome);
        assertEquals(1, outcomes.stream().filter("ENDED"::equals).count(), "round " + round + ": " + outcomes);
        assertThat(outcomes).allMatch(o -> o.equals("ENDED") || o.equals("ALREADY_ENDED")
            || o.equals("CALLER_OPERATIONS_FAILED"), "losers see an outcome, never an exception");
      }
      for (String spanId : spanIds) {
        awaitExportedOnce(spanId); // by Java if it won, by serve if Python did
      }
    } finally {
      executor.shutdownNow();
    }
  }

  @Test
  void pythonEnderKilledBeforeReleasingItsClaimIsExportedByTheService() throws Exception {
    String item = ITEMS + "/killed";
    DeferredSpanRecord record = tracing.spanBuilder("QueueItem").setNoParent().setOwner(item).begin();
    store.beginDeferredSpan("killed", record, client.transactionOp().create().forPath(item));
    String spanId = record.getSpanContext().getSpanId();
    String claim = BASE + "/ended/" + spanId.substring(0, 2) + "/" + spanId + "/claim";
    try (PythonDriver doomed = PythonDriver.start("py-doomed", zookeeper.getConnectString(), BASE, 4)) {
      JsonNode end = doomed.call(Map.of("op", "end", "key", "killed", "deleteItem", item,
          "hangBeforeRelease", true));
      assertEquals("ENDED", end.get("outcome").asText());
      assertNotNull(client.checkExists().forPath(claim), "the dying ender still holds the claim");
      assertThat(exported(spanId)).as("nobody exports a claimed span").isEmpty();
      doomed.kill();
    }
    // Its session ends on the server after its timeout; the claim goes with it and serve exports the span.
    ReceivedSpan span = awaitExportedOnce(spanId);
    assertThat(span.attributes()).containsEntry("deferred_span.ended_by", "py-doomed");
  }

  @Test
  void corruptRecordsWrittenByPythonAreQuarantinedByJavaWithTheDequeueApplied() throws Exception {
    JsonNode vectors = new ObjectMapper().readTree(Files.readString(
        Python.REPOSITORY.resolve("span-sdk-extensions/src/test/resources/conformance/records.json"),
        StandardCharsets.UTF_8));
    List<JsonNode> corrupt = new ArrayList<>();
    vectors.get("rejected").forEach(v -> {
      if (!v.get("decoder").asText().equals("finished")) {
        corrupt.add(v);
      }
    });
    int quarantinedBefore = client.getChildren().forPath(BASE + "/quarantine").size();
    int corruptCount = 0;
    for (int i = 0; i < corrupt.size(); i++) {
      JsonNode v = corrupt.get(i);
      byte[] bytes = v.has("base64") ? Base64.getDecoder().decode(v.get("base64").asText())
          : v.get("text").asText().getBytes(StandardCharsets.UTF_8);
      String key = "corrupt/" + i;
      String item = ITEMS + "/corrupt-" + i;
      String path = python.call(Map.of("op", "raw", "key", key, "base64", Base64.getEncoder().encodeToString(bytes),
          "marker", "00f067aa0ba902b7")).get("path").asText();
      client.create().forPath(item);

      EndResult end = store.endDeferredSpan(key, DeferredSpanEnding.now(), client.transactionOp().delete().forPath(item));

      String note = v.get("note").asText();
      assertEquals(EndResult.Outcome.REJECTED_RECORD, end.getOutcome(), note);
      assertNull(client.checkExists().forPath(item), note + ": the dequeue was applied");
      if (v.get("error").asText().equals("corrupt")) {
        corruptCount++;
        assertInstanceOf(CorruptDeferredSpanRecordException.class, end.getRecordError().orElseThrow(), note);
        assertNull(store.read(key).orElse(null), note);
      } else {
        assertInstanceOf(UnsupportedRecordVersionException.class, end.getRecordError().orElseThrow(), note);
        assertNotNull(client.checkExists().forPath(path), note + ": left in place for a newer host");
      }
    }
    List<String> quarantined = client.getChildren().forPath(BASE + "/quarantine");
    assertEquals(corruptCount, quarantined.size() - quarantinedBefore);
    assertThat(corruptCount).isGreaterThan(100);
  }

  @Test
  void pythonBeginsEmbeddedAndJavaEndsItWithTheIdsAndStartPythonDrew() throws Exception {
    String item = ITEMS + "/py-embedded-1";
    JsonNode begun = python.call(Map.of("op", "beginEmbedded", "item", item, "name", "QueueItem"));

    Stat stat = new Stat();
    byte[] data = client.getData().storingStatIn(stat).forPath(item);
    DeferredSpanRecord record = DeferredSpanRecord.fromBytes(recordBytesOf(data), item);
    assertEquals(begun.get("traceparent").asText(), TraceParent.format(record.getSpanContext()));
    EndResult end = store.endEmbeddedSpan(item, recordBytesOf(data),
        DeferredSpanEnding.builder().setAttribute("zuul.result", "SUCCESS").build(),
        client.transactionOp().delete().withVersion(stat.getVersion()).forPath(item));

    assertEquals(EndResult.Outcome.ENDED, end.getOutcome());
    ReceivedSpan span = awaitExportedOnce(begun.get("spanId").asText());
    assertEquals(begun.get("traceId").asText(), span.traceId());
    assertEquals(begun.get("start").asLong(), span.startEpochNanos());
    assertEquals("QueueItem", span.name());
    assertThat(span.attributes()).containsEntry("deferred_span.began_by", "py-1")
        .containsEntry("deferred_span.ended_by", "java-1").containsEntry("zuul.result", "SUCCESS");
    assertThat(span.resourceAttributes()).containsEntry("service.name", "java-executor");
    assertNull(client.checkExists().forPath(item), "the item was dequeued with the end");
  }

  @ParameterizedTest(name = "claim={0}")
  @ValueSource(booleans = {true, false})
  void javaBeginsEmbeddedAndPythonEndsItAndServeExportsItOnce(boolean claim) throws Exception {
    String item = ITEMS + "/java-embedded-" + claim;
    DeferredSpanRecord record = tracing.spanBuilder("BuildSet").setNoParent().begin();
    client.create().forPath(item, itemData(record));

    JsonNode end = python.call(Map.of("op", "endEmbedded", "item", item, "claim", claim,
        "attributes", Map.of("zuul.result", "SUCCESS")));

    assertEquals("ENDED", end.get("outcome").asText());
    assertEquals("BuildSet", assertBegunByJavaEndedByPythonExportedOnceByServe(record, item).name());
  }

  @Test
  void pythonAndJavaRacingToEndOneEmbeddedItemGetOneEndedAndOneCallerOperationsFailed() throws Exception {
    ExecutorService executor = Executors.newSingleThreadExecutor();
    try {
      List<String> spanIds = new ArrayList<>();
      for (int round = 0; round < 10; round++) {
        String item = ITEMS + "/embedded-raced-" + round;
        DeferredSpanRecord record = tracing.spanBuilder("QueueItem").setNoParent().begin();
        client.create().forPath(item, itemData(record));
        spanIds.add(record.getSpanContext().getSpanId());
        // One read for both racers: each deletes the item at the version it was read with.
        Stat stat = new Stat();
        byte[] bytes = recordBytesOf(client.getData().storingStatIn(stat).forPath(item));

        CompletableFuture<EndResult> java = CompletableFuture.supplyAsync(() -> {
          try {
            return store.endEmbeddedSpan(item, bytes, DeferredSpanEnding.now(),
                client.transactionOp().delete().withVersion(stat.getVersion()).forPath(item));
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        }, executor);
        python.send(Map.of("op", "endEmbedded", "item", item, "version", stat.getVersion(),
            "base64", Base64.getEncoder().encodeToString(bytes)));
        String pythonOutcome = python.next().get("outcome").asText();
        String javaOutcome = java.get(60, TimeUnit.SECONDS).getOutcome().name();

        List<String> outcomes = List.of(pythonOutcome, javaOutcome);
        assertThat(outcomes).as("round " + round).containsExactlyInAnyOrder("ENDED", "CALLER_OPERATIONS_FAILED");
        assertNull(client.checkExists().forPath(item));
      }
      for (String spanId : spanIds) {
        awaitExportedOnce(spanId); // by Java if it won, by serve if Python did
      }
    } finally {
      executor.shutdownNow();
    }
  }

  /** An item as a caller might frame it: its own payload, a newline, then the record's bytes (embedded mode). */
  private static byte[] itemData(DeferredSpanRecord record) {
    byte[] head = "job\n".getBytes(StandardCharsets.UTF_8);
    byte[] tail = record.toBytes();
    byte[] data = Arrays.copyOf(head, head.length + tail.length);
    System.arraycopy(tail, 0, data, head.length, tail.length);
    return data;
  }

  private static byte[] recordBytesOf(byte[] item) {
    for (int i = 0; i < item.length; i++) {
      if (item[i] == '\n') {
        return Arrays.copyOfRange(item, i + 1, item.length);
      }
    }
    throw new AssertionError("no record in the item");
  }

  /** Waits until the span arrived and its stored copy is gone, then checks that it arrived exactly once. */
  private static ReceivedSpan awaitExportedOnce(String spanId) throws Exception {
    String ended = ZKPaths.makePath(BASE + "/ended/" + spanId.substring(0, 2), spanId);
    await().atMost(WAIT).until(() -> !exported(spanId).isEmpty() && client.checkExists().forPath(ended) == null);
    List<ReceivedSpan> spans = exported(spanId);
    assertEquals(1, spans.size(), () -> "exported " + spans.size() + " times: " + spans);
    return spans.get(0);
  }

  private static List<ReceivedSpan> exported(String spanId) {
    return receiver.spans().stream().filter(s -> s.spanId().equals(spanId)).collect(Collectors.toList());
  }

  /** Java began {@code record}, Python ended it with {@code item}'s dequeue, and serve exported it once. */
  private ReceivedSpan assertBegunByJavaEndedByPythonExportedOnceByServe(DeferredSpanRecord record, String item)
      throws Exception {
    ReceivedSpan span = awaitExportedOnce(record.getSpanContext().getSpanId());
    assertEquals(record.getSpanContext().getTraceId(), span.traceId());
    assertEquals(record.getStartEpochNanos(), span.startEpochNanos());
    assertThat(span.attributes()).containsEntry("deferred_span.began_by", "java-1")
        .containsEntry("deferred_span.ended_by", "py-1").containsEntry("zuul.result", "SUCCESS");
    assertThat(span.resourceAttributes()).containsEntry("service.name", "deferred-spans-serve");
    assertNull(client.checkExists().forPath(item));
    return span;
  }
}
