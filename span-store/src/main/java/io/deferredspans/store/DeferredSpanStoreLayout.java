package io.deferredspans.store;

import java.util.List;
import java.util.Optional;

/**
 * Where a {@link DeferredSpanStore} keeps what under its base path, and how to read the names it gives its
 * znodes, for tools that inspect a store without being one (an operator's command line, a monitoring probe). The
 * store itself uses the same layout, so a tool built on this class cannot drift from it. Read-only: it computes
 * paths and parses names, and never talks to ZooKeeper. See docs/znode-layout.md.
 *
 * <pre>
 * BASE/open/XX/KEY              begin record of an open span ({@link #openPath}, {@link #keyOf})
 * BASE/open/XX/KEY/span-SPANID  marker naming the span the record belongs to ({@link #markerSpanId})
 * BASE/ended/YY/SPANID          finished span waiting for an exporter ({@link #endedShards})
 * BASE/ended/YY/SPANID/claim    ephemeral claim of the exporting session ({@link #CLAIM}, {@link #claimHolder})
 * BASE/live/SESSION             ephemeral liveness node of a session holding the spans it ended
 *                               ({@link #holderLivePath}; its data is the host name, {@link #claimHolder})
 * BASE/quarantine/NAME-SEQ      unreadable bytes kept for an operator ({@link #quarantineRoot})
 * BASE/abandoned/KEY            tombstone of a span recovery ended as abandoned ({@link #abandonedPath},
 *                               {@link #tombstoneSpanId}, {@link #tombstoneOwner})
 * BASE/recovery-leader          the recovery workers' leader latch ({@link #recoveryLeaderPath})
 * </pre>
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class DeferredSpanStoreLayout {
  /** The name of the ephemeral claim znode under a finished span. */
  public static final String CLAIM = ZNodeLayout.CLAIM;

  private final ZNodeLayout layout;

  private DeferredSpanStoreLayout(String basePath) {
    this.layout = new ZNodeLayout(basePath);
  }

  /**
   * The layout of the store under {@code basePath} (as given to {@link DeferredSpanStore.Builder#basePath}).
   *
   * @throws IllegalArgumentException if {@code basePath} is not a valid znode path
   */
  public static DeferredSpanStoreLayout of(String basePath) {
    return new DeferredSpanStoreLayout(basePath);
  }

  public String basePath() {
    return layout.base();
  }

  /** The parent of the open shards; its existence tells that a store was started under the base path. */
  public String openRoot() {
    return layout.openRoot();
  }

  /** The parent of the finished-span shards. */
  public String endedRoot() {
    return layout.endedRoot();
  }

  /** Every shard holding open records, in shard order. */
  public List<String> openShards() {
    return layout.openShards();
  }

  /** Every shard holding finished spans waiting for export, in shard order. */
  public List<String> endedShards() {
    return layout.endedShards();
  }

  /**
   * Where the open record of {@code key} lives.
   *
   * @throws IllegalArgumentException if {@code key} is empty or longer than 1024 characters
   */
  public String openPath(String key) {
    return layout.openPath(key);
  }

  /** Where a finished span waits for its export. */
  public String endedPath(String spanId) {
    return layout.endedPath(spanId);
  }

  /** Where the tombstone of {@code key}'s span is kept if recovery ended it as abandoned. */
  public String abandonedPath(String key) {
    return layout.abandonedPath(layout.openPath(key));
  }

  public String quarantineRoot() {
    return layout.quarantineRoot();
  }

  public String abandonedRoot() {
    return layout.abandonedRoot();
  }

  public String recoveryLeaderPath() {
    return layout.recoveryLeaderPath();
  }

  /** The caller's key that an open record's znode name (the last segment of its path) encodes. */
  public static String keyOf(String openNodeName) {
    return ZNodeLayout.decodeKey(openNodeName);
  }

  /** The span ID a child of an open record names if it is a span marker; empty for any other child. */
  public static Optional<String> markerSpanId(String childName) {
    return childName.startsWith(ZNodeLayout.MARKER_PREFIX)
        ? Optional.of(childName.substring(ZNodeLayout.MARKER_PREFIX.length()))
        : Optional.empty();
  }

  /**
   * The liveness node of the session that holds a finished span through the holder token in its data (a span a
   * Java end wrote, not given back): the span is that session's to export while the node exists. Empty if the
   * span carries no token (it is held by a claim child, or by nobody).
   */
  public Optional<String> holderLivePath(byte[] finishedSpanData) {
    String token = ZNodeLayout.holderToken(finishedSpanData);
    return token == null ? Optional.empty() : Optional.of(layout.livePath(ZNodeLayout.holderSession(token)));
  }

  /** The host name of the session holding a claim, from the claim znode's data (or a liveness node's). */
  public static String claimHolder(byte[] claimData) {
    return ZNodeLayout.claimHolder(claimData);
  }

  /** The span ID an abandoned span's tombstone (the data at {@link #abandonedPath}) names. */
  public static String tombstoneSpanId(byte[] tombstoneData) {
    return ZNodeLayout.tombstoneSpanId(tombstoneData);
  }

  /** The owner an abandoned span's tombstone names; empty if the span had none. */
  public static String tombstoneOwner(byte[] tombstoneData) {
    return ZNodeLayout.tombstoneOwner(tombstoneData);
  }

  @Override
  public String toString() {
    return "DeferredSpanStoreLayout{" + layout.base() + "}";
  }
}
