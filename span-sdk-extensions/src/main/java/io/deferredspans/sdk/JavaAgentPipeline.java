package io.deferredspans.sdk;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdkBuilder;
import io.opentelemetry.sdk.autoconfigure.spi.ConfigurationException;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.logging.Logger;

/** Builds {@link StandaloneDeferredTracing}; kept apart so nothing else loads autoconfigure's classes. */
final class JavaAgentPipeline {
  private static final Logger logger = Logger.getLogger(JavaAgentPipeline.class.getName());
  static final String AGENT_CONFIGURATION_FILE = "otel.javaagent.configuration-file";
  private static final AttributeKey<String> SERVICE_NAME = AttributeKey.stringKey("service.name");

  private JavaAgentPipeline() {}

  static StandaloneDeferredTracing build() {
    AutoConfiguredOpenTelemetrySdkBuilder builder =
        AutoConfiguredOpenTelemetrySdk.builder()
            // Lowest precedence, below environment and system properties: the agent ranks its file the same way.
            .addPropertiesSupplier(JavaAgentPipeline::agentDefaults)
            // Deferred spans are traces only; a second set of metrics or logs would double the agent's.
            .addPropertiesCustomizer(config -> Map.of("otel.metrics.exporter", "none", "otel.logs.exporter", "none"))
            .addResourceCustomizer(
                (resource, config) -> {
                  String service = resource.getAttribute(SERVICE_NAME);
                  if (service == null || service.startsWith("unknown_service")) {
                    logger.warning(
                        "Deferred spans are exported with service.name=" + service + "; the Java agent may have "
                            + "detected another name for this service's other spans. Set OTEL_SERVICE_NAME.");
                  }
                  return resource;
                })
            // Our own hook shuts down once, whether or not the application closed us first.
            .disableShutdownHook();
    DeferredTracingAutoConfiguration capture = DeferredTracingAutoConfiguration.install(builder);
    OpenTelemetrySdk sdk = builder.build().getOpenTelemetrySdk();
    return new StandaloneDeferredTracing(sdk, capture.build(sdk.getSdkTracerProvider()));
  }

  /**
   * The agent's defaults where they differ from autoconfigure's, then the agent's {@code
   * otel.javaagent.configuration-file} (a properties file) over them.
   */
  private static Map<String, String> agentDefaults() {
    Map<String, String> values = new HashMap<>();
    // The agent (2.x) sends OTLP over HTTP by default, autoconfigure over gRPC: same endpoint, same protocol.
    values.put("otel.exporter.otlp.protocol", "http/protobuf");
    String location = System.getProperty(AGENT_CONFIGURATION_FILE);
    if (location == null) {
      location = System.getenv(AGENT_CONFIGURATION_FILE.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_'));
    }
    if (location == null || location.isBlank()) {
      return values;
    }
    Properties properties = new Properties();
    try (Reader reader = Files.newBufferedReader(Path.of(location.trim()), StandardCharsets.UTF_8)) {
      properties.load(reader);
    } catch (IOException e) {
      throw new ConfigurationException("Cannot read the Java agent's configuration file " + location, e);
    }
    properties.stringPropertyNames().forEach(name -> values.put(name, properties.getProperty(name)));
    return values;
  }
}
