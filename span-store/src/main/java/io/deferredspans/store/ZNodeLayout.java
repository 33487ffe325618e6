package io.deferredspans.store;

import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.common.PathUtils;

/**
 * Where the store keeps what, under its base path (documented in docs/znode-layout.md, specified for other
 * implementations in docs/record-format.md):
 *
 * <pre>
 * BASE/open/XX/KEY             begin record of an open span (XX: 2 hex digits of the key's hash)
 * BASE/open/XX/KEY/span-SPANID  empty marker naming which span the record under KEY is
 * BASE/ended/YY/SPANID         finished span waiting for an exporter's acknowledgement (YY: span id prefix)
 * BASE/ended/YY/SPANID/claim   ephemeral: the session exporting it right now, if not its ender's ("eh" below)
 * BASE/live/SESSION            ephemeral: this session is alive (it holds the spans whose "eh" names it)
 * BASE/quarantine/NAME-SEQ     bytes that could not be read as a record, kept for an operator
 * BASE/abandoned/KEY           tombstone of a span recovery ended as abandoned: data "SPANID\nOWNER"
 * BASE/recovery-leader         leader latch of the recovery worker
 * BASE/recovery-progress       where the recovery leader's sweep has got to
 * </pre>
 *
 * Every format of a znode's data is written and parsed here, nowhere else: the claim ({@link #claimData},
 * {@link #claimHolder}) and the tombstone ({@link #tombstoneData}, {@link #tombstoneSpanId}, {@link
 * #tombstoneOwner}); records and finished spans have their codec ({@code DeferredSpanRecordCodec}), the recovery
 * progress its own class ({@code RecoveryProgress}, its only writer and reader).
 *
 * <p>Sharding keeps every parent below a few thousand children even with a million open spans, so listing them
 * (recovery scans) stays cheap.
 */
final class ZNodeLayout {
  static final int SHARDS = 256;
  static final String CLAIM = "claim";
  static final String MARKER_PREFIX = "span-";
  static final int MAX_KEY_LENGTH = 1024;

  private final String base;
  private final String open;
  private final String ended;
  private final String quarantine;
  private final String abandoned;
  private final String recoveryLeader;
  private final String recoveryProgress;
  private final String live;

  ZNodeLayout(String basePath) {
    PathUtils.validatePath(basePath);
    this.base = basePath;
    this.open = ZKPaths.makePath(basePath, "open");
    this.ended = ZKPaths.makePath(basePath, "ended");
    this.quarantine = ZKPaths.makePath(basePath, "quarantine");
    this.abandoned = ZKPaths.makePath(basePath, "abandoned");
    this.recoveryLeader = ZKPaths.makePath(basePath, "recovery-leader");
    this.recoveryProgress = ZKPaths.makePath(basePath, "recovery-progress");
    this.live = ZKPaths.makePath(basePath, "live");
  }

  String base() {
    return base;
  }

  String openPath(String key) {
    return ZKPaths.makePath(open, shard(key.hashCode()), encodeKey(key));
  }

  String endedPath(String spanId) {
    return ZKPaths.makePath(ended, spanId.substring(0, 2), spanId);
  }

  /**
   * The marker under a record that names its span. Records are immutable, so every record's version is 0 and a
   * versioned delete cannot tell a record from another one re-created under the same key; deleting the marker in
   * the same transaction can.
   */
  static String markerPath(String openPath, String spanId) {
    return ZKPaths.makePath(openPath, MARKER_PREFIX + spanId);
  }

  static String claimPath(String endedPath) {
    return ZKPaths.makePath(endedPath, CLAIM);
  }

  /** A quarantine name that says where the bytes came from, made unique by a sequential suffix. */
  String quarantinePrefix(String sourcePath) {
    String relative = sourcePath.startsWith(base) ? sourcePath.substring(base.length() + 1) : sourcePath;
    return ZKPaths.makePath(quarantine, relative.replace('/', '~') + "-");
  }

  /**
   * The tombstone left when recovery ends the span under {@code openPath} as abandoned, so that a dequeue racing
   * it (or arriving later) learns that no host dequeued the item, instead of "another host ended it".
   */
  String abandonedPath(String openPath) {
    return ZKPaths.makePath(abandoned, ZKPaths.getNodeFromPath(openPath));
  }

  String openRoot() {
    return open;
  }

