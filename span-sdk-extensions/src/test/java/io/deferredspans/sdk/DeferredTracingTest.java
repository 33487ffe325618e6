package io.deferredspans.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import io.deferredspans.sdk.internal.ExportFence;
import io.deferredspans.sdk.internal.ExportListener;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Scope;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.testing.time.TestClock;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.SpanLimits;
import io.opentelemetry.sdk.trace.SpanProcessor;
import io.opentelemetry.sdk.trace.data.LinkData;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Hosts A, B and C are separate {@link DeferredTracing} instances with their own resource, clock and exporter;
 * records move between them only as encoded bytes, as they would through ZooKeeper.
 */
class DeferredTracingTest {
  private static final Instant T0 = Instant.parse("2025-01-01T00:00:00Z");
  private static final AttributeKey<String> SERVICE_NAME = AttributeKey.stringKey("service.name");
  private static final AttributeKey<String> SERVICE_INSTANCE_ID = AttributeKey.stringKey("service.instance.id");
  private static final String ZNODE = "/deferred-spans/item-0000000007";

  private final List<SdkTracerProvider> providers = new ArrayList<>();

  @AfterEach
  void shutDownHosts() {
    providers.forEach(SdkTracerProvider::shutdown);
  }

  // ---- the owner is an absolute znode path (docs/record-format.md section 3)

