package io.deferredspans.demo.executor;

import io.deferredspans.demo.common.DemoPaths;
import io.deferredspans.demo.common.DemoTelemetry;
import io.deferredspans.demo.common.Messages.BuildRequest;
import io.deferredspans.demo.common.Messages.MergeRequest;
import io.deferredspans.demo.common.Znodes;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Polls the merge and build request folders and runs up to {@code slots} jobs at once. Polling (one
 * {@code getChildren} per folder every 200 ms) keeps the demo simple and is cheap at this scale. A running build
 * whose cancellation the scheduler asked for (a gate reset) is interrupted, so that its slot frees at once.
 */
final class ExecutorWorker implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ExecutorWorker.class);
  private static final long POLL_MILLIS = 200;

  @FunctionalInterface
  private interface Job {
    void run() throws Exception;
  }

  private final RequestQueue<MergeRequest> merges;
  private final RequestQueue<BuildRequest> builds;
  private final JobRunner runner;
  private final Semaphore slots;
  private final ScheduledExecutorService poller = Executors.newSingleThreadScheduledExecutor();
  private final ExecutorService workers;
  /** Build request path to the submitted build; finished ones are pruned on every poll. */
  private final Map<String, Future<?>> runningBuilds = new ConcurrentHashMap<>();
  /**
   * Builds whose job has started: only those are cancelled, since a task cancelled before it starts would never
   * run the code that frees its slot.
   */
  private final Set<String> startedBuilds = ConcurrentHashMap.newKeySet();

  ExecutorWorker(Znodes znodes, DemoTelemetry telemetry, int slots, StepProcess stepProcess) {
    String id = telemetry.instanceId();
    this.merges = new RequestQueue<>(znodes, DemoPaths.MERGE_REQUESTS, MergeRequest.class, id);
    this.builds = new RequestQueue<>(znodes, DemoPaths.BUILD_REQUESTS, BuildRequest.class, id);
    this.runner = new JobRunner(telemetry, stepProcess);
    this.slots = new Semaphore(slots);
    this.workers = Executors.newFixedThreadPool(slots);
  }

  void start() {
    poller.scheduleWithFixedDelay(this::pollOnce, 0, POLL_MILLIS, TimeUnit.MILLISECONDS);
  }

  private void pollOnce() {
    try {
      cancelBuildsAskedTo();
      while (slots.tryAcquire()) {
        if (!startNextJob()) {
          slots.release();
          return;
        }
      }
    } catch (Exception e) {
      log.warn("polling for requests failed; trying again", e);
    }
  }

  /** Merges first: every item's builds wait for its merge. */
  private boolean startNextJob() throws Exception {
    Optional<RequestQueue.Claimed<MergeRequest>> merge = merges.claimNext();
    if (merge.isPresent()) {
      workers.execute(() -> runAndFreeSlot(() -> runner.merge(merges, merge.get())));
      return true;
    }
    Optional<RequestQueue.Claimed<BuildRequest>> build = builds.claimNext();
    build.ifPresent(b -> runningBuilds.put(b.path(), workers.submit(() -> runBuild(b))));
    return build.isPresent();
  }

  private void runBuild(RequestQueue.Claimed<BuildRequest> build) {
    startedBuilds.add(build.path());
    try {
      runAndFreeSlot(() -> runner.build(builds, build));
    } finally {
      startedBuilds.remove(build.path());
    }
  }

  private void cancelBuildsAskedTo() {
    runningBuilds.values().removeIf(Future::isDone);
    runningBuilds.forEach((path, build) -> {
      if (startedBuilds.contains(path) && builds.cancelRequested(path)) {
        build.cancel(true); // JobRunner sees the interrupt and the cancel request, and answers "cancellation"
      }
    });
  }

  private void runAndFreeSlot(Job job) {
    try {
      job.run();
    } catch (Exception e) {
      log.error("job failed; its claim goes with this process's session", e);
    } finally {
      slots.release();
    }
  }

  @Override
  public void close() throws InterruptedException {
    poller.shutdownNow();
    workers.shutdownNow(); // interrupts running jobs: their spans end and their claims are released
    workers.awaitTermination(5, TimeUnit.SECONDS);
  }
}
