package io.deferredspans.demo.common;

import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.sdk.autoconfigure.spi.ConfigProperties;
import io.opentelemetry.sdk.autoconfigure.spi.ConfigurationException;
import io.opentelemetry.sdk.autoconfigure.spi.traces.ConfigurableSpanExporterProvider;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.time.Duration;

/**
 * Span exporter {@value #NAME} for autoconfigure: OTLP/HTTP (protobuf) to the demo launcher's loopback receiver,
 * which writes each process's spans to {@code out/traces/<process>.jsonl} as OTLP JSON lines. {@link DemoTelemetry}
 * adds it to whatever exporters the user configured and sets {@value #ENDPOINT_PROPERTY}; nobody names it by hand.
 *
 * <p>An exporter known to autoconfigure rather than a span processor added on the side, so that deferred spans,
 * which are exported through the configured exporters only, reach the files too, and the span store's export
 * acknowledgements cover this exporter as well: "exported" then means "in the launcher's file".
 */
public final class TraceFilesSpanExporterProvider implements ConfigurableSpanExporterProvider {
  public static final String NAME = "demo-trace-files";
  /** The launcher receiver's OTLP/HTTP traces URL; the library's spelling, {@code deferred.spans.*}. */
  public static final String ENDPOINT_PROPERTY = "deferred.spans.demo.traces.endpoint";
  private static final Duration EXPORT_TIMEOUT = Duration.ofSeconds(30);

  @Override
  public String getName() {
    return NAME;
  }

  @Override
  public SpanExporter createExporter(ConfigProperties config) {
    String endpoint = config.getString(ENDPOINT_PROPERTY);
    if (endpoint == null || endpoint.isBlank()) {
      throw new ConfigurationException(
          "otel.traces.exporter includes " + NAME + " but " + ENDPOINT_PROPERTY + " is not set (DemoTelemetry sets it)");
    }
    // Built here, not from otel.exporter.otlp.*: those settings are the user's backend's, not the launcher's. The
    // launcher is on this machine, so a slow answer means a starved CPU, not a lost network: wait as long as the
    // batch processor does (otel.bsp.export.timeout, 30 s) rather than the exporter's 10 s. An export that timed
    // out after the launcher wrote it would leave deferred spans unacknowledged, to be exported, and written, twice.
    return OtlpHttpSpanExporter.builder().setEndpoint(endpoint).setTimeout(EXPORT_TIMEOUT).build();
  }
}
