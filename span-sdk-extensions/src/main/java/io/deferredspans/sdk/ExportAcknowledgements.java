package io.deferredspans.sdk;

import io.opentelemetry.sdk.trace.data.SpanData;
import java.util.ArrayList;
import java.util.Collection;
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
 *
 * <p>Only a span that some exporter has <em>not yet seen</em> can time out (a processor dropped it, e.g. from a
 * full queue). Once an exporter holds it, that exporter's answer decides, however slow: timing out an export in
 * flight would hand the span to recovery while the exporter may still deliver it, and export it twice.
 */
final class ExportAcknowledgements {
  private static final class Registration {
    final ExportListener listener;
    final long registeredNanos;
    final int exporters;
    // Guarded by this: how many exporters took the span, how many answered yes, how many are still at it.
    int seen;
    int accepted;
    int inFlight;
    boolean timedOut;

    Registration(ExportListener listener, long registeredNanos, int exporters) {
      this.listener = listener;
      this.registeredNanos = registeredNanos;
      this.exporters = exporters;
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

    ExportFence fence() {
      return registration.listener.fence();
    }

    SpanData span() {
      return span;
    }
  }

  private enum Verdict {
    WAIT,
    EXPORTED,
    FAILED
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

  /** The deferred spans of one exporter batch; from now on only this exporter's answer decides for it. */
  List<Claim> claim(Collection<SpanData> batch) {
    List<Claim> claims = new ArrayList<>();
    for (SpanData span : batch) {
      if (span instanceof DeferredSpanData) {
        Registration registration = pending.get(span);
        if (registration != null) {
          synchronized (registration) {
            registration.seen++;
            registration.inFlight++;
          }
          claims.add(new Claim(span, registration));
        }
      }
    }
    return claims;
  }

  /** One exporter's answer: the first failure fails the span; the last of all successes exports it. */
  void answer(Claim claim, boolean success) {
    Registration registration = claim.registration;
    Verdict verdict;
    synchronized (registration) {
      registration.inFlight--;
      if (!success) {
        verdict = Verdict.FAILED;
      } else if (++registration.accepted == registration.exporters) {
        verdict = Verdict.EXPORTED;
      } else {
        // Another exporter never took it and timed out meanwhile: fail once the last one in flight answered.
        verdict = registration.timedOut && registration.inFlight == 0 ? Verdict.FAILED : Verdict.WAIT;
      }
    }
    settle(claim.span, registration, verdict);
  }

  private void settle(SpanData span, Registration registration, Verdict verdict) {
    if (verdict != Verdict.WAIT && pending.remove(span, registration)) {
      if (verdict == Verdict.EXPORTED) {
        registration.listener.onExported();
      } else {
        registration.listener.onExportFailed();
      }
    }
  }

  /**
   * Fails the registrations older than {@code maxAgeNanos} that some exporter never took: their span was dropped
   * before reaching it (e.g. a full batch queue), so no answer will ever come. A span that an exporter is still
   * exporting waits for that answer first.
   *
   * @return how many were failed or marked to fail
   */
  int expire(long maxAgeNanos) {
    long now = System.nanoTime();
    int expired = 0;
    for (Map.Entry<SpanData, Registration> entry : pending.entrySet()) {
      Registration registration = entry.getValue();
      if (now - registration.registeredNanos <= maxAgeNanos) {
        continue;
      }
      Verdict verdict;
      synchronized (registration) {
        if (registration.seen >= registration.exporters || registration.timedOut) {
          continue; // every exporter has it: their answers decide
        }
        registration.timedOut = true;
        verdict = registration.inFlight == 0 ? Verdict.FAILED : Verdict.WAIT;
      }
      expired++;
      settle(entry.getKey(), registration, verdict);
    }
    return expired;
  }

  int pendingCount() {
    return pending.size();
  }
}
