package io.deferredspans.sdk;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.sdk.trace.data.EventData;
import io.opentelemetry.sdk.trace.data.LinkData;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Drops attributes whose keys match a deny-list before anything is stored in ZooKeeper or exported: secrets
 * never leave the process by accident, and exception stack traces are not recorded unless allowed.
 */
final class AttributeFilter {
  static final List<String> DEFAULT_DENIED_KEYS =
      List.of(
          "(?i).*(password|passwd|secret|token|api[_.-]?key|authorization|credential|private[_.-]?key|cookie).*",
          "exception\\.stacktrace");

  private final List<Pattern> denied;

  AttributeFilter(List<String> deniedKeyPatterns) {
    List<Pattern> patterns = new ArrayList<>();
    for (String pattern : deniedKeyPatterns) {
      patterns.add(Pattern.compile(pattern));
    }
    this.denied = List.copyOf(patterns);
  }

  /** Counts what one begin or end dropped, so the span can say it was redacted. */
  static final class Redactions {
    private int count;

    int count() {
      return count;
    }
  }

  Attributes filter(Attributes attributes, Redactions redactions) {
    if (denied.isEmpty() || attributes.isEmpty()) {
      return attributes;
    }
    AttributesBuilder kept = Attributes.builder();
    for (Map.Entry<AttributeKey<?>, Object> entry : attributes.asMap().entrySet()) {
      if (isDenied(entry.getKey().getKey())) {
        redactions.count++;
      } else {
        put(kept, entry.getKey(), entry.getValue());
      }
    }
    return redactions.count == 0 ? attributes : kept.build();
  }

  List<LinkData> filterLinks(List<LinkData> links, Redactions redactions) {
    if (links.isEmpty()) {
      return List.of();
    }
    List<LinkData> filtered = new ArrayList<>(links.size());
    for (LinkData link : links) {
      filtered.add(LinkData.create(link.getSpanContext(), filter(link.getAttributes(), redactions)));
    }
    return filtered;
  }

  List<EventData> filterEvents(List<EventData> events, Redactions redactions) {
    if (events.isEmpty()) {
      return List.of();
    }
    List<EventData> filtered = new ArrayList<>(events.size());
    for (EventData event : events) {
      filtered.add(EventData.create(event.getEpochNanos(), event.getName(), filter(event.getAttributes(), redactions)));
    }
    return filtered;
  }

  private boolean isDenied(String key) {
    for (Pattern pattern : denied) {
      if (pattern.matcher(key).matches()) {
        return true;
      }
    }
    return false;
  }

  @SuppressWarnings("unchecked")
  private static <T> void put(AttributesBuilder builder, AttributeKey<T> key, Object value) {
    builder.put(key, (T) value);
  }
}
