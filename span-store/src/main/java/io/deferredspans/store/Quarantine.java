package io.deferredspans.store;

import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.store.DeferredSpanRecovery.ScanResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.zookeeper.data.Stat;

/**
 * Where recovery puts what it can neither read nor end: unreadable records and finished spans, and records no end
 * can remove. Their bytes move to {@code BASE/quarantine} in one fenced transaction with their removal, so they
 * neither block the scans nor get lost; an operator finds them there.
 */
final class Quarantine {
  private final StoreCore core;
  private final RecoveryReads reads;

  Quarantine(StoreCore core, RecoveryReads reads) {
    this.core = core;
    this.reads = reads;
  }

  /**
   * Moves unreadable bytes to quarantine, unless the node changed meanwhile (then there is nothing to move).
   *
   * @return whether this call moved them
   */
  boolean move(String path, Stat stat, byte[] data, ScanResult result) throws Exception {
    try {
      core.fences().open("quarantine " + path).multi(core.endTransaction().quarantineOps(path, stat, data, List.of()));
    } catch (EndTransaction.RecordChangedException | SessionFencedCall.Refused changed) {
      return false; // ended or replaced meanwhile
    }
    core.counters().recordQuarantined();
    result.quarantined++;
    return true;
  }

  /**
   * Why an end can never remove this record, if it cannot: its children are not exactly its own span marker (an
   * end deletes the marker and then the record, which fails on any other child).
   */
  Optional<String> unendable(String path, DeferredSpanRecord record) throws Exception {
    List<String> children = reads.children(path);
    String marker = ZNodeLayout.MARKER_PREFIX + record.getSpanContext().getSpanId();
    if (!children.contains(marker)) {
      return Optional.of("it has no span marker '" + marker + "'");
    }
    if (children.size() > 1) {
      List<String> others = new ArrayList<>(children);
      others.remove(marker);
      return Optional.of("it has children other than its span marker: " + others);
    }
    return Optional.empty();
  }
}
