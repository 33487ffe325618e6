package io.deferredspans.demo.scheduler;

import io.deferredspans.demo.common.DemoPaths;
import io.deferredspans.demo.common.DemoProcess;
import io.deferredspans.demo.common.DemoTelemetry;
import io.deferredspans.demo.common.Messages.BuildEntry;
import io.deferredspans.demo.common.Messages.ItemState;
import io.deferredspans.demo.common.Messages.QueueItem;
import io.deferredspans.demo.common.Messages.TriggerEvent;
import io.deferredspans.demo.common.Znodes;
import io.deferredspans.demo.executor.ExecutorMain;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Drives one demo run: start the schedulers and executors, ingest the trigger events, watch the queue, kill the
 * scheduler that enqueued the first item while that item's builds run, and wait until every item is dequeued and
 * every span has left the store. Prints a progress line every few seconds.
 */
final class DemoScenario {
  private static final Duration READY_TIMEOUT = Duration.ofSeconds(90);
  private static final Duration DRAIN_TIMEOUT = Duration.ofSeconds(60);
  private static final Duration PROGRESS_EVERY = Duration.ofSeconds(5);
  private static final long POLL_MILLIS = 250;
  private static final String SESSION_TIMEOUT_MS = "4000";

  /** How the run went, before looking at the spans. */
  record Outcome(boolean completed, String problem, String killed) {
    static Outcome failed(String problem, String killed) {
      return new Outcome(false, problem, killed);
    }
  }

  private final LauncherOptions options;
  private final ProcessFleet fleet;
  private final Znodes znodes;
  private final DemoTelemetry telemetry;
  private final String connectString;
  private final PrintStream out;
  private final long startNanos = System.nanoTime();
  private final Set<String> seenItems = new HashSet<>();
  private String killed;

  DemoScenario(LauncherOptions options, ProcessFleet fleet, Znodes znodes, DemoTelemetry telemetry,
      String connectString, PrintStream out) {
    this.options = options;
    this.fleet = fleet;
    this.znodes = znodes;
    this.telemetry = telemetry;
    this.connectString = connectString;
    this.out = out;
  }

  Outcome run() throws Exception {
    startProcesses();
    Optional<String> notReady = awaitReady();
    if (notReady.isPresent()) {
      return Outcome.failed(notReady.get(), null);
    }
    EventSource source = new EventSource(znodes.client(), telemetry);
    for (int i = 0; i < options.items(); i++) {
      TriggerEvent event = source.patchsetUploaded(1001 + i);
      print("ingested trigger event %s (patchset uploaded, change %s)", event.id(), event.change());
    }
    telemetry.flush();
    Optional<String> problem = watchQueue();
    if (problem.isPresent()) {
      return Outcome.failed(problem.get(), killed);
    }
    problem = awaitStoreDrained();
    return problem.map(p -> Outcome.failed(p, killed)).orElseGet(() -> new Outcome(true, null, killed));
  }

  private void startProcesses() throws Exception {
    List<String> common = List.of("--" + DemoProcess.ZOOKEEPER, connectString,
        "--" + DemoProcess.SESSION_TIMEOUT_MS, SESSION_TIMEOUT_MS);
    for (int i = 1; i <= LauncherOptions.SCHEDULERS; i++) {
      List<String> args = new ArrayList<>(common);
      args.addAll(List.of("--" + SchedulerMain.ITEM_SECONDS, Long.toString(options.itemSeconds())));
      if (!options.gateReset()) {
        args.add("--" + SchedulerMain.NO_RESET);
      }
      fleet.start("scheduler-" + i, SchedulerMain.class, args);
    }
    for (int i = 1; i <= options.executors(); i++) {
      fleet.start("executor-" + i, ExecutorMain.class, common);
    }
    print("started %s (logs in %s)", describe(fleet.children()), options.logDir());
  }

  private Optional<String> awaitReady() throws Exception {
    long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
    while (System.nanoTime() < deadline) {
      Optional<String> crash = crashReport();
      if (crash.isPresent()) {
        return crash;
      }
      List<String> ready = znodes.children(DemoPaths.PROCESSES);
      if (ready.containsAll(fleet.children().stream().map(ChildProcess::id).toList())) {
        print("all %d processes connected to ZooKeeper", ready.size());
        return Optional.empty();
      }
      Thread.sleep(POLL_MILLIS);
    }
    return Optional.of("processes not ready within " + READY_TIMEOUT.toSeconds() + " s; see " + options.logDir());
  }

