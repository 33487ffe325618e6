package io.deferredspans.demo.scheduler;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** One demo JVM started by the launcher, with its log file and whether the launcher killed it on purpose. */
final class ChildProcess {
  private final String id;
  private final Process process;
  private final Path log;
  private volatile boolean killedOnPurpose;

  ChildProcess(String id, Process process, Path log) {
    this.id = id;
    this.process = process;
    this.log = log;
  }

  String id() {
    return id;
  }

  Path log() {
    return log;
  }

  long pid() {
    return process.pid();
  }

  boolean isAlive() {
    return process.isAlive();
  }

  /** Exited although nobody asked it to. */
  boolean crashed() {
    return !process.isAlive() && !killedOnPurpose;
  }

  int exitValue() {
    return process.exitValue();
  }

  /** SIGKILL: no shutdown hook, nothing flushed; what the demo's failover is about. */
  void kill() throws InterruptedException {
    killedOnPurpose = true;
    process.destroyForcibly();
    process.waitFor(10, TimeUnit.SECONDS);
  }

  /** Asks for a clean stop (SIGTERM). */
  void requestStop() {
    killedOnPurpose = true;
    process.destroy();
  }

  /** Waits for a requested stop; kills the process if it takes longer than {@code timeout}. */
  boolean awaitStop(Duration timeout) throws InterruptedException {
    if (process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      return true;
    }
    process.destroyForcibly();
    process.waitFor(5, TimeUnit.SECONDS);
    return false;
  }
}
