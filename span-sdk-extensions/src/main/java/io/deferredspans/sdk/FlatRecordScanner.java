package io.deferredspans.sdk;

import static java.nio.charset.StandardCharsets.ISO_8859_1;

import io.opentelemetry.api.trace.SpanId;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceId;

/**
 * The fast path of {@link RecordJsonReader} for the shape nearly every stored record has: a begin record as this
 * library writes it when it has no attributes or links. Setting up Jackson's parser costs more than reading such a
 * record, and every end reads one.
 *
 * <p>It reads only what it can read exactly as the full reader would: {@code "v":1} first, then the top-level keys
 * {@code c p ts n k t b o}, each once, with strings of printable ASCII without escapes and integers without sign,
 * fraction or exponent that fit a long, and no whitespace anywhere. Anything else, valid or not, it declines (null)
 * and the full reader decides, so that every error still comes from one place, with the same message; {@link
 * RecordFields} then checks what either of them read.
 */
final class FlatRecordScanner {
  // The keys read, as bit positions of the keys seen.
  private static final int C = 0;
  private static final int P = 1;
  private static final int TS = 2;
  private static final int N = 3;
  private static final int K = 4;
  private static final int T = 5;
  private static final int B = 6;
  private static final int O = 7;

  private final byte[] bytes;
  private int at;
  private long number;

  private FlatRecordScanner(byte[] bytes) {
    this.bytes = bytes;
  }

  /** The fields of {@code bytes}, or null if the full reader must read them. */
  static RecordFields scan(byte[] bytes) {
    return new FlatRecordScanner(bytes).scan();
  }

  private RecordFields scan() {
    if (!skip("{\"v\":1")) {
      return null;
    }
    RecordFields fields = new RecordFields();
    int seen = 0;
    while (at < bytes.length) {
      byte next = bytes[at++];
      if (next == '}') {
        return at == bytes.length ? fields : null;
      }
      int key = next == ',' ? key() : -1;
      if (key < 0 || (seen & (1 << key)) != 0) {
        return null; // a key given twice included: the full reader says so
      }
      seen |= 1 << key;
      if (!value(key, fields)) {
        return null;
      }
    }
    return null;
  }

  /** {@code "key":} of a key this scanner reads, as its constant, or -1. */
  private int key() {
    if (at + 4 > bytes.length || bytes[at] != '"') {
      return -1;
    }
    int key;
    int end;
    if (bytes[at + 2] == '"') {
      key = single(bytes[at + 1]);
      end = at + 3;
    } else if (bytes[at + 1] == 't' && bytes[at + 2] == 's' && bytes[at + 3] == '"') {
      key = TS;
      end = at + 4;
    } else {
      return -1;
    }
    if (key < 0 || end >= bytes.length || bytes[end] != ':') {
      return -1;
    }
    at = end + 1;
    return key;
  }

  private static int single(byte name) {
    switch (name) {
      case 'c':
        return C;
      case 'p':
        return P;
      case 'n':
        return N;
      case 'k':
        return K;
      case 't':
        return T;
      case 'b':
        return B;
      case 'o':
        return O;
      default:
        return -1;
    }
  }

  private boolean value(int key, RecordFields fields) {
    if (key == T) {
      if (!number()) {
        return false;
      }
      fields.startEpochNanos = number;
      return true;
    }
    if (key == C) {
      return context(fields);
    }
    String text = string();
    if (text == null) {
      return false;
    }
    switch (key) {
      case P:
        fields.parentSpanId = text;
        return true;
      case TS:
        fields.traceState = text;
        return true;
      case N:
        fields.name = text;
        return true;
      case K:
        fields.kind = RecordJsonReader.kindNamed(text);
        return fields.kind != null;
      case B:
        fields.beganBy = text;
        return true;
      default:
        fields.owner = text;
        return true;
    }
  }

