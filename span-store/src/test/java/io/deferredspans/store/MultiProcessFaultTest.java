package io.deferredspans.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.deferredspans.otlp.json.ReceivedSpan;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults with real processes: hosts are separate JVMs, killed with SIGKILL. Every figure is counted from what
 * arrived on the OTLP wire against what was begun, and printed as a "fault:" line for docs/reliability.md.
 */
class MultiProcessFaultTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String BASE = "/deferred-spans";

  @TempDir Path temp;
  private TestingServer zookeeper;
  private OtlpTestReceiver receiver;
  private TestHost local;
  private final List<HostProcess> processes = new ArrayList<>();

  @BeforeEach
  void start() throws Exception {
    zookeeper = new TestingServer(true);
    receiver = OtlpTestReceiver.start();
    local = TestHost.start("test-host", zookeeper.getConnectString(), BASE,
        TestHost.httpExporter(receiver.httpEndpoint()));
    local.client.createContainers(HostProcessMain.ITEMS);
  }

  @AfterEach
  void stop() throws Exception {
    for (HostProcess process : processes) {
      process.close();
    }
    local.close();
    receiver.close();
    zookeeper.close();
  }

  private HostProcess launch(String name, String... mode) throws Exception {
    HostProcess process = HostProcess.launch(name, zookeeper.getConnectString(), BASE, receiver.httpEndpoint(), mode);
    processes.add(process);
    return process;
  }

  private HostProcess launchWithBatchDelay(String name, long delayMillis, String... mode) throws Exception {
    String[] withDelay = new String[mode.length + 2];
    withDelay[0] = "--batch-delay-ms";
    withDelay[1] = Long.toString(delayMillis);
    System.arraycopy(mode, 0, withDelay, 2, mode.length);
    return launch(name, withDelay);
  }

  /** Begins spans from this JVM (host "test-host") and returns their keys and span ids. */
  private Map<String, String> beginLocally(String prefix, int count) throws Exception {
    Map<String, String> spanIds = new HashMap<>();
    for (int i = 0; i < count; i++) {
      String key = prefix + "-" + i;
      String item = HostProcessMain.ITEMS + "/" + key;
      var record = local.tracing.spanBuilder("QueueItem").setNoParent().setOwner(item).begin();
      local.store.beginDeferredSpan(key, record, local.client.transactionOp().create().forPath(item));
      spanIds.put(key, record.getSpanContext().getSpanId());
    }
    return spanIds;
  }

  private Path keysFile(String name, Iterable<String> keys) throws Exception {
    Path file = temp.resolve(name);
    Files.write(file, keys);
    return file;
  }

  /** Runs recovery scans from this JVM until nothing is left to export, then flushes. */
  private void recoverEverything() throws Exception {
    try (DeferredSpanRecovery recovery = DeferredSpanRecovery.builder(local.store).gracePeriod(Duration.ZERO).build()) {
      await().atMost(WAIT).until(() -> {
        recovery.scanNow();
        return local.storedFinishedSpans() == 0;
      });
    }
    local.flush();
  }

  private static Map<String, List<ReceivedSpan>> bySpanId(List<ReceivedSpan> spans) {
    return spans.stream().collect(Collectors.groupingBy(ReceivedSpan::spanId));
  }

  private static long count(List<String> lines, String prefix) {
    return lines.stream().filter(l -> l.startsWith(prefix)).count();
  }

  @Test
  void racingEndsAcrossProcessesExportEachSpanExactlyOnce() throws Exception {
    int rounds = 3;
    int spansPerRound = 100;
    int racers = 3;
    long duplicates = 0;
    long lost = 0;
    for (int round = 0; round < rounds; round++) {
      receiver.reset();
      Map<String, String> begun = beginLocally("race" + round, spansPerRound);
      Path keys = keysFile("keys-" + round, begun.keySet());
      List<HostProcess> enders = new ArrayList<>();
      for (int r = 0; r < racers; r++) {
        enders.add(launch("ender-" + round + "-" + r, "end", keys.toString(), Integer.toString(r)));
      }
      Map<String, Integer> wins = new HashMap<>();
      for (HostProcess ender : enders) {
        for (String line : ender.awaitDone(WAIT)) {
          if (line.startsWith("ENDED ")) {
            wins.merge(line.split(" ")[1], 1, Integer::sum);
          }
        }
      }
      List<ReceivedSpan> exported = receiver.awaitSpans(spansPerRound, WAIT);
      Set<String> distinct = bySpanId(receiver.spans()).keySet();
      duplicates += receiver.spans().size() - distinct.size();
      lost += begun.values().stream().filter(id -> !distinct.contains(id)).count();
      assertEquals(spansPerRound, wins.size(), "every span won by someone");
      assertThat(wins.values()).allMatch(n -> n == 1);
      assertThat(exported).hasSize(spansPerRound);
    }
    System.out.printf("fault: racing-ends rounds=%d spans=%d racer-processes=%d duplicates=%d lost=%d%n",
        rounds, rounds * spansPerRound, racers, duplicates, lost);
    assertEquals(0, duplicates);
    assertEquals(0, lost);
  }

  @Test
  void spansOfAKilledBeginningHostAreEndedElsewhereWithTheirOriginalIdsAndStart() throws Exception {
    HostProcess beginner = launch("beginner", "begin", "crash", "0");
    List<String> begunLines = beginner.await(l -> l.startsWith("BEGUN "), 50, WAIT);
    beginner.kill();

    // Whatever the killed host committed, reported or not, is in ZooKeeper: end all of it elsewhere.
    List<String> items = local.client.getChildren().forPath(HostProcessMain.ITEMS);
    HostProcess ender = launch("ender", "end", keysFile("keys", items).toString(), "1");
    List<String> endLines = ender.awaitDone(WAIT);
    assertEquals(items.size(), count(endLines, "ENDED "));

    Map<String, List<ReceivedSpan>> exported = bySpanId(receiver.awaitSpans(items.size(), WAIT));
    for (String line : begunLines) {
      String[] f = line.split(" ");
      ReceivedSpan span = exported.get(f[3]).get(0);
      assertEquals(f[2], span.traceId());
      assertEquals(Long.parseLong(f[4]), span.startEpochNanos());
      assertEquals("beginner", span.attributes().get("deferred_span.began_by"));
      assertEquals("ender", span.attributes().get("deferred_span.ended_by"));
    }
    assertEquals(0, local.openRecords());
    System.out.printf("fault: beginner-killed begun>=%d committed=%d ended-elsewhere=%d exported=%d lost=%d%n",
        begunLines.size(), items.size(), count(endLines, "ENDED "), receiver.spans().size(),
        items.size() - exported.size());
  }

  @Test
  void killingEndingHostsAtRandomPointsLosesNothing() throws Exception {
    int spans = 200;
    int kills = 8;
    Map<String, String> begun = beginLocally("kill", spans);
    Random random = new Random(42);
    Set<String> killedHosts = new HashSet<>();
    for (int k = 0; k < kills; k++) {
      Set<String> remaining = new HashSet<>(local.client.getChildren().forPath(HostProcessMain.ITEMS));
      // A long batch delay keeps spans between commit and acknowledgement, where a kill hurts most.
      HostProcess ender = launchWithBatchDelay("victim-" + k, 300, "end", keysFile("k" + k, remaining).toString(),
          Integer.toString(k));
      ender.await(l -> l.startsWith("ENDED "), 1 + random.nextInt(15), WAIT);
      ender.kill();
      killedHosts.add(ender.name());
    }
    Set<String> remaining = new HashSet<>(local.client.getChildren().forPath(HostProcessMain.ITEMS));
    launch("finisher", "end", keysFile("rest", remaining).toString(), "99").awaitDone(WAIT);
    recoverEverything();

    Map<String, List<ReceivedSpan>> exported = bySpanId(receiver.awaitSpans(spans, WAIT));
    long lost = begun.values().stream().filter(id -> !exported.containsKey(id)).count();
    long duplicates = receiver.spans().size() - exported.size();
    long recovered = local.store.stats().recovered();
    for (List<ReceivedSpan> copies : exported.values()) {
      if (copies.size() > 1) {
        // The documented window only: a killed host's exporter delivered it, then recovery did again.
        assertThat(copies).anyMatch(s -> killedHosts.contains(s.resourceAttributes().get("service.instance.id")));
        assertThat(copies).anyMatch(s -> "test-host".equals(s.resourceAttributes().get("service.instance.id")));
      }
    }
    System.out.printf("fault: ender-killed kills=%d spans=%d recovered-by-worker=%d exported=%d duplicates=%d "
        + "(all in the documented window) lost=%d%n", kills, spans, recovered, receiver.spans().size(),
        duplicates, lost);
    assertEquals(0, lost);
    assertEquals(0, local.openRecords());
    assertEquals(0, local.storedFinishedSpans());
  }
}
