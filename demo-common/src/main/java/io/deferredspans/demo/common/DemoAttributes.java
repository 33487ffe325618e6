package io.deferredspans.demo.common;

import io.deferredspans.demo.common.Messages.Change;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import java.util.List;

/**
 * Every attribute key the demo's spans carry. Where OpenTelemetry's CICD and VCS semantic conventions name a thing,
 * the demo uses that name, so that a backend's CI views and queries work on its spans: a queue item is a pipeline
 * run, a job is a pipeline task, a build is a task run, an executor or merger is a worker. What the conventions do
 * not name (Zuul's tenants, trigger events, build sets, node requests, playbooks) gets a {@code zuul.*} key, after
 * the CI system the demo imitates. docs/demo.md lists both kinds.
 *
 * <p>Which span is which run, its kind, and which attribute must be there and when: the conventions' requirement
 * levels (semantic-conventions 1.44.0, release candidate), which {@code CicdConventionsTest} reads from its copy
 * of their tables and checks the demo's spans against. An attribute the conventions mark as one a sampler may need
 * is set when the span starts (for a deferred span: at begin, so it is in the stored record); a result is set
 * when it ends.
 */
public final class DemoAttributes {
  // OpenTelemetry semantic conventions: CICD.
  /** The pipeline a queue item runs in (Zuul: the pipeline, e.g. {@code check}). */
  public static final AttributeKey<String> PIPELINE_NAME = AttributeKey.stringKey("cicd.pipeline.name");
  /** One run of the pipeline: the queue item's id. */
  public static final AttributeKey<String> PIPELINE_RUN_ID = AttributeKey.stringKey("cicd.pipeline.run.id");
  /** Where a person looks at the run: Zuul's status page of the change ({@link #pipelineRunUrl}). */
  public static final AttributeKey<String> PIPELINE_RUN_URL = AttributeKey.stringKey("cicd.pipeline.run.url.full");
  /** The queue item's result, one of the {@code RESULT_*} values. */
  public static final AttributeKey<String> PIPELINE_RESULT = AttributeKey.stringKey("cicd.pipeline.result");
  /** The job a build runs (e.g. {@code tox-py311}). */
  public static final AttributeKey<String> TASK_NAME = AttributeKey.stringKey("cicd.pipeline.task.name");
  /** One run of a job: the build's uuid. */
  public static final AttributeKey<String> TASK_RUN_ID = AttributeKey.stringKey("cicd.pipeline.task.run.id");
  /** Where a person looks at one build: Zuul's build page ({@link #taskRunUrl}). */
  public static final AttributeKey<String> TASK_RUN_URL = AttributeKey.stringKey("cicd.pipeline.task.run.url.full");
  /** A build's result, one of the {@code RESULT_*} values. */
  public static final AttributeKey<String> TASK_RUN_RESULT = AttributeKey.stringKey("cicd.pipeline.task.run.result");
  /** The executor or merger that did the work; the conventions' worker is identified by it ({@link #worker}). */
  public static final AttributeKey<String> WORKER_ID = AttributeKey.stringKey("cicd.worker.id");
  /**
   * The executor or merger that did the work. All demo processes share one machine, so this is the process's
   * {@code service.instance.id} rather than a host name.
   */
  public static final AttributeKey<String> WORKER_NAME = AttributeKey.stringKey("cicd.worker.name");

  // OpenTelemetry semantic conventions: general.
  /**
   * Why a run or task run did not succeed, set exactly when its status is ERROR (the CICD conventions require it
   * for the results {@code failure} and {@code error}). The values are Zuul's own result names, a low-cardinality
   * set of the domain's error identifiers: {@link #ERROR_FAILURE}, {@link #ERROR_CANCELED}, {@link #ERROR_ABORTED}.
   */
  public static final AttributeKey<String> ERROR_TYPE = AttributeKey.stringKey("error.type");
  /** A job (or, for a run, one of its jobs) failed: Zuul's {@code FAILURE}. */
  public static final String ERROR_FAILURE = "FAILURE";
  /** The executor stopped a job because the scheduler cancelled it (a gate reset): Zuul's {@code CANCELED}. */
  public static final String ERROR_CANCELED = "CANCELED";
  /** The executor shut down under a running job, which another executor runs again: Zuul's {@code ABORTED}. */
  public static final String ERROR_ABORTED = "ABORTED";

