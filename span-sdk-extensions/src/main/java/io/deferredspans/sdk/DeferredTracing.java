package io.deferredspans.sdk;

import io.deferredspans.sdk.internal.ExportListener;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.api.logs.Logger;
import io.opentelemetry.api.logs.Severity;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.common.Clock;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.common.InstrumentationScopeInfo;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.IdGenerator;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.SpanLimits;
import io.opentelemetry.sdk.trace.SpanProcessor;
import io.opentelemetry.sdk.trace.data.EventData;
import io.opentelemetry.sdk.trace.data.LinkData;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * Begins deferred spans on one host and ends them on any host, through that host's normal OpenTelemetry SDK
 * pipeline (its span processors, e.g. a {@code BatchSpanProcessor}, and their exporters).
 *
 * <p>An instance holds the pieces of an SDK that an {@link SdkTracerProvider} does not expose: its span
 * processor, resource, ID generator and clock. Get one in one of these ways:
 *
 * <ul>
 *   <li>{@link #builder()}: builds the {@code SdkTracerProvider} and the deferred tracing from one
 *       configuration;
 *   <li>{@link DeferredTracingAutoConfiguration}: captures what OpenTelemetry's autoconfigure set up from the
 *       {@code OTEL_*} variables, by itself through autoconfigure's SPI ({@link
 *       DeferredTracingAutoConfiguration#get}) or installed by hand;
 *   <li>{@link DeferredTracingAutoConfiguration#forJavaAgent()}: a pipeline of its own, from the same {@code
 *       OTEL_*} settings, for applications run with the OpenTelemetry Java agent;
 *   <li>{@link #noop()}: tracing disabled; begin returns a record that is never stored and end exports nothing.
 * </ul>
 *
 * <p>Thread-safe.
 */
public final class DeferredTracing {
  static final String INSTRUMENTATION_SCOPE = "io.deferredspans";
  /** Named and versioned after this artifact (the version is that of the jar, e.g. {@code 0.1.0}). */
  private static final InstrumentationScopeInfo SCOPE =
      InstrumentationScopeInfo.builder(INSTRUMENTATION_SCOPE).setVersion(artifactVersion()).build();

  private static final DeferredTracing NOOP =
      new DeferredTracing(
          false, null, SpanProcessor.composite(List.of()), Resource.empty(), Sampler.alwaysOff(),
          IdGenerator.random(), Clock.getDefault(), SpanLimits.getDefault(), "", new DeferredTracingOptions(), null);

  private final boolean enabled;
  private final SdkTracerProvider tracerProvider;
  private final SpanProcessor spanProcessor;
  private final Resource resource;
  private final Sampler sampler;
  private final IdGenerator idGenerator;
  private final Clock clock;
  private final SpanLimits spanLimits;
  private final String hostName;
  private final int maxAttributeBytes;
  private final AttributeFilter attributeFilter;
  private final UntrustedParentPolicy untrustedParentPolicy;
  private final ExportAcknowledgements acknowledgements;
  private final Logger startEvents; // null: start events are off

  DeferredTracing(
      boolean enabled,
      SdkTracerProvider tracerProvider,
      SpanProcessor spanProcessor,
      Resource resource,
      Sampler sampler,
      IdGenerator idGenerator,
      Clock clock,
      SpanLimits spanLimits,
      String hostName,
      DeferredTracingOptions options,
      ExportAcknowledgements acknowledgements) {
    this.enabled = enabled;
    this.tracerProvider = tracerProvider;
    this.spanProcessor = spanProcessor;
    this.resource = resource;
    this.sampler = sampler;
    this.idGenerator = idGenerator;
    this.clock = clock;
    this.spanLimits = spanLimits;
    this.hostName = hostName;
    this.maxAttributeBytes = options.maxAttributeBytes;
    this.attributeFilter = options.attributeFilter();
    this.untrustedParentPolicy = options.untrustedParentPolicy;
    this.acknowledgements = acknowledgements;
    this.startEvents = options.startEventLoggerProvider == null ? null
        : options.startEventLoggerProvider.loggerBuilder(INSTRUMENTATION_SCOPE)
            .setInstrumentationVersion(SCOPE.getVersion()).build();
  }

  /**
   * Says, as an OpenTelemetry log event, that the span of {@code record} has begun, if start events are on
   * ({@link DeferredTracingBuilder#setStartEventLoggerProvider}): event name {@value #START_EVENT_NAME}, the
   * span's trace and span IDs as its context, its start time as timestamp, and its name, began-by and owner as
   * attributes. A backend that correlates logs with traces can then show an item as started long before its
   * span ends. Call it only once the record is persisted ({@code DeferredSpanStore.beginDeferredSpan} does; a
   * caller committing {@code beginOps} in its own transaction calls it after the commit), so no event speaks of
   * a span that was never stored. Unsampled records emit nothing.
   */
  public void announceBegun(DeferredSpanRecord record) {
    if (startEvents == null || !record.isValid() || !record.getSpanContext().isSampled()) {
      return;
    }
    AttributesBuilder attributes = Attributes.builder()
        .put(DeferredSpanAttributes.NAME, record.getName())
        .put(DeferredSpanAttributes.BEGAN_BY, record.getBeganBy());
    record.getOwner().ifPresent(owner -> attributes.put(DeferredSpanAttributes.OWNER, owner));
    startEvents.logRecordBuilder()
        .setEventName(START_EVENT_NAME)
        .setContext(Context.root().with(Span.wrap(record.getSpanContext())))
        .setTimestamp(record.getStartEpochNanos(), TimeUnit.NANOSECONDS)
        .setSeverity(Severity.INFO)
        .setBody(record.getName() + " began")
        .setAllAttributes(attributes.build())
        .emit();
  }

  /**
   * The version Maven wrote into {@code deferred-spans-version.properties} when it built this artifact; a
   * resource rather than the manifest's {@code Implementation-Version}, which classes run from a directory (tests,
   * IDEs) do not have. {@code null} (a scope without version) only if the resource is missing.
   */
  static String artifactVersion() {
    try (InputStream in = DeferredTracing.class.getResourceAsStream("deferred-spans-version.properties")) {
      if (in == null) {
        return DeferredTracing.class.getPackage().getImplementationVersion();
      }
      Properties properties = new Properties();
      properties.load(in);
      return properties.getProperty("version");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read this artifact's version", e);
    }
  }

  /** The event name of {@link #announceBegun} events. */
  public static final String START_EVENT_NAME = "deferred_span.start";

  /** Tracing disabled: nothing is stored, nothing is exported, nothing costs. */
  public static DeferredTracing noop() {
    return NOOP;
  }

  /** A builder that creates the {@code SdkTracerProvider} and the deferred tracing from one configuration. */
  public static DeferredTracingBuilder builder() {
    return new DeferredTracingBuilder();
  }

  /** Starts describing a deferred span to begin; {@link DeferredSpanBuilder#begin()} draws its IDs. */
  public DeferredSpanBuilder spanBuilder(String name) {
    return new DeferredSpanBuilder(this, name);
  }

  /** False for {@link #noop()}: callers can skip span work entirely. */
  public boolean isEnabled() {
    return enabled;
  }

  /** The tracer provider sharing this pipeline, for ordinary in-process spans; empty when built elsewhere. */
  public Optional<SdkTracerProvider> getTracerProvider() {
    return Optional.ofNullable(tracerProvider);
  }

  /** The name this host writes into the spans it begins and ends. */
  public String getHostName() {
    return hostName;
  }

  /** The clock used for start and end times. */
  public Clock getClock() {
    return clock;
  }

  /** The resource put on the spans this host exports. */
  public Resource getResource() {
    return resource;
  }

  /**
   * Whether an exporter reports back per span (the result of {@link #end} completes once the exporter accepted
   * it). When false, a span counts as exported once it has been handed to the span processors.
   */
  public boolean acknowledgesExports() {
    return acknowledgements != null;
  }

  /**
   * Ends a span whose record this application keeps itself (in a file, a message, a database row: anywhere but a
   * {@code DeferredSpanStore}), and exports it through this host's span processors, as if an ordinary span had just
   * ended here. The end time is this host's clock's (unless the ending gives one), the end's attributes are merged
   * over the begin's, and the span says which host began and which ended it.
   *
   * <p>Nothing here makes the end happen once: ending the same record twice exports the span twice. That is the
   * caller's to rule out, as it is the caller that keeps the record. A record in a {@code DeferredSpanStore} is
   * ended with {@code DeferredSpanStore.endDeferredSpan}, whose claim makes it end exactly once on any host.
   *
   * <p>A span processor that drops the span (a {@code BatchSpanProcessor} whose queue is full) tells nobody, and
   * then no exporter answers: the result never completes. Wait for it with a timeout ({@code
   * result.join(10, TimeUnit.SECONDS)}), as for {@link #forceFlush()}.
   *
   * @return completes successfully once every exporter acknowledged the span, or at once when there is nothing
   *     to export (tracing disabled, the span not sampled) or no exporter acknowledges per span ({@link
   *     #acknowledgesExports()}); fails if an exporter gave up on the batch holding it (after its own retries)
   * @throws DeferredSpanLimitException if the end's attributes and links exceed the configured size
   * @throws IllegalArgumentException if the record is {@linkplain DeferredSpanRecord#isValid() invalid} (begun
   *     while tracing was disabled), or no end time was given and this host's clock is outside the years 2000 to
   *     2099
   */
  public CompletableResultCode end(DeferredSpanRecord record, DeferredSpanEnding ending) {
    CompletableResultCode result = new CompletableResultCode();
    export(finish(record, ending), new ExportListener() {
      @Override
      public void onExported() {
        result.succeed();
      }

      @Override
      public void onExportFailed(ExportFailure failure) {
        result.fail();
      }
    });
    return result;
  }

  /**
   * Ends a begun span on this host: end time from this host's clock (unless the ending gives one), end
   * attributes merged over begin attributes, and this library's attributes. Nothing is exported yet.
   *
   * <p>If this host's clock puts the end before the stored start (clock skew between hosts), the end is moved to
   * the start and {@link DeferredSpanAttributes#CLOCK_SKEW_CLAMPED_NANOS} says by how much, rather than
   * exporting a negative duration.
   *
   * @throws DeferredSpanLimitException if the end's attributes and links exceed the configured size
   * @throws IllegalArgumentException if no end time was given and this host's clock is outside the years 2000 to
   *     2099
   */
  FinishedDeferredSpan finish(DeferredSpanRecord record, DeferredSpanEnding ending) {
    requireValid(record);
    AttributeFilter.Redactions redactions = new AttributeFilter.Redactions();
    SpanLimiting limiting = new SpanLimiting(spanLimits);
    Attributes endAttributes =
        limiting.endAttributes(attributeFilter.filter(ending.getAttributes(), redactions), record.getAttributes());
    List<LinkData> endLinks = attributeFilter.filterLinks(ending.getLinks(), redactions);
    List<EventData> events = limiting.events(attributeFilter.filterEvents(ending.getEvents(), redactions));
    checkSize(endAttributes, endLinks, "end", record.getName());
    long end = ending.getEndEpochNanos().orElseGet(
        () -> RecordConstraints.requireTimeInRange(clock.now(), "end time from this host's clock"));
    Attributes library = libraryAttributes(record.getBeganBy());
    boolean clamped = end < record.getStartEpochNanos();
    Attributes attributes;
    if (endAttributes.isEmpty() && !clamped && redactions.count() == 0) {
      // Nearly every end adds nothing of its own: then no builder, and no sort of what is sorted already.
      attributes = library;
    } else {
      var builder = endAttributes.toBuilder().putAll(library);
      if (clamped) {
        builder.put(DeferredSpanAttributes.CLOCK_SKEW_CLAMPED_NANOS, record.getStartEpochNanos() - end);
        end = record.getStartEpochNanos();
      }
      if (redactions.count() > 0) {
        Long atBegin = record.getAttributes().get(DeferredSpanAttributes.REDACTED_ATTRIBUTES);
        builder.put(DeferredSpanAttributes.REDACTED_ATTRIBUTES, (atBegin == null ? 0 : atBegin) + redactions.count());
      }
      attributes = builder.build();
    }
    return new FinishedDeferredSpan(record, end, attributes, events, ending.getStatus(), endLinks, hostName,
        limiting.droppedAttributes(), limiting.droppedEvents());
  }

  /**
   * Ends a span nobody ended (its owner vanished, or it outlived the maximum age): error status and {@link
   * DeferredSpanAttributes#ABANDONED}, so the trace shows the gap instead of a parent that never arrives.
   */
  FinishedDeferredSpan abandon(DeferredSpanRecord record, String reason) {
    DeferredSpanEnding ending =
        DeferredSpanEnding.builder()
            .setAllAttributes(
                Attributes.of(
                    DeferredSpanAttributes.ABANDONED, true, DeferredSpanAttributes.ABANDON_REASON, reason))
            .setStatus(StatusCode.ERROR, "abandoned: " + reason)
            .build();
    return finish(record, ending);
  }

  /**
   * Hands a finished span to this host's span processors, as if an ordinary span had just ended here. The
   * listener hears when every exporter acknowledged it (or at once, when there is nothing to export or no
   * acknowledging exporter), or why it will not reach them ({@link ExportListener#onExportFailed}); after a
   * failure, no exporter of this host sends the span any more.
   */
  void export(FinishedDeferredSpan span, ExportListener listener) {
    if (!enabled || !span.getRecord().isSampled()) {
      listener.onExported();
      return;
    }
    DeferredSpanData data = new DeferredSpanData(span, resource, SCOPE);
    // A listener that ignores the answers waits for none: such a span is never timed out, nor withdrawn.
    boolean acknowledged = acknowledgements != null && listener != ExportListener.ignoring();
    if (acknowledged) {
      acknowledgements.register(data, listener);
    }
    try {
      if (spanProcessor.isEndRequired()) {
        spanProcessor.onEnd(new DeferredReadableSpan(data));
      }
    } catch (RuntimeException e) {
      if (acknowledged) {
        acknowledgements.withdraw(data);
      } else {
        listener.onExportFailed(ExportFailure.NOT_SENT);
      }
      throw e;
    }
    if (!acknowledged) {
      listener.onExported();
    }
  }

  /**
   * Pushes what this host's span processors hold to their exporters now, deferred spans included; completes when
   * the exporters answered. Stores call it when they shut down, so the spans they handed over are acknowledged
   * (and their stored copies removed) while this host can still remove them.
   */
  public CompletableResultCode forceFlush() {
    return spanProcessor.forceFlush();
  }

  /** Exports a span without caring about acknowledgement, for callers that keep no durable copy. */
  void export(FinishedDeferredSpan span) {
    export(span, ExportListener.ignoring());
  }

  /** How many exported deferred spans still wait for an exporter's answer (for metrics and tests). */
  int pendingAcknowledgements() {
    return acknowledgements == null ? 0 : acknowledgements.pendingCount();
  }

  /**
   * Reports as failed every exported span that has waited longer than {@code maxAge} for an exporter's answer:
   * a processor dropped it (e.g. its queue was full) and no answer will come. Stores call this periodically so
   * such spans are retried rather than forgotten.
   *
   * @return how many were expired
   */
  int expireAcknowledgements(Duration maxAge) {
    return acknowledgements == null ? 0 : acknowledgements.expire(maxAge.toNanos());
  }

  AttributeFilter getAttributeFilter() {
    return attributeFilter;
  }

  UntrustedParentPolicy getUntrustedParentPolicy() {
    return untrustedParentPolicy;
  }

  Sampler getSampler() {
    return sampler;
  }

  IdGenerator getIdGenerator() {
    return idGenerator;
  }

  SpanLimits getSpanLimits() {
    return spanLimits;
  }

  /**
   * Rejects attributes and links that would make a stored record large, before anything is written. {@code phase}
   * and {@code spanName} name the span in the error ("end of QueueItem"), which is built only then.
   */
  void checkSize(Attributes attributes, List<LinkData> links, String phase, String spanName) {
    if (links.size() > spanLimits.getMaxNumberOfLinks()) {
      throw new DeferredSpanLimitException(
          phase + " of " + spanName + ": " + links.size() + " links exceed the limit of "
              + spanLimits.getMaxNumberOfLinks());
    }
    if (attributes.isEmpty() && links.isEmpty()) {
      return;
    }
    int size = RecordJsonWriter.encodedSize(attributes, links);
    if (size > maxAttributeBytes) {
      throw new DeferredSpanLimitException(
          phase + " of " + spanName + ": attributes and links take " + size + " bytes encoded, more than the "
              + "limit of " + maxAttributeBytes + " (DeferredTracingBuilder.setMaxAttributeBytes)");
    }
  }

  /**
   * Who began and who ended the span, as its attributes. A record may not say who began it (the field is optional
   * for other writers): then the span says nothing of it.
   */
  private Attributes libraryAttributes(String beganBy) {
    if (beganBy.isEmpty()) {
      return hostName.isEmpty() ? Attributes.empty() : Attributes.of(DeferredSpanAttributes.ENDED_BY, hostName);
    }
    return hostName.isEmpty()
        ? Attributes.of(DeferredSpanAttributes.BEGAN_BY, beganBy)
        : Attributes.of(DeferredSpanAttributes.BEGAN_BY, beganBy, DeferredSpanAttributes.ENDED_BY, hostName);
  }

  private static void requireValid(DeferredSpanRecord record) {
    if (!record.isValid()) {
      throw new IllegalArgumentException("a disabled (invalid) deferred span record cannot be ended");
    }
  }
}
