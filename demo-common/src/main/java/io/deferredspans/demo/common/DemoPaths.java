package io.deferredspans.demo.common;

import org.apache.curator.utils.ZKPaths;

/**
 * Where the demo keeps what in ZooKeeper. Requests and results are flat folders of small JSON znodes: any
 * scheduler or executor can list them, and every hand-over is one ZooKeeper transaction.
 *
 * <pre>
 * /demo/events/EVENT                          trigger events waiting for a scheduler (carry the event's traceparent)
 * /demo/tenants/T/pipelines/P/queue/ITEM      queue items (state machine, updated with versioned setData)
 * /demo/merge-requests/ITEM[/claim]           merge requests (carry the Merge span's traceparent); claim: ephemeral
 * /demo/merge-results/ITEM                    merger's answer
 * /demo/build-requests/UUID[/claim][/cancel]  build requests (carry the Build span's traceparent); claim: ephemeral;
 *                                             cancel: the scheduler asks the executor to stop and answer
 * /demo/build-results/UUID                    executor's answer
 * /demo/processes/INSTANCE                    ephemeral: the process is up and connected
 * /deferred-spans/...                         the DeferredSpanStore (see span-store's ZNodeLayout)
 * </pre>
 */
public final class DemoPaths {
  public static final String ROOT = "/demo";
  public static final String TENANT = "example-tenant";
  public static final String PIPELINE = "check";
  public static final String EVENTS = ROOT + "/events";
  public static final String QUEUE = ROOT + "/tenants/" + TENANT + "/pipelines/" + PIPELINE + "/queue";
  public static final String MERGE_REQUESTS = ROOT + "/merge-requests";
  public static final String MERGE_RESULTS = ROOT + "/merge-results";
  public static final String BUILD_REQUESTS = ROOT + "/build-requests";
  public static final String BUILD_RESULTS = ROOT + "/build-results";
  public static final String PROCESSES = ROOT + "/processes";
  public static final String SPAN_STORE = "/deferred-spans";
  /** Name of the ephemeral child by which one executor claims a request. */
  public static final String CLAIM = "claim";
  /** Name of the child by which a scheduler asks for a build to be cancelled (a gate reset). */
  public static final String CANCEL = "cancel";

  /** Every folder a process lists; created up front so that listing never meets a missing parent. */
  public static final String[] FOLDERS = {
    EVENTS, QUEUE, MERGE_REQUESTS, MERGE_RESULTS, BUILD_REQUESTS, BUILD_RESULTS, PROCESSES
  };

  private DemoPaths() {}

  public static String event(String eventId) {
    return ZKPaths.makePath(EVENTS, eventId);
  }

  public static String item(String itemId) {
    return ZKPaths.makePath(QUEUE, itemId);
  }

  public static String mergeRequest(String itemId) {
    return ZKPaths.makePath(MERGE_REQUESTS, itemId);
  }

  public static String mergeResult(String itemId) {
    return ZKPaths.makePath(MERGE_RESULTS, itemId);
  }

  public static String buildRequest(String buildUuid) {
    return ZKPaths.makePath(BUILD_REQUESTS, buildUuid);
  }

  public static String buildResult(String buildUuid) {
    return ZKPaths.makePath(BUILD_RESULTS, buildUuid);
  }

  public static String process(String instanceId) {
    return ZKPaths.makePath(PROCESSES, instanceId);
  }

  public static String claim(String requestPath) {
    return ZKPaths.makePath(requestPath, CLAIM);
  }

  public static String cancel(String requestPath) {
    return ZKPaths.makePath(requestPath, CANCEL);
  }
}
