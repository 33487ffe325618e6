package io.deferredspans.benchmarks.zk;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.util.concurrent.locks.LockSupport;

/** Heap still in use after full collections: what a process retains, not what it happens to hold right now. */
public final class HeapProbe {
  private static final MemoryMXBean MEMORY = ManagementFactory.getMemoryMXBean();

  private HeapProbe() {}

  public static long retainedBytes() {
    for (int i = 0; i < 3; i++) {
      System.gc();
      LockSupport.parkNanos(20_000_000L); // let reference processing and finalizable objects settle
    }
    return MEMORY.getHeapMemoryUsage().getUsed();
  }

  /** Several readings, so the spread of the retained heap itself is known. */
  public static double[] readings(int count) {
    double[] bytes = new double[count];
    for (int i = 0; i < count; i++) {
      bytes[i] = retainedBytes();
    }
    return bytes;
  }

  /** Per-object growth between two sets of readings, reading by reading. */
  public static double[] bytesPer(double[] before, double[] after, long objects) {
    double[] per = new double[Math.min(before.length, after.length)];
    for (int i = 0; i < per.length; i++) {
      per[i] = (after[i] - before[i]) / objects;
    }
    return per;
  }
}
