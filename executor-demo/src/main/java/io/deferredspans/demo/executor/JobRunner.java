package io.deferredspans.demo.executor;

import io.deferredspans.demo.common.DemoAttributes;
import io.deferredspans.demo.common.DemoPaths;
import io.deferredspans.demo.common.DemoTelemetry;
import io.deferredspans.demo.common.Messages.BuildRequest;
import io.deferredspans.demo.common.Messages.BuildResult;
import io.deferredspans.demo.common.Messages.MergeRequest;
import io.deferredspans.demo.common.Messages.MergeResult;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Scope;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs claimed merge and build requests under the scheduler's deferred spans: a {@code MergeJob} span whose
 * parent is the scheduler's {@code Merge} span, and a {@code JobExecution} span (with one child span per step)
 * whose parent is the scheduler's {@code Build} span. The parents are remote: only their traceparent travels in
 * the request. Each span ends before its answer is written, since the answer is what lets the scheduler end the
 * parent: a child never outlives its parent.
 */
final class JobRunner {
  private static final Logger log = LoggerFactory.getLogger(JobRunner.class);
  private static final String SUCCESS = DemoAttributes.RESULT_SUCCESS;
  private static final String FAILURE = DemoAttributes.RESULT_FAILURE;
  private static final String CANCELLATION = DemoAttributes.RESULT_CANCELLATION;
  private static final String MERGED = "merged";

  private final Tracer tracer;
  private final SimulatedSteps steps;
  private final StepProcess stepProcess;
  private final String instanceId;

  JobRunner(DemoTelemetry telemetry, StepProcess stepProcess) {
    this.tracer = telemetry.tracer();
    this.steps = new SimulatedSteps(tracer);
    this.stepProcess = stepProcess;
    this.instanceId = telemetry.instanceId();
  }

  void merge(RequestQueue<MergeRequest> queue, RequestQueue.Claimed<MergeRequest> claimed) throws Exception {
    MergeRequest request = claimed.request();
    Span span =
        tracer.spanBuilder("MergeJob")
            .setParent(DemoTelemetry.remoteParent(request.traceparent()))
            .setSpanKind(SpanKind.CONSUMER)
            .setAllAttributes(DemoAttributes.worker(instanceId))
            .setAttribute(DemoAttributes.PIPELINE_RUN_ID, request.itemId())
            .setAllAttributes(DemoAttributes.vcs(request.change()))
            .startSpan();
    long d = request.durationMillis();
    boolean merged = false;
    try (Scope ignored = span.makeCurrent()) {
      steps.step("git fetch", d * 4 / 10, Attributes.empty());
      steps.step("merge changes", d * 6 / 10, DemoAttributes.vcs(request.change()));
      span.setAttribute(DemoAttributes.MERGE_RESULT, MERGED);
      merged = true;
    } catch (InterruptedException e) {
      failed(span, DemoAttributes.ERROR_ABORTED, "executor shut down; the merge is handed to another executor");
    } finally {
      span.end();
    }
    if (!merged) {
      queue.release(claimed);
      Thread.currentThread().interrupt();
      return;
    }
    // Answered only now that MergeJob has ended: the scheduler ends the parent Merge span on this answer.
    queue.complete(claimed, DemoPaths.mergeResult(request.itemId()),
        new MergeResult(request.itemId(), instanceId, MERGED));
    log.info("merged {} for {}", request.change(), request.itemId());
  }

