package io.deferredspans.demo.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.deferredspans.demo.common.DemoPaths;
import io.deferredspans.demo.common.DemoTelemetry;
import io.deferredspans.demo.common.Znodes;
import io.deferredspans.demo.common.ZooKeeperConnection;
import io.deferredspans.demo.executor.InProcessExecutor;
import io.deferredspans.demo.scheduler.CreationRecordingSampler.Creation;
import io.deferredspans.otlp.json.ReceivedSpan;
import io.deferredspans.store.DeferredSpanStore;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The demo's pipeline-run and task-run spans against the CI/CD semantic conventions' own requirement levels, read
 * from a copy of their tables ({@value #TABLE}, with its source and version). One item runs through a real
 * scheduler and a real executor in this JVM, against a real ZooKeeper, its spans exported over OTLP to a receiver;
 * the first job fails once (a gate reset, cancelling the other builds), and in the second case in every build set,
 * so that the run itself fails. What each span had when it was created is what its sampler was shown.
 */
class CicdConventionsTest {
  static final String TABLE = "semconv/cicd-1.44.0.md";
  private static final String PIPELINE_RUN = "span.cicd.pipeline.run.server";
  private static final String TASK_RUN = "span.cicd.pipeline.task.internal";
  private static final String WORKER = "entity.cicd.worker";
  /** Which of the demo's spans is which of the conventions' groups (docs/demo.md, "Span attributes"). */
  private static final Map<String, List<String>> GROUPS_BY_SPAN = Map.of(
      "QueueItem", List.of(PIPELINE_RUN, "entity.cicd.pipeline", "entity.cicd.pipeline.run"),
      "Build", List.of(TASK_RUN),
      "JobExecution", List.of(TASK_RUN));
  // A timeout, not a wait: generous, as every build starts a JVM for its playbook (seconds on a loaded machine).
  private static final Duration WAIT = Duration.ofSeconds(180);

  /** One row of the copied table. */
  record Requirement(String group, String spanKind, String key, String level, String condition, boolean atCreation) {
    static List<Requirement> read() throws IOException {
      try (InputStream in = CicdConventionsTest.class.getClassLoader().getResourceAsStream(TABLE)) {
        assertThat(in).as(TABLE).isNotNull();
        return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines()
            .filter(line -> line.startsWith("| span.") || line.startsWith("| entity."))
            .map(line -> Arrays.stream(line.substring(1, line.length() - 1).split("\\|", -1)).map(String::strip)
                .toList())
            .map(c -> new Requirement(c.get(0), c.get(1), c.get(2), c.get(3), c.get(4), c.get(5).equals("yes")))
            .toList();
      }
    }

    /** Whether the condition holds for {@code attributes}; a condition the test cannot evaluate never holds. */
    boolean conditionHolds(Map<String, Object> attributes) {
      String[] parts = condition.split(" in ", 2);
      return parts.length == 2 && Set.of(parts[1].split(",")).contains(String.valueOf(attributes.get(parts[0])));
    }

    /** The attribute the condition reads, if it is one the test can evaluate. */
    String conditionKey() {
      String[] parts = condition.split(" in ", 2);
      return parts.length == 2 ? parts[0] : null;
    }
  }

  @ParameterizedTest(name = "the run fails: {0}")
  @ValueSource(booleans = {false, true})
  void pipelineAndTaskRunSpansMeetTheConventionsRequirementLevels(boolean runFails) throws Exception {
    List<Requirement> table = Requirement.read();
    assertThat(table).extracting(Requirement::group).contains(PIPELINE_RUN, TASK_RUN, WORKER);
    List<ReceivedSpan> spans = runOneItem(runFails);
    List<Creation> creations = CreationRecordingSampler.creations();

    // The runs the checks below need: a failed or successful pipeline run, failed and successful tasks (whether
    // a build is still running to be cancelled when the failure comes depends on timing, and is not needed here).
    assertThat(named(spans, "QueueItem")).singleElement().satisfies(item ->
        assertThat(item.attributes()).containsEntry("cicd.pipeline.result", runFails ? "failure" : "success"));
    assertThat(spans).extracting(s -> s.attributes().get("cicd.pipeline.task.run.result"))
        .contains("failure", "success");
    // The mapping to the conventions' groups leaves out no span that says it is a run or a task run.
    assertThat(spans).filteredOn(s -> s.attributes().containsKey("cicd.pipeline.result"))
        .allSatisfy(s -> assertThat(groups(s.name(), s.attributes())).contains(PIPELINE_RUN));
    assertThat(spans).filteredOn(s -> s.attributes().containsKey("cicd.pipeline.task.run.result"))
        .allSatisfy(s -> assertThat(groups(s.name(), s.attributes())).contains(TASK_RUN));

    Set<String> violations = new LinkedHashSet<>(); // one line per distinct violation
    for (ReceivedSpan span : spans) {
      List<String> groups = groups(span.name(), span.attributes());
      for (Requirement r : table) {
        if (!groups.contains(r.group())) {
          continue;
        }
        String where = span.name() + " " + span.spanId() + " (" + r.group() + "): ";
        if (!r.spanKind().isEmpty() && !span.kind().equals("SPAN_KIND_" + r.spanKind())) {
          violations.add(where + "kind " + span.kind() + ", the conventions say " + r.spanKind());
        }
        boolean present = span.attributes().containsKey(r.key());
        boolean mustBePresent = switch (r.level()) {
          case "required" -> true;
          case "conditionally_required" -> r.conditionHolds(span.attributes());
          case "recommended" -> r.condition().isEmpty(); // "if available": the demo has no such page to link
          case "opt_in" -> false;
          default -> throw new AssertionError("unknown requirement level in " + TABLE + ": " + r);
        };
        if (mustBePresent && !present) {
          violations.add(where + r.key() + " missing (" + r.level() + " " + r.condition() + ")");
        }
        // Recording errors: error.type is not set on an operation that succeeded.
        if (r.key().equals("error.type") && present && "success".equals(span.attributes().get(r.conditionKey()))) {
          violations.add(where + "error.type set on a run that succeeded");
        }
      }
    }
    for (Creation creation : creations) {
      for (Requirement r : table) {
        if (r.atCreation() && groups(creation.name(), Map.of()).contains(r.group())
            && !creation.attributes().asMap().keySet().stream().anyMatch(k -> k.getKey().equals(r.key()))) {
          violations.add(creation.name() + " created without " + r.key() + ", which a sampler needs at creation");
        }
        if (groups(creation.name(), Map.of()).contains(r.group()) && !r.spanKind().isEmpty()
            && !creation.kind().name().equals(r.spanKind())) {
          violations.add(creation.name() + " created as " + creation.kind() + ", the conventions say " + r.spanKind());
        }
      }
    }
    assertThat(violations).isEmpty();
    // Every run and task run was shown to the sampler, as the demo's processes create them, deferred or not.
    for (String name : GROUPS_BY_SPAN.keySet()) {
      assertThat(creations.stream().filter(c -> c.name().equals(name))).as(name).hasSameSizeAs(named(spans, name));
    }
  }

  /** The conventions' groups a span belongs to: by its name, and the worker's wherever a span names one. */
  private static List<String> groups(String spanName, Map<String, Object> attributes) {
    List<String> groups = new ArrayList<>(GROUPS_BY_SPAN.getOrDefault(spanName, List.of()));
    if (attributes.containsKey("cicd.worker.id") || attributes.containsKey("cicd.worker.name")) {
      groups.add(WORKER);
    }
    return groups;
  }

  private static List<ReceivedSpan> named(List<ReceivedSpan> spans, String name) {
    return spans.stream().filter(s -> s.name().equals(name)).toList();
  }

  /** A trigger event through one scheduler and one executor until the item is dequeued and every span is out. */
  private static List<ReceivedSpan> runOneItem(boolean runFails) throws Exception {
    CreationRecordingSampler.clear();
    try (TestingServer zookeeper = new TestingServer(true);
        OtlpTestReceiver receiver = OtlpTestReceiver.start();
        CuratorFramework client = ZooKeeperConnection.connect(zookeeper.getConnectString(), Duration.ofSeconds(10))) {
      Znodes znodes = new Znodes(client);
      znodes.ensureFolders();
      try (DemoTelemetry scheduling =
              DemoTelemetry.start("scheduler", "scheduler-1", receiver.httpEndpoint(), RECORDING_SAMPLER);
          DemoTelemetry executing =
              DemoTelemetry.start("executor", "executor-1", receiver.httpEndpoint(), RECORDING_SAMPLER)) {
        DeferredSpanStore store =
            DeferredSpanStore.builder(client, scheduling.deferred()).basePath(DemoPaths.SPAN_STORE).build();
        store.start();
        JobPlan plan = new JobPlan(Duration.ofSeconds(3), true, runFails);
        try (PipelineScheduler scheduler = new PipelineScheduler(new TriggerEventConsumer(znodes, store, scheduling),
                new QueueItemProcessor(znodes, store, scheduling, plan));
            InProcessExecutor executor =
                InProcessExecutor.start(znodes, executing, 3, receiver.httpEndpoint(), RECORDING_SAMPLER)) {
          scheduler.start();
          new EventSource(client, scheduling).patchsetUploaded(1001);
          await().atMost(WAIT).until(() -> !named(receiver.spans(), "QueueItem").isEmpty());
        } finally {
          store.close();
        }
      }
      // Both telemetries are closed, so flushed: every span is in.
      return Stream.of(receiver.spans()).flatMap(List::stream).toList();
    }
  }

  /** The sampler that records what each span had at its creation, and short batches. */
  private static final Map<String, String> RECORDING_SAMPLER =
      Map.of("otel.traces.sampler", CreationRecordingSampler.NAME, "otel.bsp.schedule.delay", "100");
}