  @ParameterizedTest
  @ValueSource(strings = {"", "queue/item-1", "/queue/", "/queue//item-1", "/queue/./item-1", "/queue/../item-1",
      "/queue/\u0001", "/queue/\uD83D\uDE80"})
  void anOwnerThatIsNotAnAbsoluteZnodePathIsRefusedWhereItIsSet(String owner) {
    DeferredSpanBuilder builder = host("host-a").tracing.spanBuilder("QueueItem");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> builder.setOwner(owner));
    assertTrue(e.getMessage().startsWith("deferred span owner "), e.getMessage());
    assertEquals(Optional.of("/queue/item-1"), builder.setOwner("/queue/item-1").begin().getOwner());
  }

  // ---- begin on one host, end on another

  /** The version Maven built this module as: surefire passes it, since tests run without a jar manifest. */
  static String projectVersion() {
    String version = System.getProperty("deferredspans.test.project.version");
    assertNotNull(version, "run by Maven's surefire, which sets deferredspans.test.project.version");
    return version;
  }

  @Test
  void instrumentationScopeVersionIsTheArtifactVersion() {
    Host a = host("host-a");
    a.tracing.export(a.tracing.finish(viaStore(a.tracing.spanBuilder("QueueItem").begin()), DeferredSpanEnding.now()));

    assertEquals(projectVersion(), a.onlyExported().getInstrumentationScopeInfo().getVersion());
  }

  @Test
  void spanBegunOnOneHostIsExportedByAnotherWithBothHostsParts() {
    Host a = host("host-a");
    Host b = host("host-b");
    SpanContext parent = TraceParent.parse("00-" + TestRecords.TRACE_ID + "-" + TestRecords.PARENT_SPAN_ID + "-01");
    SpanContext event = TestRecords.linkedContext();

    DeferredSpanRecord begun =
        a.tracing.spanBuilder("QueueItem")
            .setParent(parent)
            .setSpanKind(SpanKind.CONSUMER)
            .addLink(event, Attributes.builder().put("cause", "enqueue").build())
            .setAttribute("queue", "merge")
            .setAttribute("priority", 1L)
            .setOwner("/queue/item-0000000007")
            .begin();
    b.clock.advance(Duration.ofSeconds(5));
    b.tracing.export(
        b.tracing.finish(
            viaStore(begun),
            DeferredSpanEnding.builder().setAttribute("priority", 2L).setAttribute("outcome", "merged").build()));

    SpanData span = b.onlyExported();
    assertEquals(begun.getSpanContext(), span.getSpanContext());
    assertEquals(TestRecords.TRACE_ID, span.getTraceId());
    assertEquals(TestRecords.PARENT_SPAN_ID, span.getParentSpanId());
    assertEquals("QueueItem", span.getName());
    assertEquals(SpanKind.CONSUMER, span.getKind());
    assertEquals(nanos(T0), span.getStartEpochNanos());
    assertEquals(nanos(T0.plusSeconds(5)), span.getEndEpochNanos());
    assertTrue(span.hasEnded());
    assertEquals(b.tracing.getResource(), span.getResource());
    assertEquals("io.deferredspans", span.getInstrumentationScopeInfo().getName());
    assertEquals(List.of(LinkData.create(event, Attributes.builder().put("cause", "enqueue").build())), span.getLinks());
    assertEquals(
        Attributes.builder()
            .put("queue", "merge")
            .put("priority", 2L) // the end's value wins
            .put("outcome", "merged")
            .put(DeferredSpanAttributes.BEGAN_BY, "host-a")
            .put(DeferredSpanAttributes.ENDED_BY, "host-b")
            .build(),
        span.getAttributes());
    assertEquals(StatusCode.UNSET, span.getStatus().getStatusCode());
    assertTrue(a.exporter.getFinishedSpanItems().isEmpty(), "the beginning host exports nothing");
  }

  @Test
  void spanEndedOnOneHostCanBeExportedByAThird() {
    Host a = host("host-a");
    Host b = host("host-b");
    Host c = host("host-c");

    FinishedDeferredSpan finished =
        b.tracing.finish(viaStore(a.tracing.spanBuilder("QueueItem").begin()), DeferredSpanEnding.now());
    c.tracing.export(viaStore(finished));

    SpanData span = c.onlyExported();
    assertEquals("host-a", span.getAttributes().get(DeferredSpanAttributes.BEGAN_BY));
    assertEquals("host-b", span.getAttributes().get(DeferredSpanAttributes.ENDED_BY));
    assertEquals("host-c", span.getResource().getAttribute(SERVICE_INSTANCE_ID));
    assertTrue(a.exporter.getFinishedSpanItems().isEmpty());
    assertTrue(b.exporter.getFinishedSpanItems().isEmpty());
  }

  @Test
  @SuppressWarnings("try") // the scope only makes the span current
  void parentIsTakenFromCurrentContextUnlessSetExplicitly() {
    Host a = host("host-a");
    Span current = a.tracer().spanBuilder("Enqueue").startSpan();

    DeferredSpanRecord child;
    DeferredSpanRecord root;
    try (Scope ignored = current.makeCurrent()) {
      child = a.tracing.spanBuilder("QueueItem").begin();
      root = a.tracing.spanBuilder("QueueItem").setNoParent().begin();
    } finally {
      current.end();
    }

    assertEquals(current.getSpanContext().getTraceId(), child.getSpanContext().getTraceId());
    assertEquals(current.getSpanContext().getSpanId(), child.getParentSpanId());
    assertFalse(root.getParentSpanContext().isValid());
    assertFalse(root.getSpanContext().getTraceId().equals(current.getSpanContext().getTraceId()));
  }

  @Test
  void explicitStartTimestampIsKept() {
    Host a = host("host-a");
    Instant enqueued = T0.minusSeconds(30);

    DeferredSpanRecord record = a.tracing.spanBuilder("QueueItem").setStartTimestamp(enqueued).begin();

    assertEquals(nanos(enqueued), record.getStartEpochNanos());
  }

  @Test
  void endingAddsEventsStatusAndEndLinks() {
    Host a = host("host-a");
    Host b = host("host-b");
    SpanContext followUp = TestRecords.linkedContext();

    b.tracing.export(
        b.tracing.finish(
            viaStore(a.tracing.spanBuilder("QueueItem").begin()),
            DeferredSpanEnding.builder()
                .addEvent("picked", nanos(T0) + 1, Attributes.builder().put("worker", "w-1").build())
                .setStatus(StatusCode.ERROR, "merge conflict")
                .addLink(followUp)
                .addLink(SpanContext.getInvalid()) // ignored, like the SDK's span builder does
                .build()));

    SpanData span = b.onlyExported();
    assertEquals(1, span.getEvents().size());
    assertEquals("picked", span.getEvents().get(0).getName());
    assertEquals(StatusCode.ERROR, span.getStatus().getStatusCode());
    assertEquals("merge conflict", span.getStatus().getDescription());
    assertEquals(List.of(LinkData.create(followUp)), span.getLinks());
  }

  // ---- clock skew

  @Test
  void endBeforeStartOnSkewedClockIsClampedAndRecorded() {
    Host a = host("host-a");
    Host b = host("host-b");
    b.clock.setTime(T0.minusMillis(250)); // B's clock runs behind A's

    b.tracing.export(b.tracing.finish(viaStore(a.tracing.spanBuilder("QueueItem").begin()), DeferredSpanEnding.now()));

    SpanData span = b.onlyExported();
    assertEquals(span.getStartEpochNanos(), span.getEndEpochNanos());
    assertEquals(
        TimeUnit.MILLISECONDS.toNanos(250),
        span.getAttributes().get(DeferredSpanAttributes.CLOCK_SKEW_CLAMPED_NANOS));
  }

  @Test
  void explicitEndTimestampBeforeStartIsClampedToo() {
    Host a = host("host-a");
    DeferredSpanRecord record = a.tracing.spanBuilder("QueueItem").begin();

    FinishedDeferredSpan finished =
        a.tracing.finish(record, DeferredSpanEnding.builder().setEndTimestamp(T0.minusNanos(7)).build());

    assertEquals(record.getStartEpochNanos(), finished.getEndEpochNanos());
    assertEquals(7L, finished.getAttributes().get(DeferredSpanAttributes.CLOCK_SKEW_CLAMPED_NANOS));
  }

  @Test
  void endAfterStartCarriesNoSkewAttribute() {
    Host a = host("host-a");
    DeferredSpanRecord record = a.tracing.spanBuilder("QueueItem").begin();

    FinishedDeferredSpan finished =
        a.tracing.finish(record, DeferredSpanEnding.builder().setEndTimestamp(T0.plusNanos(1)).build());

    assertEquals(record.getStartEpochNanos() + 1, finished.getEndEpochNanos());
    assertNull(finished.getAttributes().get(DeferredSpanAttributes.CLOCK_SKEW_CLAMPED_NANOS));
  }

  // ---- times and hosts a record may lack

  @Test
  void startTimeOutsideTheYears2000To2100IsRefusedWhenItIsSet() {
    Host a = host("host-a");
    DeferredSpanBuilder builder = a.tracing.spanBuilder("QueueItem");

    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> builder.setStartTimestamp(Instant.parse("2200-01-01T00:00:00Z")));
    assertTrue(e.getMessage().contains("2200-01-01T00:00:00Z") && e.getMessage().contains("2000"), e.getMessage());
    assertThrows(
        IllegalArgumentException.class, () -> builder.setStartTimestamp(Long.MAX_VALUE, TimeUnit.NANOSECONDS));
    // Seconds mistaken for nanoseconds land in 1970.
    assertThrows(IllegalArgumentException.class, () -> builder.setStartTimestamp(1_732_222_222L, TimeUnit.NANOSECONDS));
  }

  @Test
  void endTimeOutsideTheYears2000To2100IsRefusedWhenItIsSet() {
    DeferredSpanEnding.Builder ending = DeferredSpanEnding.builder();

    assertThrows(IllegalArgumentException.class, () -> ending.setEndTimestamp(Long.MAX_VALUE, TimeUnit.NANOSECONDS));
    assertThrows(IllegalArgumentException.class, () -> ending.setEndTimestamp(Instant.parse("2200-01-01T00:00:00Z")));
  }

  @Test
  void hostWhoseClockIsOutsideTheRangeCannotBeginOrEnd() {
    Host a = host("host-a");
    Host b = host("host-b");
    DeferredSpanRecord record = a.tracing.spanBuilder("QueueItem").begin();

    b.clock.setTime(Instant.parse("2200-01-01T00:00:00Z"));
    assertThrows(IllegalArgumentException.class, () -> b.tracing.finish(viaStore(record), DeferredSpanEnding.now()));
    a.clock.setTime(Instant.EPOCH);
    assertThrows(IllegalArgumentException.class, () -> a.tracing.spanBuilder("QueueItem").begin());
  }

  @Test
  void recordWithoutBeganByExportsNoEmptyBeganByAttribute() {
    // Another implementation may leave out the optional "b": the span says nothing rather than began_by="".
    Host b = host("host-b");
    DeferredSpanRecord record = viaStore(TestRecords.record().start(b.clock.now()).beganBy("").build());

    b.tracing.export(b.tracing.finish(record, DeferredSpanEnding.now()));

    SpanData span = b.onlyExported();
    assertFalse(span.getAttributes().asMap().containsKey(DeferredSpanAttributes.BEGAN_BY), span.getAttributes().toString());
    assertEquals("host-b", span.getAttributes().get(DeferredSpanAttributes.ENDED_BY));
  }

  // ---- sampling

  @Test
  void unsampledSpanIsNotExportedButStillReportedDone() {
    Host a = host("host-a", builder -> builder.setSampler(Sampler.alwaysOff()));
    Host b = host("host-b");
    RecordingListener listener = new RecordingListener();

    DeferredSpanRecord record = a.tracing.spanBuilder("QueueItem").begin();
    b.tracing.export(b.tracing.finish(viaStore(record), DeferredSpanEnding.now()), listener);

    assertTrue(record.isValid(), "an unsampled span is still stored, so children share its trace");
    assertFalse(record.isSampled());
    assertTrue(b.exporter.getFinishedSpanItems().isEmpty());
    assertEquals(1, listener.exported.get());
    assertEquals(0, listener.failed.get());
  }

  @Test
  void childOfUnsampledParentIsUnsampledUnderParentBasedSampler() {
    Host a = host("host-a", builder -> builder.setSampler(Sampler.alwaysOff()));
    Host b = host("host-b"); // default: parent-based, always on for roots
    DeferredSpanRecord unsampledParent = a.tracing.spanBuilder("Batch").begin();

    DeferredSpanRecord child = b.tracing.spanBuilder("QueueItem").setParent(viaStore(unsampledParent).getSpanContext()).begin();
    DeferredSpanRecord root = b.tracing.spanBuilder("QueueItem").setNoParent().begin();

    assertFalse(child.isSampled());
    assertEquals(unsampledParent.getSpanContext().getTraceId(), child.getSpanContext().getTraceId());
    assertTrue(root.isSampled());
  }

  // ---- disabled tracing

  @Test
  void noopTracingBeginsInvalidRecordsThatCannotBeStoredOrEnded() {
    DeferredTracing noop = DeferredTracing.noop();

    DeferredSpanRecord record = noop.spanBuilder("QueueItem").setAttribute("queue", "merge").begin();

    assertFalse(noop.isEnabled());
    assertFalse(record.isValid());
    assertFalse(noop.acknowledgesExports());
    assertTrue(noop.getTracerProvider().isEmpty());
    assertThrows(IllegalArgumentException.class, () -> DeferredSpanRecordCodec.encode(record));
    assertThrows(IllegalArgumentException.class, () -> noop.finish(record, DeferredSpanEnding.now()));
    assertThrows(IllegalArgumentException.class, record::traceparent);
  }

  @Test
  void noopTracingExportsNothingButReportsDone() {
    Host a = host("host-a");
    RecordingListener listener = new RecordingListener();

    DeferredTracing.noop().export(a.tracing.finish(a.tracing.spanBuilder("QueueItem").begin(), DeferredSpanEnding.now()), listener);

    assertEquals(1, listener.exported.get());
    assertTrue(a.exporter.getFinishedSpanItems().isEmpty());
  }

  // ---- remote children and traceparent

  @Test
  void ordinarySpanOnAnotherHostCanBeAChildOfTheDeferredSpan() {
    Host a = host("host-a");
    Host b = host("host-b");
    DeferredSpanRecord record = viaStore(a.tracing.spanBuilder("QueueItem").begin());

    b.tracer().spanBuilder("MergeJob").setParent(record.asParentContext()).startSpan().end();

    SpanData child = b.onlyExported();
    assertEquals(record.getSpanContext().getTraceId(), child.getTraceId());
    assertEquals(record.getSpanContext().getSpanId(), child.getParentSpanId());
    assertTrue(child.getParentSpanContext().isRemote());
  }

  @Test
  void traceparentParsesBackToTheRecordsContext() {
    Host a = host("host-a");
    DeferredSpanRecord record = a.tracing.spanBuilder("QueueItem").begin();

    assertEquals(record.getSpanContext(), TraceParent.parse(record.traceparent()));
  }

  // ---- links

  @Test
  void linkToTheCausingEventIsExported() {
    Host a = host("host-a");
    Span eventSpan = a.tracer().spanBuilder("ItemCreated").startSpan();
    eventSpan.end();

    DeferredSpanRecord record =
        a.tracing.spanBuilder("QueueItem").addLink(eventSpan.getSpanContext()).addLink(SpanContext.getInvalid()).begin();
    a.tracing.export(a.tracing.finish(viaStore(record), DeferredSpanEnding.now()));

    SpanData exported = a.exporter.getFinishedSpanItems().get(1);
    assertEquals("QueueItem", exported.getName());
    assertEquals(1, exported.getLinks().size());
    assertEquals(eventSpan.getSpanContext().getSpanId(), exported.getLinks().get(0).getSpanContext().getSpanId());
    assertEquals(eventSpan.getSpanContext().getTraceId(), exported.getLinks().get(0).getSpanContext().getTraceId());
  }

  // ---- size limits

  @Test
  void oversizedBeginAttributesAreRejectedBeforeAnythingIsStored() {
    Host a = host("host-a", builder -> builder.setMaxAttributeBytes(256));

    DeferredSpanBuilder builder = a.tracing.spanBuilder("QueueItem").setAttribute("payload", "x".repeat(1024));

    DeferredSpanLimitException e = assertThrows(DeferredSpanLimitException.class, builder::begin);
    assertTrue(e.getMessage().contains("QueueItem"), e.getMessage());
  }

  @Test
  void attributesWithinTheLimitAreAccepted() {
    Host a = host("host-a", builder -> builder.setMaxAttributeBytes(256));

    DeferredSpanRecord record = a.tracing.spanBuilder("QueueItem").setAttribute("payload", "x".repeat(200)).begin();

    assertTrue(record.isValid());
  }

  @Test
  void oversizedEndAttributesAreRejected() {
    Host a = host("host-a", builder -> builder.setMaxAttributeBytes(256));
    DeferredSpanRecord record = a.tracing.spanBuilder("QueueItem").begin();
    DeferredSpanEnding ending = DeferredSpanEnding.builder().setAttribute("result", "x".repeat(1024)).build();

    assertThrows(DeferredSpanLimitException.class, () -> a.tracing.finish(record, ending));
  }

  @Test
  void linksBeyondTheSpanLimitAreRejected() {
    Host a = host("host-a", builder -> builder.setSpanLimits(SpanLimits.builder().setMaxNumberOfLinks(1).build()));
    SpanContext link = TestRecords.linkedContext();

    DeferredSpanBuilder builder = a.tracing.spanBuilder("QueueItem").addLink(link).addLink(link);

    assertThrows(DeferredSpanLimitException.class, builder::begin);
  }

  @Test
  void maxAttributeBytesMustBePositiveAndBelowHalfAZnode() {
    assertThrows(IllegalArgumentException.class, () -> DeferredTracing.builder().setMaxAttributeBytes(0));
    assertThrows(IllegalArgumentException.class, () -> DeferredTracing.builder().setMaxAttributeBytes(512 * 1024 + 1));
  }

  // ---- export acknowledgements

  @Test
  void listenerHearsOfExportOnlyAfterTheExporterSucceeded() {
    ControlledExporter exporter = new ControlledExporter();
    DeferredTracing tracing = acknowledgingHost(exporter, SimpleSpanProcessor::create);
    RecordingListener listener = new RecordingListener();

    tracing.export(finishedOn(tracing), listener);

    assertTrue(tracing.acknowledgesExports());
    assertEquals(1, exporter.calls.size());
    assertEquals(1, tracing.pendingAcknowledgements(), "waits for the exporter's answer");
    assertEquals(0, listener.exported.get() + listener.failed.get(), "no answer before the exporter's");
    exporter.calls.get(0).succeed();
    assertEquals(0, tracing.pendingAcknowledgements());
    assertEquals(1, listener.exported.get());
    assertEquals(0, listener.failed.get());
  }

  @Test
  void listenerHearsOfFailureWhenTheExporterFails() {
    ControlledExporter exporter = new ControlledExporter();
    DeferredTracing tracing = acknowledgingHost(exporter, SimpleSpanProcessor::create);
    RecordingListener listener = new RecordingListener();

    tracing.export(finishedOn(tracing), listener);
    exporter.calls.get(0).fail();

    assertEquals(0, listener.exported.get());
    assertEquals(1, listener.failed.get());
  }

  @Test
  void listenerHearsOfFailureWhenTheExporterThrows() {
    ControlledExporter exporter = new ControlledExporter();
    exporter.failure = new IllegalStateException("exporter broken");
    DeferredTracing tracing = acknowledgingHost(exporter, SimpleSpanProcessor::create);
    RecordingListener listener = new RecordingListener();

    // SimpleSpanProcessor logs and swallows the exception, so only the listener can tell the store.
    tracing.export(finishedOn(tracing), listener);

    assertEquals(1, listener.failed.get());
    assertEquals(0, listener.exported.get());
    assertEquals(0, tracing.pendingAcknowledgements());
  }

  @Test
  void spansStillQueuedInAProcessorArePendingUntilExpiredThenWithdrawn() {
    ControlledExporter exporter = new ControlledExporter();
    // A batch processor that never exports on its own keeps the spans queued, as a stalled exporter would.
    DeferredTracing tracing =
        acknowledgingHost(
            exporter, e -> BatchSpanProcessor.builder(e).setScheduleDelay(Duration.ofHours(1)).build());
    RecordingListener first = new RecordingListener();
    RecordingListener second = new RecordingListener();

    tracing.export(finishedOn(tracing), first);
    tracing.export(finishedOn(tracing), second);

    assertEquals(2, tracing.pendingAcknowledgements());
    assertEquals(0, tracing.expireAcknowledgements(Duration.ofHours(1)), "too young to expire");
    assertEquals(2, tracing.expireAcknowledgements(Duration.ZERO));
    assertEquals(0, tracing.pendingAcknowledgements());
    assertEquals(1, first.failed.get());
    assertEquals(1, second.failed.get());

    // Only queued, not dropped: when the queue reaches the exporter at last, the spans are taken out of the
    // batch, since whoever the listeners handed them to exports them (issue 15, 2.13). An ordinary span in the
    // same batch still goes out.
    tracing.getTracerProvider().get().get("test").spanBuilder("ordinary").startSpan().end();
    tracing.getTracerProvider().get().forceFlush().join(10, TimeUnit.SECONDS);
    exporter.awaitCalls(1);
    assertEquals(List.of("ordinary"),
        exporter.calls.stream().flatMap(call -> call.spans.stream()).map(SpanData::getName).toList());
    exporter.calls.forEach(ControlledExporter.Call::succeed);
    assertEquals(0, first.exported.get() + second.exported.get());
    assertEquals(1, first.failed.get());
    assertEquals(1, second.failed.get());
  }

  @Test
  void exportInFlightIsNeverExpiredItsAnswerDecides() {
    ControlledExporter exporter = new ControlledExporter();
    DeferredTracing tracing = acknowledgingHost(exporter, SimpleSpanProcessor::create);
    RecordingListener listener = new RecordingListener();

    tracing.export(finishedOn(tracing), listener); // the exporter holds it, answering slowly

    assertEquals(0, tracing.expireAcknowledgements(Duration.ZERO), "an export under way does not time out");
    assertEquals(0, listener.failed.get());
    exporter.calls.get(0).succeed();
    assertEquals(1, listener.exported.get());
    assertEquals(0, listener.failed.get());
  }

  @Test
  void spanOneExporterNeverTookFailsOnceTheOtherAnswered() {
    ControlledExporter taking = new ControlledExporter();
    ControlledExporter stalled = new ControlledExporter();
    DeferredTracing tracing = track(DeferredTracing.builder().setResource(resource("host-a"))
        .addSpanExporter(taking, SimpleSpanProcessor::create)
        .addSpanExporter(stalled, e -> BatchSpanProcessor.builder(e).setScheduleDelay(Duration.ofHours(1)).build())
        .build());
    RecordingListener listener = new RecordingListener();
    tracing.export(finishedOn(tracing), listener);

    assertEquals(1, tracing.expireAcknowledgements(Duration.ZERO), "the stalled processor never handed it over");
    assertEquals(0, listener.failed.get(), "the export under way is waited for");
    taking.calls.get(0).succeed();
    assertEquals(1, listener.failed.get(), "then it fails, so recovery delivers it to the exporter that lacks it");
    assertEquals(0, listener.exported.get());
  }

  /**
   * What the listener hears says whether the backend may have the span: only a timeout means it may (a hung
   * collector keeps what it was sent), so only then must the span not be sent again at once (issue 15, 3).
   */
  @Test
  void failureSaysWhetherTheBackendMayHaveTheSpan() {
    ControlledExporter exporter = new ControlledExporter();
    DeferredTracing tracing = acknowledgingHost(exporter, SimpleSpanProcessor::create);
    List<Map.Entry<ExportFailure, Consumer<ControlledExporter.Call>>> answers = List.of(
        Map.entry(ExportFailure.TIMED_OUT, call -> call.fail(new InterruptedIOException("timeout"))), // OkHttp
        Map.entry(ExportFailure.TIMED_OUT, call -> call.fail(new IllegalStateException(new SocketTimeoutException()))),
        Map.entry(ExportFailure.TIMED_OUT, call -> call.fail(new HttpTimeoutException("request timed out"))), // JDK
        Map.entry(ExportFailure.REFUSED, call -> call.fail(new ConnectException("Connection refused"))),
        Map.entry(ExportFailure.REFUSED, ControlledExporter.Call::fail)); // an answer, e.g. HTTP 503
    for (Map.Entry<ExportFailure, Consumer<ControlledExporter.Call>> answer : answers) {
      RecordingListener listener = new RecordingListener();
      tracing.export(finishedOn(tracing), listener);
      answer.getValue().accept(exporter.calls.get(exporter.calls.size() - 1));
      assertEquals(answer.getKey(), listener.failure);
      assertEquals(1, listener.failed.get());
    }
  }

  @Test
  void failureWaitsForAnotherExporterStillSendingTheSpanAndReportsTheLikelierDelivery() {
    ControlledExporter refusing = new ControlledExporter();
    ControlledExporter slow = new ControlledExporter();
    DeferredTracing tracing = track(DeferredTracing.builder().setResource(resource("host-a"))
        .addSpanExporter(refusing, SimpleSpanProcessor::create)
        .addSpanExporter(slow, SimpleSpanProcessor::create)
        .build());
    RecordingListener listener = new RecordingListener();
    tracing.export(finishedOn(tracing), listener);

    refusing.calls.get(0).fail();
    assertEquals(0, listener.failed.get(), "the other exporter may still deliver it: not handed on yet");
    slow.calls.get(0).fail(new InterruptedIOException("timeout"));
    assertEquals(1, listener.failed.get());
    assertEquals(ExportFailure.TIMED_OUT, listener.failure, "one backend may have it");
  }

  @Test
  void fenceThatRefusesReportsNotSent() {
    ControlledExporter exporter = new ControlledExporter();
    DeferredTracing tracing = acknowledgingHost(exporter, SimpleSpanProcessor::create);
    RecordingListener fenced = new RecordingListener() {
      @Override
      public ExportFence fence() {
        return () -> false;
      }
    };
    tracing.export(finishedOn(tracing), fenced);
    assertEquals(ExportFailure.NOT_SENT, fenced.failure);
    assertEquals(List.of(), exporter.calls);
  }

  @Test
  void fenceThatRefusesDropsItsSpansFromTheBatch() throws InterruptedException {
    ControlledExporter exporter = new ControlledExporter();
    DeferredTracing tracing = acknowledgingHost(
        exporter, e -> BatchSpanProcessor.builder(e).setScheduleDelay(Duration.ofHours(1)).build());
    AtomicInteger asked = new AtomicInteger();
    ExportFence closed = () -> {
      asked.incrementAndGet();
      return false;
    };
    RecordingListener fenced = new RecordingListener() {
      @Override
      public ExportFence fence() {
        return closed;
      }
    };
    RecordingListener open = new RecordingListener();
    tracing.export(finishedOn(tracing), fenced);
    tracing.export(finishedOn(tracing), fenced);
    tracing.export(finishedOn(tracing), open);

    tracing.forceFlush();
    exporter.awaitCalls(1);
    assertEquals(1, exporter.calls.get(0).spans.size(), "only the unfenced span left the process");
    assertEquals(1, asked.get(), "asked once per batch, not per span");
    assertEquals(2, fenced.failed.get());
    exporter.calls.get(0).succeed();
    // The processor's thread may still be between the exporter's return and listening on its result.
    assertTrue(open.done.await(10, TimeUnit.SECONDS), "no acknowledgement");
    assertEquals(1, open.exported.get());
  }

  @Test
  void endAppliesTheSpanLimitsAndCountsWhatItDropped() {
    DeferredTracing tracing = track(DeferredTracing.builder().setResource(resource("host-a"))
        .setSpanLimits(SpanLimits.builder().setMaxNumberOfEvents(2).setMaxNumberOfAttributes(3)
            .setMaxAttributeValueLength(4).setMaxNumberOfAttributesPerEvent(1).build())
        .build());
    DeferredSpanRecord record = tracing.spanBuilder("QueueItem").setAttribute("begun", "at-begin").begin();
    DeferredSpanEnding ending = DeferredSpanEnding.builder()
        .setAttribute("begun", "overridden").setAttribute("a", "abcdefgh").setAttribute("b", 1).setAttribute("c", 2)
        .addEvent("e1", 1, Attributes.builder().put("x", "1").put("y", "2").build())
        .addEvent("e2", 2, Attributes.empty())
        .addEvent("e3", 3, Attributes.empty())
        .build();

    FinishedDeferredSpan finished = viaStore(tracing.finish(viaStore(record), ending));

    assertEquals(2, finished.getEvents().size());
    assertEquals(1, finished.getDroppedEvents());
    assertEquals(1, finished.getEvents().get(0).getAttributes().size());
    assertEquals(2, finished.getEvents().get(0).getTotalAttributeCount(), "per-event drops survive the store");
    assertEquals(1, finished.getDroppedAttributes(), "room for 3 with 'begun' taken: 'c' is dropped");
    assertEquals("abcd", finished.getAttributes().get(AttributeKey.stringKey("a")));
    assertEquals("over", finished.getAttributes().get(AttributeKey.stringKey("begun")));
  }

  @Test
  void defaultBatchProcessorExportsAndAcknowledgesOnFlush() throws InterruptedException {
    InMemorySpanExporter exporter = InMemorySpanExporter.create();
    DeferredTracing tracing = track(DeferredTracing.builder().setResource(resource("host-a")).addSpanExporter(exporter).build());
    RecordingListener listener = new RecordingListener();

    tracing.export(finishedOn(tracing), listener);
    tracing.getTracerProvider().get().forceFlush().join(10, TimeUnit.SECONDS);

    assertTrue(listener.done.await(10, TimeUnit.SECONDS), "no acknowledgement");
    assertEquals(1, listener.exported.get());
    assertEquals(1, exporter.getFinishedSpanItems().size());
    assertEquals(0, tracing.pendingAcknowledgements());
  }

  @Test
  void processorWithoutExporterCountsHandOverAsExported() {
    InMemorySpanExporter exporter = InMemorySpanExporter.create();
    DeferredTracing tracing =
        track(DeferredTracing.builder().setResource(resource("host-a")).addSpanProcessor(SimpleSpanProcessor.create(exporter)).build());
    RecordingListener listener = new RecordingListener();

    tracing.export(finishedOn(tracing), listener);

    assertFalse(tracing.acknowledgesExports());
    assertEquals(1, listener.exported.get());
    assertEquals(1, exporter.getFinishedSpanItems().size());
  }

  // ---- abandon

  @Test
  void abandonedSpanIsExportedAsErrorWithReason() {
    Host a = host("host-a");
    Host b = host("host-b");

    b.tracing.export(b.tracing.abandon(viaStore(a.tracing.spanBuilder("QueueItem").begin()), "owner_deleted"));

    SpanData span = b.onlyExported();
    assertEquals(StatusCode.ERROR, span.getStatus().getStatusCode());
    assertTrue(span.getStatus().getDescription().contains("owner_deleted"), span.getStatus().getDescription());
    assertEquals(true, span.getAttributes().get(DeferredSpanAttributes.ABANDONED));
    assertEquals("owner_deleted", span.getAttributes().get(DeferredSpanAttributes.ABANDON_REASON));
    assertEquals("host-b", span.getAttributes().get(DeferredSpanAttributes.ENDED_BY));
  }

  // ---- host names

  @Test
  void hostNameDefaultsToServiceInstanceIdThenHostName() {
    assertEquals("host-a", host("host-a").tracing.getHostName());
    assertEquals(
        "machine-1",
        track(DeferredTracing.builder().setResource(Resource.create(Attributes.of(AttributeKey.stringKey("host.name"), "machine-1"))).build())
            .getHostName());
    assertEquals("explicit", track(DeferredTracing.builder().setResource(resource("host-a")).setHostName("explicit").build()).getHostName());
  }

  // ---- helpers

  /** One simulated host: its deferred tracing, the exporter its pipeline ends in, and its own clock. */
  private static final class Host {
    final DeferredTracing tracing;
    final InMemorySpanExporter exporter;
    final TestClock clock;

    Host(DeferredTracing tracing, InMemorySpanExporter exporter, TestClock clock) {
      this.tracing = tracing;
      this.exporter = exporter;
      this.clock = clock;
    }

    Tracer tracer() {
      return tracing.getTracerProvider().get().get("test");
    }

    SpanData onlyExported() {
      List<SpanData> spans = exporter.getFinishedSpanItems();
      assertEquals(1, spans.size(), () -> "exported: " + spans);
      return spans.get(0);
    }
  }

  private Host host(String name) {
    return host(name, builder -> {});
  }

  private Host host(String name, Consumer<DeferredTracingBuilder> customizer) {
    InMemorySpanExporter exporter = InMemorySpanExporter.create();
    TestClock clock = TestClock.create(T0);
    DeferredTracingBuilder builder =
        DeferredTracing.builder()
            .setResource(resource(name))
            .setClock(clock)
            .addSpanExporter(exporter, e -> SimpleSpanProcessor.create(e));
    customizer.accept(builder);
    return new Host(track(builder.build()), exporter, clock);
  }

  private DeferredTracing acknowledgingHost(
      SpanExporter exporter, Function<SpanExporter, SpanProcessor> processor) {
    return track(DeferredTracing.builder().setResource(resource("host-a")).addSpanExporter(exporter, processor).build());
  }

  private DeferredTracing track(DeferredTracing tracing) {
    providers.add(tracing.getTracerProvider().get());
    return tracing;
  }

  private static Resource resource(String host) {
    return Resource.create(Attributes.of(SERVICE_NAME, "scheduler", SERVICE_INSTANCE_ID, host));
  }

  private static FinishedDeferredSpan finishedOn(DeferredTracing tracing) {
    return tracing.finish(tracing.spanBuilder("QueueItem").begin(), DeferredSpanEnding.now());
  }

  /** What another host reads back after this one stored the record. */
  private static DeferredSpanRecord viaStore(DeferredSpanRecord record) {
    return DeferredSpanRecordCodec.decodeRecord(DeferredSpanRecordCodec.encode(record), ZNODE);
  }

  private static FinishedDeferredSpan viaStore(FinishedDeferredSpan span) {
    return DeferredSpanRecordCodec.decodeFinished(DeferredSpanRecordCodec.encode(span), ZNODE);
  }

  private static long nanos(Instant instant) {
    return TimeUnit.SECONDS.toNanos(instant.getEpochSecond()) + instant.getNano();
  }

  /** Counts outcomes; {@code done} opens at the first one, for exports answered on another thread. */
  static class RecordingListener implements ExportListener {
    final AtomicInteger exported = new AtomicInteger();
    final AtomicInteger failed = new AtomicInteger();
    final CountDownLatch done = new CountDownLatch(1);
    volatile ExportFailure failure;

    @Override
    public void onExported() {
      exported.incrementAndGet();
      done.countDown();
    }

    @Override
    public void onExportFailed(ExportFailure failure) {
      this.failure = failure;
      failed.incrementAndGet();
      done.countDown();
    }
  }

  /** An exporter whose every export stays pending until the test succeeds or fails it. */
  static final class ControlledExporter implements SpanExporter {
    final List<Call> calls = new CopyOnWriteArrayList<>();
    private final CountDownLatch firstCall = new CountDownLatch(1);
    volatile RuntimeException failure;

    static final class Call {
      final List<SpanData> spans;
      final CompletableResultCode result = new CompletableResultCode();

      Call(Collection<SpanData> spans) {
        this.spans = List.copyOf(spans);
      }

      void succeed() {
        result.succeed();
      }

      void fail() {
        result.fail();
      }

      void fail(Throwable cause) {
        result.failExceptionally(cause);
      }
    }

    @Override
    public CompletableResultCode export(Collection<SpanData> spans) {
      if (failure != null) {
        throw failure;
      }
      Call call = new Call(spans);
      calls.add(call);
      firstCall.countDown();
      return call.result;
    }

    void awaitCalls(int count) {
      try {
        assertTrue(firstCall.await(10, TimeUnit.SECONDS), "exporter never called");
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
      assertTrue(calls.size() >= count);
    }

    @Override
    public CompletableResultCode flush() {
      return CompletableResultCode.ofSuccess();
    }

    @Override
    public CompletableResultCode shutdown() {
      calls.forEach(Call::succeed);
      return CompletableResultCode.ofSuccess();
    }
  }
}
