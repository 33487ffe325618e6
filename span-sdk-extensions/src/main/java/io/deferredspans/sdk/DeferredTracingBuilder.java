package io.deferredspans.sdk;

import io.opentelemetry.api.logs.LoggerProvider;
import io.opentelemetry.sdk.common.Clock;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.IdGenerator;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.SdkTracerProviderBuilder;
import io.opentelemetry.sdk.trace.SpanLimits;
import io.opentelemetry.sdk.trace.SpanProcessor;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

/**
 * Builds an {@link SdkTracerProvider} and the {@link DeferredTracing} that shares its pipeline, from one
 * configuration. Mirrors {@code SdkTracerProviderBuilder}; defaults are the SDK's.
 */
public final class DeferredTracingBuilder {
  /** Default limit for a span's stored attributes and links, encoded: far below ZooKeeper's 1 MiB znodes. */
  public static final int DEFAULT_MAX_ATTRIBUTE_BYTES = 4 * 1024;

  private Resource resource = Resource.getDefault();
  private Sampler sampler = Sampler.parentBased(Sampler.alwaysOn());
  private IdGenerator idGenerator = IdGenerator.random();
  private Clock clock = Clock.getDefault();
  private SpanLimits spanLimits = SpanLimits.getDefault();
  private final List<SpanProcessor> processors = new ArrayList<>();
  private final ExportAcknowledgements acknowledgements = new ExportAcknowledgements();
  private boolean acknowledging;
  private final DeferredTracingOptions options = new DeferredTracingOptions();

  DeferredTracingBuilder() {}

  public DeferredTracingBuilder setResource(Resource resource) {
    this.resource = resource;
    return this;
  }

  public DeferredTracingBuilder setSampler(Sampler sampler) {
    this.sampler = sampler;
    return this;
  }

  public DeferredTracingBuilder setIdGenerator(IdGenerator idGenerator) {
    this.idGenerator = idGenerator;
    return this;
  }

  public DeferredTracingBuilder setClock(Clock clock) {
    this.clock = clock;
    return this;
  }

  public DeferredTracingBuilder setSpanLimits(SpanLimits spanLimits) {
    this.spanLimits = spanLimits;
    return this;
  }

  /**
   * Exports through {@code exporter} in a {@link BatchSpanProcessor} with default settings, reporting back per
   * deferred span so stores can keep it durably until the exporter has it.
   */
  public DeferredTracingBuilder addSpanExporter(SpanExporter exporter) {
    return addSpanExporter(exporter, wrapped -> BatchSpanProcessor.builder(wrapped).build());
  }

  /**
   * Exports through {@code exporter} in the processor {@code processorFactory} makes around it (for custom batch
   * settings); the exporter handed to the factory reports back per deferred span.
   */
  public DeferredTracingBuilder addSpanExporter(
      SpanExporter exporter, Function<SpanExporter, SpanProcessor> processorFactory) {
    processors.add(processorFactory.apply(new AcknowledgingSpanExporter(exporter, acknowledgements)));
    acknowledging = true;
    return this;
  }

  /** Adds a processor that sees every span, deferred ones included, with no per-span acknowledgement. */
  public DeferredTracingBuilder addSpanProcessor(SpanProcessor processor) {
    processors.add(processor);
    return this;
  }

  /**
   * Turns start events on: every begun span is announced as an OpenTelemetry log event through {@code
   * loggerProvider} (usually the SDK's own, {@code sdk.getSdkLoggerProvider()}), so that backends correlating
   * logs with traces show it as started while it is open. See {@link DeferredTracing#announceBegun}. Off by
   * default.
   */
  public DeferredTracingBuilder setStartEventLoggerProvider(LoggerProvider loggerProvider) {
    options.startEventLoggerProvider = Objects.requireNonNull(loggerProvider, "loggerProvider");
    return this;
  }

  /**
   * The name written into the spans this host begins and ends. Defaults to the resource's {@code
   * service.instance.id}, else {@code host.name}, else {@code pid@hostname}.
   */
  public DeferredTracingBuilder setHostName(String hostName) {
    options.hostName = hostName;
    return this;
  }

  /** Upper bound on one span's stored attributes and links, encoded; larger ones are rejected with a clear error. */
  public DeferredTracingBuilder setMaxAttributeBytes(int maxAttributeBytes) {
    options.setMaxAttributeBytes(maxAttributeBytes);
    return this;
  }

  /**
   * Attribute keys (Java regular expressions, matched against the whole key) that are dropped from begin and
   * end attributes, link and event attributes before anything is stored or exported. Replaces the default, which
   * denies keys containing password, secret, token, api key, authorization, credential, private key or cookie,
   * and {@code exception.stacktrace}. An empty list allows everything.
   */
  public DeferredTracingBuilder setDeniedAttributeKeys(List<String> patterns) {
    options.setDeniedAttributeKeys(patterns);
    return this;
  }

  /** What {@link DeferredSpanBuilder#setUntrustedParent} does with outside contexts. Default {@code LINK}. */
  public DeferredTracingBuilder setUntrustedParentPolicy(UntrustedParentPolicy policy) {
    options.setUntrustedParentPolicy(policy);
    return this;
  }

  public DeferredTracing build() {
    SpanProcessor processor = SpanProcessor.composite(processors);
    SdkTracerProviderBuilder provider =
        SdkTracerProvider.builder()
            .setResource(resource)
            .setSampler(sampler)
            .setIdGenerator(idGenerator)
            .setClock(clock)
            .setSpanLimits(spanLimits)
            .addSpanProcessor(processor);
    return new DeferredTracing(
        true,
        provider.build(),
        processor,
        resource,
        sampler,
        idGenerator,
        clock,
        spanLimits,
        options.hostName != null ? options.hostName : HostNames.defaultHostName(resource),
        options,
        acknowledging ? acknowledgements : null);
  }
}