  private Optional<String> watchQueue() throws Exception {
    long deadline = System.nanoTime() + options.timeout().toNanos();
    long nextProgress = System.nanoTime();
    while (System.nanoTime() < deadline) {
      Optional<String> crash = crashReport();
      if (crash.isPresent()) {
        return crash;
      }
      Map<String, QueueItem> items = readQueue();
      seenItems.addAll(items.keySet());
      if (options.kill() && killed == null) {
        killEnqueuerOnceBuilding(items);
      }
      boolean done = seenItems.size() == options.items() && items.isEmpty()
          && znodes.children(DemoPaths.EVENTS).isEmpty();
      if (done || System.nanoTime() >= nextProgress) {
        print("%s", progress(items));
        nextProgress = System.nanoTime() + PROGRESS_EVERY.toNanos();
      }
      if (done) {
        return Optional.empty();
      }
      Thread.sleep(POLL_MILLIS);
    }
    return Optional.of("items not finished within " + options.timeout().toSeconds()
        + " s (raise --timeout-seconds, or see " + options.logDir() + ")");
  }

  /** Kills the first item's enqueuer while that item is in flight: its builds have been launched and run. */
  private void killEnqueuerOnceBuilding(Map<String, QueueItem> items) throws Exception {
    for (QueueItem item : items.values()) {
      if (item.state() == ItemState.BUILDING && anyBuildRunningOrDone(item)) {
        Optional<ChildProcess> enqueuer = fleet.find(item.enqueuedBy());
        if (enqueuer.isPresent() && enqueuer.get().isAlive()) {
          enqueuer.get().kill();
          killed = enqueuer.get().id();
          print("KILLED %s (SIGKILL, pid %d): it enqueued %s, whose builds are running; the other scheduler"
              + " must finish it", killed, enqueuer.get().pid(), item.id());
        }
        return;
      }
    }
  }

  private boolean anyBuildRunningOrDone(QueueItem item) throws Exception {
    for (BuildEntry build : item.builds()) {
      if (build.done() || znodes.exists(DemoPaths.claim(DemoPaths.buildRequest(build.uuid())))) {
        return true;
      }
    }
    return false;
  }

  private Optional<String> awaitStoreDrained() throws Exception {
    StoreBacklog backlog = new StoreBacklog(znodes.client());
    long deadline = System.nanoTime() + DRAIN_TIMEOUT.toNanos();
    boolean announced = false;
    while (System.nanoTime() < deadline) {
      StoreBacklog.Counts counts = backlog.count();
      if (counts.empty()) {
        print("span store drained: no open spans, every ended span acknowledged by an exporter");
        return Optional.empty();
      }
      if (!announced) {
        print("waiting for the span store to drain (%d open, %d ended but not yet exported; a killed scheduler's"
            + " spans are exported by the recovery worker once its session expires)", counts.open(), counts.unexported());
        announced = true;
      }
      Thread.sleep(POLL_MILLIS);
    }
    return Optional.of("span store not drained within " + DRAIN_TIMEOUT.toSeconds() + " s: " + backlog.count());
  }

  private Map<String, QueueItem> readQueue() throws Exception {
    Map<String, QueueItem> items = new LinkedHashMap<>();
    for (String id : znodes.children(DemoPaths.QUEUE)) {
      znodes.read(DemoPaths.item(id), QueueItem.class).ifPresent(v -> items.put(id, v.value()));
    }
    return items;
  }

  private String progress(Map<String, QueueItem> items) {
    long finished = seenItems.stream().filter(id -> !items.containsKey(id)).count();
    String states = items.values().stream().limit(3)
        .map(i -> i.id() + " " + i.state() + (i.state() == ItemState.BUILDING
            ? " " + i.buildsDone() + "/" + i.builds().size() + " builds" : "")
            + (i.buildSetNumber() > 1 ? " (build set " + i.buildSetNumber() + ", after a gate reset)" : ""))
        .collect(Collectors.joining(", "));
    return String.format("items enqueued %d/%d, finished %d%s | alive: %s%s", seenItems.size(), options.items(),
        finished, states.isEmpty() ? "" : " | " + states, String.join(" ", fleet.alive()),
        killed == null ? "" : " (" + killed + " killed)");
  }

  private Optional<String> crashReport() {
    return fleet.firstCrashed().map(c -> c.id() + " exited unexpectedly with status " + c.exitValue()
        + "; see " + c.log());
  }

  private static String describe(List<ChildProcess> children) {
    return children.stream().map(c -> c.id() + " (pid " + c.pid() + ")").collect(Collectors.joining(", "));
  }

  private void print(String format, Object... args) {
    double seconds = (System.nanoTime() - startNanos) / 1e9;
    out.printf("[%6.1fs] %s%n", seconds, String.format(format, args));
    out.flush();
  }
}
