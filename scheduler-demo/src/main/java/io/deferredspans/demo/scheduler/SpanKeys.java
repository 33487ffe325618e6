package io.deferredspans.demo.scheduler;

/** The keys under which the scheduler keeps its deferred spans in the store: one per thing whose life they measure. */
final class SpanKeys {
  private SpanKeys() {}

  static String item(String itemId) {
    return "item/" + itemId;
  }

  static String buildSet(String itemId) {
    return "buildset/" + itemId;
  }

  static String merge(String itemId) {
    return "merge/" + itemId;
  }

  /** By the request's own id, not the item's: keys must be unique per span, and an item may request nodes again. */
  static String nodeRequest(String requestId) {
    return "noderequest/" + requestId;
  }

  static String build(String buildUuid) {
    return "build/" + buildUuid;
  }
}
