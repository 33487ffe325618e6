package io.deferredspans.store;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.LongCounter;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.api.metrics.MeterProvider;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntSupplier;

/**
 * The store's instruments on the host's own {@link MeterProvider}, named by the semantic conventions' naming
 * rules: one singular namespace ({@code deferred_span}), dotted, no {@code _total}, UpDownCounters not pluralised,
 * units in UCUM ({@code s}, annotations such as {@code {span}} in the singular); a count that adds up across its
 * attributes is an UpDownCounter, not a gauge. Counts are recorded where they happen; {@link StoreStats} stays
 * the in-process snapshot of the same events. The meter's scope is versioned after this artifact.
 */
final class StoreMetrics {
  static final String SCOPE = "io.deferredspans.store";
  /** This artifact's version, which Maven writes into the resource when it builds the jar (tests included). */
  static final String VERSION = readVersion();
  static final AttributeKey<String> OUTCOME = AttributeKey.stringKey("deferred_span.end.outcome");
  static final AttributeKey<String> OPERATION = AttributeKey.stringKey("deferred_span.operation.name");
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
    this.meter = meterProvider.meterBuilder(SCOPE).setInstrumentationVersion(VERSION).build();
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
    meter.upDownCounterBuilder("deferred_span.removal.pending").setUnit("{span}")
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

  private static String readVersion() {
    Properties properties = new Properties();
    try (InputStream in = StoreMetrics.class.getResourceAsStream("deferred-spans-version.properties")) {
      if (in != null) {
        properties.load(in);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read span-store's version", e);
    }
    return properties.getProperty("version", StoreMetrics.class.getPackage().getImplementationVersion());
  }

  private static double seconds(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e9;
  }
}
