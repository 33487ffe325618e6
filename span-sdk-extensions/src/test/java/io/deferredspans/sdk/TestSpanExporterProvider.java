package io.deferredspans.sdk;

import io.opentelemetry.sdk.autoconfigure.spi.ConfigProperties;
import io.opentelemetry.sdk.autoconfigure.spi.traces.ConfigurableSpanExporterProvider;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Lets autoconfigure build an in-memory exporter ({@code otel.traces.exporter=deferred-spans-test}), so tests
 * see the exporter wrapped and the processor captured exactly as with a real OTLP exporter.
 */
public final class TestSpanExporterProvider implements ConfigurableSpanExporterProvider {
  static final String NAME = "deferred-spans-test";
  static final AtomicReference<InMemorySpanExporter> LAST_CREATED = new AtomicReference<>();

  @Override
  public SpanExporter createExporter(ConfigProperties config) {
    InMemorySpanExporter exporter = InMemorySpanExporter.create();
    LAST_CREATED.set(exporter);
    return exporter;
  }

  @Override
  public String getName() {
    return NAME;
  }
}
