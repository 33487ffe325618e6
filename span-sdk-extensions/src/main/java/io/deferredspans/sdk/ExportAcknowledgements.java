package io.deferredspans.sdk;

import io.opentelemetry.sdk.trace.data.SpanData;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Connects a deferred span handed to the span processors with the exporter call that eventually carries it. Keys
 * are our own {@link DeferredSpanData} instances, which use identity equality, and the processors hand the very
 * same instance to the exporter.
 */
final class ExportAcknowledgements {
  private static final class Registration {
    final ExportListener listener;
    final long registeredNanos;

    Registration(ExportListener listener, long registeredNanos) {
      this.listener = listener;
      this.registeredNanos = registeredNanos;
    }
  }

  private final Map<SpanData, Registration> pending = new ConcurrentHashMap<>();

  void register(SpanData span, ExportListener listener) {
    pending.put(span, new Registration(listener, System.nanoTime()));
  }

  /** Drops a registration whose span never reached an exporter, so the listener is not kept forever. */
  void forget(SpanData span) {
    pending.remove(span);
  }

  /** Removes and returns the listeners of the deferred spans in one exporter batch. */
  List<ExportListener> claim(Collection<SpanData> batch) {
    List<ExportListener> listeners = new ArrayList<>();
    for (SpanData span : batch) {
      if (span instanceof DeferredSpanData) {
        Registration registration = pending.remove(span);
        if (registration != null) {
          listeners.add(registration.listener);
        }
      }
    }
    return listeners;
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
