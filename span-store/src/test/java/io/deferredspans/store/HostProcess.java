package io.deferredspans.store;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/** A {@link HostProcessMain} running in its own JVM: launch it, read what it reports, SIGKILL it. */
final class HostProcess implements AutoCloseable {
  private final String name;
  private final Process process;
  private final List<String> lines = new ArrayList<>();
  private final List<Long> arrivalNanos = new ArrayList<>(); // System.nanoTime() each line was read, guarded by lines
  private boolean endOfOutput; // guarded by lines

  private HostProcess(String name, Process process) {
    this.name = name;
    this.process = process;
    Thread reader = new Thread(this::readLines, "host-process-" + name);
    reader.setDaemon(true);
    reader.start();
  }

  static HostProcess launch(String name, String zk, String base, String otlp, String... mode) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(ProcessHandle.current().info().command().orElse("java"));
    command.add("-Xmx128m");
    command.add("-XX:TieredStopAtLevel=1"); // short-lived: start fast rather than run fast
    command.add("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn");
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(HostProcessMain.class.getName());
    command.addAll(List.of("--name", name, "--zk", zk, "--base", base, "--otlp", otlp));
    command.addAll(List.of(mode));
    ProcessBuilder builder = new ProcessBuilder(command)
        .redirectError(new File(System.getProperty("java.io.tmpdir"), "host-process-" + name + ".err"));
    return new HostProcess(name, builder.start());
  }

  private void readLines() {
    try (BufferedReader reader =
        new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = reader.readLine()) != null) {
        synchronized (lines) {
          lines.add(line);
          arrivalNanos.add(System.nanoTime());
          lines.notifyAll();
        }
      }
    } catch (IOException e) {
      // killed: the stream ends
    }
    synchronized (lines) {
      endOfOutput = true;
      lines.notifyAll();
    }
  }

  String name() {
    return name;
  }

  /** Everything reported so far. */
  List<String> lines() {
    synchronized (lines) {
      return new ArrayList<>(lines);
    }
  }

  /** Whether a line equal to {@code line} was read at {@code sinceNanos} ({@link System#nanoTime()}) or later. */
  boolean reportedSince(String line, long sinceNanos) {
    synchronized (lines) {
      for (int i = 0; i < lines.size(); i++) {
        if (arrivalNanos.get(i) - sinceNanos >= 0 && lines.get(i).equals(line)) {
          return true;
        }
      }
      return false;
    }
  }

  /** Waits until {@code count} reported lines match; fails with the lines seen if the process dies or times out. */
  List<String> await(Predicate<String> matching, int count, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (lines) {
      while (true) {
        List<String> matched = lines.stream().filter(matching).toList();
        if (matched.size() >= count) {
          return matched;
        }
        long left = deadline - System.nanoTime();
        if (left <= 0 || endOfOutput) {
          throw new AssertionError(name + ": wanted " + count + " matching lines, saw " + matched.size()
              + " (alive=" + process.isAlive() + ", last lines " + tail() + ")");
        }
        lines.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
      }
    }
  }

  private String tail() {
    return lines.subList(Math.max(0, lines.size() - 5), lines.size()).toString();
  }

  List<String> awaitDone(Duration timeout) throws InterruptedException {
    await("DONE"::equals, 1, timeout);
    return lines();
  }

  boolean isAlive() {
    return process.isAlive();
  }

  /** SIGSTOP: the process freezes, as a host stalled by a long GC or a hypervisor does. */
  void pause() throws Exception {
    signal("STOP");
  }

  /** SIGCONT: the frozen process runs on, unaware of the time that passed. */
  void resume() throws Exception {
    signal("CONT");
  }

  /** SIGTERM: shutdown hooks run, as in a rolling deploy. (Process.destroy() would also close our end of its output.) */
  void terminate() throws Exception {
    signal("TERM");
  }

  private void signal(String name) throws Exception {
    Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start();
    if (kill.waitFor() != 0) {
      throw new IllegalStateException("kill -" + name + " " + process.pid() + " failed");
    }
  }

  /** SIGKILL: no shutdown hooks, no flush, exactly like a crashed host. */
  void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      process.destroyForcibly();
    }
  }
}
