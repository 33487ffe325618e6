package io.deferredspans.cli;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** {@code deferred-spans serve} in its own JVM, from the test classpath: launch it, read its lines, signal it. */
final class ServeProcess implements AutoCloseable {
  private final String name;
  private final Process process;
  private final File stderr;
  private final List<String> lines = new ArrayList<>();
  private boolean endOfOutput; // guarded by lines

  private ServeProcess(String name, Process process, File stderr) {
    this.name = name;
    this.process = process;
    this.stderr = stderr;
    Thread reader = new Thread(this::readLines, "serve-process-" + name);
    reader.setDaemon(true);
    reader.start();
  }

  static ServeProcess launch(String name, Map<String, String> environment, String... args) throws IOException {
    List<String> command = new ArrayList<>(List.of(
        ProcessHandle.current().info().command().orElse("java"),
        "-Xmx128m", "-XX:TieredStopAtLevel=1", // short-lived: start fast rather than run fast
        "-cp", System.getProperty("java.class.path"),
        DeferredSpansCli.class.getName(), "serve"));
    command.addAll(List.of(args));
    File stderr = Files.createTempFile("serve-" + name, ".err").toFile();
    ProcessBuilder builder = new ProcessBuilder(command).redirectError(stderr);
    builder.environment().putAll(environment);
    return new ServeProcess(name, builder.start(), stderr);
  }

  private void readLines() {
    try (BufferedReader reader =
        new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = reader.readLine()) != null) {
        synchronized (lines) {
          lines.add(line);
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

  /** Waits for a line; fails with what the process printed if it ends or the time runs out first. */
  void await(String line, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (lines) {
      while (!lines.contains(line)) {
        long left = deadline - System.nanoTime();
        if (left <= 0 || endOfOutput) {
          throw new AssertionError(name + ": no line '" + line + "' (alive=" + process.isAlive() + ")\n"
              + String.join("\n", lines) + "\n--- stderr\n" + stderrText());
        }
        lines.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
      }
    }
  }

  List<String> lines() {
    synchronized (lines) {
      return List.copyOf(lines);
    }
  }

  String stderrText() {
    try {
      return Files.readString(stderr.toPath());
    } catch (IOException e) {
      return "(unreadable: " + e + ")";
    }
  }

  /** SIGTERM, as a service manager stops it; waits for the exit and returns its status. */
  int terminate(Duration timeout) throws Exception {
    Process kill = new ProcessBuilder("kill", "-TERM", Long.toString(process.pid())).inheritIO().start();
    if (kill.waitFor() != 0) {
      throw new IllegalStateException("kill -TERM " + process.pid() + " failed");
    }
    return waitFor(timeout);
  }

  int waitFor(Duration timeout) throws InterruptedException {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError(name + " did not exit within " + timeout + ":\n" + String.join("\n", lines())
          + "\n--- stderr\n" + stderrText());
    }
    return process.exitValue();
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      process.destroyForcibly();
    }
    Path path = stderr.toPath();
    path.toFile().delete();
  }
}
