package io.deferredspans.sdk;

import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.sdk.trace.data.EventData;
import io.opentelemetry.sdk.trace.data.LinkData;
import io.opentelemetry.sdk.trace.data.StatusData;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A deferred span that has been ended but not necessarily exported yet: the begin record plus everything the
 * end decided. It is what a store keeps durably between end and export, so it holds no host-local state; the
 * exporting host supplies its resource when it turns this into {@code SpanData}.
 */
public final class FinishedDeferredSpan {
  private final DeferredSpanRecord record;
  private final long endEpochNanos;
  private final Attributes endAttributes;
  private final List<EventData> events;
  private final StatusData status;
  private final List<LinkData> endLinks;
  private final String endedBy;
  private final int droppedAttributes;
  private final int droppedEvents;
  // Derived once: exporters read these per span, and the stored form keeps only the end's own part.
  private final Attributes attributes;
  private final List<LinkData> links;

  FinishedDeferredSpan(
      DeferredSpanRecord record,
      long endEpochNanos,
      Attributes endAttributes,
      List<EventData> events,
      StatusData status,
      List<LinkData> endLinks,
      String endedBy,
      int droppedAttributes,
      int droppedEvents) {
    this.record = record;
    this.endEpochNanos = endEpochNanos;
    this.endAttributes = endAttributes;
    this.events = List.copyOf(events);
    this.status = status;
    this.endLinks = List.copyOf(endLinks);
    this.endedBy = endedBy;
    this.droppedAttributes = droppedAttributes;
    this.droppedEvents = droppedEvents;
    this.attributes = merge(record.getAttributes(), endAttributes);
    this.links = concat(record.getLinks(), this.endLinks);
  }

  // Most ends add to a record without begin attributes or links: then there is nothing to copy.
  private static Attributes merge(Attributes begin, Attributes end) {
    if (begin.isEmpty()) {
      return end;
    }
    return end.isEmpty() ? begin : begin.toBuilder().putAll(end).build();
  }

  private static List<LinkData> concat(List<LinkData> begin, List<LinkData> end) {
    if (begin.isEmpty() || end.isEmpty()) {
      return begin.isEmpty() ? end : begin;
    }
    List<LinkData> all = new ArrayList<>(begin);
    all.addAll(end);
    return List.copyOf(all);
  }

  /** The span as compact JSON (docs/record-format.md): its record plus what the end added. */
  public byte[] toBytes() {
    return RecordJsonWriter.encode(this);
  }

  /**
   * Reads a finished span written by {@link #toBytes()}, e.g. to show what a store holds. Never returns a span with
   * invalid IDs.
   *
   * @param recordName names the span in error messages, e.g. its znode path
   * @throws DeferredSpanRecordException if the bytes are not a valid finished span of a format version this library
   *     reads
   */
  public static FinishedDeferredSpan fromBytes(byte[] bytes, String recordName) {
    return RecordJsonReader.decodeFinished(bytes, recordName);
  }

  /** The record as it was begun. */
  public DeferredSpanRecord getRecord() {
    return record;
  }

  /** The end time: never before the record's start time (see {@link DeferredSpanAttributes#CLOCK_SKEW_CLAMPED_NANOS}). */
  public long getEndEpochNanos() {
    return endEpochNanos;
  }

  /** Begin and end attributes merged, plus the attributes this library adds. */
  public Attributes getAttributes() {
    return attributes;
  }

  /** Attributes set at the end, including the ones this library adds; they win over begin attributes. */
  public Attributes getEndAttributes() {
    return endAttributes;
  }

  /** Links added at the end only. */
  public List<LinkData> getEndLinks() {
    return endLinks;
  }

  public List<EventData> getEvents() {
    return events;
  }

  public StatusData getStatus() {
    return status;
  }

  /** Links from begin followed by links added at the end. */
  public List<LinkData> getLinks() {
    return links;
  }

  public String getEndedBy() {
    return endedBy;
  }

  /** End attributes dropped by the span limits ({@code SpanLimits.getMaxNumberOfAttributes}). */
  public int getDroppedAttributes() {
    return droppedAttributes;
  }

  /** Events dropped by the span limits ({@code SpanLimits.getMaxNumberOfEvents}). */
  public int getDroppedEvents() {
    return droppedEvents;
  }

  @Override
  public boolean equals(Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof FinishedDeferredSpan)) {
      return false;
    }
    FinishedDeferredSpan that = (FinishedDeferredSpan) o;
    return endEpochNanos == that.endEpochNanos
        && record.equals(that.record)
        && endAttributes.equals(that.endAttributes)
        && events.equals(that.events)
        && status.equals(that.status)
        && endLinks.equals(that.endLinks)
        && endedBy.equals(that.endedBy)
        && droppedAttributes == that.droppedAttributes
        && droppedEvents == that.droppedEvents;
  }

  @Override
  public int hashCode() {
    return Objects.hash(
        record, endEpochNanos, endAttributes, events, status, endLinks, endedBy, droppedAttributes, droppedEvents);
  }

  @Override
  public String toString() {
    return "FinishedDeferredSpan{" + record + ", endEpochNanos=" + endEpochNanos + ", status=" + status
        + ", endedBy=" + endedBy + "}";
  }
}