  String endedRoot() {
    return ended;
  }

  String abandonedRoot() {
    return abandoned;
  }

  String quarantineRoot() {
    return quarantine;
  }

  String recoveryLeaderPath() {
    return recoveryLeader;
  }

  String recoveryProgressPath() {
    return recoveryProgress;
  }

  /** The parent of the liveness nodes: one ephemeral per session that ends spans, named by the session id. */
  String liveRoot() {
    return live;
  }

  String livePath(long sessionId) {
    return ZKPaths.makePath(live, sessionName(sessionId));
  }

  /** A session id as a liveness node's name, and as a holder token's first part: 16 lowercase hex digits. */
  static String sessionName(long sessionId) {
    return HEX.toHexDigits(sessionId);
  }

  /** The znodes (each with its subtree) that only the store writes: the base's other children are the user's. */
  List<String> storeOwnedRoots() {
    return List.of(open, ended, quarantine, abandoned, recoveryLeader, recoveryProgress, live);
  }

  List<String> openShards() {
    return shardPaths(open);
  }

  List<String> endedShards() {
    return shardPaths(ended);
  }

  private static List<String> shardPaths(String parent) {
    List<String> paths = new ArrayList<>(SHARDS);
    for (int i = 0; i < SHARDS; i++) {
      paths.add(ZKPaths.makePath(parent, shard(i)));
    }
    return paths;
  }

  private static String shard(int hash) {
    int bucket = hash & (SHARDS - 1);
    return bucket < 16 ? "0" + Integer.toHexString(bucket) : Integer.toHexString(bucket);
  }

  /**
   * Keys become one znode name: {@code URLEncoder} with UTF-8, then "." and ".." (not valid znode names) with
   * their dots as {@code %2E}. The rule is specified, with vectors, in docs/record-format.md.
   *
   * @throws IllegalArgumentException if the key is empty, longer than {@value #MAX_KEY_LENGTH} UTF-16 code units,
   *     or holds an unpaired surrogate (URLEncoder would write it as '?', so two keys would share one znode)
   */
  static String encodeKey(String key) {
    if (key == null || key.isEmpty()) {
      throw new IllegalArgumentException("deferred span key must not be empty");
    }
    if (key.length() > MAX_KEY_LENGTH) {
      throw new IllegalArgumentException(
          "deferred span key is longer than " + MAX_KEY_LENGTH + " UTF-16 code units: " + key.length());
    }
    int unpaired = DeferredSpanRecordCodec.unpairedSurrogate(key);
    if (unpaired >= 0) {
      throw new IllegalArgumentException(String.format(
          "deferred span key holds an unpaired surrogate U+%04X at index %d: it is not valid Unicode and has no "
              + "UTF-8 encoding", (int) key.charAt(unpaired), unpaired));
    }
    String encoded = URLEncoder.encode(key, StandardCharsets.UTF_8);
    // "." and ".." are not valid znode names; '*' is left alone by URLEncoder but is fine in ZooKeeper.
    return encoded.equals(".") || encoded.equals("..") ? encoded.replace(".", "%2E") : encoded;
  }

  /** The key an open record's znode name was made from: the inverse of {@link #encodeKey}. */
  static String decodeKey(String nodeName) {
    return URLDecoder.decode(nodeName, StandardCharsets.UTF_8);
  }

  // ------------------------------------------------------------- data formats: each one's writer and parser

  /**
   * A claim's data, {@code HOST\nNONCE}: who exports the span (for an operator) and a random nonce of this
   * attempt (after a lost reply, only the attempt that reads back its own nonce won).
   */
  static byte[] claimData(String hostName) {
    return (hostName + "\n" + Long.toHexString(ThreadLocalRandom.current().nextLong() | 1L << 63))
        .getBytes(StandardCharsets.UTF_8);
  }

  /** Who holds a claim, from its data ({@link #claimData}). */
  static String claimHolder(byte[] claimData) {
    return firstLine(claimData);
  }

  // A finished span held by its ender's session carries "eh":"SESSION-NONCE" as its second member, right after
  // the version: the store adds and removes it around the codec's bytes, which always start with this.
  private static final String FINISHED_START = "{\"v\":1,";
  private static final String HOLDER_START = FINISHED_START + "\"eh\":\"";
  private static final int TOKEN_LENGTH = 33;
  private static final HexFormat HEX = HexFormat.of();

