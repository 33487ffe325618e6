package io.deferredspans.demo.scheduler;

import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.autoconfigure.spi.ConfigProperties;
import io.opentelemetry.sdk.autoconfigure.spi.traces.ConfigurableSamplerProvider;
import io.opentelemetry.sdk.trace.data.LinkData;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import io.opentelemetry.sdk.trace.samplers.SamplingResult;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * What a sampler is shown when a span is created: its name, kind and the attributes set at creation. The SDK asks
 * it for ordinary spans, {@code DeferredSpanBuilder.begin()} for deferred ones, so the attributes it records are
 * those a span had at its start (for a deferred span: those in its stored record). Samples as the default sampler
 * does. Chosen with {@code otel.traces.sampler=}{@value #NAME}, which only tests in this JVM set.
 */
public final class CreationRecordingSampler implements ConfigurableSamplerProvider {
  static final String NAME = "test-creation-recording";

  /** One span's creation, as its sampler saw it. */
  record Creation(String name, SpanKind kind, Attributes attributes) {}

  private static final List<Creation> CREATIONS = new CopyOnWriteArrayList<>();

  static List<Creation> creations() {
    return List.copyOf(CREATIONS);
  }

  static void clear() {
    CREATIONS.clear();
  }

  @Override
  public String getName() {
    return NAME;
  }

  @Override
  public Sampler createSampler(ConfigProperties config) {
    Sampler delegate = Sampler.parentBased(Sampler.alwaysOn());
    return new Sampler() {
      @Override
      public SamplingResult shouldSample(Context parentContext, String traceId, String name, SpanKind spanKind,
          Attributes attributes, List<LinkData> parentLinks) {
        CREATIONS.add(new Creation(name, spanKind, attributes));
        return delegate.shouldSample(parentContext, traceId, name, spanKind, attributes, parentLinks);
      }

      @Override
      public String getDescription() {
        return "CreationRecordingSampler{" + delegate.getDescription() + "}";
      }
    };
  }
}
