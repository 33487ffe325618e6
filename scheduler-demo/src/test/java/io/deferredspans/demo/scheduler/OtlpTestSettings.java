package io.deferredspans.demo.scheduler;

import io.deferredspans.testing.otlp.OtlpTestReceiver;
import java.util.HashMap;
import java.util.Map;

/** Settings for a demo process under test whose spans go over OTLP/HTTP to a test receiver, and nothing else. */
public final class OtlpTestSettings {
  private OtlpTestSettings() {}

  /** For {@code DemoTelemetry.start}: service instance {@code instance}, short batches, no metrics or logs. */
  public static Map<String, String> to(OtlpTestReceiver receiver, String instance) {
    Map<String, String> settings = new HashMap<>();
    settings.put("otel.service.name", "demo-under-test");
    settings.put("otel.resource.attributes", "service.instance.id=" + instance);
    settings.put("otel.traces.exporter", "otlp");
    settings.put("otel.exporter.otlp.traces.protocol", "http/protobuf");
    settings.put("otel.exporter.otlp.traces.endpoint", receiver.httpEndpoint());
    settings.put("otel.bsp.schedule.delay", "100");
    settings.put("otel.metrics.exporter", "none");
    settings.put("otel.logs.exporter", "none");
    return Map.copyOf(settings);
  }
}
