package io.deferredspans.sdk;

import static java.nio.charset.StandardCharsets.ISO_8859_1;

import io.opentelemetry.api.trace.SpanKind;

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
    String text = string();
    if (text == null) {
      return false;
    }
    switch (key) {
      case C:
        fields.context = text;
        return true;
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

  /** A string of printable ASCII without escapes, or null. */
  private String string() {
    if (at >= bytes.length || bytes[at] != '"') {
      return null;
    }
    int start = ++at;
    for (; at < bytes.length; at++) {
      byte next = bytes[at];
      if (next == '"') {
        return new String(bytes, start, at++ - start, ISO_8859_1);
      }
      if (next < 0x20 || next > 0x7e || next == '\\') {
        return null;
      }
    }
    return null;
  }

  /** A JSON integer without sign that fits a long, into {@link #number}; false if there is none. */
  private boolean number() {
    int start = at;
    long value = 0;
    for (; at < bytes.length && bytes[at] >= '0' && bytes[at] <= '9'; at++) {
      int digit = bytes[at] - '0';
      if (value > (Long.MAX_VALUE - digit) / 10) {
        return false;
      }
      value = value * 10 + digit;
    }
    // JSON has no leading zeros; the full reader refuses them.
    if (at == start || (bytes[start] == '0' && at - start > 1)) {
      return false;
    }
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
