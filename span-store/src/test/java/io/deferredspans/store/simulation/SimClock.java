package io.deferredspans.store.simulation;

import java.time.Duration;
import java.util.concurrent.Callable;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;

/** Waiting on a condition, never on the clock alone (Awaitility underneath). */
final class SimClock {
  private SimClock() {}

  /** Whether {@code condition} became true within {@code millis}; false, not an exception, if it did not. */
  static boolean awaitQuietly(Callable<Boolean> condition, long millis) {
    try {
      Awaitility.await()
          .pollInSameThread() // thousands of waits: no thread of their own each
          .pollDelay(Duration.ZERO)
          .pollInterval(Duration.ofMillis(25))
          .atMost(Duration.ofMillis(millis))
          .ignoreExceptions()
          .until(condition);
      return true;
    } catch (ConditionTimeoutException notInTime) {
      return false;
    }
  }
}
