package io.deferredspans.store;

import io.deferredspans.store.DeferredSpanRecovery.ScanResult;
import java.util.function.BooleanSupplier;
import org.apache.zookeeper.KeeperException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One record never stops the others: runs one record's step of a scan so that a failure of that record alone
 * (its bytes, its size, its owner path, a limit) is logged and counted in {@link ScanResult#skipped()}, and the
 * scan goes on with the next record. What makes every record fail (no connection, a closed worker) still ends
 * the scan.
 */
final class RecordIsolation {
  private static final Logger log = LoggerFactory.getLogger(RecordIsolation.class);

  /** One record's work whose failure must not stop the work on the others. */
  interface Step {
    void run() throws Exception;
  }

  private final BooleanSupplier closed;

  /** @param closed whether the worker was closed (then a failure is its interruption, and ends the scan) */
  RecordIsolation(BooleanSupplier closed) {
    this.closed = closed;
  }

  /**
   * Runs {@code step} on {@code path}; if it fails for this record alone, {@code onFailure} says when it is tried
   * again.
   */
  void run(String path, ScanResult result, Step step, Runnable onFailure) throws Exception {
    try {
      step.run();
    } catch (InterruptedException e) {
      throw e;
    } catch (KeeperException e) {
      if (KeeperErrors.isConnectionProblem(e) || closed.getAsBoolean()) {
        throw e;
      }
      skipped(path, result, e, onFailure);
    } catch (Exception e) {
      if (closed.getAsBoolean() || e instanceof DeferredSpanStoreUnavailableException) {
        throw e;
      }
      skipped(path, result, e, onFailure);
    }
  }

  private static void skipped(String path, ScanResult result, Exception e, Runnable onFailure) {
    log.warn("recovery skipped {} this time: {}; the scan goes on with the others", path, e.toString());
    result.skipped++;
    onFailure.run();
  }
}
