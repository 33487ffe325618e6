package io.deferredspans.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import java.io.IOException;
import java.io.InputStream;
import java.util.Map;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.apache.curator.test.TestingServer;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Checks key encoding and sharding against every vector in {@code conformance/keys.json}, the vectors
 * docs/record-format.md specifies them with, and that a real ZooKeeper accepts every path they name: a second
 * implementation that writes there is read by this one.
 */
class KeyEncodingConformanceTest {
  private static final JsonNode VECTORS = load();
  private static final String BASE_PATH = VECTORS.get("basePath").asText();
  private static final Map<String, String> MESSAGES =
      Map.of("empty", "empty", "too_long", "longer than", "unpaired_surrogate", "unpaired surrogate");

  private static TestingServer zookeeper;
  private static TestHost host;

  @BeforeAll
  static void start() throws Exception {
    zookeeper = new TestingServer(true);
    host = TestHost.start("conformance", zookeeper.getConnectString(), BASE_PATH, InMemorySpanExporter.create());
  }

  @AfterAll
  static void stop() throws Exception {
    host.close();
    zookeeper.close();
  }

  @TestFactory
  Stream<DynamicTest> keysAreEncodedAndShardedAsSpecified() {
    ZNodeLayout layout = new ZNodeLayout(BASE_PATH);
    return vectors("valid").map(v -> dynamicTest(v.get("note").asText(), () -> {
      String key = v.get("key").asText();
      assertEquals(v.get("encoded").asText(), ZNodeLayout.encodeKey(key));
      assertEquals(v.get("hash").asInt(), key.hashCode());
      assertEquals(v.get("path").asText(), layout.openPath(key));
      assertTrue(v.get("path").asText().startsWith(BASE_PATH + "/open/" + v.get("shard").asText() + "/"));
    }));
  }

  @TestFactory
  Stream<DynamicTest> aSpanBegunUnderEachKeyLivesAtItsPathAndEnds() {
    return vectors("valid").map(v -> dynamicTest(v.get("note").asText(), () -> {
      String key = v.get("key").asText();
      String path = v.get("path").asText();
      DeferredSpanRecord record = host.tracing.spanBuilder("QueueItem").begin();

      host.store.beginDeferredSpan(key, record);

      Stat marker = host.client.checkExists().forPath(path + "/span-" + record.getSpanContext().getSpanId());
      assertNotNull(marker, "no marker under " + path);
      assertEquals(0, marker.getDataLength());
      assertEquals(0, marker.getEphemeralOwner());
      assertEquals(record, host.store.read(key).orElseThrow());
      assertEquals(EndResult.Outcome.ENDED, host.store.endDeferredSpan(key, DeferredSpanEnding.now()).getOutcome());
    }));
  }

  @TestFactory
  Stream<DynamicTest> invalidKeysAreRefusedBeforeAnythingIsWritten() {
    return vectors("invalid").map(v -> dynamicTest(v.get("note").asText(), () -> {
      String key = v.get("key").asText();
      String expected = MESSAGES.get(v.get("error").asText());
      assertNotNull(expected, "unknown error in the vectors: " + v);
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> host.store.beginDeferredSpan(key, host.tracing.spanBuilder("QueueItem").begin()));
      assertTrue(e.getMessage().contains(expected), e.getMessage());
    }));
  }

  private static Stream<JsonNode> vectors(String section) {
    return StreamSupport.stream(VECTORS.get(section).spliterator(), false);
  }

  private static JsonNode load() {
    try (InputStream in = KeyEncodingConformanceTest.class.getResourceAsStream("/conformance/keys.json")) {
      return new ObjectMapper().readTree(in);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read conformance/keys.json", e);
    }
  }
}
