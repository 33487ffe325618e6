package io.deferredspans.testing;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A main class in its own JVM, from this test's classpath: launch it, wait for the lines it prints, signal it as
 * an operating system would (SIGSTOP, SIGCONT, SIGTERM, SIGKILL). Its standard error goes to a temporary file that
 * every failure quotes, deleted on {@link #close()}.
 *
 * <p>Subclass it to give a program's own launch and protocol a name (span-store's {@code HostProcess}, the
 * CLI's {@code ServeProcess}).
 */
public class JvmProcess implements AutoCloseable {
  private final String name;
  private final Process process;
  private final File stderr;
  private final List<String> lines = new ArrayList<>();
  private final List<Long> arrivalNanos = new ArrayList<>(); // System.nanoTime() each line was read, guarded by lines
  private boolean endOfOutput; // guarded by lines

  /**
   * Starts {@code mainClass} with {@code args}: the same {@code java} as this JVM, a small heap, quick start-up
   * (short-lived: start fast rather than run fast), then {@code jvmOptions} (a later {@code -Xmx} wins).
   */
  protected JvmProcess(
      String name, Class<?> mainClass, List<String> jvmOptions, List<String> args, Map<String, String> environment)
      throws IOException {
    List<String> command = new ArrayList<>(List.of(
        ProcessHandle.current().info().command().orElse("java"), "-Xmx128m", "-XX:TieredStopAtLevel=1"));
    command.addAll(jvmOptions);
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass.getName()));
    command.addAll(args);
    this.name = name;
    this.stderr = Files.createTempFile(name + "-", ".err").toFile();
    ProcessBuilder builder = new ProcessBuilder(command).redirectError(stderr);
    builder.environment().putAll(environment);
    this.process = builder.start();
    Thread reader = new Thread(this::readLines, "jvm-process-" + name);
    reader.setDaemon(true);
    reader.start();
  }

  /** {@code mainClass} with {@code args} and this JVM's environment plus {@code environment}. */
  public static JvmProcess launch(
      String name, Class<?> mainClass, List<String> jvmOptions, List<String> args, Map<String, String> environment)
      throws IOException {
    return new JvmProcess(name, mainClass, jvmOptions, args, environment);
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

  public String name() {
    return name;
  }

  /** Everything printed on standard output so far, a line each. */
  public List<String> lines() {
    synchronized (lines) {
      return List.copyOf(lines);
    }
  }

  /** Whether a line equal to {@code line} was read at {@code sinceNanos} ({@link System#nanoTime()}) or later. */
  public boolean reportedSince(String line, long sinceNanos) {
    synchronized (lines) {
      for (int i = 0; i < lines.size(); i++) {
        if (arrivalNanos.get(i) - sinceNanos >= 0 && lines.get(i).equals(line)) {
          return true;
        }
      }
      return false;
    }
  }

  /** Waits for a line equal to {@code line}; fails with what the process printed if it ends or time runs out. */
  public void await(String line, Duration timeout) throws InterruptedException {
    await(line::equals, 1, timeout);
  }

  /** Waits until {@code count} printed lines match; fails with what the process printed if it ends or times out. */
  public List<String> await(Predicate<String> matching, int count, Duration timeout) throws InterruptedException {
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
              + " (alive=" + process.isAlive() + ")" + output());
        }
        lines.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
      }
    }
  }

  /** What it wrote to standard error so far. */
  public String stderrText() {
    try {
      return Files.readString(stderr.toPath());
    } catch (IOException e) {
      return "(unreadable: " + e + ")";
    }
  }

  /** Its last lines and its standard error, for a failure message. */
  private String output() {
    List<String> all = lines();
    return "\n" + String.join("\n", all.subList(Math.max(0, all.size() - 50), all.size()))
        + "\n--- stderr\n" + stderrText();
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  /** SIGSTOP: the process freezes, as a host stalled by a long GC or a hypervisor does. */
  public void pause() throws Exception {
    signal("STOP");
  }

  /** SIGCONT: the frozen process runs on, unaware of the time that passed. */
  public void resume() throws Exception {
    signal("CONT");
  }

  /** SIGTERM: shutdown hooks run, as in a rolling deploy. (Process.destroy() would also close our end of its output.) */
  public void terminate() throws Exception {
    signal("TERM");
  }

  /** SIGTERM, as a service manager stops it; waits for the exit and returns its status. */
  public int terminate(Duration timeout) throws Exception {
    terminate();
    return waitFor(timeout);
  }

  private void signal(String signal) throws Exception {
    Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid())).inheritIO().start();
    if (kill.waitFor() != 0) {
      throw new IllegalStateException("kill -" + signal + " " + process.pid() + " failed");
    }
  }

  /** Waits for it to exit and returns its status; fails with what it printed if it does not exit in time. */
  public int waitFor(Duration timeout) throws InterruptedException {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError(name + " did not exit within " + timeout + ":" + output());
    }
    return process.exitValue();
  }

  /** SIGKILL: no shutdown hooks, no flush, exactly like a crashed host. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      process.destroyForcibly();
    }
    stderr.delete();
  }
}
