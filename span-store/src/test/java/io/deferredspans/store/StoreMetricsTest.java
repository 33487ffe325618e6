package io.deferredspans.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.exporter.otlp.http.metrics.OtlpHttpMetricExporter;
import io.opentelemetry.proto.metrics.v1.HistogramDataPoint;
import io.opentelemetry.proto.metrics.v1.Metric;
import io.opentelemetry.proto.metrics.v1.NumberDataPoint;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.data.HistogramPointData;
import io.opentelemetry.sdk.metrics.data.LongPointData;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.metrics.export.PeriodicMetricReader;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;

/** The store's and the recovery leader's instruments: through the SDK's in-memory reader, and on the OTLP wire. */
class StoreMetricsTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  private static DeferredSpanRecord enqueue(TestHost host, String key, String name, Instant start)
      throws Exception {
    String item = HostProcessMain.ITEMS + "/" + key;
    DeferredSpanRecord record = host.tracing.spanBuilder(name).setNoParent().setOwner(item)
        .setStartTimestamp(start).begin();
    host.store.beginDeferredSpan(key, record, host.client.transactionOp().create().forPath(item));
    return record;
  }

  private static MetricData metric(Collection<MetricData> metrics, String name) {
    return metrics.stream().filter(m -> m.getName().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no metric " + name + " in " + metrics.stream()
            .map(MetricData::getName).toList()));
  }

  private static Map<Attributes, Long> longPoints(MetricData metric) {
    Collection<LongPointData> points = metric.getType() == io.opentelemetry.sdk.metrics.data.MetricDataType.LONG_SUM
        ? metric.getLongSumData().getPoints() : metric.getLongGaugeData().getPoints();
    return points.stream().collect(Collectors.toMap(LongPointData::getAttributes, LongPointData::getValue));
  }

  private static void assertUpDownCounter(MetricData metric, String unit) {
    assertEquals(io.opentelemetry.sdk.metrics.data.MetricDataType.LONG_SUM, metric.getType(), metric.getName());
    assertThat(metric.getLongSumData().isMonotonic()).as("%s is monotonic", metric.getName()).isFalse();
    assertEquals(unit, metric.getUnit(), metric.getName());
  }

  @Test
  void theRealOtlpExporterCarriesThemOnTheWire() throws Exception {
    try (TestingServer zookeeper = new TestingServer(true);
        OtlpTestReceiver receiver = OtlpTestReceiver.start();
        SdkMeterProvider meters = SdkMeterProvider.builder()
            .registerMetricReader(PeriodicMetricReader.builder(OtlpHttpMetricExporter.builder()
                .setEndpoint(receiver.httpMetricsEndpoint()).build()).setInterval(Duration.ofHours(1)).build())
            .build();
        TestHost host = TestHost.start("host", zookeeper.getConnectString(), "/ds",
            TestHost.httpExporter(receiver.httpEndpoint()), options -> options.meterProvider(meters))) {
      host.client.createContainers(HostProcessMain.ITEMS);
      enqueue(host, "a", "QueueItem", Instant.now());
      host.store.endDeferredSpan("a", DeferredSpanEnding.now(),
          host.client.transactionOp().delete().forPath(HostProcessMain.ITEMS + "/a"));
      meters.forceFlush().join(10, TimeUnit.SECONDS);

      Metric ends = receiver.awaitMetric("deferred_span.ends", WAIT);
      assertThat(receiver.metricRequests()).flatMap(r -> r.getResourceMetricsList().stream()
              .flatMap(rm -> rm.getScopeMetricsList().stream()).toList())
          .filteredOn(scope -> scope.getMetricsList().contains(ends)).first()
          .satisfies(scope -> {
            assertEquals(StoreMetrics.SCOPE, scope.getScope().getName());
            assertEquals(System.getProperty("deferredspans.test.project.version"), scope.getScope().getVersion(),
                "the meter scope carries the artifact's version on the wire");
          });
      assertEquals("{span}", ends.getUnit());
      assertThat(ends.getSum().getIsMonotonic()).isTrue();
      NumberDataPoint point = ends.getSum().getDataPoints(0);
      assertEquals(1, point.getAsInt());
      assertEquals("deferred_span.end.outcome", point.getAttributes(0).getKey());
      assertEquals("ended", point.getAttributes(0).getValue().getStringValue());
      Metric duration = receiver.awaitMetric("deferred_span.operation.duration", WAIT);
      assertEquals(2, duration.getHistogram().getDataPointsList().stream().mapToLong(HistogramDataPoint::getCount).sum());
      // The operation's property is named, as in db.operation.name and messaging.operation.name.
      assertThat(duration.getHistogram().getDataPointsList()).allSatisfy(p ->
          assertEquals("deferred_span.operation.name", p.getAttributes(0).getKey()));
    }
  }

  @Test
  void beginsEndsByOutcomeDurationsRecoveryAndLeaderGauges() throws Exception {
    InMemoryMetricReader reader = InMemoryMetricReader.create();
    try (SdkMeterProvider meters = SdkMeterProvider.builder().registerMetricReader(reader).build();
        TestingServer zookeeper = new TestingServer(true);
        OtlpTestReceiver receiver = OtlpTestReceiver.start();
        TestHost host = TestHost.start("host", zookeeper.getConnectString(), "/ds",
            TestHost.httpExporter(receiver.httpEndpoint()), options -> options.meterProvider(meters))) {
      host.client.createContainers(HostProcessMain.ITEMS);
      Instant hourAgo = Instant.now().minus(Duration.ofHours(1));
      enqueue(host, "a", "QueueItem", Instant.now());
      enqueue(host, "b", "QueueItem", Instant.now());
      enqueue(host, "c", "QueueItem", hourAgo);
      enqueue(host, "d", "Build", Instant.now());
      enqueue(host, "orphan", "Build", Instant.now());
      host.client.delete().forPath(HostProcessMain.ITEMS + "/orphan");
      assertEquals(EndResult.Outcome.ENDED, host.store.endDeferredSpan("a", DeferredSpanEnding.now(),
          host.client.transactionOp().delete().forPath(HostProcessMain.ITEMS + "/a")).getOutcome());
      assertEquals(EndResult.Outcome.NO_RECORD,
          host.store.endDeferredSpan("never-begun", DeferredSpanEnding.now()).getOutcome());
      receiver.awaitSpans(1, WAIT);
      await().atMost(WAIT).until(() -> host.storedFinishedSpans() == 0);

      try (DeferredSpanRecovery recovery = DeferredSpanRecovery.builder(host.store)
          .gracePeriod(Duration.ZERO).build()) {
        recovery.start();
        await().atMost(WAIT).until(recovery::hasLeadership);
        recovery.scanNow();
        assertEquals(1, recovery.scanNow().abandoned());

        Collection<MetricData> metrics = reader.collectAllMetrics();
        assertThat(metrics).allSatisfy(m -> {
          assertEquals(StoreMetrics.SCOPE, m.getInstrumentationScopeInfo().getName());
          assertThat(m.getInstrumentationScopeInfo().getVersion()).as("scope version of %s", m.getName())
              .isNotNull().isEqualTo(System.getProperty("deferredspans.test.project.version"));
        });
        MetricData begins = metric(metrics, "deferred_span.begins");
        assertEquals("{span}", begins.getUnit());
        assertEquals(Map.of(Attributes.empty(), 5L), longPoints(begins));
        assertEquals(Map.of(Attributes.of(StoreMetrics.OUTCOME, "ended"), 1L,
            Attributes.of(StoreMetrics.OUTCOME, "no_record"), 1L), longPoints(metric(metrics, "deferred_span.ends")));
        MetricData duration = metric(metrics, "deferred_span.operation.duration");
        assertEquals("s", duration.getUnit());
        Map<Attributes, Long> counts = duration.getHistogramData().getPoints().stream()
            .collect(Collectors.toMap(HistogramPointData::getAttributes, HistogramPointData::getCount));
        assertEquals(Map.of(Attributes.of(StoreMetrics.OPERATION, "begin"), 5L,
            Attributes.of(StoreMetrics.OPERATION, "end"), 2L), counts);
        assertEquals(Map.of(Attributes.of(StoreMetrics.REASON, "owner_deleted"), 1L),
            longPoints(metric(metrics, "deferred_span.abandoned")));
        // Counts of things that add up across attributes and hosts are UpDownCounters, not gauges; their names are
        // not pluralised (semantic conventions, naming: "Do not pluralize UpDownCounter names").
        MetricData open = metric(metrics, "deferred_span.open");
        assertUpDownCounter(open, "{span}");
        assertEquals(Map.of(Attributes.of(StoreMetrics.SPAN_NAME, "QueueItem"), 2L,
            Attributes.of(StoreMetrics.SPAN_NAME, "Build"), 1L), longPoints(open));
        assertUpDownCounter(metric(metrics, "deferred_span.export.waiting"), "{span}");
        assertUpDownCounter(metric(metrics, "deferred_span.removal.pending"), "{span}");
        assertThat(metrics.stream().map(MetricData::getName)).doesNotContain("deferred_span.removals.pending");
        double oldest = metric(metrics, "deferred_span.open.oldest_age").getDoubleGaugeData().getPoints()
            .iterator().next().getValue();
        assertThat(oldest).as("the span begun an hour ago").isBetween(3_500.0, 3_700.0);
        assertEquals(Map.of(Attributes.empty(), 0L), longPoints(metric(metrics, "deferred_span.export.waiting")));
        assertThat(metrics.stream().map(MetricData::getName)).allMatch(n -> !n.endsWith("_total"));
      }
      // A worker that is not started (or no longer leads) reports no gauges.
      assertThat(reader.collectAllMetrics().stream().map(MetricData::getName)).doesNotContain("deferred_span.open");
    }
  }
}
