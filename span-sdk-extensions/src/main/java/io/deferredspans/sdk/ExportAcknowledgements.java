package io.deferredspans.sdk;

import io.deferredspans.sdk.internal.ExportFence;
import io.deferredspans.sdk.internal.ExportListener;
import io.opentelemetry.sdk.trace.data.SpanData;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Connects a deferred span handed to the span processors with the exporter calls that eventually carry it. Each
 * registered {@link DeferredSpanData} instance points at its {@link Registration}; the processors hand the very
 * same instance to the exporter.
 *
 * <p>With several exporters (e.g. {@code otel.traces.exporter=otlp,console}, each wrapped separately), a span
 * counts as exported only once every one of them accepted it, and as failed once one of them failed it and no
 * other is still sending it: the stored copy must not be removed while some backend still lacks the span, and
 * must not be handed on while some exporter may still deliver it.
 *
 * <p>Only a span that some exporter has <em>not yet seen</em> can time out (a processor dropped it, e.g. from a
 * full queue, or still queues it). Once an exporter holds it, that exporter's answer decides, however slow:
 * timing out an export in flight would hand the span to recovery while the exporter may still deliver it. Once
 * the listener heard a failure, no exporter may send the span any more: one that still finds it in its batch
 * (a queue that was only slow) drops it, because whoever the listener handed it to exports it.
 */
final class ExportAcknowledgements {
  /** One handed-over span waiting for its exporters. */
  static final class Registration {
    private final ExportListener listener;
    private final long registeredNanos;
    private final int exporters;
    // Guarded by this: how many exporters took the span, how many answered yes, how many are still at it; the
    // failure most likely to have delivered so far (null: none); whether the listener has been told.
    private int seen;
    private int accepted;
    private int inFlight;
    private ExportFailure failure;
    private boolean decided;

    private Registration(ExportListener listener, long registeredNanos, int exporters) {
      this.listener = listener;
      this.registeredNanos = registeredNanos;
      this.exporters = exporters;
    }

    /** Whether an exporter may take the span now; if so, it is counted as taken. */
    private synchronized boolean take() {
      if (decided || failure != null) {
        return false; // failed, or about to fail: the listener's next owner sends it
      }
      seen++;
      inFlight++;
      return true;
    }

    /** One exporter's answer ({@code null}: accepted), and what it decides. */
    private synchronized Verdict answer(ExportFailure failed) {
      inFlight--;
      if (failed == null) {
        accepted++;
      } else {
        failure = mostLikelyDelivered(failure, failed);
      }
      if (accepted == exporters) {
        return decide(Verdict.EXPORTED);
      }
      return failure != null && inFlight == 0 ? decide(Verdict.FAILED) : Verdict.WAIT;
    }

    /** The acknowledgement timeout, for a span some exporter never took. */
    private synchronized Verdict expire() {
      if (decided || failure != null || seen >= exporters) {
        return null; // every exporter has it, or it fails anyway: their answers decide
      }
      failure = ExportFailure.NOT_SENT;
      return inFlight == 0 ? decide(Verdict.FAILED) : Verdict.WAIT;
    }

    /** A processor threw before the span reached every exporter: fail it now, whatever is in flight. */
    private synchronized Verdict withdraw() {
      failure = mostLikelyDelivered(failure, ExportFailure.NOT_SENT);
      return decide(Verdict.FAILED);
    }

    private Verdict decide(Verdict verdict) {
      if (decided) {
        return Verdict.WAIT; // told already
      }
      decided = true;
      return verdict;
    }

    private synchronized ExportFailure failure() {
      return failure;
    }

    // ExportFailure is declared from least to most likely to have reached the backend.
    private static ExportFailure mostLikelyDelivered(ExportFailure known, ExportFailure more) {
      return known == null || more.compareTo(known) > 0 ? more : known;
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

  /** What one exporter may do with its batch: the deferred spans it takes, and those it must not send. */
  static final class Taken {
    final List<Claim> claims = new ArrayList<>();
    final List<SpanData> withdrawn = new ArrayList<>();
  }

  private enum Verdict {
    WAIT,
    EXPORTED,
    FAILED
  }

  private final Set<Registration> pending = ConcurrentHashMap.newKeySet();
  private final AtomicInteger exporters = new AtomicInteger();

  /** Called once per acknowledging exporter: each registered span then waits for that many answers. */
  void addExporter() {
    exporters.incrementAndGet();
  }

  void register(DeferredSpanData span, ExportListener listener) {
    Registration registration = new Registration(listener, System.nanoTime(), Math.max(1, exporters.get()));
    span.setRegistration(registration);
    pending.add(registration);
  }

  /**
   * Fails a span whose processor threw: the listener hears it now, and an exporter that still finds the span in
   * its batch drops it.
   */
  void withdraw(DeferredSpanData span) {
    Registration registration = span.registration();
    if (registration != null) {
      settle(registration, registration.withdraw());
    }
  }

  /** The deferred spans of one exporter batch; from now on only this exporter's answer decides for those taken. */
  Taken claim(Collection<SpanData> batch) {
    Taken taken = new Taken();
    for (SpanData span : batch) {
      Registration registration = span instanceof DeferredSpanData ? ((DeferredSpanData) span).registration() : null;
      if (registration == null) {
        continue; // not ours, or exported without a listener
      }
      if (registration.take()) {
        taken.claims.add(new Claim(span, registration));
      } else {
        taken.withdrawn.add(span);
      }
    }
    return taken;
  }

  /** One exporter accepted the batch holding the claim: the last of all acceptances exports the span. */
  void accepted(Claim claim) {
    settle(claim.registration, claim.registration.answer(null));
  }

  /** One exporter failed the claim: the span fails once no other exporter is still sending it. */
  void failed(Claim claim, ExportFailure failure) {
    settle(claim.registration, claim.registration.answer(failure));
  }

  private void settle(Registration registration, Verdict verdict) {
    if (verdict == null || verdict == Verdict.WAIT) {
      return;
    }
    pending.remove(registration);
    if (verdict == Verdict.EXPORTED) {
      registration.listener.onExported();
    } else {
      registration.listener.onExportFailed(registration.failure());
    }
  }

  /**
   * Fails the registrations older than {@code maxAgeNanos} that some exporter never took: their span was dropped
   * before reaching it (e.g. a full batch queue), or is still queued and will be dropped when it arrives. A span
   * that an exporter is still exporting waits for that answer first.
   *
   * @return how many were failed or marked to fail
   */
  int expire(long maxAgeNanos) {
    long now = System.nanoTime();
    int expired = 0;
    for (Registration registration : pending) {
      if (now - registration.registeredNanos <= maxAgeNanos) {
        continue;
      }
      Verdict verdict = registration.expire();
      if (verdict != null) {
        expired++;
        settle(registration, verdict);
      }
    }
    return expired;
  }

  int pendingCount() {
    return pending.size();
  }
}
