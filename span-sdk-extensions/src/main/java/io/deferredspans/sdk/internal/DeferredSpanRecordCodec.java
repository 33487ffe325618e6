package io.deferredspans.sdk.internal;

import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredSpanRecordException;
import io.deferredspans.sdk.FinishedDeferredSpan;

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
 *
 * <p>The store reads and writes records through this class and enforces its limits. Applications without a store
 * use {@link DeferredSpanRecord#toBytes()} and {@link DeferredSpanRecord#fromBytes}, which write and read the same
 * bytes.
 *
 * <p>This class is internal and is hence not for public use. Its APIs are unstable and can change at any time.
 */
public final class DeferredSpanRecordCodec {
  /** The format version this library writes and reads. */
  public static final int FORMAT_VERSION = 1;

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

  private DeferredSpanRecordCodec() {}

  /**
   * The index of the first surrogate in {@code text} that is not half of a pair, or -1: text the format refuses
   * (it has no UTF-8 encoding), and a key the store refuses for the same reason.
   */
  public static int unpairedSurrogate(String text) {
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

  /** Encodes a begin record; {@link DeferredSpanRecord#toBytes()}. */
  public static byte[] encode(DeferredSpanRecord record) {
    return record.toBytes();
  }

  /** Encodes a finished span (its record plus what the end added); {@link FinishedDeferredSpan#toBytes()}. */
  public static byte[] encode(FinishedDeferredSpan span) {
    return span.toBytes();
  }

  /**
   * Decodes a begin record; {@link DeferredSpanRecord#fromBytes}.
   *
   * @param recordName names the record in error messages, e.g. its znode path
   * @throws DeferredSpanRecordException if the bytes are not a valid record of a supported version
   */
  public static DeferredSpanRecord decodeRecord(byte[] bytes, String recordName) {
    return DeferredSpanRecord.fromBytes(bytes, recordName);
  }

  /**
   * Decodes a finished span; {@link FinishedDeferredSpan#fromBytes}.
   *
   * @throws DeferredSpanRecordException if the bytes are not a valid finished span of a supported version
   */
  public static FinishedDeferredSpan decodeFinished(byte[] bytes, String recordName) {
    return FinishedDeferredSpan.fromBytes(bytes, recordName);
  }
}