  // OpenTelemetry semantic conventions: VCS.
  /** The change under test (Gerrit's change number). */
  public static final AttributeKey<String> VCS_CHANGE_ID = AttributeKey.stringKey("vcs.change.id");
  /** The patchset's ref ({@code refs/changes/NN/CHANGE/PATCHSET} in Gerrit). */
  public static final AttributeKey<String> VCS_REF_HEAD_NAME = AttributeKey.stringKey("vcs.ref.head.name");
  /** The patchset's commit. */
  public static final AttributeKey<String> VCS_REF_HEAD_REVISION = AttributeKey.stringKey("vcs.ref.head.revision");
  /** The repository's name without its owner ({@code project} of {@code example/project}). */
  public static final AttributeKey<String> VCS_REPOSITORY_NAME = AttributeKey.stringKey("vcs.repository.name");
  /** The repository's owner ({@code example} of {@code example/project}). */
  public static final AttributeKey<String> VCS_OWNER_NAME = AttributeKey.stringKey("vcs.owner.name");

  /** Values of {@link #PIPELINE_RESULT}, {@link #TASK_RUN_RESULT} and {@link #BUILDSET_RESULT}, as the convention spells them. */
  public static final String RESULT_SUCCESS = "success";
  public static final String RESULT_FAILURE = "failure";
  public static final String RESULT_CANCELLATION = "cancellation";

  // Custom: what the conventions have no name for.
  /** Zuul's tenant: the conventions have no notion of a CI tenant. */
  public static final AttributeKey<String> TENANT = AttributeKey.stringKey("zuul.tenant");
  /** The trigger event that enqueued an item; no convention names the event behind a pipeline run. */
  public static final AttributeKey<String> EVENT_ID = AttributeKey.stringKey("zuul.event.id");
  /** What processing a trigger event led to ({@code enqueued}, or that the other scheduler did it). */
  public static final AttributeKey<String> EVENT_OUTCOME = AttributeKey.stringKey("zuul.event.outcome");
  /** A build set is one attempt of a pipeline run's tasks; the conventions stop at run and task run. */
  public static final AttributeKey<String> BUILDSET_RESULT = AttributeKey.stringKey("zuul.buildset.result");
  /** The build set was ended by a gate reset and replaced by a new one. */
  public static final AttributeKey<Boolean> BUILDSET_RESET = AttributeKey.booleanKey("zuul.buildset.reset");
  /** The merger's answer ({@code merged}); merging is not a task of the pipeline in the conventions' sense. */
  public static final AttributeKey<String> MERGE_RESULT = AttributeKey.stringKey("zuul.merge.result");
  public static final AttributeKey<String> NODE_REQUEST_ID = AttributeKey.stringKey("zuul.node_request.id");
  public static final AttributeKey<String> NODE_LABEL = AttributeKey.stringKey("zuul.node.label");
  public static final AttributeKey<String> PLAYBOOK = AttributeKey.stringKey("zuul.playbook");
  /** On a link: what the linked span is to this one (e.g. {@code previous_buildset}); links have no convention. */
  public static final AttributeKey<String> LINK = AttributeKey.stringKey("zuul.link");

  /** The keys that hold a result, in the order a reader looks for one: a span carries at most one of them. */
  public static final List<AttributeKey<String>> RESULT_KEYS =
      List.of(TASK_RUN_RESULT, PIPELINE_RESULT, BUILDSET_RESULT, MERGE_RESULT);

  /**
   * The web address of the demo's Zuul, for the runs' URLs. There is no web UI: {@code .example} is reserved for
   * examples (RFC 2606), so no reader can mistake it for a real server. The paths are those of Zuul's web UI.
   */
  public static final String WEB_URL = "https://zuul.example";

  private DemoAttributes() {}

  /** The status page of the change under test in its pipeline: where Zuul shows a queue item. */
  public static String pipelineRunUrl(String tenant, Change change) {
    return WEB_URL + "/t/" + tenant + "/status/change/" + change.number() + "," + change.patchset();
  }

  /** The page of one build. */
  public static String taskRunUrl(String tenant, String buildUuid) {
    return WEB_URL + "/t/" + tenant + "/build/" + buildUuid;
  }

  /** What a task run (a {@code Build} or its {@code JobExecution}) carries from its start: task, run id, URL. */
  public static Attributes taskRun(String tenant, String job, String buildUuid) {
    return Attributes.of(TASK_NAME, job, TASK_RUN_ID, buildUuid, TASK_RUN_URL, taskRunUrl(tenant, buildUuid));
  }

  /** The conventions' worker ({@code cicd.worker.id}, required, and {@code cicd.worker.name}): one process. */
  public static Attributes worker(String instanceId) {
    return Attributes.of(WORKER_ID, instanceId, WORKER_NAME, instanceId);
  }

  /** The VCS attributes of a change: which repository, which change, which patchset. */
  public static Attributes vcs(Change change) {
    return Attributes.builder()
        .put(VCS_OWNER_NAME, change.owner())
        .put(VCS_REPOSITORY_NAME, change.repository())
        .put(VCS_CHANGE_ID, Integer.toString(change.number()))
        .put(VCS_REF_HEAD_NAME, change.ref())
        .put(VCS_REF_HEAD_REVISION, change.revision())
        .build();
  }
}
