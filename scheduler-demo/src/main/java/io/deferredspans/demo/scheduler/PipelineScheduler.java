package io.deferredspans.demo.scheduler;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The scheduler's main loop: take new trigger events, then advance every queue item. Both schedulers run it over
 * the same znodes; {@link Transitions} makes sure each step happens once. Polls every 200 ms, one thread.
 */
final class PipelineScheduler implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PipelineScheduler.class);
  private static final long PASS_MILLIS = 200;

  private final TriggerEventConsumer events;
  private final QueueItemProcessor items;
  private final ScheduledExecutorService loop = Executors.newSingleThreadScheduledExecutor();

  PipelineScheduler(TriggerEventConsumer events, QueueItemProcessor items) {
    this.events = events;
    this.items = items;
  }

  void start() {
    loop.scheduleWithFixedDelay(this::pass, 0, PASS_MILLIS, TimeUnit.MILLISECONDS);
  }

  private void pass() {
    try {
      events.consumeAll();
      items.advanceAll();
    } catch (Exception e) {
      log.warn("scheduler pass failed; the next pass retries", e);
    }
  }

  @Override
  public void close() throws InterruptedException {
    loop.shutdown();
    loop.awaitTermination(10, TimeUnit.SECONDS);
  }
}
