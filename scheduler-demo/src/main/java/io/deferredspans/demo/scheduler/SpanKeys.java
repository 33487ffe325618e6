package io.deferredspans.demo.scheduler;

/** The keys under which the scheduler keeps its deferred spans in the store: one per thing whose life they measure. */
final class SpanKeys {
  private SpanKeys() {}

  static String item(String itemId) {
    return "item/" + itemId;
  }

  /** Numbered: a gate reset gives the item a new build set, and keys must be unique per span. */
  static String buildSet(String itemId, int buildSetNumber) {
    return "buildset/" + itemId + "/" + buildSetNumber;
  }

  static String merge(String itemId, int buildSetNumber) {
    return "merge/" + itemId + "/" + buildSetNumber;
  }

  /** By the request's own id, not the item's: keys must be unique per span, and an item may request nodes again. */
  static String nodeRequest(String requestId) {
    return "noderequest/" + requestId;
  }

  static String build(String buildUuid) {
    return "build/" + buildUuid;
  }
}
