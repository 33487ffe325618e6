package io.deferredspans.store;

import io.deferredspans.testing.JvmProcess;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** A {@link HostProcessMain} running in its own JVM: launch it, read what it reports, SIGKILL it. */
final class HostProcess extends JvmProcess {
  private HostProcess(String name, List<String> args) throws IOException {
    super(name, HostProcessMain.class, List.of("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"), args, Map.of());
  }

  static HostProcess launch(String name, String zk, String base, String otlp, String... mode) throws IOException {
    List<String> args = new ArrayList<>(List.of("--name", name, "--zk", zk, "--base", base, "--otlp", otlp));
    args.addAll(List.of(mode));
    return new HostProcess(name, args);
  }

  List<String> awaitDone(Duration timeout) throws InterruptedException {
    await("DONE", timeout);
    return lines();
  }
}
