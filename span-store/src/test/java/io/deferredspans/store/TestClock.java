package io.deferredspans.store;

import io.opentelemetry.sdk.common.Clock;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/** Recovery's clock driven by the test: starts at the real time and moves only when the test moves it. */
final class TestClock implements Clock {
  private final AtomicLong epochNanos =
      new AtomicLong(TimeUnit.MILLISECONDS.toNanos(System.currentTimeMillis()));

  void advance(Duration by) {
    epochNanos.addAndGet(by.toNanos());
  }

  @Override
  public long now() {
    return epochNanos.get();
  }

  @Override
  public long nanoTime() {
    return epochNanos.get();
  }
}
