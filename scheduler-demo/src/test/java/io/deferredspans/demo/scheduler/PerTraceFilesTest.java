package io.deferredspans.demo.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deferredspans.otlp.json.OtlpJsonLines;
import io.deferredspans.otlp.json.ReceivedSpan;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.context.Context;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The files for Jaeger's upload, from the JSON lines files of two "processes" (two SDKs with their own resource),
 * written as the demo writes them: OpenTelemetry's OTLP/HTTP exporter to the launcher's {@link TraceFileSink}, with
 * a trace spread over both.
 */
class PerTraceFilesTest {
  private static final AttributeKey<String> INSTANCE = AttributeKey.stringKey("service.instance.id");

  @TempDir Path dir;

  /** One process: an SDK whose every ended span is sent at once to the sink, for its own JSON lines file. */
  private static final class Process implements AutoCloseable {
    final SdkTracerProvider sdk;

    Process(TraceFileSink sink, String instanceId) {
      sdk = SdkTracerProvider.builder()
          .setResource(Resource.getDefault().merge(Resource.create(Attributes.of(INSTANCE, instanceId))))
          .addSpanProcessor(SimpleSpanProcessor.create(
              OtlpHttpSpanExporter.builder().setEndpoint(sink.endpoint()).build()))
          .build();
    }

    SpanContext span(String name, SpanContext parent, String scope) {
      Context context = parent == null ? Context.root() : Context.root().with(Span.wrap(parent));
      Span span = sdk.get(scope).spanBuilder(name).setParent(context).startSpan();
      span.end();
      return span.getSpanContext();
    }

    /** Shuts the SDK down, which waits for its exports to be answered: by then the sink has written them. */
    @Override
    public void close() {
      sdk.close();
    }
  }

  @Test
  void eachTraceGetsOneOtlpJsonRequestHoldingEverySpanOfItOnce() throws Exception {
    SpanContext queueItem;
    SpanContext build;
    SpanContext job;
    SpanContext step;
    SpanContext event;
    try (TraceFileSink sink = TraceFileSink.start(dir);
        Process scheduler = new Process(sink, "scheduler-1");
        Process executor = new Process(sink, "executor-1")) {
      queueItem = scheduler.span("QueueItem", null, "io.deferredspans.demo");
      build = scheduler.span("Build", queueItem, "io.deferredspans.demo");
      job = executor.span("JobExecution", build, "io.deferredspans.demo");
      step = executor.span("Setup", job, "another.scope");
      event = scheduler.span("PatchsetUploaded", null, "io.deferredspans.demo");
    }
    Path schedulerFile = dir.resolve("scheduler-1.jsonl");
    // The same batch exported twice (a retry), a line cut short by SIGKILL, a blank line: read past, written once.
    String firstLine = Files.readAllLines(schedulerFile).get(0);
    Files.writeString(schedulerFile, firstLine + "\n{\"resourceSpans\":[{\"reso\n\n", StandardOpenOption.APPEND);

    List<Path> written =
        PerTraceFiles.write(List.of(schedulerFile, dir.resolve("executor-1.jsonl")), dir.resolve("by-trace"));

    assertThat(written).containsExactly(
        dir.resolve("by-trace").resolve(queueItem.getTraceId() + ".json"),
        dir.resolve("by-trace").resolve(event.getTraceId() + ".json"));
    try (Stream<Path> files = Files.list(dir.resolve("by-trace"))) {
      assertThat(files).containsExactlyInAnyOrderElementsOf(written);
    }

    List<ReceivedSpan> itemTrace = readSingleRequest(written.get(0));
    assertThat(itemTrace).extracting(ReceivedSpan::spanId).containsExactlyInAnyOrder(
        queueItem.getSpanId(), build.getSpanId(), job.getSpanId(), step.getSpanId());
    assertThat(itemTrace).allSatisfy(s -> assertThat(s.traceId()).isEqualTo(queueItem.getTraceId()));
    // Each span keeps the resource (process) and scope it was exported with.
    assertThat(itemTrace).extracting(s -> s.name() + "@" + s.resourceAttributes().get(INSTANCE.getKey())
            + "/" + s.scopeName())
        .containsExactlyInAnyOrder("QueueItem@scheduler-1/io.deferredspans.demo",
            "Build@scheduler-1/io.deferredspans.demo", "JobExecution@executor-1/io.deferredspans.demo",
            "Setup@executor-1/another.scope");
    assertThat(itemTrace).filteredOn(s -> s.name().equals("Setup")).singleElement()
        .satisfies(s -> assertThat(s.parentSpanId()).isEqualTo(job.getSpanId()));

    assertThat(readSingleRequest(written.get(1))).extracting(ReceivedSpan::spanId)
        .containsExactly(event.getSpanId());
  }

  @Test
  void noSpansNoFiles() throws Exception {
    Path empty = Files.writeString(dir.resolve("launcher.jsonl"), "");

    assertThat(PerTraceFiles.write(List.of(empty), dir.resolve("by-trace"))).isEmpty();
  }

  /**
   * What Jaeger's UI takes for OTLP: one JSON document whose only member is {@code resourceSpans}. It must parse as
   * exactly one OTLP JSON {@code ExportTraceServiceRequest}.
   */
  private static List<ReceivedSpan> readSingleRequest(Path file) throws IOException {
    String content = Files.readString(file, StandardCharsets.UTF_8);
    JsonNode json = new ObjectMapper().readTree(content);
    assertThat(json.isObject()).isTrue();
    assertThat(json.fieldNames()).toIterable().containsExactly("resourceSpans");
    List<ExportTraceServiceRequest> requests = OtlpJsonLines.parseRequests(content);
    assertThat(requests).hasSize(1);
    return ReceivedSpan.fromRequest(requests.get(0), ReceivedSpan.TRANSPORT_FILE);
  }
}