  void build(RequestQueue<BuildRequest> queue, RequestQueue.Claimed<BuildRequest> claimed) throws Exception {
    BuildRequest request = claimed.request();
    // The task run as the executor runs it (CICD conventions: kind INTERNAL), under the scheduler's Build span;
    // what a sampler may need is set at start.
    Span span =
        tracer.spanBuilder("JobExecution")
            .setParent(DemoTelemetry.remoteParent(request.traceparent()))
            .setSpanKind(SpanKind.INTERNAL)
            .setAllAttributes(DemoAttributes.taskRun(DemoPaths.TENANT, request.job(), request.uuid()))
            .setAllAttributes(DemoAttributes.worker(instanceId))
            .setAttribute(DemoAttributes.PIPELINE_RUN_ID, request.itemId())
            .startSpan();
    Optional<String> result;
    try {
      result = runJob(span, request, () -> queue.cancelRequested(claimed.path()));
    } finally {
      span.end();
    }
    if (result.isEmpty()) {
      queue.release(claimed);
      Thread.currentThread().interrupt();
      return;
    }
    // Answered only now that JobExecution has ended: the scheduler ends the parent Build span on this answer, and
    // a cancelled build's Build span waits for it too.
    queue.complete(claimed, DemoPaths.buildResult(request.uuid()),
        new BuildResult(request.uuid(), request.itemId(), request.job(), result.get(), instanceId));
    log.info("build {} ({}) answered: {}", request.uuid(), request.job(), result.get());
  }

  /**
   * Runs a build's steps under its span and records the result on it.
   *
   * @return the result to answer with, or empty if the executor is shutting down and the build goes to another one
   */
  private Optional<String> runJob(Span span, BuildRequest request, BooleanSupplier cancelRequested) {
    String result;
    try (Scope ignored = span.makeCurrent()) {
      runSteps(request);
      result = request.failsOnPurpose() ? FAILURE : SUCCESS;
      if (request.failsOnPurpose()) {
        failed(span, DemoAttributes.ERROR_FAILURE, "failed on purpose, to show a gate reset");
      }
    } catch (InterruptedException e) {
      if (!cancelRequested.getAsBoolean()) {
        failed(span, DemoAttributes.ERROR_ABORTED, "executor shut down; the build is handed to another executor");
        return Optional.empty();
      }
      // Interrupted by ExecutorWorker because the scheduler asked for the build to be cancelled.
      result = CANCELLATION;
      failed(span, DemoAttributes.ERROR_CANCELED, "cancelled by the scheduler");
    }
    span.setAttribute(DemoAttributes.TASK_RUN_RESULT, result);
    return Optional.of(result);
  }

  /** An ERROR status always says why, in {@code error.type} (recording errors, semantic conventions). */
  private static void failed(Span span, String errorType, String description) {
    span.setStatus(StatusCode.ERROR, description).setAttribute(DemoAttributes.ERROR_TYPE, errorType);
  }

  /** Zuul's job phases: prepare the repositories, set up the nodes, run each playbook, clean up. */
  private void runSteps(BuildRequest request) throws InterruptedException {
    long d = request.durationMillis();
    steps.step("RepoPrep", Attributes.empty(), () -> {
      steps.step("repo update", d * 3 / 100, Attributes.empty());
      steps.step("merge changes", d * 3 / 100, DemoAttributes.vcs(request.change()));
      steps.step("checkout", d * 2 / 100, Attributes.empty());
    });
    steps.step("Setup", d * 7 / 100, Attributes.empty());
    playbook("pre-run", "playbooks/base/pre.yaml", d * 15 / 100);
    // The job's own playbook runs as a process, as ansible-playbook does in Zuul: its span, in that process, is a
    // child of this step's, through TRACEPARENT in the process's environment.
    String run = "playbooks/" + request.job() + ".yaml";
    steps.step("Playbook run", Attributes.of(DemoAttributes.PLAYBOOK, run),
        () -> stepProcess.run(run, d * 50 / 100, request.uuid()));
    playbook("post-run", "playbooks/base/post.yaml", d * 15 / 100);
    steps.step("Cleanup", d * 5 / 100, Attributes.empty());
  }

  private void playbook(String phase, String playbook, long millis) throws InterruptedException {
    steps.step("Playbook " + phase, millis, Attributes.of(DemoAttributes.PLAYBOOK, playbook));
  }
}
