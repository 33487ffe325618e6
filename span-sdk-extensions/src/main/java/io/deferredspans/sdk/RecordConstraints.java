package io.deferredspans.sdk;

import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import java.time.Instant;

/**
 * What a deferred span record may hold, checked where a value is set and again where a record is read: start and
 * end times within the years 2000 to 2099, an owner that is an absolute znode path, well-formed Unicode, and the
 * largest encoded size. The format is specified for other implementations in docs/record-format.md.
 */
final class RecordConstraints {
  /**
   * The earliest start or end time a record may hold: 2000-01-01T00:00:00Z. The range catches seconds or
   * milliseconds mistaken for nanoseconds, and a far-future time that would keep a span from ever looking old.
   */
  static final long MIN_EPOCH_NANOS = 946_684_800_000_000_000L;

  /** Start and end times must be before 2100-01-01T00:00:00Z. */
  static final long MAX_EPOCH_NANOS = 4_102_444_800_000_000_000L;

  /** Larger inputs of either kind are rejected before parsing. */
  static final int MAX_ENCODED_BYTES = DeferredSpanRecordCodec.MAX_FINISHED_BYTES;

  private RecordConstraints() {}

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

  static String outOfTimeRange(String what, long epochNanos) {
    Instant instant = Instant.ofEpochSecond(Math.floorDiv(epochNanos, 1_000_000_000L),
        Math.floorMod(epochNanos, 1_000_000_000L));
    return what + " " + epochNanos + " (" + instant + ") is outside the years 2000 to 2099 a deferred span "
        + "record can hold; times are nanoseconds since the epoch";
  }

  /** The index of the first surrogate that is not half of a pair, or -1. */
  static int unpairedSurrogate(String text) {
    return DeferredSpanRecordCodec.unpairedSurrogate(text);
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
    // Segment by segment without splitting: every decoded record with an owner comes through here.
    for (int start = 1; start < owner.length(); ) {
      int end = owner.indexOf('/', start);
      end = end < 0 ? owner.length() : end;
      if (end == start) {
        return "has an empty node name ('//'): '" + owner + "'";
      }
      if (owner.charAt(start) == '.' && (end - start == 1 || (end - start == 2 && owner.charAt(start + 1) == '.'))) {
        return "has a relative segment '" + owner.substring(start, end) + "': '" + owner + "'";
      }
      start = end + 1;
    }
    for (int i = 0; i < owner.length(); i++) {
      char c = owner.charAt(i);
      if (c == 0 || c <= 0x1f || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xf8ff) || c >= 0xfff0) {
        return String.format("holds U+%04X, which ZooKeeper refuses in a path: '%s'", (int) c, owner);
      }
    }
    return null;
  }
}
