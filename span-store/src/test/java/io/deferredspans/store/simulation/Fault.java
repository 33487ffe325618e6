package io.deferredspans.store.simulation;

/**
 * Every fault the simulation injects, counted per schedule. ZooKeeper faults act under one call of a host's
 * {@link FaultyZooKeeper}; exporter faults change what a host's {@link RecordingExporter} answers; planted records
 * are what "another writer" (a second implementation, an operator, an older or newer host) leaves in the store.
 */
enum Fault {
  // ------------------------------------------------------------ under one ZooKeeper call
  /** The request never leaves the client: {@code ConnectionLoss}, nothing applied. */
  CONNECTION_LOSS_BEFORE_SEND,
  /** The server applied the request, the reply is lost: {@code ConnectionLoss}, same session. */
  REPLY_DROPPED,
  /** The server applied the request, the reply is lost and the session expires before the client reconnects. */
  REPLY_DROPPED_SESSION_EXPIRED,
  /**
   * The server applied the request; the reply is held past the store's operation timeout (the caller is told
   * "outcome unknown"), then lost while the session expires, some steps later.
   */
  REPLY_HELD_PAST_TIMEOUT,
  /** The client declares its session expired ({@code getTestable().injectSessionExpiration()}) before the call. */
  CLIENT_SESSION_EXPIRY_BEFORE_CALL,
  /** Between two calls the ensemble expires the session (a twin handle closes it on the server). */
  SESSION_EXPIRED_BETWEEN_CALLS,
  /** Every call of the host blocks while its session expires on the server: a pause past the session timeout. */
  HOST_FROZEN_PAST_SESSION_TIMEOUT,
  /** The next claim recovery creates is applied, its reply lost, and the session expires (issue 15, 2.5). */
  RECOVERY_CLAIM_REPLY_LOST_SESSION_EXPIRED,

  // ------------------------------------------------------------ in the exporter
  /** The collector refuses: nothing delivered, export fails. */
  EXPORT_REFUSED,
  /** The collector keeps the batch, but the export fails (its answer was lost). */
  EXPORT_FAILED_AFTER_DELIVERY,
  /** The collector keeps the batch and answers after the exporter gave up: a timed-out export. */
  EXPORT_HUNG,

  // ------------------------------------------------------------ schedule events
  /** A host shuts down gracefully (documented order) and a new one starts under its name. */
  GRACEFUL_RESTART,
  /** The recovery leader closes its worker and starts a new one: leadership moves. */
  LEADERSHIP_MOVE,
  /** Leadership moves several times faster than one sweep pass, with an orphan in a late shard (2.9). */
  LEADERSHIP_CHURN,
  /** Several hosts end the same span at once. */
  RACING_ENDS,
  /** A begin in embedded mode: the record inside the caller's item, ended with {@code endEmbeddedSpan}. */
  EMBEDDED_BEGIN,
  /** A host runs recovery with tracing enabled but no exporter (2.4). */
  RECOVERY_WITHOUT_EXPORTER,
  /** More finished spans wait than {@code maxRetainedSpans} while every exporter refuses (2.8). */
  BACKLOG_ABOVE_RETENTION_BOUND,

  // ------------------------------------------------------------ records planted by another writer
  /** A valid open record whose owner znode does not exist: recovery must end it as abandoned. */
  PLANTED_ORPHAN,
  /** An open record whose owner is not an absolute znode path (2.1), owner missing. */
  PLANTED_RELATIVE_OWNER,
  /** A valid open record of about 960 KiB, under the spec's 1 MiB, owner missing (2.2). */
  PLANTED_HUGE_RECORD,
  /** A finished span of a newer format version, unclaimed: must be left where it is (2.3). */
  PLANTED_NEWER_VERSION_FINISHED,
  /** An open record of a newer format version: must be left where it is. */
  PLANTED_NEWER_VERSION_OPEN,
  /** An orphan record with an extra child beside its marker (2.13). */
  PLANTED_EXTRA_CHILD,
  /**
   * Another writer (an operator's {@code deleteall}, a hostile client) deletes a live session's liveness node
   * {@code live/SESSION}: the session must create it again, and only a span it held at that moment may reach the
   * collector twice (reliability.md, hostile input).
   */
  LIVENESS_NODE_DELETED,
  /** Bytes that are not a record, under open/ (must be quarantined, never stop anything). */
  PLANTED_GARBAGE,
  /** A caller's item whose embedded record bytes are not a record: its end must quarantine them and dequeue it. */
  PLANTED_EMBEDDED_GARBAGE
}
