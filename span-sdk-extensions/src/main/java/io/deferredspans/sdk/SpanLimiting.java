package io.deferredspans.sdk;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.AttributeType;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.sdk.trace.SpanLimits;
import io.opentelemetry.sdk.trace.data.EventData;
import java.util.ArrayList;
import java.util.List;

/**
 * Applies the SDK's {@link SpanLimits} to what an end adds, as {@code SdkSpan} does for ordinary spans: the
 * first attributes and events within the counts are kept, string values are cut to the length limit, and what
 * was dropped is counted. Without this an end could grow past what ZooKeeper accepts in one transaction, and
 * then no retry could ever dequeue the item.
 */
final class SpanLimiting {
  private final SpanLimits limits;
  private int droppedAttributes;
  private int droppedEvents;

  SpanLimiting(SpanLimits limits) {
    this.limits = limits;
  }

  /** End attributes, keeping room for {@code alreadyUsed} attributes (the begin's) under the count limit. */
  Attributes endAttributes(Attributes attributes, Attributes alreadyUsed) {
    if (attributes.isEmpty()) {
      return attributes;
    }
    int room = Math.max(0, limits.getMaxNumberOfAttributes() - alreadyUsed.size());
    AttributesBuilder kept = Attributes.builder();
    int[] count = {0};
    attributes.forEach((key, value) -> {
      // Overriding a begin attribute takes no extra room.
      if (alreadyUsed.get(key) != null || count[0] < room) {
        if (alreadyUsed.get(key) == null) {
          count[0]++;
        }
        putTruncated(kept, key, value);
      } else {
        droppedAttributes++;
      }
    });
    return kept.build();
  }

  List<EventData> events(List<EventData> events) {
    if (events.isEmpty()) {
      return List.of();
    }
    int max = limits.getMaxNumberOfEvents();
    List<EventData> kept = new ArrayList<>(Math.min(events.size(), max));
    for (EventData event : events) {
      if (kept.size() >= max) {
        droppedEvents++;
        continue;
      }
      Attributes attributes = event.getAttributes();
      AttributesBuilder limited = Attributes.builder();
      int[] count = {0};
      attributes.forEach((key, value) -> {
        if (count[0]++ < limits.getMaxNumberOfAttributesPerEvent()) {
          putTruncated(limited, key, value);
        }
      });
      int total = Math.max(event.getTotalAttributeCount(), attributes.size());
      kept.add(EventData.create(event.getEpochNanos(), event.getName(), limited.build(), total));
    }
    return kept;
  }

  int droppedAttributes() {
    return droppedAttributes;
  }

  int droppedEvents() {
    return droppedEvents;
  }

  @SuppressWarnings("unchecked")
  private void putTruncated(AttributesBuilder builder, AttributeKey<?> key, Object value) {
    int max = limits.getMaxAttributeValueLength();
    if (key.getType() == AttributeType.STRING) {
      String text = (String) value;
      builder.put((AttributeKey<String>) key, text.length() > max ? text.substring(0, max) : text);
    } else if (key.getType() == AttributeType.STRING_ARRAY) {
      List<String> cut = new ArrayList<>();
      for (String text : (List<String>) value) {
        cut.add(text.length() > max ? text.substring(0, max) : text);
      }
      builder.put((AttributeKey<List<String>>) key, cut);
    } else {
      builder.put((AttributeKey<Object>) key, value);
    }
  }
}
