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
import org.apache.zookeeper.KeeperException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs claimed merge and build requests under the scheduler's deferred spans: a {@code MergeJob} span whose
 * parent is the scheduler's {@code Merge} span, and a {@code JobExecution} span (with one child span per step)
 * whose parent is the scheduler's {@code Build} span. The parents are remote: only their traceparent travels in
 * the request.
 */
final class JobRunner {
  private static final Logger log = LoggerFactory.getLogger(JobRunner.class);
  private static final String SUCCESS = "SUCCESS";
  private static final String FAILURE = "FAILURE";
  private static final String CANCELED = "CANCELED";

  private final Tracer tracer;
  private final SimulatedSteps steps;
  private final String instanceId;

  JobRunner(DemoTelemetry telemetry) {
    this.tracer = telemetry.tracer();
    this.steps = new SimulatedSteps(tracer);
    this.instanceId = telemetry.instanceId();
  }

  void merge(RequestQueue<MergeRequest> queue, RequestQueue.Claimed<MergeRequest> claimed) throws Exception {
    MergeRequest request = claimed.request();
    Span span =
        tracer.spanBuilder("MergeJob")
            .setParent(DemoTelemetry.remoteParent(request.traceparent()))
            .setSpanKind(SpanKind.CONSUMER)
            .setAttribute(DemoAttributes.MERGER_HOSTNAME, instanceId)
            .setAttribute(DemoAttributes.ITEM_ID, request.itemId())
            .setAttribute(DemoAttributes.CHANGE, request.change())
            .startSpan();
    long d = request.durationMillis();
    try (Scope ignored = span.makeCurrent()) {
      steps.step("git fetch", d * 4 / 10, Attributes.empty());
      steps.step("merge changes", d * 6 / 10, Attributes.of(DemoAttributes.CHANGE, request.change()));
      queue.complete(claimed, DemoPaths.mergeResult(request.itemId()),
          new MergeResult(request.itemId(), instanceId, "MERGED"));
      log.info("merged {} for {}", request.change(), request.itemId());
    } catch (InterruptedException e) {
      queue.release(claimed);
      Thread.currentThread().interrupt();
    } finally {
      span.end();
    }
  }

  void build(RequestQueue<BuildRequest> queue, RequestQueue.Claimed<BuildRequest> claimed) throws Exception {
    BuildRequest request = claimed.request();
    Span span =
        tracer.spanBuilder("JobExecution")
            .setParent(DemoTelemetry.remoteParent(request.traceparent()))
            .setSpanKind(SpanKind.CONSUMER)
            .setAttribute(DemoAttributes.EXECUTOR_HOSTNAME, instanceId)
            .setAttribute(DemoAttributes.BUILD_UUID, request.uuid())
            .setAttribute(DemoAttributes.JOB_NAME, request.job())
            .startSpan();
    try (Scope ignored = span.makeCurrent()) {
      runSteps(request);
      String result = request.failsOnPurpose() ? FAILURE : SUCCESS;
      queue.complete(claimed, DemoPaths.buildResult(request.uuid()),
          new BuildResult(request.uuid(), request.itemId(), request.job(), result, instanceId));
      span.setAttribute(DemoAttributes.RESULT, result);
      if (request.failsOnPurpose()) {
        span.setStatus(StatusCode.ERROR, "failed on purpose, to show a gate reset");
      }
      log.info("build {} ({}) finished: {}", request.uuid(), request.job(), result);
    } catch (InterruptedException e) {
      if (queue.withdrawn(claimed.path())) {
        cancelled(span, request); // interrupted by ExecutorWorker because the scheduler withdrew the request
      } else {
        span.setStatus(StatusCode.ERROR, "executor shut down; the build is handed to another executor");
        queue.release(claimed);
        Thread.currentThread().interrupt();
      }
    } catch (KeeperException.NoNodeException e) {
      cancelled(span, request); // withdrawn just as the job finished: the result is not wanted any more
    } finally {
      span.end();
    }
  }

  private static void cancelled(Span span, BuildRequest request) {
    span.setAttribute(DemoAttributes.RESULT, CANCELED);
    span.setStatus(StatusCode.ERROR, "cancelled by the scheduler");
    log.info("build {} ({}) cancelled by the scheduler", request.uuid(), request.job());
  }

  /** Zuul's job phases: prepare the repositories, set up the nodes, run each playbook, clean up. */
  private void runSteps(BuildRequest request) throws InterruptedException {
    long d = request.durationMillis();
    steps.step("RepoPrep", Attributes.empty(), () -> {
      steps.step("repo update", d * 3 / 100, Attributes.empty());
      steps.step("merge changes", d * 3 / 100, Attributes.of(DemoAttributes.CHANGE, request.change()));
      steps.step("checkout", d * 2 / 100, Attributes.empty());
    });
    steps.step("Setup", d * 7 / 100, Attributes.empty());
    playbook("pre-run", "playbooks/base/pre.yaml", d * 15 / 100);
    playbook("run", "playbooks/" + request.job() + ".yaml", d * 50 / 100);
    playbook("post-run", "playbooks/base/post.yaml", d * 15 / 100);
    steps.step("Cleanup", d * 5 / 100, Attributes.empty());
  }

  private void playbook(String phase, String playbook, long millis) throws InterruptedException {
    steps.step("Playbook " + phase, millis, Attributes.of(DemoAttributes.PLAYBOOK, playbook));
  }
}
