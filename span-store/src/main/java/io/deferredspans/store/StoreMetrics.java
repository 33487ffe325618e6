package io.deferredspans.store;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.LongCounter;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.api.metrics.MeterProvider;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntSupplier;

/**
 * The store's instruments on the host's own {@link MeterProvider}, named the OpenTelemetry way (dotted, no
 * {@code _total}, units set). Counts are recorded where they happen; {@link StoreStats} stays the in-process
 * snapshot of the same events.
 */
final class StoreMetrics {
  static final String SCOPE = "io.deferredspans.store";
  static final AttributeKey<String> OUTCOME = AttributeKey.stringKey("deferred_span.end.outcome");
  static final AttributeKey<String> OPERATION = AttributeKey.stringKey("deferred_span.operation");
  static final AttributeKey<String> REASON = AttributeKey.stringKey("deferred_span.abandon_reason");
  static final AttributeKey<String> SPAN_NAME = AttributeKey.stringKey("deferred_span.name");
  private static final Attributes BEGIN = Attributes.of(OPERATION, "begin");
  private static final Attributes END = Attributes.of(OPERATION, "end");
  // ZooKeeper calls take milliseconds; the SDK's default buckets start at 5 s-scale values for seconds.
  private static final List<Double> DURATION_BUCKETS =
      List.of(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0);

  private final Meter meter;
  private final LongCounter begins;
  private final LongCounter ends;
  private final DoubleHistogram duration;
  private final LongCounter recovered;
  private final LongCounter abandoned;
  private final LongCounter quarantined;
  private final LongCounter dropped;
  private final Map<EndResult.Outcome, Attributes> outcomes = new ConcurrentHashMap<>();

  StoreMetrics(MeterProvider meterProvider, IntSupplier unsettled) {
    this.meter = meterProvider.meterBuilder(SCOPE).build();
    this.begins = meter.counterBuilder("deferred_span.begins").setUnit("{span}")
        .setDescription("Deferred spans begun through this store").build();
    this.ends = meter.counterBuilder("deferred_span.ends").setUnit("{span}")
        .setDescription("Calls to end a deferred span, by outcome").build();
    this.duration = meter.histogramBuilder("deferred_span.operation.duration").setUnit("s")
        .setDescription("Time a begin or end call waited for ZooKeeper")
        .setExplicitBucketBoundariesAdvice(DURATION_BUCKETS).build();
    this.recovered = meter.counterBuilder("deferred_span.recovered").setUnit("{span}")
        .setDescription("Finished spans the recovery worker exported for a host that did not").build();
    this.abandoned = meter.counterBuilder("deferred_span.abandoned").setUnit("{span}")
        .setDescription("Open spans the recovery worker ended as abandoned, by reason").build();
    this.quarantined = meter.counterBuilder("deferred_span.quarantined").setUnit("{record}")
        .setDescription("Unreadable records moved to quarantine").build();
    this.dropped = meter.counterBuilder("deferred_span.dropped").setUnit("{span}")
        .setDescription("Finished spans dropped because more than maxRetainedSpans waited for export").build();
    meter.upDownCounterBuilder("deferred_span.removals.pending").setUnit("{span}")
        .setDescription("Spans this host handed to its pipeline whose stored copy is not removed or released yet")
        .buildWithCallback(m -> m.record(unsettled.getAsInt()));
  }

  Meter meter() {
    return meter;
  }

  void begun(long startNanos) {
    begins.add(1);
    duration.record(seconds(startNanos), BEGIN);
  }

  void ended(EndResult.Outcome outcome, long startNanos) {
    ends.add(1, outcomes.computeIfAbsent(outcome,
        o -> Attributes.of(OUTCOME, o.name().toLowerCase(Locale.ROOT))));
    duration.record(seconds(startNanos), END);
  }

  void recovered() {
    recovered.add(1);
  }

  void abandoned(String reason) {
    abandoned.add(1, Attributes.of(REASON, reason));
  }

  void quarantined() {
    quarantined.add(1);
  }

  void dropped(int count) {
    dropped.add(count);
  }

  private static double seconds(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e9;
  }
}
