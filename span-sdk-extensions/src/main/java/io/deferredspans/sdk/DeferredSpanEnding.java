package io.deferredspans.sdk;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.sdk.trace.data.EventData;
import io.opentelemetry.sdk.trace.data.LinkData;
import io.opentelemetry.sdk.trace.data.StatusData;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;

/**
 * What the ending host knows when it ends a deferred span: end time, end attributes (merged over the begin
 * attributes, the end's value winning), events, status and extra links. Immutable; build with {@link #builder()}.
 */
public final class DeferredSpanEnding {
  private static final DeferredSpanEnding NOW = builder().build();

  private final OptionalLong endEpochNanos;
  private final Attributes attributes;
  private final List<EventData> events;
  private final StatusData status;
  private final List<LinkData> links;

  private DeferredSpanEnding(Builder builder) {
    this.endEpochNanos = builder.endEpochNanos;
    this.attributes = builder.attributes.build();
    this.events = List.copyOf(builder.events);
    this.status = builder.status;
    this.links = List.copyOf(builder.links);
  }

  /** Ends now, with nothing added. */
  public static DeferredSpanEnding now() {
    return NOW;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The explicit end time, or empty to use the ending host's clock when the span is ended. */
  public OptionalLong getEndEpochNanos() {
    return endEpochNanos;
  }

  public Attributes getAttributes() {
    return attributes;
  }

  public List<EventData> getEvents() {
    return events;
  }

  public StatusData getStatus() {
    return status;
  }

  public List<LinkData> getLinks() {
    return links;
  }

  /** Builder for {@link DeferredSpanEnding}. */
  public static final class Builder {
    private OptionalLong endEpochNanos = OptionalLong.empty();
    private final AttributesBuilder attributes = Attributes.builder();
    private final List<EventData> events = new ArrayList<>();
    private StatusData status = StatusData.unset();
    private final List<LinkData> links = new ArrayList<>();

    private Builder() {}

    /**
     * An explicit end time, e.g. when the item was really dequeued; defaults to the ending host's clock.
     *
     * @throws IllegalArgumentException if the time is not within the years 2000 to 2099, which the stored span
     *     cannot hold
     */
    public Builder setEndTimestamp(long timestamp, TimeUnit unit) {
      this.endEpochNanos =
          OptionalLong.of(RecordConstraints.requireTimeInRange(unit.toNanos(timestamp), "end time"));
      return this;
    }

    public Builder setEndTimestamp(Instant timestamp) {
      return setEndTimestamp(DeferredSpanRecord.epochNanos(timestamp), TimeUnit.NANOSECONDS);
    }

    public <T> Builder setAttribute(AttributeKey<T> key, T value) {
      attributes.put(key, value);
      return this;
    }

    public Builder setAttribute(String key, String value) {
      attributes.put(key, value);
      return this;
    }

    public Builder setAttribute(String key, long value) {
      attributes.put(key, value);
      return this;
    }

    public Builder setAllAttributes(Attributes attributes) {
      this.attributes.putAll(attributes);
      return this;
    }

    /** Adds an event at an explicit time (events of a deferred span usually happened on other hosts). */
    public Builder addEvent(String name, long epochNanos, Attributes attributes) {
      events.add(EventData.create(epochNanos, name, attributes));
      return this;
    }

    public Builder setStatus(StatusCode code) {
      return setStatus(code, "");
    }

    public Builder setStatus(StatusCode code, String description) {
      this.status = StatusData.create(code, description == null ? "" : description);
      return this;
    }

    /** Adds a link known only at the end, such as to follow-on work. */
    public Builder addLink(SpanContext context) {
      return addLink(context, Attributes.empty());
    }

    public Builder addLink(SpanContext context, Attributes attributes) {
      if (context.isValid()) {
        links.add(LinkData.create(context, attributes));
      }
      return this;
    }

    public DeferredSpanEnding build() {
      return new DeferredSpanEnding(this);
    }
  }
}
