package io.deferredspans.cli;

import io.deferredspans.sdk.CorruptDeferredSpanRecordException;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredSpanRecordException;
import io.deferredspans.sdk.FinishedDeferredSpan;
import io.deferredspans.store.DeferredSpanStoreLayout;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.apache.curator.utils.ZKPaths;

/** What the commands read from a store, decoded once: open spans, finished spans waiting, quarantined bytes. */
final class StoredItems {
  private StoredItems() {}

  /** Whether a stored record could be read. */
  enum State {
    OK("ok"),
    /** Bytes that are not a valid record. */
    CORRUPT("CORRUPT"),
    /** A record of a format version newer than this tool reads (left for a newer host). */
    NEWER_FORMAT("NEWER-FORMAT"),
    /** A znode name that is not the store's encoding of any key: no end can reach it by key. */
    INVALID_KEY("INVALID-KEY");

    final String label;

    State(String label) {
      this.label = label;
    }

    static State of(DeferredSpanRecordException e) {
      return e instanceof CorruptDeferredSpanRecordException ? CORRUPT : NEWER_FORMAT;
    }
  }

  /** One open record; {@link #record} is null when it cannot be read, and {@link #error} says why. */
  record OpenSpan(String key, String path, DeferredSpanRecord record, State state, String error, long createdMillis) {
    static OpenSpan decode(String path, byte[] data, long createdMillis) {
      String name = ZKPaths.getNodeFromPath(path);
      Optional<String> key = keyOf(name);
      try {
        DeferredSpanRecord record = DeferredSpanRecord.fromBytes(data, path);
        return key.isPresent()
            ? new OpenSpan(key.get(), path, record, State.OK, null, createdMillis)
            : new OpenSpan(invalidKey(name), path, record, State.INVALID_KEY, invalidKeyProblem(name), createdMillis);
      } catch (DeferredSpanRecordException e) {
        return new OpenSpan(key.orElseGet(() -> invalidKey(name)), path, null, State.of(e), e.getMessage(),
            createdMillis);
      }
    }

    /** The span name, or what is wrong with the record in its place. */
    String name() {
      return record != null ? record.getName() : state.label;
    }

    /** When the span began (the beginning host's clock); for an unreadable record, when its znode was created. */
    Instant started() {
      return record != null ? instant(record.getStartEpochNanos()) : Instant.ofEpochMilli(createdMillis);
    }

    Duration age(Instant now) {
      return Duration.between(started(), now);
    }

    Optional<String> beganBy() {
      return record == null || record.getBeganBy().isEmpty() ? Optional.empty() : Optional.of(record.getBeganBy());
    }
  }

  /** One finished span waiting for an exporter's acknowledgement, with the claim's holder if anyone holds it. */
  record PendingSpan(String spanId, String path, FinishedDeferredSpan span, State state, String error,
      Optional<String> claimHolder, long createdMillis) {
    static PendingSpan decode(String path, byte[] data, Optional<String> claimHolder, long createdMillis) {
      String spanId = ZKPaths.getNodeFromPath(path);
      try {
        FinishedDeferredSpan span = FinishedDeferredSpan.fromBytes(data, path);
        return new PendingSpan(spanId, path, span, State.OK, null, claimHolder, createdMillis);
      } catch (DeferredSpanRecordException e) {
        return new PendingSpan(spanId, path, null, State.of(e), e.getMessage(), claimHolder, createdMillis);
      }
    }

    String name() {
      return span != null ? span.getRecord().getName() : state.label;
    }

    /** How long it has waited since its end was stored (the ensemble's clock). */
    Duration waiting(Instant now) {
      return Duration.between(Instant.ofEpochMilli(createdMillis), now);
    }
  }

  /** Bytes recovery or an end moved aside; {@link #source} is where they were, as a path under the base. */
  record QuarantinedRecord(String id, String path, String source, byte[] data, long createdMillis) {
    private static final Pattern SEQUENCE = Pattern.compile("-\\d{10}$");

    static QuarantinedRecord of(String path, byte[] data, long createdMillis) {
      String id = ZKPaths.getNodeFromPath(path);
      // The store names quarantined bytes after their path below the base, '/' written as '~' (see ZNodeLayout).
      String source = SEQUENCE.matcher(id).replaceFirst("").replace('~', '/');
      return new QuarantinedRecord(id, path, source, data, createdMillis);
    }

    /** The item key, when the bytes came from an open record. */
    Optional<String> key() {
      String[] parts = source.split("/", 3);
      return parts.length == 3 && parts[0].equals("open")
          ? Optional.of(keyOf(parts[2]).orElseGet(() -> invalidKey(parts[2])))
          : Optional.empty();
    }

    /** Why the bytes cannot be read, in the words of the codec that refused them. */
    String problem() {
      try {
        if (source.startsWith("ended/")) {
          FinishedDeferredSpan.fromBytes(data, path);
        } else {
          DeferredSpanRecord.fromBytes(data, path);
        }
        return "readable now (quarantined by an older release, or under a reused key)";
      } catch (DeferredSpanRecordException e) {
        return e.getMessage();
      }
    }

    Duration age(Instant now) {
      return Duration.between(Instant.ofEpochMilli(createdMillis), now);
    }
  }

  /** The key an open record's znode name encodes; empty if the name is not the store's encoding of any key. */
  static Optional<String> keyOf(String openNodeName) {
    try {
      return Optional.of(DeferredSpanStoreLayout.keyOf(openNodeName));
    } catch (IllegalArgumentException notUrlEncoding) {
      return Optional.empty();
    }
  }

  /** How a znode name that decodes to no key is shown where the key would be: the raw name, marked. */
  private static String invalidKey(String nodeName) {
    return nodeName + " (invalid key)";
  }

  private static String invalidKeyProblem(String nodeName) {
    return "the znode name " + nodeName + " is not the store's URL encoding of any key: no end can reach it by key; "
        + "recovery ends it as abandoned if its owner goes, or at the maximum age";
  }

  static Instant instant(long epochNanos) {
    return Instant.ofEpochSecond(TimeUnit.NANOSECONDS.toSeconds(epochNanos), epochNanos % 1_000_000_000L);
  }
}
