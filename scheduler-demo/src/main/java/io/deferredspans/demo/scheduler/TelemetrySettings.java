package io.deferredspans.demo.scheduler;

import io.deferredspans.demo.common.OtlpJsonLinesFileSpanExporterProvider;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The OpenTelemetry settings the launcher gives each process (itself included): the user's {@code otel.*}
 * settings, plus a service name and instance id per process, and the exporters: always the OTLP JSON lines file,
 * and OTLP too when an OTLP endpoint is configured. Autoconfigure reads them; nothing here parses exporter config.
 */
final class TelemetrySettings {
  private static final String[] OTLP_ENDPOINT_PROPERTIES = {
    "otel.exporter.otlp.endpoint", "otel.exporter.otlp.traces.endpoint"
  };
  private static final String[] OTLP_ENDPOINT_VARIABLES = {
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
  };

  private final Map<String, String> userSettings;
  private final Map<String, String> environment;
  private final Path tracesDir;

  /**
   * @param userSettings {@code otel.*} settings given to the launcher, forwarded to every process
   * @param environment the launcher's environment (children inherit it, {@code OTEL_*} variables included)
   */
  TelemetrySettings(Map<String, String> userSettings, Map<String, String> environment, Path tracesDir) {
    this.userSettings = Map.copyOf(userSettings);
    this.environment = environment;
    this.tracesDir = tracesDir;
  }

  Path traceFile(String instanceId) {
    return tracesDir.resolve(instanceId + ".jsonl");
  }

  boolean exportsOtlp() {
    for (String property : OTLP_ENDPOINT_PROPERTIES) {
      if (userSettings.containsKey(property)) {
        return true;
      }
    }
    for (String variable : OTLP_ENDPOINT_VARIABLES) {
      if (environment.containsKey(variable)) {
        return true;
      }
    }
    return false;
  }

  Map<String, String> forProcess(String serviceName, String instanceId) {
    Map<String, String> settings = new LinkedHashMap<>(userSettings);
    settings.put("otel.service.name", serviceName);
    String userResource = userSettings.get("otel.resource.attributes");
    settings.put("otel.resource.attributes",
        "service.instance.id=" + instanceId + (userResource == null ? "" : "," + userResource));
    settings.put("otel.traces.exporter", exporters());
    settings.put(OtlpJsonLinesFileSpanExporterProvider.FILE_PROPERTY, traceFile(instanceId).toAbsolutePath().toString());
    // The store's metrics go where the traces go when there is a collector; there is no metrics file.
    settings.putIfAbsent("otel.metrics.exporter", exportsOtlp() ? "otlp" : "none");
    settings.putIfAbsent("otel.logs.exporter", "none");
    // Short batches: spans show up in Jaeger (and in the file) within a fraction of a second.
    settings.putIfAbsent("otel.bsp.schedule.delay", "200");
    return settings;
  }

  private String exporters() {
    String configured = userSettings.get("otel.traces.exporter");
    String file = OtlpJsonLinesFileSpanExporterProvider.NAME;
    if (configured != null && !configured.isBlank() && !configured.equals("none")) {
      return configured.contains(file) ? configured : file + "," + configured;
    }
    return exportsOtlp() ? file + ",otlp" : file;
  }
}