  /**
   * The span context {@code "<trace id>-<span id>-<flags>"} straight from the bytes into the IDs the SDK takes,
   * without the string of the whole: lowercase hex, IDs not all zeros. Anything else is for the full reader, which
   * names what is wrong.
   */
  private boolean context(RecordFields fields) {
    int traceLength = TraceId.getLength();
    int spanLength = SpanId.getLength();
    int start = at + 1;
    int spanStart = start + traceLength + 1;
    int flagsStart = spanStart + spanLength + 1;
    int end = flagsStart + 2;
    if (end >= bytes.length
        || bytes[at] != '"'
        || bytes[spanStart - 1] != '-'
        || bytes[flagsStart - 1] != '-'
        || bytes[end] != '"'
        || !isNonZeroLowerHex(start, spanStart - 1)
        || !isNonZeroLowerHex(spanStart, flagsStart - 1)
        || !isLowerHex(flagsStart, end)) {
      return false;
    }
    fields.traceId = new String(bytes, start, traceLength, ISO_8859_1);
    fields.spanId = new String(bytes, spanStart, spanLength, ISO_8859_1);
    fields.traceFlags =
        TraceFlags.fromByte((byte) (hexValue(bytes[flagsStart]) << 4 | hexValue(bytes[flagsStart + 1])));
    at = end + 1;
    return true;
  }

  private boolean isNonZeroLowerHex(int from, int to) {
    boolean nonZero = false;
    for (int i = from; i < to; i++) {
      byte c = bytes[i];
      if ((c < '0' || c > '9') && (c < 'a' || c > 'f')) {
        return false;
      }
      nonZero |= c != '0';
    }
    return nonZero;
  }

  private boolean isLowerHex(int from, int to) {
    for (int i = from; i < to; i++) {
      byte c = bytes[i];
      if ((c < '0' || c > '9') && (c < 'a' || c > 'f')) {
        return false;
      }
    }
    return true;
  }

  private static int hexValue(byte digit) {
    return digit <= '9' ? digit - '0' : digit - 'a' + 10;
  }

  /** A string of printable ASCII without escapes, or null. */
  private String string() {
    byte[] in = bytes;
    int start = at + 1;
    if (start > in.length || in[at] != '"') {
      return null;
    }
    // Bytes are signed: every byte of a multi-byte UTF-8 sequence is below 0x20 here.
    for (int i = start; i < in.length; i++) {
      byte next = in[i];
      if (next == '"') {
        at = i + 1;
        return new String(in, start, i - start, ISO_8859_1);
      }
      if (next < 0x20 || next == 0x7f || next == '\\') {
        return null;
      }
    }
    return null;
  }

  /** A JSON integer without sign that fits a long, into {@link #number}; false if there is none. */
  private boolean number() {
    byte[] in = bytes;
    int start = at;
    int i = start;
    long value = 0;
    // 18 digits cannot overflow a long; only a 19th needs the check.
    for (int safeEnd = Math.min(in.length, start + 18); i < safeEnd && in[i] >= '0' && in[i] <= '9'; i++) {
      value = value * 10 + (in[i] - '0');
    }
    if (i < in.length && in[i] >= '0' && in[i] <= '9') {
      int digit = in[i++] - '0';
      if (value > (Long.MAX_VALUE - digit) / 10) {
        return false;
      }
      value = value * 10 + digit;
      if (i < in.length && in[i] >= '0' && in[i] <= '9') {
        return false; // 20 digits or more: beyond a long, the full reader says so
      }
    }
    // JSON has no leading zeros; the full reader refuses them.
    if (i == start || (in[start] == '0' && i - start > 1)) {
      return false;
    }
    at = i;
    number = value;
    return true;
  }

  private boolean skip(String prefix) {
    if (bytes.length < prefix.length()) {
      return false;
    }
    for (int i = 0; i < prefix.length(); i++) {
      if (bytes[i] != prefix.charAt(i)) {
        return false;
      }
    }
    at = prefix.length();
    return true;
  }
}