  /**
   * A fresh holder token for a span ended on {@code sessionId}: the session (whose liveness node then stands in
   * for a claim) and a random nonce of this attempt (after a lost reply, only the attempt that reads back its own
   * token won).
   */
  static String holderToken(long sessionId) {
    // Every end draws one: HexFormat, not String.format, which costs a microsecond each.
    return HEX.toHexDigits(sessionId) + "-" + HEX.toHexDigits(ThreadLocalRandom.current().nextLong() | 1L << 63);
  }

  /** The finished span's bytes as the codec wrote them, held by {@code token}. */
  static byte[] heldFinished(byte[] finished, String token) {
    String start = new String(finished, 0, Math.min(finished.length, FINISHED_START.length()),
        StandardCharsets.ISO_8859_1);
    if (!start.equals(FINISHED_START) || token.length() != TOKEN_LENGTH) {
      throw new IllegalStateException("a finished span must start with " + FINISHED_START);
    }
    byte[] prefix = (HOLDER_START + token + "\",").getBytes(StandardCharsets.ISO_8859_1);
    byte[] held = Arrays.copyOf(prefix, prefix.length + finished.length - FINISHED_START.length());
    System.arraycopy(finished, FINISHED_START.length(), held, prefix.length,
        finished.length - FINISHED_START.length());
    return held;
  }

  /** The holder token of a finished span's data, or null if it has none (or none this store wrote). */
  static String holderToken(byte[] data) {
    int end = HOLDER_START.length() + TOKEN_LENGTH;
    if (data == null || data.length < end + 2 || data[end] != '"' || data[end + 1] != ','
        || !new String(data, 0, HOLDER_START.length(), StandardCharsets.ISO_8859_1).equals(HOLDER_START)) {
      return null;
    }
    String token = new String(data, HOLDER_START.length(), TOKEN_LENGTH, StandardCharsets.ISO_8859_1);
    // 16 lowercase hex digits, '-', 16 more: checked by hand, as recovery reads every created span.
    for (int i = 0; i < TOKEN_LENGTH; i++) {
      char c = token.charAt(i);
      boolean ok = i == 16 ? c == '-' : (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
      if (!ok) {
        return null;
      }
    }
    return token;
  }

  /** The session a holder token names. */
  static long holderSession(String token) {
    return Long.parseUnsignedLong(token.substring(0, 16), 16);
  }

  /** A held finished span's data without its holder: handed to recovery. */
  static byte[] released(byte[] held) {
    if (holderToken(held) == null) {
      return held;
    }
    int cut = HOLDER_START.length() + TOKEN_LENGTH + 2;
    byte[] start = FINISHED_START.getBytes(StandardCharsets.ISO_8859_1);
    byte[] out = Arrays.copyOf(start, start.length + held.length - cut);
    System.arraycopy(held, cut, out, start.length, held.length - cut);
    return out;
  }

  /**
   * A tombstone's data, {@code SPANID\nOWNER}: which span recovery ended as abandoned (so a dequeue can tell it
   * from another host's end) and its owner (so the cleanup can tell when no dequeue can come any more).
   */
  static byte[] tombstoneData(String spanId, String owner) {
    return (spanId + "\n" + owner).getBytes(StandardCharsets.UTF_8);
  }

  /** The span a tombstone ({@link #tombstoneData}) names. */
  static String tombstoneSpanId(byte[] tombstoneData) {
    return firstLine(tombstoneData);
  }

  /** The owner a tombstone ({@link #tombstoneData}) names; empty if the span had none. */
  static String tombstoneOwner(byte[] tombstoneData) {
    String text = text(tombstoneData);
    int newline = text.indexOf('\n');
    return newline >= 0 ? text.substring(newline + 1) : "";
  }

  private static String firstLine(byte[] data) {
    String text = text(data);
    int newline = text.indexOf('\n');
    return newline >= 0 ? text.substring(0, newline) : text;
  }

  private static String text(byte[] data) {
    return data == null ? "" : new String(data, StandardCharsets.UTF_8);
  }

  /** Whether {@code path} is an absolute znode path (an owner written by another writer may be anything). */
  static boolean isZnodePath(String path) {
    try {
      PathUtils.validatePath(path);
      return true;
    } catch (IllegalArgumentException notAPath) {
      return false;
    }
  }
}
