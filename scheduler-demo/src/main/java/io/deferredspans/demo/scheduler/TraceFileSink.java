package io.deferredspans.demo.scheduler;

import io.deferredspans.demo.common.TraceFilesSpanExporterProvider;
import io.deferredspans.otlp.json.OtlpJsonLines;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.common.v1.AnyValue;
import io.opentelemetry.proto.common.v1.KeyValue;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Where the demo's JSON lines files come from: a loopback OTLP/HTTP receiver in the launcher to which every
 * process, the launcher included, exports its spans ({@link TraceFilesSpanExporterProvider}) besides whatever the
 * user configured. Each export request becomes one OTLP JSON line in {@code <folder>/<service.instance.id>.jsonl},
 * written before the exporter is answered: once a process's export has succeeded, its spans are in the file.
 *
 * <p>OpenTelemetry's real OTLP exporter on one side and protobuf's JSON printer on the other: no OpenTelemetry
 * internals, and the lines are what {@link OtlpJsonLines} reads back.
 */
final class TraceFileSink implements AutoCloseable {
  static final String UNNAMED = "unnamed";

  private final Path folder;
  private final OtlpTestReceiver receiver;

  private TraceFileSink(Path folder) {
    this.folder = folder;
    this.receiver = OtlpTestReceiver.start(this::write);
  }

  static TraceFileSink start(Path folder) throws IOException {
    Files.createDirectories(folder);
    return new TraceFileSink(folder);
  }

  /** The OTLP/HTTP traces URL, for {@link io.deferredspans.demo.common.DemoTelemetry#start}. */
  String endpoint() {
    return receiver.httpEndpoint();
  }

  static Path file(Path folder, String instanceId) {
    return folder.resolve(instanceId.replaceAll("[^A-Za-z0-9._-]", "_") + TraceFiles.JSON_LINES);
  }

  // One writer at a time: the receiver's threads would otherwise interleave two lines of one file.
  private synchronized void write(ExportTraceServiceRequest request) {
    if (request.getResourceSpansCount() == 0) {
      return;
    }
    Path file = file(folder, instanceId(request));
    try {
      Files.writeString(file, OtlpJsonLines.toJsonLine(request) + "\n", StandardCharsets.UTF_8,
          StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot append to " + file, e); // the exporter is told the export failed
    }
  }

  /** The process that sent the request: one SDK, one resource. */
  private static String instanceId(ExportTraceServiceRequest request) {
    return request.getResourceSpans(0).getResource().getAttributesList().stream()
        .filter(a -> a.getKey().equals("service.instance.id") && a.getValue().hasStringValue())
        .map(KeyValue::getValue).map(AnyValue::getStringValue).filter(v -> !v.isBlank())
        .findFirst().orElse(UNNAMED);
  }

  /** Stops receiving; call after every process has flushed. */
  @Override
  public void close() {
    receiver.close();
  }
}
