package io.deferredspans.demo.common;

import io.opentelemetry.exporter.logging.otlp.internal.traces.OtlpStdoutSpanExporter;
import io.opentelemetry.sdk.autoconfigure.spi.ConfigProperties;
import io.opentelemetry.sdk.autoconfigure.spi.ConfigurationException;
import io.opentelemetry.sdk.autoconfigure.spi.traces.ConfigurableSpanExporterProvider;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Span exporter {@value #NAME} for autoconfigure ({@code otel.traces.exporter=otlp-jsonl-file}): OpenTelemetry's
 * own {@link OtlpStdoutSpanExporter}, writing to the file named by {@value #FILE_PROPERTY} (or the environment
 * variable {@code DEFERREDSPANS_TRACES_FILE}) instead of standard output. One line per export batch, in the OTLP
 * JSON form that Jaeger's "Upload JSON" and the Collector's file receiver read.
 *
 * <p>The stock {@code experimental-otlp/stdout} exporter would mix spans into each process's log; a file per
 * process keeps them apart. The file is opened for appending and written unbuffered, so a process killed with
 * SIGKILL loses at most the batch it was writing.
 */
public final class OtlpJsonLinesFileSpanExporterProvider implements ConfigurableSpanExporterProvider {
  public static final String NAME = "otlp-jsonl-file";
  public static final String FILE_PROPERTY = "deferredspans.traces.file";

  @Override
  public String getName() {
    return NAME;
  }

  @Override
  public SpanExporter createExporter(ConfigProperties config) {
    String file = config.getString(FILE_PROPERTY);
    if (file == null || file.isBlank()) {
      throw new ConfigurationException(
          "otel.traces.exporter includes " + NAME + " but no file is set: pass -D" + FILE_PROPERTY + "=PATH");
    }
    Path path = Path.of(file).toAbsolutePath();
    try {
      Files.createDirectories(path.getParent());
      return OtlpStdoutSpanExporter.builder().setOutput(new FileOutputStream(path.toFile(), true)).build();
    } catch (IOException e) {
      throw new ConfigurationException("cannot open " + path + " for the " + NAME + " span exporter", e);
    }
  }
}
