package io.deferredspans.store.simulation;

/**
 * What must hold after every schedule, once faults are healed and recovery had time. Each violation is counted
 * against one of these; the number in brackets is the clause of issue 15 that states it.
 */
enum Invariant {
  CALLER_OP_APPLIED_TWICE("a caller's operation (its item's create) was applied more than once [15 §1, §4]"),
  CALLER_OP_OUTCOME_WRONG(
      "a call reported its caller operation applied and it was not, or reported 'nothing written' and it was"),
  APPLIED_AFTER_RETURN(
      "something of a call was applied after it returned: its item created after the call returned, or again "
          + "after its end removed it [15 §1]"),
  ENDED_TWICE("one begin of a span was reported ENDED to more than one end call [15 §1]"),
  COMMITTED_SPAN_NOT_EXPORTED(
      "a span whose begin committed (or an orphan recovery must abandon) never reached the collector [2.4]"),
  EXPORTED_WITH_WRONG_IDS("a span reached the collector with other trace ID or start time than stored"),
  DUPLICATE_OUTSIDE_WINDOWS("a second copy reached the collector outside the windows architecture.md lists"),
  EXPORT_RETRY_BOUND_EXCEEDED(
      "a span the collector kept while answering failure was sent more often than recovery's backoff allows [2.10]"),
  LEFT_BEHIND("a record, finished span or claim stayed in ZooKeeper after healing that should be gone [2.2, 2.5]"),
  ORPHAN_NOT_ABANDONED(
      "an orphan (owner gone) was not ended by recovery after healing: a tick stopped before it [2.1, 2.2]"),
  RECOVERY_SCAN_FAILED("recovery's scanNow() threw after healing: one record stops the scan [2.1, 2.2]"),
  SWEEP_PROGRESS_LOST(
      "while leadership moved, a new leader did not go on from the last one's sweep position, and an orphan in a late shard stayed open [2.9]"),
  NEWER_VERSION_NOT_LEFT("a record of a newer format version was not left where it is (record-format §5) [2.3]"),
  RETENTION_BOUND_EXCEEDED(
      "more finished spans waited than maxRetainedSpans after recovery had ticks to enforce it [2.8]");

  final String meaning;

  Invariant(String meaning) {
    this.meaning = meaning;
  }
}
