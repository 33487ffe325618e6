package io.deferredspans.otlp.json;

import com.google.protobuf.ByteString;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.common.v1.AnyValue;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.trace.v1.ResourceSpans;
import io.opentelemetry.proto.trace.v1.ScopeSpans;
import io.opentelemetry.proto.trace.v1.Span;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One span as it arrived in an OTLP {@link ExportTraceServiceRequest}, flattened with its resource
 * and instrumentation scope so that a reader (a test, a trace viewer) can use it without walking the
 * proto tree.
 *
 * <p>Ids are lowercase hex, as {@code SpanContext} prints them. Attribute values are {@link
 * String}, {@link Boolean}, {@link Long}, {@link Double}, {@link ByteString}, an unmodifiable
 * {@link List} of those (arrays) or an unmodifiable {@link Map} (key-value lists); an empty value
 * is {@code null}. Maps keep the order in which the attributes arrived.
 *
 * @param transport how the span arrived: {@link #TRANSPORT_HTTP}, {@link #TRANSPORT_GRPC} or
 *     {@link #TRANSPORT_FILE}
 * @param traceId 32 lowercase hex characters
 * @param spanId 16 lowercase hex characters
 * @param parentSpanId 16 lowercase hex characters, or {@code ""} for a root span
 * @param name the span name
 * @param kind the proto enum name, e.g. {@code SPAN_KIND_SERVER}
 * @param startEpochNanos start time, nanoseconds since the epoch
 * @param endEpochNanos end time, nanoseconds since the epoch
 * @param statusCode the proto enum name, e.g. {@code STATUS_CODE_ERROR}
 * @param statusMessage the status description, {@code ""} if none
 * @param attributes the span's attributes
 * @param events the span's events, in order
 * @param links the span's links, in order
 * @param resourceAttributes the attributes of the resource the span was exported with
 * @param scopeName the instrumentation scope name
 * @param scopeVersion the instrumentation scope version, {@code ""} if none
 */
public record ReceivedSpan(
    String transport,
    String traceId,
    String spanId,
    String parentSpanId,
    String name,
    String kind,
    long startEpochNanos,
    long endEpochNanos,
    String statusCode,
    String statusMessage,
    Map<String, Object> attributes,
    List<Event> events,
    List<Link> links,
    Map<String, Object> resourceAttributes,
    String scopeName,
    String scopeVersion) {

  /** The span arrived in an OTLP/HTTP protobuf request. */
  public static final String TRANSPORT_HTTP = "http";

  /** The span arrived in an OTLP/gRPC call. */
  public static final String TRANSPORT_GRPC = "grpc";

  /** The span was read from OTLP JSON lines by {@link OtlpJsonLines}. */
  public static final String TRANSPORT_FILE = "file";

  private static final HexFormat HEX = HexFormat.of();

  /** Copies the collections so that a record handed to a test can never change under it. */
  public ReceivedSpan {
    attributes = immutableCopy(attributes);
    events = List.copyOf(events);
    links = List.copyOf(links);
    resourceAttributes = immutableCopy(resourceAttributes);
  }

  /** Whether this span has no parent. */
  public boolean isRoot() {
    return parentSpanId.isEmpty();
  }

  /**
   * A span event.
   *
   * @param name the event name
   * @param epochNanos when the event happened, nanoseconds since the epoch
   * @param attributes the event's attributes
   */
  public record Event(String name, long epochNanos, Map<String, Object> attributes) {
    /** Copies the attributes so the value stays immutable. */
    public Event {
      attributes = immutableCopy(attributes);
    }
  }

  /**
   * A link to another span.
   *
   * @param traceId the linked trace, lowercase hex
   * @param spanId the linked span, lowercase hex
   * @param attributes the link's attributes
   */
  public record Link(String traceId, String spanId, Map<String, Object> attributes) {
    /** Copies the attributes so the value stays immutable. */
    public Link {
      attributes = immutableCopy(attributes);
    }
  }

  /**
   * Flattens every span in {@code request}, in the order the request lists them.
   *
   * @param transport recorded as {@link #transport()} on each span
   */
  public static List<ReceivedSpan> fromRequest(ExportTraceServiceRequest request, String transport) {
    Objects.requireNonNull(transport, "transport");
    List<ReceivedSpan> spans = new ArrayList<>();
    for (ResourceSpans resourceSpans : request.getResourceSpansList()) {
      Map<String, Object> resourceAttributes =
          attributes(resourceSpans.getResource().getAttributesList());
      for (ScopeSpans scopeSpans : resourceSpans.getScopeSpansList()) {
        for (Span span : scopeSpans.getSpansList()) {
          spans.add(
              new ReceivedSpan(
                  transport,
                  hex(span.getTraceId()),
                  hex(span.getSpanId()),
                  hex(span.getParentSpanId()),
                  span.getName(),
                  enumName(span.getKindValue(), span.getKind()),
                  span.getStartTimeUnixNano(),
                  span.getEndTimeUnixNano(),
                  enumName(span.getStatus().getCodeValue(), span.getStatus().getCode()),
                  span.getStatus().getMessage(),
                  attributes(span.getAttributesList()),
                  span.getEventsList().stream()
                      .map(
                          e ->
                              new Event(
                                  e.getName(), e.getTimeUnixNano(), attributes(e.getAttributesList())))
                      .toList(),
                  span.getLinksList().stream()
                      .map(
                          l ->
                              new Link(
                                  hex(l.getTraceId()),
                                  hex(l.getSpanId()),
                                  attributes(l.getAttributesList())))
                      .toList(),
                  resourceAttributes,
                  scopeSpans.getScope().getName(),
                  scopeSpans.getScope().getVersion()));
        }
      }
    }
    return spans;
  }

  private static Map<String, Object> attributes(List<KeyValue> keyValues) {
    Map<String, Object> map = new LinkedHashMap<>();
    for (KeyValue kv : keyValues) {
      map.put(kv.getKey(), value(kv.getValue()));
    }
    return Collections.unmodifiableMap(map);
  }

  private static Object value(AnyValue value) {
    return switch (value.getValueCase()) {
      case STRING_VALUE -> value.getStringValue();
      case BOOL_VALUE -> value.getBoolValue();
      case INT_VALUE -> value.getIntValue();
      case DOUBLE_VALUE -> value.getDoubleValue();
      case BYTES_VALUE -> value.getBytesValue();
      // Stream.toList, unlike List.copyOf, keeps the null that an empty element maps to.
      case ARRAY_VALUE ->
          value.getArrayValue().getValuesList().stream().map(ReceivedSpan::value).toList();
      case KVLIST_VALUE -> attributes(value.getKvlistValue().getValuesList());
      case VALUE_NOT_SET -> null;
    };
  }

  /** An unknown enum number (a newer sender) still shows up instead of failing the decode. */
  private static String enumName(int number, Enum<?> value) {
    return "UNRECOGNIZED".equals(value.name()) ? Integer.toString(number) : value.name();
  }

  private static String hex(ByteString bytes) {
    return HEX.formatHex(bytes.toByteArray());
  }

  private static Map<String, Object> immutableCopy(Map<String, Object> map) {
    // Map.copyOf would drop arrival order and reject null (empty) attribute values.
    return Collections.unmodifiableMap(new LinkedHashMap<>(map));
  }
}
