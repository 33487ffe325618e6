package io.deferredspans.sdk;

import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.trace.data.LinkData;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import io.opentelemetry.sdk.trace.samplers.SamplingResult;
import java.util.List;

/**
 * The configured sampler, unchanged in behaviour, carrying the capture that saw the pipeline being built. The
 * sampler is the one part an {@code SdkTracerProvider} hands back ({@code getSampler()}), so it is how {@link
 * DeferredTracingAutoConfiguration#get} finds, from an SDK, the capture that belongs to it.
 */
final class CapturingSampler implements Sampler {
  private final Sampler delegate;
  private final DeferredTracingAutoConfiguration capture;

  CapturingSampler(Sampler delegate, DeferredTracingAutoConfiguration capture) {
    this.delegate = delegate;
    this.capture = capture;
  }

  DeferredTracingAutoConfiguration capture() {
    return capture;
  }

  Sampler delegate() {
    return delegate;
  }

  @Override
  public SamplingResult shouldSample(
      Context parentContext,
      String traceId,
      String name,
      SpanKind spanKind,
      Attributes attributes,
      List<LinkData> parentLinks) {
    return delegate.shouldSample(parentContext, traceId, name, spanKind, attributes, parentLinks);
  }

  @Override
  public String getDescription() {
    return delegate.getDescription();
  }

  @Override
  public String toString() {
    return delegate.toString();
  }
}
