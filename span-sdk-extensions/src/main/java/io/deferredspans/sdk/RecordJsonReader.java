package io.deferredspans.sdk;

import static io.deferredspans.sdk.RecordConstraints.MAX_ENCODED_BYTES;
import static io.deferredspans.sdk.RecordConstraints.unpairedSurrogate;
import static io.deferredspans.sdk.RecordFields.corrupt;
import static io.deferredspans.sdk.RecordFields.parseContext;
import static io.deferredspans.sdk.internal.DeferredSpanRecordCodec.FORMAT_VERSION;
import static io.deferredspans.sdk.internal.DeferredSpanRecordCodec.MAX_RECORD_BYTES;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.sdk.trace.data.EventData;
import io.opentelemetry.sdk.trace.data.LinkData;
import io.opentelemetry.sdk.trace.data.StatusData;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Reads begin records and finished spans from the compact JSON of docs/record-format.md, as strictly as the format
 * says: any input yields a valid value or a {@link DeferredSpanRecordException} that names the record. Keys given
 * twice, unpaired surrogates, doubles beyond the range of a double, a byte order mark, trailing data and
 * finished-span fields in a begin record make it corrupt; a leading {@code "v"} of another version makes it
 * unsupported whatever follows. Unknown keys are skipped. {@link RecordFields} checks what was read, here or by
 * {@link FlatRecordScanner}, which reads the common records without setting up a parser.
 */
final class RecordJsonReader {
  private static final JsonFactory JSON =
      JsonFactory.builder()
          .streamReadConstraints(
              StreamReadConstraints.builder().maxNestingDepth(16).maxStringLength(MAX_ENCODED_BYTES).build())
          .build();

  /** The fields only a finished span holds. */
  private static final java.util.Set<String> FINISHED_FIELDS =
      java.util.Set.of("e", "eb", "ea", "ev", "s", "sd", "el", "da", "de");

  private RecordJsonReader() {}

  /**
   * Decodes a begin record.
   *
   * @param recordName names the record in error messages, e.g. its znode path
   * @throws DeferredSpanRecordException if the bytes are not a valid record of a supported version
   */
  static DeferredSpanRecord decodeRecord(byte[] bytes, String recordName) {
    if (bytes != null && bytes.length > MAX_RECORD_BYTES) {
      throw corrupt(recordName, bytes.length + " bytes is larger than any valid record (" + MAX_RECORD_BYTES + ")");
    }
    RecordFields fields = read(bytes, recordName);
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
  static FinishedDeferredSpan decodeFinished(byte[] bytes, String recordName) {
    return read(bytes, recordName).toFinished(recordName);
  }

  private static RecordFields read(byte[] bytes, String recordName) {
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
    RecordFields flat = FlatRecordScanner.scan(bytes);
    return flat != null ? flat : parse(bytes, recordName);
  }

  /** Reads any record or finished span with Jackson; {@link FlatRecordScanner} reads the common ones faster. */
  static RecordFields parse(byte[] bytes, String recordName) {
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
      RecordFields fields = new RecordFields();
      Keys keys = new Keys();
      keys.add("v", recordName);
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        keys.add(field, recordName);
        readField(parser, field, fields, recordName);
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

  private static void readField(JsonParser parser, String field, RecordFields fields, String recordName)
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
        skipValue(parser, recordName);
    }
  }

  private static List<LinkData> readLinks(JsonParser parser, String recordName) throws IOException {
    expect(parser.currentToken(), JsonToken.START_ARRAY, "an array of links", recordName);
    List<LinkData> links = new ArrayList<>();
    while (parser.nextToken() == JsonToken.START_OBJECT) {
      String context = null;
      String traceState = null;
      Attributes attributes = Attributes.empty();
      Keys keys = new Keys();
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        keys.add(field, recordName);
        parser.nextToken();
        if (field.equals("c")) {
          context = readString(parser, "link c", recordName);
        } else if (field.equals("ts")) {
          traceState = readString(parser, "link ts", recordName);
        } else if (field.equals("a")) {
          attributes = readAttributes(parser, recordName);
        } else {
          skipValue(parser, recordName);
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
      Keys keys = new Keys();
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        keys.add(field, recordName);
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
          skipValue(parser, recordName);
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
    Keys keys = new Keys();
    while (parser.nextToken() == JsonToken.FIELD_NAME) {
      String key = parser.currentName();
      keys.add(key, recordName);
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

  private static SpanKind readKind(String value, String recordName) {
    SpanKind kind = kindNamed(value);
    if (kind == null) {
      throw corrupt(recordName, "unknown span kind '" + value + "'");
    }
    return kind;
  }

  private static final SpanKind[] KINDS = SpanKind.values();

  /** The span kind of that name, or null. */
  static SpanKind kindNamed(String name) {
    for (SpanKind kind : KINDS) {
      if (kind.name().equals(name)) {
        return kind;
      }
    }
    return null;
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

  /** Skips the current value, an unknown key's: its objects must not repeat a key either. */
  private static void skipValue(JsonParser parser, String recordName) throws IOException {
    JsonToken token = parser.currentToken();
    if (token == JsonToken.START_OBJECT) {
      Keys keys = new Keys();
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        keys.add(parser.currentName(), recordName);
        parser.nextToken();
        skipValue(parser, recordName);
      }
    } else if (token == JsonToken.START_ARRAY) {
      // Jackson throws at a truncated end rather than return null; the null check keeps this loop finite anyway.
      JsonToken next;
      while ((next = parser.nextToken()) != JsonToken.END_ARRAY && next != null) {
        skipValue(parser, recordName);
      }
    }
  }

  /**
   * The keys of one JSON object read so far. A key given twice has no meaning a second implementation would agree
   * on ("c" with zero IDs, then valid ones): such bytes are corrupt, in every object of the record. Jackson's own
   * check made a HashSet per object, the largest single cost of decoding a record; the objects of a record hold a
   * few keys, which a short array compares faster.
   */
  private static final class Keys {
    private final String[] few = new String[8];
    private int count;
    private Set<String> many;

    void add(String key, String recordName) {
      if (many == null && count < few.length) {
        for (int i = 0; i < count; i++) {
          if (few[i].equals(key)) {
            throw givenTwice(key, recordName);
          }
        }
        few[count++] = key;
        return;
      }
      if (many == null) {
        many = new HashSet<>(Arrays.asList(few));
      }
      if (!many.add(key)) {
        throw givenTwice(key, recordName);
      }
    }

    private static CorruptDeferredSpanRecordException givenTwice(String key, String recordName) {
      return corrupt(recordName, "key '" + key + "' given twice in one object");
    }
  }

  private static void expect(JsonToken actual, JsonToken expected, String what, String recordName) {
    if (actual != expected) {
      throw corrupt(recordName, "expected " + what + " but found " + actual);
    }
  }
}
