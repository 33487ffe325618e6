package io.deferredspans.demo.executor;

import io.deferredspans.demo.common.DemoPaths;
import io.deferredspans.demo.common.DemoTelemetry;
import io.deferredspans.demo.common.Messages.BuildRequest;
import io.deferredspans.demo.common.Messages.MergeRequest;
import io.deferredspans.demo.common.Znodes;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Polls the merge and build request folders and runs up to {@code slots} jobs at once. Polling (one
 * {@code getChildren} per folder every 200 ms) keeps the demo simple and is cheap at this scale.
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

  ExecutorWorker(Znodes znodes, DemoTelemetry telemetry, int slots) {
    String id = telemetry.instanceId();
    this.merges = new RequestQueue<>(znodes, DemoPaths.MERGE_REQUESTS, MergeRequest.class, id);
    this.builds = new RequestQueue<>(znodes, DemoPaths.BUILD_REQUESTS, BuildRequest.class, id);
    this.runner = new JobRunner(telemetry);
    this.slots = new Semaphore(slots);
    this.workers = Executors.newFixedThreadPool(slots);
  }

  void start() {
    poller.scheduleWithFixedDelay(this::pollOnce, 0, POLL_MILLIS, TimeUnit.MILLISECONDS);
  }

  private void pollOnce() {
    try {
      while (slots.tryAcquire()) {
        Optional<Job> job = nextJob();
        if (job.isEmpty()) {
          slots.release();
          return;
        }
        workers.execute(() -> runAndFreeSlot(job.get()));
      }
    } catch (Exception e) {
      log.warn("polling for requests failed; trying again", e);
    }
  }

  /** Merges first: every item's builds wait for its merge. */
  private Optional<Job> nextJob() throws Exception {
    Optional<RequestQueue.Claimed<MergeRequest>> merge = merges.claimNext();
    if (merge.isPresent()) {
      return Optional.of(() -> runner.merge(merges, merge.get()));
    }
    return builds.claimNext().map(build -> () -> runner.build(builds, build));
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
