package io.deferredspans.sdk;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.AttributeType;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanId;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceId;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.sdk.trace.data.EventData;
import io.opentelemetry.sdk.trace.data.LinkData;
import io.opentelemetry.sdk.trace.data.StatusData;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Reads and writes deferred span records and finished spans as compact JSON (format version {@value
 * #FORMAT_VERSION}), small enough to sit in a znode beside a queue item and readable with {@code zkCli get}.
 *
 * <p>A record with no attributes or links looks like this (about 120 bytes):
 *
 * <pre>{@code
 * {"v":1,"c":"4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","n":"QueueItem","t":1732222222123456789,"b":"scheduler-1"}
 * }</pre>
 *
 * <p>Keys: {@code v} format version (always first), {@code c} trace id, span id and trace flags in hex, {@code
 * p} parent span id, {@code ts} tracestate, {@code n} name, {@code k} kind (absent for INTERNAL), {@code t}
 * start epoch nanoseconds, {@code b} began by, {@code o} owner, {@code l} links, {@code a} attributes. A
 * finished span adds {@code e} end epoch nanoseconds, {@code eb} ended by, {@code ea} end attributes, {@code ev}
 * events, {@code s}/{@code sd} status code and description, {@code el} end links. Unknown keys are skipped so a
 * later minor change can add optional fields without a version bump.
 *
 * <p>Decoding never returns a span with invalid IDs: any input yields a valid value or a {@link
 * DeferredSpanRecordException} that names the record. Keys given twice, start or end times outside the years
 * 2000 to 2099, an owner that is not an absolute znode path, unpaired surrogates, doubles beyond the range of a
 * double, a span that is its own parent and finished-span fields in a begin record make a record corrupt; a
 * byte order mark too. A record whose leading {@code "v"} is another version is unsupported whatever follows it.
 * The format is specified for other implementations in docs/record-format.md.
 */
public final class DeferredSpanRecordCodec {
  /** The format version this library writes and reads. */
  public static final int FORMAT_VERSION = 1;

  /**
   * The earliest start or end time a record may hold: 2000-01-01T00:00:00Z. The range catches seconds or
   * milliseconds mistaken for nanoseconds, and a far-future time that would keep a span from ever looking old.
   */
  static final long MIN_EPOCH_NANOS = 946_684_800_000_000_000L;

  /** Start and end times must be before 2100-01-01T00:00:00Z. */
  static final long MAX_EPOCH_NANOS = 4_102_444_800_000_000_000L;

  /**
   * The largest begin record the format allows, encoded (record-format §6): 512 KiB. Larger bytes are corrupt. A
   * record is a few KiB by construction; the limit is what every end can honour: the record, what its end adds
   * (up to {@link #MAX_FINISHED_BYTES} in all) and the end's other operations fit in one transaction below
   * ZooKeeper's default {@code jute.maxbuffer} of 1,048,575 bytes, whatever a client's own setting.
   */
  public static final int MAX_RECORD_BYTES = 512 * 1024;

  /**
   * The largest finished span the format allows, encoded: 768 KiB, a record at its limit and 256 KiB that its end
   * adds (end attributes, events, links and status). An end whose finished span would be larger is refused
   * before anything is written; bytes larger than this are corrupt.
   */
  public static final int MAX_FINISHED_BYTES = 768 * 1024;

  /** Larger inputs of either kind are rejected before parsing. */
  static final int MAX_ENCODED_BYTES = MAX_FINISHED_BYTES;

  private static final JsonFactory JSON =
      JsonFactory.builder()
          .streamReadConstraints(
              StreamReadConstraints.builder().maxNestingDepth(16).maxStringLength(MAX_ENCODED_BYTES).build())
          // A key given twice has no meaning a second implementation would agree on ("c" with zero IDs, then
          // valid ones): such bytes are corrupt, in every object of the record.
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .build();

  /** The fields only a finished span holds. */
  private static final java.util.Set<String> FINISHED_FIELDS =
      java.util.Set.of("e", "eb", "ea", "ev", "s", "sd", "el", "da", "de");

  private DeferredSpanRecordCodec() {}

  /** Encodes a begin record. */
  public static byte[] encode(DeferredSpanRecord record) {
    return write(generator -> writeRecordFields(generator, record));
  }

  /** Encodes a finished span (its record plus what the end added). */
  public static byte[] encode(FinishedDeferredSpan span) {
    return write(
        generator -> {
          writeRecordFields(generator, span.getRecord());
          generator.writeNumberField("e", requireTimeInRange(span.getEndEpochNanos(), "end time"));
          writeText(generator, "eb", span.getEndedBy());
          writeAttributes(generator, "ea", span.getEndAttributes());
          if (!span.getEvents().isEmpty()) {
            generator.writeArrayFieldStart("ev");
            for (EventData event : span.getEvents()) {
              generator.writeStartObject();
              writeText(generator, "n", event.getName());
              generator.writeNumberField("t", event.getEpochNanos());
              writeAttributes(generator, "a", event.getAttributes());
              int dropped = event.getTotalAttributeCount() - event.getAttributes().size();
              if (dropped > 0) {
                generator.writeNumberField("d", dropped);
              }
              generator.writeEndObject();
            }
            generator.writeEndArray();
          }
          if (span.getStatus().getStatusCode() != StatusCode.UNSET) {
            generator.writeStringField("s", span.getStatus().getStatusCode().name());
            if (!span.getStatus().getDescription().isEmpty()) {
              writeText(generator, "sd", span.getStatus().getDescription());
            }
          }
          writeLinks(generator, "el", span.getEndLinks());
          if (span.getDroppedAttributes() > 0) {
            generator.writeNumberField("da", span.getDroppedAttributes());
          }
          if (span.getDroppedEvents() > 0) {
            generator.writeNumberField("de", span.getDroppedEvents());
          }
        });
  }

  /**
   * Decodes a begin record.
   *
   * @param recordName names the record in error messages, e.g. its znode path
   * @throws DeferredSpanRecordException if the bytes are not a valid record of a supported version
   */
  public static DeferredSpanRecord decodeRecord(byte[] bytes, String recordName) {
    if (bytes != null && bytes.length > MAX_RECORD_BYTES) {
      throw corrupt(recordName, bytes.length + " bytes is larger than any valid record (" + MAX_RECORD_BYTES + ")");
    }
    Fields fields = read(bytes, recordName);
    if (fields.finishedField != null) {
      throw corrupt(recordName, "holds the finished-span field '" + fields.finishedField + "': a finished span, "
          + "not a begin record");
    }
    return fields.toRecord(recordName);
  }

  /**
   * Decodes a finished span.
   *
   * @throws DeferredSpanRecordException if the bytes are not a valid finished span of a supported version
   */
  public static FinishedDeferredSpan decodeFinished(byte[] bytes, String recordName) {
    Fields fields = read(bytes, recordName);
    if (fields.endEpochNanos == null) {
      throw corrupt(recordName, "missing end time 'e'");
    }
    DeferredSpanRecord record = fields.toRecord(recordName);
    if (!isInTimeRange(fields.endEpochNanos)) {
      throw corrupt(recordName, outOfTimeRange("end time 'e'", fields.endEpochNanos));
    }
    if (fields.endEpochNanos < record.getStartEpochNanos()) {
      throw corrupt(recordName, "end time is before start time");
    }
    return new FinishedDeferredSpan(
        record,
        fields.endEpochNanos,
        fields.endAttributes,
        fields.events,
        fields.status,
        fields.endLinks,
        fields.endedBy == null ? "" : fields.endedBy,
        fields.droppedAttributes,
        fields.droppedEvents);
  }

  /** The encoded size of some attributes on their own, used to enforce size limits before anything is stored. */
  static int encodedSize(Attributes attributes, List<LinkData> links) {
    return write(
            generator -> {
              writeAttributes(generator, "a", attributes);
              writeLinks(generator, "l", links);
            })
        .length;
  }

  // ---- times

  static boolean isInTimeRange(long epochNanos) {
    return epochNanos >= MIN_EPOCH_NANOS && epochNanos < MAX_EPOCH_NANOS;
  }

  /**
   * Refuses a start or end time no record may hold, where it is set, rather than on another host when the record
   * cannot be read.
   *
   * @throws IllegalArgumentException if {@code epochNanos} is outside 2000-01-01 to 2099-12-31 (UTC)
   */
  static long requireTimeInRange(long epochNanos, String what) {
    if (!isInTimeRange(epochNanos)) {
      throw new IllegalArgumentException(outOfTimeRange(what, epochNanos));
    }
    return epochNanos;
  }

  private static String outOfTimeRange(String what, long epochNanos) {
    Instant instant = Instant.ofEpochSecond(Math.floorDiv(epochNanos, 1_000_000_000L),
        Math.floorMod(epochNanos, 1_000_000_000L));
    return what + " " + epochNanos + " (" + instant + ") is outside the years 2000 to 2099 a deferred span "
        + "record can hold; times are nanoseconds since the epoch";
  }

  // ---- writing

  private interface FieldWriter {
    void write(JsonGenerator generator) throws IOException;
  }

  private static byte[] write(FieldWriter fields) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(160);
    try (JsonGenerator generator = JSON.createGenerator(out)) {
      generator.writeStartObject();
      generator.writeNumberField("v", FORMAT_VERSION);
      fields.write(generator);
      generator.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException("writing to memory cannot fail", e);
    }
    return out.toByteArray();
  }

  private static void writeRecordFields(JsonGenerator generator, DeferredSpanRecord record) throws IOException {
    if (!record.isValid()) {
      throw new IllegalArgumentException("a disabled (invalid) deferred span record cannot be stored");
    }
    SpanContext context = record.getSpanContext();
    generator.writeStringField("c", compactContext(context));
    if (SpanId.isValid(record.getParentSpanId())) {
      if (record.getParentSpanId().equals(context.getSpanId())) {
        throw new IllegalArgumentException("a span cannot be its own parent: " + context.getSpanId());
      }
      generator.writeStringField("p", record.getParentSpanId());
    }
    writeTraceState(generator, context.getTraceState());
    writeText(generator, "n", record.getName());
    if (record.getKind() != SpanKind.INTERNAL) {
      generator.writeStringField("k", record.getKind().name());
    }
    generator.writeNumberField("t", requireTimeInRange(record.getStartEpochNanos(), "start time"));
    if (!record.getBeganBy().isEmpty()) {
      writeText(generator, "b", record.getBeganBy());
    }
    if (record.getOwner().isPresent()) {
      String why = ownerProblem(record.getOwner().get());
      if (why != null) {
        throw new IllegalArgumentException("owner " + why);
      }
      generator.writeStringField("o", record.getOwner().get());
    }
    writeLinks(generator, "l", record.getLinks());
    writeAttributes(generator, "a", record.getAttributes());
  }

  private static String compactContext(SpanContext context) {
    return context.getTraceId() + '-' + context.getSpanId() + '-' + context.getTraceFlags().asHex();
  }

  private static void writeTraceState(JsonGenerator generator, TraceState traceState) throws IOException {
    if (!traceState.isEmpty()) {
      generator.writeStringField("ts", TraceParent.formatTraceState(traceState));
    }
  }

  private static void writeLinks(JsonGenerator generator, String field, List<LinkData> links) throws IOException {
    if (links.isEmpty()) {
      return;
    }
    generator.writeArrayFieldStart(field);
    for (LinkData link : links) {
      generator.writeStartObject();
      generator.writeStringField("c", compactContext(link.getSpanContext()));
      writeTraceState(generator, link.getSpanContext().getTraceState());
      writeAttributes(generator, "a", link.getAttributes());
      generator.writeEndObject();
    }
    generator.writeEndArray();
  }

  private static void writeAttributes(JsonGenerator generator, String field, Attributes attributes)
      throws IOException {
    if (attributes.isEmpty()) {
      return;
    }
    generator.writeObjectFieldStart(field);
    for (Map.Entry<AttributeKey<?>, Object> entry : attributes.asMap().entrySet()) {
      generator.writeFieldName(requireWellFormed(entry.getKey().getKey(), "attribute key"));
      writeAttributeValue(generator, entry.getKey().getType(), entry.getValue());
    }
    generator.writeEndObject();
  }

  private static void writeAttributeValue(JsonGenerator generator, AttributeType type, Object value)
      throws IOException {
    switch (type) {
      case BOOLEAN:
        generator.writeBoolean((Boolean) value);
        break;
      case LONG:
        generator.writeNumber((Long) value);
        break;
      case DOUBLE:
        writeDouble(generator, (Double) value);
        break;
      case STRING_ARRAY:
      case BOOLEAN_ARRAY:
      case LONG_ARRAY:
      case DOUBLE_ARRAY:
        AttributeType elementType = elementType(type);
        if (type == AttributeType.DOUBLE_ARRAY
            && !((List<?>) value).stream().allMatch(d -> Double.isFinite((Double) d))) {
          // A string among numbers is a mixed array no reader accepts: store every element as a string, like a
          // single non-finite double.
          elementType = AttributeType.STRING;
        }
        generator.writeStartArray();
        for (Object element : (List<?>) value) {
          writeAttributeValue(generator, elementType, element);
        }
        generator.writeEndArray();
        break;
      default:
        generator.writeString(requireWellFormed(String.valueOf(value), "attribute value"));
    }
  }

  private static void writeText(JsonGenerator generator, String field, String value) throws IOException {
    generator.writeStringField(field, requireWellFormed(value, field));
  }

  /** Refuses, where the value is stored, a string no other implementation could read back (docs: section 3). */
  private static String requireWellFormed(String text, String what) {
    int unpaired = unpairedSurrogate(text);
    if (unpaired >= 0) {
      throw new IllegalArgumentException(String.format("%s holds an unpaired surrogate U+%04X at index %d: it is "
          + "not valid Unicode and no deferred span record can hold it", what, (int) text.charAt(unpaired),
          unpaired));
    }
    return text;
  }

  private static void writeDouble(JsonGenerator generator, double value) throws IOException {
    if (Double.isFinite(value)) {
      // Always with a fraction or exponent, so that reading it back yields a double, not a long.
      String text = Double.toString(value);
      generator.writeNumber(text);
    } else {
      // JSON has no NaN or infinity; documented as stored as the string "NaN"/"Infinity".
      generator.writeString(Double.toString(value));
    }
  }

  private static AttributeType elementType(AttributeType arrayType) {
    switch (arrayType) {
      case BOOLEAN_ARRAY:
        return AttributeType.BOOLEAN;
      case LONG_ARRAY:
        return AttributeType.LONG;
      case DOUBLE_ARRAY:
        return AttributeType.DOUBLE;
      default:
        return AttributeType.STRING;
    }
  }

  // ---- reading

  /** Everything a record or finished span may hold, filled in as the fields arrive in any order. */
  private static final class Fields {
    String context;
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
      if (context == null) {
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
      SpanContext spanContext = parseContext(context, traceState, recordName);
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
  }

  private static Fields read(byte[] bytes, String recordName) {
    if (bytes == null || bytes.length == 0) {
      throw corrupt(recordName, "empty");
    }
    if (bytes.length > MAX_ENCODED_BYTES) {
      throw corrupt(recordName, bytes.length + " bytes is larger than any valid finished span ("
          + MAX_ENCODED_BYTES + ")");
    }
    if (bytes.length >= 3 && bytes[0] == (byte) 0xEF && bytes[1] == (byte) 0xBB && bytes[2] == (byte) 0xBF) {
      // RFC 8259 lets a parser skip it and Jackson does; the format forbids it, so that every reader agrees.
      throw corrupt(recordName, "starts with a byte order mark, which a record must not");
    }
    try (JsonParser parser = JSON.createParser(bytes)) {
      expect(parser.nextToken(), JsonToken.START_OBJECT, "a JSON object", recordName);
      if (parser.nextToken() != JsonToken.FIELD_NAME || !"v".equals(parser.currentName())) {
        throw corrupt(recordName, "does not start with the format version 'v'");
      }
      if (parser.nextToken() != JsonToken.VALUE_NUMBER_INT) {
        throw corrupt(recordName, "format version is not an integer");
      }
      long version = parser.getLongValue();
      if (version != FORMAT_VERSION) {
        throw new UnsupportedRecordVersionException(recordName, version);
      }
      Fields fields = new Fields();
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        readField(parser, parser.currentName(), fields, recordName);
      }
      expect(parser.currentToken(), JsonToken.END_OBJECT, "the end of the object", recordName);
      if (parser.nextToken() != null) {
        throw corrupt(recordName, "trailing data after the record");
      }
      return fields;
    } catch (DeferredSpanRecordException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      // Jackson reports truncation, bad syntax and number overflow as IOExceptions; anything else that slips
      // through a malformed input is still a corrupt record, never a crash of the caller.
      throw new CorruptDeferredSpanRecordException(recordName, "not a valid record: " + e.getMessage(), e);
    }
  }

  private static void readField(JsonParser parser, String field, Fields fields, String recordName)
      throws IOException {
    parser.nextToken();
    if (fields.finishedField == null && FINISHED_FIELDS.contains(field)) {
      fields.finishedField = field;
    }
    switch (field) {
      case "c":
        fields.context = readString(parser, field, recordName);
        break;
      case "p":
        fields.parentSpanId = readString(parser, field, recordName);
        break;
      case "ts":
        fields.traceState = readString(parser, field, recordName);
        break;
      case "n":
        fields.name = readString(parser, field, recordName);
        break;
      case "k":
        fields.kind = readKind(readString(parser, field, recordName), recordName);
        break;
      case "t":
        fields.startEpochNanos = readLong(parser, field, recordName);
        break;
      case "b":
        fields.beganBy = readString(parser, field, recordName);
        break;
      case "o":
        fields.owner = readString(parser, field, recordName);
        break;
      case "l":
        fields.links = readLinks(parser, recordName);
        break;
      case "a":
        fields.attributes = readAttributes(parser, recordName);
        break;
      case "e":
        fields.endEpochNanos = readLong(parser, field, recordName);
        break;
      case "da":
        fields.droppedAttributes = readCount(parser, field, recordName);
        break;
      case "de":
        fields.droppedEvents = readCount(parser, field, recordName);
        break;
      case "eb":
        fields.endedBy = readString(parser, field, recordName);
        break;
      case "ea":
        fields.endAttributes = readAttributes(parser, recordName);
        break;
      case "ev":
        fields.events = readEvents(parser, recordName);
        break;
      case "s":
        fields.status = StatusData.create(readStatusCode(parser, recordName), fields.status.getDescription());
        break;
      case "sd":
        fields.status = StatusData.create(fields.status.getStatusCode(), readString(parser, field, recordName));
        break;
      case "el":
        fields.endLinks = readLinks(parser, recordName);
        break;
      default:
        parser.skipChildren();
    }
  }

  private static List<LinkData> readLinks(JsonParser parser, String recordName) throws IOException {
    expect(parser.currentToken(), JsonToken.START_ARRAY, "an array of links", recordName);
    List<LinkData> links = new ArrayList<>();
    while (parser.nextToken() == JsonToken.START_OBJECT) {
      String context = null;
      String traceState = null;
      Attributes attributes = Attributes.empty();
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        parser.nextToken();
        if (field.equals("c")) {
          context = readString(parser, "link c", recordName);
        } else if (field.equals("ts")) {
          traceState = readString(parser, "link ts", recordName);
        } else if (field.equals("a")) {
          attributes = readAttributes(parser, recordName);
        } else {
          parser.skipChildren();
        }
      }
      if (context == null) {
        throw corrupt(recordName, "link without a span context");
      }
      links.add(LinkData.create(parseContext(context, traceState, recordName), attributes));
    }
    expect(parser.currentToken(), JsonToken.END_ARRAY, "the end of the links", recordName);
    return links;
  }

  private static List<EventData> readEvents(JsonParser parser, String recordName) throws IOException {
    expect(parser.currentToken(), JsonToken.START_ARRAY, "an array of events", recordName);
    List<EventData> events = new ArrayList<>();
    while (parser.nextToken() == JsonToken.START_OBJECT) {
      String name = null;
      Long time = null;
      Attributes attributes = Attributes.empty();
      int droppedAttributes = 0;
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        parser.nextToken();
        if (field.equals("n")) {
          name = readString(parser, "event n", recordName);
        } else if (field.equals("t")) {
          time = readLong(parser, "event t", recordName);
        } else if (field.equals("a")) {
          attributes = readAttributes(parser, recordName);
        } else if (field.equals("d")) {
          droppedAttributes = readCount(parser, "event d", recordName);
        } else {
          parser.skipChildren();
        }
      }
      if (name == null || time == null) {
        throw corrupt(recordName, "event without a name or time");
      }
      if (droppedAttributes > Integer.MAX_VALUE - attributes.size()) {
        throw corrupt(recordName, "event '" + name + "': its attributes plus dropped 'd' exceed " + Integer.MAX_VALUE);
      }
      events.add(EventData.create(time, name, attributes, attributes.size() + droppedAttributes));
    }
    expect(parser.currentToken(), JsonToken.END_ARRAY, "the end of the events", recordName);
    return events;
  }

  private static Attributes readAttributes(JsonParser parser, String recordName) throws IOException {
    expect(parser.currentToken(), JsonToken.START_OBJECT, "an attributes object", recordName);
    AttributesBuilder builder = Attributes.builder();
    while (parser.nextToken() == JsonToken.FIELD_NAME) {
      String key = parser.currentName();
      if (key.isEmpty()) {
        throw corrupt(recordName, "attribute with an empty key");
      }
      requireWellFormed(key, "attribute key", recordName);
      JsonToken token = parser.nextToken();
      switch (token) {
        case VALUE_STRING:
          builder.put(key, readString(parser, "attribute '" + key + "'", recordName));
          break;
        case VALUE_TRUE:
        case VALUE_FALSE:
          builder.put(key, parser.getBooleanValue());
          break;
        case VALUE_NUMBER_INT:
          builder.put(key, parser.getLongValue());
          break;
        case VALUE_NUMBER_FLOAT:
          builder.put(key, readDouble(parser, key, recordName));
          break;
        case START_ARRAY:
          readArrayAttribute(parser, builder, key, recordName);
          break;
        default:
          throw corrupt(recordName, "attribute '" + key + "' has an unsupported value type " + token);
      }
    }
    expect(parser.currentToken(), JsonToken.END_OBJECT, "the end of the attributes", recordName);
    return builder.build();
  }

  private static void readArrayAttribute(
      JsonParser parser, AttributesBuilder builder, String key, String recordName) throws IOException {
    List<String> strings = new ArrayList<>();
    List<Boolean> booleans = new ArrayList<>();
    List<Long> longs = new ArrayList<>();
    List<Double> doubles = new ArrayList<>();
    JsonToken first = null;
    JsonToken token;
    while ((token = parser.nextToken()) != JsonToken.END_ARRAY) {
      JsonToken kind = token == JsonToken.VALUE_FALSE ? JsonToken.VALUE_TRUE : token;
      if (first == null) {
        first = kind;
      } else if (first != kind) {
        throw corrupt(recordName, "array attribute '" + key + "' mixes element types");
      }
      switch (kind) {
        case VALUE_STRING:
          strings.add(readString(parser, "attribute '" + key + "'", recordName));
          break;
        case VALUE_TRUE:
          booleans.add(parser.getBooleanValue());
          break;
        case VALUE_NUMBER_INT:
          longs.add(parser.getLongValue());
          break;
        case VALUE_NUMBER_FLOAT:
          doubles.add(readDouble(parser, key, recordName));
          break;
        default:
          throw corrupt(recordName, "array attribute '" + key + "' has an unsupported element " + token);
      }
    }
    if (first == JsonToken.VALUE_TRUE) {
      builder.put(AttributeKey.booleanArrayKey(key), booleans);
    } else if (first == JsonToken.VALUE_NUMBER_INT) {
      builder.put(AttributeKey.longArrayKey(key), longs);
    } else if (first == JsonToken.VALUE_NUMBER_FLOAT) {
      builder.put(AttributeKey.doubleArrayKey(key), doubles);
    } else {
      builder.put(AttributeKey.stringArrayKey(key), strings);
    }
  }

  private static SpanContext parseContext(String compact, String traceState, String recordName) {
    int traceLength = TraceId.getLength();
    int spanLength = SpanId.getLength();
    if (compact.length() != traceLength + spanLength + 4
        || compact.charAt(traceLength) != '-'
        || compact.charAt(traceLength + 1 + spanLength) != '-') {
      throw corrupt(recordName, "span context '" + compact + "' is not <trace id>-<span id>-<flags>");
    }
    String traceId = compact.substring(0, traceLength);
    String spanId = compact.substring(traceLength + 1, traceLength + 1 + spanLength);
    String flags = compact.substring(traceLength + spanLength + 2);
    if (!isValidId(traceId, traceLength) || !TraceId.isValid(traceId)) {
      throw corrupt(recordName, "invalid trace id '" + traceId + "'");
    }
    if (!isValidId(spanId, spanLength) || !SpanId.isValid(spanId)) {
      throw corrupt(recordName, "invalid span id '" + spanId + "'");
    }
    if (!TraceParent.isLowerHex(flags)) {
      throw corrupt(recordName, "invalid trace flags '" + flags + "'");
    }
    TraceState state;
    try {
      state = TraceParent.parseTraceState(traceState);
    } catch (MalformedTraceparentException e) {
      throw new CorruptDeferredSpanRecordException(recordName, e.getMessage(), e);
    }
    return SpanContext.createFromRemoteParent(traceId, spanId, TraceFlags.fromHex(flags, 0), state);
  }

  private static boolean isValidId(String id, int length) {
    return id.length() == length && TraceParent.isLowerHex(id);
  }

  private static SpanKind readKind(String value, String recordName) {
    for (SpanKind kind : SpanKind.values()) {
      if (kind.name().equals(value)) {
        return kind;
      }
    }
    throw corrupt(recordName, "unknown span kind '" + value + "'");
  }

  private static StatusCode readStatusCode(JsonParser parser, String recordName) throws IOException {
    String value = readString(parser, "s", recordName);
    for (StatusCode code : StatusCode.values()) {
      if (code.name().equals(value)) {
        return code;
      }
    }
    throw corrupt(recordName, "unknown status code '" + value + "'");
  }

  private static String readString(JsonParser parser, String field, String recordName) throws IOException {
    if (parser.currentToken() != JsonToken.VALUE_STRING) {
      throw corrupt(recordName, "field '" + field + "' is not a string");
    }
    return requireWellFormed(parser.getText(), field, recordName);
  }

  /** A JSON number with a fraction or exponent, as a double; one beyond the range of a double is corrupt. */
  private static double readDouble(JsonParser parser, String key, String recordName) throws IOException {
    double value = parser.getDoubleValue();
    if (Double.isInfinite(value)) {
      throw corrupt(recordName, "attribute '" + key + "': " + parser.getText() + " is beyond the range of a double");
    }
    return value;
  }

  /**
   * A string escaped with an unpaired surrogate ({@code "\ud800"}) is valid JSON but not Unicode: another
   * implementation cannot hold it, and an exporter would write it as '?'.
   */
  private static String requireWellFormed(String text, String field, String recordName) {
    int unpaired = unpairedSurrogate(text);
    if (unpaired >= 0) {
      throw corrupt(recordName, String.format("field '%s' holds an unpaired surrogate U+%04X", field,
          (int) text.charAt(unpaired)));
    }
    return text;
  }

  /** The index of the first surrogate that is not half of a pair, or -1. */
  static int unpairedSurrogate(String text) {
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        return i;
      }
    }
    return -1;
  }

  /**
   * Why {@code owner} is not an absolute znode path as ZooKeeper's {@code PathUtils.validatePath} accepts it, or
   * null. Recovery checks the owner's existence; a relative or empty one would never be found, and the span would
   * be ended as abandoned while its item is still queued.
   */
  static String ownerProblem(String owner) {
    if (owner.isEmpty()) {
      return "must not be empty: an owner is an absolute znode path such as /zuul/gate/8f1c";
    }
    if (owner.charAt(0) != '/') {
      return "must be an absolute znode path (start with '/'): '" + owner + "'";
    }
    if (owner.length() == 1) {
      return null;
    }
    if (owner.endsWith("/")) {
      return "must not end with '/': '" + owner + "'";
    }
    for (String segment : owner.substring(1).split("/", -1)) {
      if (segment.isEmpty()) {
        return "has an empty node name ('//'): '" + owner + "'";
      }
      if (segment.equals(".") || segment.equals("..")) {
        return "has a relative segment '" + segment + "': '" + owner + "'";
      }
    }
    for (int i = 0; i < owner.length(); i++) {
      char c = owner.charAt(i);
      if (c == 0 || c <= 0x1f || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xf8ff) || c >= 0xfff0) {
        return String.format("holds U+%04X, which ZooKeeper refuses in a path: '%s'", (int) c, owner);
      }
    }
    return null;
  }

  private static long readLong(JsonParser parser, String field, String recordName) throws IOException {
    if (parser.currentToken() != JsonToken.VALUE_NUMBER_INT) {
      throw corrupt(recordName, "field '" + field + "' is not an integer");
    }
    return parser.getLongValue();
  }

  /** A count of dropped items: a non-negative int, or the record is corrupt. */
  private static int readCount(JsonParser parser, String field, String recordName) throws IOException {
    long value = readLong(parser, field, recordName);
    if (value < 0 || value > Integer.MAX_VALUE) {
      throw corrupt(recordName, "field '" + field + "' is not a count: " + value);
    }
    return (int) value;
  }

  private static void expect(JsonToken actual, JsonToken expected, String what, String recordName) {
    if (actual != expected) {
      throw corrupt(recordName, "expected " + what + " but found " + actual);
    }
  }

  private static CorruptDeferredSpanRecordException corrupt(String recordName, String message) {
    return new CorruptDeferredSpanRecordException(recordName, message, null);
  }
}
