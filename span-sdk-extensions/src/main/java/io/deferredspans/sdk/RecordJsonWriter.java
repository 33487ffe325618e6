package io.deferredspans.sdk;

import static io.deferredspans.sdk.RecordConstraints.ownerProblem;
import static io.deferredspans.sdk.RecordConstraints.requireTimeInRange;
import static io.deferredspans.sdk.RecordConstraints.unpairedSurrogate;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.AttributeType;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanId;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.sdk.trace.data.EventData;
import io.opentelemetry.sdk.trace.data.LinkData;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;

/**
 * Writes begin records and finished spans as the compact JSON of docs/record-format.md, refusing, where a value is
 * stored, what no reader could read back (a disabled record, a span that is its own parent, an owner that is not an
 * absolute znode path, times outside the years 2000 to 2099, unpaired surrogates).
 */
final class RecordJsonWriter {
  // Writing needs none of the reader's constraints; the generator's features are Jackson's defaults either way.
  private static final JsonFactory JSON = new JsonFactory();

  private RecordJsonWriter() {}

  /** Encodes a begin record. */
  static byte[] encode(DeferredSpanRecord record) {
    return write(generator -> writeRecordFields(generator, record));
  }

  /** Encodes a finished span (its record plus what the end added). */
  static byte[] encode(FinishedDeferredSpan span) {
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

  /** The encoded size of some attributes on their own, used to enforce size limits before anything is stored. */
  static int encodedSize(Attributes attributes, List<LinkData> links) {
    return write(
            generator -> {
              writeAttributes(generator, "a", attributes);
              writeLinks(generator, "l", links);
            })
        .length;
  }

  private interface FieldWriter {
    void write(JsonGenerator generator) throws IOException;
  }

  private static byte[] write(FieldWriter fields) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(160);
    try (JsonGenerator generator = JSON.createGenerator(out)) {
      generator.writeStartObject();
      generator.writeNumberField("v", DeferredSpanRecordCodec.FORMAT_VERSION);
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
}
