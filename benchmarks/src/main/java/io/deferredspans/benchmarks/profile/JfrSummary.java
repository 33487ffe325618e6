package io.deferredspans.benchmarks.profile;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordedThread;
import jdk.jfr.consumer.RecordingFile;

/**
 * Where the time of a flight recording went, as docs/benchmarks.md summarises the 8-client profile: CPU samples
 * by thread and by the code they were in, and the time threads spent blocked (monitor enter, monitor wait, park)
 * by where they blocked, so that a lock that serialises clients shows up with its class and method.
 *
 * <p>Usage: {@code JfrSummary RECORDING.jfr [TOP]} (see benchmarks/profile-concurrency).
 */
public final class JfrSummary {
  private static final List<String> BLOCKING = List.of("jdk.JavaMonitorEnter", "jdk.JavaMonitorWait", "jdk.ThreadPark");

  private JfrSummary() {}

  public static void main(String[] args) throws Exception {
    int top = args.length > 1 ? Integer.parseInt(args[1]) : 12;
    List<RecordedEvent> samples = new ArrayList<>();
    List<RecordedEvent> cpuLoad = new ArrayList<>();
    Map<String, List<RecordedEvent>> blocked = new HashMap<>();
    for (RecordedEvent event : RecordingFile.readAllEvents(Path.of(args[0]))) {
      String type = event.getEventType().getName();
      if (type.equals("jdk.ExecutionSample")) {
        samples.add(event);
      } else if (type.equals("jdk.CPULoad")) {
        cpuLoad.add(event);
      } else if (BLOCKING.contains(type)) {
        blocked.computeIfAbsent(type, t -> new ArrayList<>()).add(event);
      }
    }
    System.out.printf(Locale.ROOT, "%s: %,d CPU samples%n", args[0], samples.size());
    // Whether this JVM was short of CPU: its own share of the machine beside the machine's total, once a second.
    double jvm = cpuLoad.stream().mapToDouble(e -> e.getFloat("jvmUser") + e.getFloat("jvmSystem")).average()
        .orElse(Double.NaN);
    double machine = cpuLoad.stream().mapToDouble(e -> e.getFloat("machineTotal")).average().orElse(Double.NaN);
    System.out.printf(Locale.ROOT, "CPU: this JVM %.0f%% of the machine's cores, the machine %.0f%% busy (mean of %d "
        + "readings)%n", 100 * jvm, 100 * machine, cpuLoad.size());
    print("CPU samples by thread", count(samples, e -> threadGroup(e.getThread("sampledThread"))), samples.size(),
        top);
    print("CPU samples by the code on top of the stack", count(samples, JfrSummary::layer), samples.size(), top);
    print("CPU samples by the span store's or benchmark's frame nearest the top (inclusive)",
        count(samples, e -> ownFrame(e.getStackTrace())), samples.size(), top);
    print("CPU samples by top frame", count(samples, e -> frame(e.getStackTrace(), 0)), samples.size(), top);
    for (String type : BLOCKING) {
      List<RecordedEvent> events = blocked.getOrDefault(type, List.of());
      Map<String, Long> byPlace = new HashMap<>();
      Map<String, Long> byThread = new HashMap<>();
      long total = 0;
      for (RecordedEvent event : events) {
        long millis = event.getDuration().toMillis();
        total += millis;
        byPlace.merge(blockedOn(event) + " at " + ownFrame(event.getStackTrace()) + " <- "
            + frameOf(event.getStackTrace(), "io.deferredspans."), millis, Long::sum);
        byThread.merge(threadGroup(event.getThread()), millis, Long::sum);
      }
      System.out.printf(Locale.ROOT, "%n%s: %,d events of 1 ms or more, %,d ms in all%n", type, events.size(), total);
      print("  ms by thread", byThread, total, top);
      print("  ms by what was blocked on, at the nearest Curator-or-ours frame <- the nearest of ours", byPlace,
          total, top);
    }
  }

  private static Map<String, Long> count(List<RecordedEvent> events, Function<RecordedEvent, String> key) {
    Map<String, Long> counts = new HashMap<>();
    events.forEach(event -> counts.merge(key.apply(event), 1L, Long::sum));
    return counts;
  }

  private static void print(String title, Map<String, Long> counts, long total, int top) {
    System.out.println(title + ":");
    counts.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(top)
        .forEach(entry -> System.out.printf(Locale.ROOT, "  %5.1f%%  %,9d  %s%n",
            total == 0 ? 0.0 : 100.0 * entry.getValue() / total, entry.getValue(), entry.getKey()));
  }

  /** A pool's threads as one ("pool-3-thread-7" as "pool-3-thread-*"). */
  private static String threadGroup(RecordedThread thread) {
    if (thread == null) {
      return "?";
    }
    String name = thread.getJavaName() == null ? thread.getOSName() : thread.getJavaName();
    return name == null ? "?" : name.replaceAll("\\d+$", "*").replaceAll("-\\d+-", "-*-");
  }

  private static String layer(RecordedEvent sample) {
    RecordedStackTrace stack = sample.getStackTrace();
    if (stack == null || stack.getFrames().isEmpty()) {
      return "?";
    }
    String type = stack.getFrames().get(0).getMethod().getType().getName();
    for (String prefix : List.of("io.deferredspans.store", "io.deferredspans.sdk", "io.deferredspans.benchmarks",
        "org.apache.curator", "org.apache.zookeeper", "org.apache.jute", "io.opentelemetry",
        "com.fasterxml.jackson", "sun.nio", "java.util.concurrent", "java.", "jdk.", "sun.")) {
      if (type.startsWith(prefix)) {
        return prefix;
      }
    }
    return type;
  }

  /** The frame nearest the top that is ours or Curator's: where the thread was in code we can change or tune. */
  private static String ownFrame(RecordedStackTrace stack) {
    return frameOf(stack, "io.deferredspans.", "org.apache.curator.");
  }

  /** The frame nearest the top in one of the packages; the top frame if none is. */
  private static String frameOf(RecordedStackTrace stack, String... packages) {
    if (stack == null) {
      return "?";
    }
    for (RecordedFrame frame : stack.getFrames()) {
      String type = frame.getMethod().getType().getName();
      for (String prefix : packages) {
        if (type.startsWith(prefix)) {
          return type.substring(type.lastIndexOf('.') + 1) + "." + frame.getMethod().getName();
        }
      }
    }
    return frame(stack, 0);
  }

  private static String frame(RecordedStackTrace stack, int index) {
    if (stack == null || stack.getFrames().size() <= index) {
      return "?";
    }
    RecordedFrame frame = stack.getFrames().get(index);
    return frame.getMethod().getType().getName() + "." + frame.getMethod().getName();
  }

  private static String blockedOn(RecordedEvent event) {
    for (String field : List.of("monitorClass", "parkedClass")) {
      if (event.hasField(field) && event.getValue(field) != null) {
        return ((jdk.jfr.consumer.RecordedClass) event.getValue(field)).getName();
      }
    }
    return "?";
  }
}
