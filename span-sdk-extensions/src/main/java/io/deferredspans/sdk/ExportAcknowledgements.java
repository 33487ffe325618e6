package io.deferredspans.sdk;

import io.opentelemetry.sdk.trace.data.SpanData;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Connects a deferred span handed to the span processors with the exporter call that eventually carries it. Keys
 * are our own {@link DeferredSpanData} instances, which use identity equality, and the processors hand the very
 * same instance to the exporter.
 *
 * <p>With several exporters (e.g. {@code otel.traces.exporter=otlp,console}, each wrapped separately), a span
 * counts as exported only once every one of them accepted it, and as failed as soon as one refused it: the stored
 * copy must not be removed while some backend still lacks the span.
 */
final class ExportAcknowledgements {
  private static final class Registration {
    final ExportListener listener;
    final long registeredNanos;
    final AtomicInteger awaitedAnswers;

    Registration(ExportListener listener, long registeredNanos, int exporters) {
      this.listener = listener;
      this.registeredNanos = registeredNanos;
      this.awaitedAnswers = new AtomicInteger(exporters);
    }
  }

  /** One deferred span in one exporter's batch, waiting for that exporter's answer. */
  static final class Claim {
    private final SpanData span;
    private final Registration registration;

    private Claim(SpanData span, Registration registration) {
      this.span = span;
      this.registration = registration;
    }
  }

  private final Map<SpanData, Registration> pending = new ConcurrentHashMap<>();
  private final AtomicInteger exporters = new AtomicInteger();

  /** Called once per acknowledging exporter: each registered span then waits for that many answers. */
  void addExporter() {
    exporters.incrementAndGet();
  }

  void register(SpanData span, ExportListener listener) {
    pending.put(span, new Registration(listener, System.nanoTime(), Math.max(1, exporters.get())));
  }

  /** Drops a registration whose span never reached an exporter, so the listener is not kept forever. */
  void forget(SpanData span) {
    pending.remove(span);
  }

  /** The deferred spans of one exporter batch; they stay pending until every exporter has answered. */
  List<Claim> claim(Collection<SpanData> batch) {
    List<Claim> claims = new ArrayList<>();
    for (SpanData span : batch) {
      if (span instanceof DeferredSpanData) {
        Registration registration = pending.get(span);
        if (registration != null) {
          claims.add(new Claim(span, registration));
        }
      }
    }
    return claims;
  }

  /** One exporter's answer: the first failure fails the span; the last of all successes exports it. */
  void answer(Claim claim, boolean success) {
    Registration registration = claim.registration;
    if (!success) {
      if (pending.remove(claim.span, registration)) {
        registration.listener.onExportFailed();
      }
    } else if (registration.awaitedAnswers.decrementAndGet() == 0 && pending.remove(claim.span, registration)) {
      registration.listener.onExported();
    }
  }

  /**
   * Fails the registrations older than {@code maxAgeNanos}: their span was dropped before reaching an exporter
   * (e.g. a full batch queue), so no answer will ever come.
   */
  int expire(long maxAgeNanos) {
    long now = System.nanoTime();
    int expired = 0;
    for (Iterator<Registration> it = pending.values().iterator(); it.hasNext(); ) {
      Registration registration = it.next();
      if (now - registration.registeredNanos > maxAgeNanos) {
        it.remove();
        registration.listener.onExportFailed();
        expired++;
      }
    }
    return expired;
  }

  int pendingCount() {
    return pending.size();
  }
}
