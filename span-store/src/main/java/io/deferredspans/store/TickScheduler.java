package io.deferredspans.store;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The one thread recovery's ticks run on, so that scans never overlap: every scan interval, and sooner when a
 * recipe asks for it (a claim reported gone, the backlog over its bound). A tick asked for after {@link
 * #shutdownNow()} is not run.
 */
final class TickScheduler implements FinishedSpanRecovery.Ticks {
  private final ScheduledExecutorService executor =
      Executors.newSingleThreadScheduledExecutor(Threads.daemon("deferred-span-recovery"));
  private final Runnable tick;

  TickScheduler(Runnable tick) {
    this.tick = tick;
  }

  void every(Duration interval) {
    long millis = interval.toMillis();
    executor.scheduleWithFixedDelay(tick, millis, millis, TimeUnit.MILLISECONDS);
  }

  @Override
  public void now() {
    try {
      executor.execute(tick);
    } catch (RejectedExecutionException closing) {
      // closed meanwhile
    }
  }

  @Override
  public void after(long millis, BooleanSupplier stillDue) {
    try {
      executor.schedule(() -> {
        if (stillDue.getAsBoolean()) {
          tick.run();
        }
      }, millis, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException closing) {
      // closed meanwhile
    }
  }

  /** Stops the ticks, interrupting one under way. */
  void shutdownNow() {
    executor.shutdownNow();
  }
}
