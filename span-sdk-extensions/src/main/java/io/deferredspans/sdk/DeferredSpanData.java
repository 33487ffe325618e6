package io.deferredspans.sdk;

import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.sdk.common.InstrumentationLibraryInfo;
import io.opentelemetry.sdk.common.InstrumentationScopeInfo;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.data.EventData;
import io.opentelemetry.sdk.trace.data.LinkData;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.data.StatusData;
import java.util.List;

/**
 * A finished deferred span as the SDK's exporters see it: the stored IDs and start time from the beginning host,
 * the end from the ending host, and the exporting host's resource. Immutable, but for the acknowledgement it
 * carries through the pipeline.
 *
 * <p>Equality is identity on purpose: {@link ExportAcknowledgements} tracks instances through the processors.
 */
final class DeferredSpanData implements SpanData {
  private final FinishedDeferredSpan span;
  private final Resource resource;
  private final InstrumentationScopeInfo scope;
  // Set once, before the span is handed to the processors, when a listener waits for the exporters' answers.
  private volatile ExportAcknowledgements.Registration registration;

  DeferredSpanData(FinishedDeferredSpan span, Resource resource, InstrumentationScopeInfo scope) {
    this.span = span;
    this.resource = resource;
    this.scope = scope;
  }

  ExportAcknowledgements.Registration registration() {
    return registration;
  }

  void setRegistration(ExportAcknowledgements.Registration registration) {
    this.registration = registration;
  }

  @Override
  public String getName() {
    return span.getRecord().getName();
  }

  @Override
  public SpanKind getKind() {
    return span.getRecord().getKind();
  }

  @Override
  public SpanContext getSpanContext() {
    return span.getRecord().getSpanContext();
  }

  @Override
  public SpanContext getParentSpanContext() {
    return span.getRecord().getParentSpanContext();
  }

  @Override
  public StatusData getStatus() {
    return span.getStatus();
  }

  @Override
  public long getStartEpochNanos() {
    return span.getRecord().getStartEpochNanos();
  }

  @Override
  public Attributes getAttributes() {
    return span.getAttributes();
  }

  @Override
  public List<EventData> getEvents() {
    return span.getEvents();
  }

  @Override
  public List<LinkData> getLinks() {
    return span.getLinks();
  }

  @Override
  public long getEndEpochNanos() {
    return span.getEndEpochNanos();
  }

  @Override
  public boolean hasEnded() {
    return true;
  }

  @Override
  public int getTotalRecordedEvents() {
    return span.getEvents().size() + span.getDroppedEvents();
  }

  @Override
  public int getTotalRecordedLinks() {
    return span.getLinks().size();
  }

  @Override
  public int getTotalAttributeCount() {
    return span.getAttributes().size() + span.getDroppedAttributes();
  }

  @Override
  @Deprecated
  public InstrumentationLibraryInfo getInstrumentationLibraryInfo() {
    return InstrumentationLibraryInfo.create(scope.getName(), scope.getVersion(), scope.getSchemaUrl());
  }

  @Override
  public InstrumentationScopeInfo getInstrumentationScopeInfo() {
    return scope;
  }

  @Override
  public Resource getResource() {
    return resource;
  }

  FinishedDeferredSpan getFinishedSpan() {
    return span;
  }

  @Override
  public String toString() {
    return "DeferredSpanData{" + span + "}";
  }
}
