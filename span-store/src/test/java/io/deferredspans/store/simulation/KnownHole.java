package io.deferredspans.store.simulation;

import java.util.List;
import java.util.function.Predicate;

/**
 * The holes issue 15 names, each recognised in a failed schedule by the invariant that caught it and what the
 * schedule did: how the summary says which known hole a seed reproduces. A failed schedule that matches none is a
 * new finding (or a known one showing another face): read its steps.
 */
enum KnownHole {
  CALL_APPLIED_AFTER_UNKNOWN_OUTCOME("15 §1: a begin re-applied by Curator's retry after it returned 'unknown'",
      r -> has(r, Invariant.APPLIED_AFTER_RETURN) || has(r, Invariant.CALLER_OP_APPLIED_TWICE)),
  RELATIVE_OWNER_STOPS_SWEEP("15 2.1: an owner that is not an absolute path stops the sweep",
      r -> r.faults.containsKey(Fault.PLANTED_RELATIVE_OWNER)
          && (mentions(r, Invariant.RECOVERY_SCAN_FAILED, "Path must start with")
              || mentions(r, Invariant.LEFT_BEHIND, "PLANTED_RELATIVE_OWNER"))),
  HUGE_RECORD_JAMS_RECOVERY("15 2.2: a record the spec calls valid (960 KiB) is never ended and jams recovery",
      r -> !stoppedByAnother(r, Fault.PLANTED_HUGE_RECORD)
          && (mentions(r, Invariant.LEFT_BEHIND, "PLANTED_HUGE_RECORD")
              || mentions(r, Invariant.RECOVERY_SCAN_FAILED, "Limit"))),
  NEWER_VERSION_QUARANTINED("15 2.3: a finished span of a newer format version is quarantined",
      r -> mentions(r, Invariant.NEWER_VERSION_NOT_LEFT, "PLANTED_NEWER_VERSION_FINISHED")),
  RECOVERY_WITHOUT_EXPORTER_DELETES("15 2.4: recovery on a host without exporter deletes spans unexported",
      r -> mentions(r, Invariant.COMMITTED_SPAN_NOT_EXPORTED, "ended, never delivered")
          && mentions(r, Invariant.COMMITTED_SPAN_NOT_EXPORTED, "host without exporter")),
  RECOVERY_CLAIM_ON_NEW_SESSION("15 2.5: recovery's claim retried onto a new session: stuck while that host lives",
      r -> r.faults.containsKey(Fault.RECOVERY_CLAIM_REPLY_LOST_SESSION_EXPIRED)
          && mentions(r, Invariant.LEFT_BEHIND, "claimed by")),
  RETENTION_ONLY_AT_FULL_SCAN("15 2.8: the retention bound is enforced only at the full scan",
      r -> has(r, Invariant.RETENTION_BOUND_EXCEEDED)),
  SWEEP_RESTARTS_AT_SHARD_00("15 2.9: every new leader starts the sweep at shard 00",
      r -> has(r, Invariant.SWEEP_PROGRESS_LOST) && !stoppedByAnother(r, null)),
  BACKOFF_PER_INSTANCE("15 2.10: export backoff is per recovery instance",
      r -> has(r, Invariant.EXPORT_RETRY_BOUND_EXCEEDED)),
  EXTRA_CHILD_UNDER_RECORD("15 2.13: a record with an extra child is never ended",
      r -> !stoppedByAnother(r, null) && mentions(r, Invariant.LEFT_BEHIND, "PLANTED_EXTRA_CHILD"));

  final String meaning;
  private final Predicate<ScheduleReport> shows;

  KnownHole(String meaning, Predicate<ScheduleReport> shows) {
    this.meaning = meaning;
    this.shows = shows;
  }

  boolean shownBy(ScheduleReport report) {
    return shows.test(report);
  }

  /**
   * Whether the schedule also planted a record that stops recovery on its own (2.1, 2.2) other than {@code
   * except}: then what recovery left undone says nothing about another hole.
   */
  private static boolean stoppedByAnother(ScheduleReport report, Fault except) {
    return (except != Fault.PLANTED_RELATIVE_OWNER && report.faults.containsKey(Fault.PLANTED_RELATIVE_OWNER))
        || (except != Fault.PLANTED_HUGE_RECORD && report.faults.containsKey(Fault.PLANTED_HUGE_RECORD));
  }

  private static boolean has(ScheduleReport report, Invariant invariant) {
    return report.violations.containsKey(invariant);
  }

  private static boolean mentions(ScheduleReport report, Invariant invariant, String text) {
    List<String> details = report.violations.getOrDefault(invariant, List.of());
    return details.stream().anyMatch(detail -> detail.contains(text));
  }
}
