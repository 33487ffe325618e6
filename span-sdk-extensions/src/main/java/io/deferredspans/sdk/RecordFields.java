package io.deferredspans.sdk;

import static io.deferredspans.sdk.RecordConstraints.isInTimeRange;
import static io.deferredspans.sdk.RecordConstraints.outOfTimeRange;
import static io.deferredspans.sdk.RecordConstraints.ownerProblem;

import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanId;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceId;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.sdk.trace.data.EventData;
import io.opentelemetry.sdk.trace.data.LinkData;
import io.opentelemetry.sdk.trace.data.StatusData;
import java.util.List;

/**
 * Everything a record or finished span may hold, filled in by {@link RecordJsonReader} as the fields arrive in any
 * order, and the checks that turn them into a valid record or finished span: nothing decoded has invalid IDs.
 */
final class RecordFields {
  // The span context as the compact string 'c', or (from FlatRecordScanner) its parts, already checked.
  String context;
  String traceId;
  String spanId;
  TraceFlags traceFlags;
  String parentSpanId;
  String traceState;
  String name;
  SpanKind kind = SpanKind.INTERNAL;
  Long startEpochNanos;
  String beganBy = "";
  String owner;
  List<LinkData> links = List.of();
  Attributes attributes = Attributes.empty();
  Long endEpochNanos;
  String endedBy;
  int droppedAttributes;
  int droppedEvents;
  Attributes endAttributes = Attributes.empty();
  List<EventData> events = List.of();
  StatusData status = StatusData.unset();
  List<LinkData> endLinks = List.of();
  // The first field only a finished span may hold, if any: a begin record holding one is corrupt.
  String finishedField;

  DeferredSpanRecord toRecord(String recordName) {
    if (context == null && traceId == null) {
      throw corrupt(recordName, "missing span context 'c'");
    }
    if (name == null) {
      throw corrupt(recordName, "missing name 'n'");
    }
    if (startEpochNanos == null) {
      throw corrupt(recordName, "missing start time 't'");
    }
    if (!isInTimeRange(startEpochNanos)) {
      throw corrupt(recordName, outOfTimeRange("start time 't'", startEpochNanos));
    }
    String parent = SpanId.getInvalid();
    if (parentSpanId != null) {
      if (!isValidId(parentSpanId, SpanId.getLength()) || !SpanId.isValid(parentSpanId)) {
        throw corrupt(recordName, "invalid parent span id '" + parentSpanId + "'");
      }
      parent = parentSpanId;
    }
    SpanContext spanContext = context != null
        ? parseContext(context, traceState, recordName)
        : remoteContext(traceId, spanId, traceFlags, traceState, recordName);
    if (parent.equals(spanContext.getSpanId())) {
      throw corrupt(recordName, "the span is its own parent " + parent);
    }
    if (owner != null) {
      String why = ownerProblem(owner);
      if (why != null) {
        throw corrupt(recordName, "owner 'o' " + why);
      }
    }
    return new DeferredSpanRecord(
        spanContext,
        parent,
        name,
        kind,
        startEpochNanos,
        links,
        attributes,
        beganBy,
        owner);
  }

  /** The finished span these fields describe, or why they describe none. */
  FinishedDeferredSpan toFinished(String recordName) {
    if (endEpochNanos == null) {
      throw corrupt(recordName, "missing end time 'e'");
    }
    DeferredSpanRecord record = toRecord(recordName);
    if (!isInTimeRange(endEpochNanos)) {
      throw corrupt(recordName, outOfTimeRange("end time 'e'", endEpochNanos));
    }
    if (endEpochNanos < record.getStartEpochNanos()) {
      throw corrupt(recordName, "end time is before start time");
    }
    return new FinishedDeferredSpan(
        record,
        endEpochNanos,
        endAttributes,
        events,
        status,
        endLinks,
        endedBy == null ? "" : endedBy,
        droppedAttributes,
        droppedEvents);
  }

  static SpanContext parseContext(String compact, String traceState, String recordName) {
    int traceLength = TraceId.getLength();
    int spanLength = SpanId.getLength();
    if (compact.length() != traceLength + spanLength + 4
        || compact.charAt(traceLength) != '-'
        || compact.charAt(traceLength + 1 + spanLength) != '-') {
      throw corrupt(recordName, "span context '" + compact + "' is not <trace id>-<span id>-<flags>");
    }
    String traceId = compact.substring(0, traceLength);
    String spanId = compact.substring(traceLength + 1, traceLength + 1 + spanLength);
    int flagsStart = traceLength + spanLength + 2;
    if (!isValidId(traceId, traceLength) || !TraceId.isValid(traceId)) {
      throw corrupt(recordName, "invalid trace id '" + traceId + "'");
    }
    if (!isValidId(spanId, spanLength) || !SpanId.isValid(spanId)) {
      throw corrupt(recordName, "invalid span id '" + spanId + "'");
    }
    if (!TraceParent.isLowerHex(compact, flagsStart, compact.length())) {
      throw corrupt(recordName, "invalid trace flags '" + compact.substring(flagsStart) + "'");
    }
    return remoteContext(traceId, spanId, TraceFlags.fromHex(compact, flagsStart), traceState, recordName);
  }

  private static SpanContext remoteContext(
      String traceId, String spanId, TraceFlags flags, String traceState, String recordName) {
    TraceState state;
    try {
      state = TraceParent.parseTraceState(traceState);
    } catch (MalformedTraceparentException e) {
      throw new CorruptDeferredSpanRecordException(recordName, e.getMessage(), e);
    }
    return SpanContext.createFromRemoteParent(traceId, spanId, flags, state);
  }

  private static boolean isValidId(String id, int length) {
    return id.length() == length && TraceParent.isLowerHex(id);
  }

  static CorruptDeferredSpanRecordException corrupt(String recordName, String message) {
    return new CorruptDeferredSpanRecordException(recordName, message, null);
  }
}
