package io.deferredspans.demo.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import io.deferredspans.otlp.json.OtlpJsonLines;
import io.deferredspans.otlp.json.ReceivedSpan;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real demo, run as {@code demo/run} runs it: the launcher's JVM, two scheduler and two executor JVMs against an
 * in-process ZooKeeper, with the enqueuing scheduler killed (SIGKILL) mid-item. Configured as a user would, by
 * environment ({@code OTEL_TRACES_EXPORTER=otlp}, an endpoint, {@code http/protobuf}) and one {@code -Dotel.*}
 * property for the launcher ({@code grpc}, which must reach every process and beat the variable): every process
 * exports over OTLP/gRPC to a receiver in this JVM and still writes its JSON lines file. Runs once; the tests check
 * what arrived on the wire and in the files.
 */
class MultiProcessDemoTest {
  private static final long ITEM_SECONDS = 8;
  private static final String TASK_RUN_RESULT = "cicd.pipeline.task.run.result";

  @TempDir static Path outDir;

  private static TestingServer zookeeper;
  private static OtlpTestReceiver receiver;
  private static LauncherJvm.Run run;
  private static int exitCode;
  private static String printed;

  @BeforeAll
  static void runDemo() throws Exception {
    // Short ticks allow the short sessions with which a killed scheduler's claims expire quickly.
    zookeeper = new TestingServer(new InstanceSpec(null, -1, -1, -1, true, -1, 500, -1), true);
    receiver = OtlpTestReceiver.start();
    run = LauncherJvm.run(outDir, zookeeper.getConnectString(), ITEM_SECONDS,
        Map.of("OTEL_TRACES_EXPORTER", "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT", receiver.grpcEndpoint(),
            "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        List.of("-Dotel.exporter.otlp.protocol=grpc"));
    exitCode = run.exitCode();
    printed = run.output();
  }

  @AfterAll
  static void stopServers() throws Exception {
    if (receiver != null) {
      receiver.close();
    }
    if (zookeeper != null) {
      zookeeper.close();
    }
  }

  @Test
  void itemBegunByTheKilledSchedulerIsFinishedByTheOtherAndItsTraceIsWhole() {
    assertThat(exitCode).as(printed).isZero();
    List<ReceivedSpan> spans = receiver.spans();
    assertThat(spans).allSatisfy(s -> assertThat(s.transport()).isEqualTo(ReceivedSpan.TRANSPORT_GRPC));
    assertThat(duplicateSpanIds(spans)).isEmpty();

    List<ReceivedSpan> items = named(spans, "QueueItem");
    assertThat(items).hasSize(1);
    ReceivedSpan item = items.get(0);
    List<ReceivedSpan> trace = spans.stream().filter(s -> s.traceId().equals(item.traceId())).toList();
    Map<String, ReceivedSpan> byId = trace.stream().collect(Collectors.toMap(ReceivedSpan::spanId, Function.identity()));

    assertThat(item.isRoot()).isTrue();
    assertThat(trace).filteredOn(s -> !s.isRoot())
        .allSatisfy(s -> assertThat(byId).as("parent of %s", s.name()).containsKey(s.parentSpanId()));
    assertThat(trace).filteredOn(ReceivedSpan::isRoot).containsExactly(item);

    String beganBy = (String) item.attributes().get("deferred_span.began_by");
    String endedBy = (String) item.attributes().get("deferred_span.ended_by");
    assertThat(beganBy).startsWith("scheduler-");
    assertThat(endedBy).startsWith("scheduler-").isNotEqualTo(beganBy);
    assertThat(printed).contains("KILLED " + beganBy + " (SIGKILL");
    // OpenTelemetry's CICD and VCS conventions where they have a name, zuul.* where they have none.
    assertThat(item.attributes()).containsEntry("cicd.pipeline.name", "check")
        .containsEntry("cicd.pipeline.result", "success").containsEntry("vcs.change.id", "1001")
        .containsEntry("vcs.repository.name", "project").containsEntry("vcs.owner.name", "example")
        .containsEntry("vcs.ref.head.name", "refs/changes/01/1001/1")
        .containsKeys("cicd.pipeline.run.id", "zuul.event.id", "zuul.tenant");
    assertThat((String) item.attributes().get("vcs.ref.head.revision")).matches("[0-9a-f]{40}");
    assertThat(item.attributes().keySet()).noneMatch(k -> k.startsWith("ci."));

    // The first build set's first build fails on purpose: a gate reset. The second build set replaces it.
    List<ReceivedSpan> buildSets =
        named(trace, "BuildSet").stream().sorted(Comparator.comparingLong(ReceivedSpan::startEpochNanos)).toList();
    assertThat(buildSets).hasSize(2).allSatisfy(b -> assertThat(b.parentSpanId()).isEqualTo(item.spanId()));
    ReceivedSpan resetBuildSet = buildSets.get(0);
    ReceivedSpan finalBuildSet = buildSets.get(1);
    assertThat(resetBuildSet.statusCode()).isEqualTo("STATUS_CODE_ERROR");
    assertThat(resetBuildSet.attributes()).containsEntry("zuul.buildset.reset", true);
    assertThat(finalBuildSet.statusCode()).isNotEqualTo("STATUS_CODE_ERROR");
    assertThat(finalBuildSet.links()).singleElement().satisfies(link -> {
      assertThat(link.spanId()).isEqualTo(resetBuildSet.spanId());
      assertThat(link.attributes()).containsEntry("zuul.link", "previous_buildset");
    });

    for (ReceivedSpan buildSet : buildSets) {
      ReceivedSpan merge = single(children(trace, buildSet, "Merge"), "Merge");
      ReceivedSpan mergeJob = single(children(trace, merge, "MergeJob"), "MergeJob");
      assertThat((String) mergeJob.attributes().get("cicd.worker.name")).startsWith("executor-");
      // Nodes are requested once the merge is done, and the builds launch only when the request is fulfilled.
      ReceivedSpan requestNodes = single(children(trace, buildSet, "RequestNodes"), "RequestNodes");
      assertThat(requestNodes.attributes()).containsKey("zuul.node_request.id")
          .containsEntry("zuul.node.label", "ubuntu-jammy");
      assertThat(requestNodes.startEpochNanos()).isGreaterThan(mergeJob.startEpochNanos());
      List<ReceivedSpan> builds = children(trace, buildSet, "Build");
      assertThat(builds).hasSize(3).allSatisfy(build -> {
        assertThat(build.startEpochNanos()).isGreaterThan(requestNodes.startEpochNanos());
        assertThat(build.attributes()).containsKeys("cicd.pipeline.task.run.id", "cicd.pipeline.task.name");
        assertThat(children(trace, build, "JobExecution")).hasSize(1);
      });
      assertThat(builds).extracting(b -> b.attributes().get("cicd.pipeline.task.name"))
          .containsExactlyInAnyOrder("tox-py311", "tox-linters", "build-docs");
    }
    assertThat(children(trace, resetBuildSet, "Build"))
        .extracting(b -> b.attributes().get("cicd.pipeline.task.name") + "=" + b.attributes().get(TASK_RUN_RESULT))
        .containsExactlyInAnyOrder("tox-py311=failure", "tox-linters=cancellation", "build-docs=cancellation");
    // A cancelled build's JobExecution ends before its Build: the scheduler waits for the executor's answer.
    for (ReceivedSpan build : children(trace, resetBuildSet, "Build")) {
      for (ReceivedSpan job : children(trace, build, "JobExecution")) {
        assertThat(job.attributes()).containsEntry(TASK_RUN_RESULT, build.attributes().get(TASK_RUN_RESULT));
      }
    }
    assertThat(trace).filteredOn(s -> !s.isRoot()).allSatisfy(s ->
        assertThat(TraceAnalysis.outsideOf(s, byId.get(s.parentSpanId()))).isEmpty());
    for (ReceivedSpan build : children(trace, finalBuildSet, "Build")) {
      assertThat(build.attributes()).containsEntry(TASK_RUN_RESULT, "success");
      ReceivedSpan job = children(trace, build, "JobExecution").get(0);
      assertThat(children(trace, job, null)).extracting(ReceivedSpan::name)
          .contains("RepoPrep", "Setup", "Playbook run", "Cleanup");
      // The job's playbook ran as a process of its own, parented through TRACEPARENT in its environment.
      ReceivedSpan playbook = single(children(trace, job, "Playbook run"), "Playbook run");
      assertThat(children(trace, playbook, "ansible-playbook")).singleElement()
          .satisfies(p -> assertThat(p.statusCode()).isNotEqualTo("STATUS_CODE_ERROR"));
    }

    // The item's own trace is linked, not parented, to the event that caused it.
    assertThat(item.links()).hasSize(1);
    ReceivedSpan processing = spans.stream().filter(s -> s.spanId().equals(item.links().get(0).spanId()))
        .findFirst().orElseThrow(() -> new AssertionError("linked event span not received"));
    assertThat(processing.name()).isEqualTo("ProcessTriggerEvent");
    assertThat(processing.traceId()).isNotEqualTo(item.traceId());
    ReceivedSpan event = single(spans.stream().filter(s -> s.traceId().equals(processing.traceId())).toList(),
        "PatchsetUploaded");
    assertThat(processing.parentSpanId()).isEqualTo(event.spanId());
  }

  @Test
  void jsonLinesFilesHoldTheSameSpansAsTheOtlpWire() throws Exception {
    assertThat(exitCode).as(printed).isZero();
    List<Path> files;
    try (Stream<Path> list = Files.list(outDir.resolve("traces"))) {
      files = list.filter(p -> p.getFileName().toString().endsWith(".jsonl")).sorted().toList();
    }
    // OTEL_TRACES_EXPORTER=otlp adds to the files, it does not replace them: the launcher's too. Each job step
    // is a process of its own with a file of its own, named after its executor.
    List<String> names = files.stream().map(p -> p.getFileName().toString()).toList();
    assertThat(names.stream().filter(n -> !n.matches("executor-[12]\\.step-[0-9a-f]+\\.jsonl")))
        .containsExactlyInAnyOrder("launcher.jsonl", "scheduler-1.jsonl", "scheduler-2.jsonl", "executor-1.jsonl",
            "executor-2.jsonl");
    assertThat(names).anyMatch(n -> n.contains(".step-"));
    List<ReceivedSpan> fromFiles = new ArrayList<>();
    for (Path file : files) {
      List<ExportTraceServiceRequest> requests = OtlpJsonLines.readRequests(file);
      assertThat(requests).as(file.toString()).isNotEmpty();
      requests.forEach(r -> fromFiles.addAll(ReceivedSpan.fromRequest(r, ReceivedSpan.TRANSPORT_FILE)));
    }
    assertThat(duplicateSpanIds(fromFiles)).isEmpty();
    assertThat(fromFiles).extracting(ReceivedSpan::spanId)
        .containsExactlyInAnyOrderElementsOf(receiver.spans().stream().map(ReceivedSpan::spanId).toList());
    assertThat(printed).contains("VERDICT: OK").contains("QueueItem").contains("JobExecution")
        .contains("children outside parents 0");
  }

  /**
   * A traces-only backend (Jaeger) answers metrics and logs with an error: nothing but traces goes there unless the
   * user asks (OTEL_METRICS_EXPORTER, OTEL_LOGS_EXPORTER). This receiver serves no metrics over gRPC, so a metrics
   * export would fail as loudly as against Jaeger.
   */
  @Test
  void onlyTracesGoToTheBackendAndNoExportFails() throws Exception {
    assertThat(exitCode).as(printed).isZero();
    assertThat(run.exportFailures()).isEmpty();
    assertThat(receiver.metricRequests()).isEmpty();
    assertThat(printed).contains("and to span exporters otlp");
  }

  @Test
  void itemTraceHasOneFileForJaegerWithEverySpanOnce() throws Exception {
    assertThat(exitCode).as(printed).isZero();
    ReceivedSpan item = single(receiver.spans(), "QueueItem");
    Path file = outDir.resolve("traces").resolve(PerTraceFiles.FOLDER).resolve(item.traceId() + ".json");
    assertThat(printed).contains(file.toString());

    List<ExportTraceServiceRequest> requests = OtlpJsonLines.readRequests(file);
    assertThat(requests).hasSize(1);
    List<ReceivedSpan> fromFile = ReceivedSpan.fromRequest(requests.get(0), ReceivedSpan.TRANSPORT_FILE);
    assertThat(fromFile).extracting(ReceivedSpan::spanId).containsExactlyInAnyOrderElementsOf(
        receiver.spans().stream().filter(s -> s.traceId().equals(item.traceId())).map(ReceivedSpan::spanId).toList());
  }

  private static List<ReceivedSpan> named(List<ReceivedSpan> spans, String name) {
    return spans.stream().filter(s -> s.name().equals(name)).toList();
  }

  /** The children of {@code parent} in {@code trace}, all of them if {@code name} is null. */
  private static List<ReceivedSpan> children(List<ReceivedSpan> trace, ReceivedSpan parent, String name) {
    return trace.stream().filter(s -> s.parentSpanId().equals(parent.spanId()))
        .filter(s -> name == null || s.name().equals(name)).toList();
  }

  private static ReceivedSpan single(List<ReceivedSpan> spans, String name) {
    List<ReceivedSpan> named = named(spans, name);
    assertThat(named).as(name).hasSize(1);
    return named.get(0);
  }

  private static List<String> duplicateSpanIds(List<ReceivedSpan> spans) {
    return spans.stream().collect(Collectors.groupingBy(ReceivedSpan::spanId, Collectors.counting()))
        .entrySet().stream().filter(e -> e.getValue() > 1).map(Map.Entry::getKey).toList();
  }
}
