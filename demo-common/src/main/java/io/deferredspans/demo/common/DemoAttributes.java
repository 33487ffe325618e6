package io.deferredspans.demo.common;

import io.opentelemetry.api.common.AttributeKey;

/** Attribute keys of the demo's spans, named after what Zuul records on the same spans. */
public final class DemoAttributes {
  public static final AttributeKey<String> EVENT_ID = AttributeKey.stringKey("ci.event.id");
  public static final AttributeKey<String> TENANT = AttributeKey.stringKey("ci.tenant");
  public static final AttributeKey<String> PIPELINE = AttributeKey.stringKey("ci.pipeline");
  public static final AttributeKey<String> CHANGE = AttributeKey.stringKey("ci.change");
  public static final AttributeKey<String> ITEM_ID = AttributeKey.stringKey("ci.item.id");
  public static final AttributeKey<String> BUILD_UUID = AttributeKey.stringKey("ci.build.uuid");
  public static final AttributeKey<String> JOB_NAME = AttributeKey.stringKey("ci.job.name");
  public static final AttributeKey<String> RESULT = AttributeKey.stringKey("ci.result");
  /** The process that ran the job; all demo processes share one machine, so this is its instance id. */
  public static final AttributeKey<String> EXECUTOR_HOSTNAME = AttributeKey.stringKey("ci.executor.hostname");
  public static final AttributeKey<String> MERGER_HOSTNAME = AttributeKey.stringKey("ci.merger.hostname");
  public static final AttributeKey<String> NODE_REQUEST_ID = AttributeKey.stringKey("ci.node_request.id");
  public static final AttributeKey<String> NODE_LABEL = AttributeKey.stringKey("ci.node.label");
  public static final AttributeKey<Boolean> BUILDSET_RESET = AttributeKey.booleanKey("ci.buildset.reset");
  /** On a link: what the linked span is to this one. */
  public static final AttributeKey<String> LINK = AttributeKey.stringKey("ci.link");
  public static final AttributeKey<String> PLAYBOOK = AttributeKey.stringKey("ci.playbook");

  private DemoAttributes() {}
}
