package io.deferredspans.store;

import io.deferredspans.sdk.DeferredSpanRecord;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.sdk.common.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gauges only the recovery leader reports (every worker would otherwise report the same spans): open spans by
 * name and the oldest one's age, from the leader's last complete pass over open spans, and the finished spans
 * waiting for export, from its last full scan of them. Nothing is reported until there is such a pass or scan.
 */
final class RecoveryGauges {
  private static final Logger log = LoggerFactory.getLogger(RecoveryGauges.class);

  /** Open spans seen in one pass, by name, and the oldest start. */
  static final class OpenTally {
    final Map<String, Long> byName = new HashMap<>();
    long oldestStartNanos = Long.MAX_VALUE;

    void add(DeferredSpanRecord record) {
      byName.merge(record.getName(), 1L, Long::sum);
      oldestStartNanos = Math.min(oldestStartNanos, record.getStartEpochNanos());
    }
  }

  private volatile OpenTally lastOpenTally;
  private volatile long lastWaitingForExport = -1;
  private final List<AutoCloseable> gauges = new ArrayList<>();

  /** A complete pass over open spans saw this. */
  void passCompleted(OpenTally tally) {
    lastOpenTally = tally;
  }

  /** A full scan of finished spans found this many stored. */
  void waitingForExport(long stored) {
    lastWaitingForExport = stored;
  }

  void register(Meter meter, Clock clock, BooleanSupplier leading) {
    // Open and waiting spans add up (across span names, across a handover of leadership): UpDownCounters.
    gauges.add(meter.upDownCounterBuilder("deferred_span.open").setUnit("{span}")
        .setDescription("Open deferred spans by name, as of the leader's last pass over them")
        .buildWithCallback(m -> {
          OpenTally tally = lastOpenTally;
          if (tally != null && leading.getAsBoolean()) {
            tally.byName.forEach((name, count) -> m.record(count, Attributes.of(StoreMetrics.SPAN_NAME, name)));
          }
        }));
    gauges.add(meter.gaugeBuilder("deferred_span.open.oldest_age").setUnit("s")
        .setDescription("Age of the oldest open deferred span, as of the leader's last pass")
        .buildWithCallback(m -> {
          OpenTally tally = lastOpenTally;
          if (tally != null && tally.oldestStartNanos != Long.MAX_VALUE && leading.getAsBoolean()) {
            m.record((clock.now() - tally.oldestStartNanos) / 1e9);
          }
        }));
    gauges.add(meter.upDownCounterBuilder("deferred_span.export.waiting").setUnit("{span}")
        .setDescription("Finished spans stored in ZooKeeper, waiting for an exporter, as of the last full scan")
        .buildWithCallback(m -> {
          long waiting = lastWaitingForExport;
          if (waiting >= 0 && leading.getAsBoolean()) {
            m.record(waiting);
          }
        }));
  }

  void close() {
    for (AutoCloseable gauge : gauges) {
      try {
        gauge.close();
      } catch (Exception e) {
        log.debug("closing a gauge", e);
      }
    }
  }
}
