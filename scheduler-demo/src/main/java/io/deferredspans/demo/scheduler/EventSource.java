package io.deferredspans.demo.scheduler;

import io.deferredspans.demo.common.DemoAttributes;
import io.deferredspans.demo.common.DemoPaths;
import io.deferredspans.demo.common.DemoTelemetry;
import io.deferredspans.demo.common.Messages.Change;
import io.deferredspans.demo.common.Messages.TriggerEvent;
import io.deferredspans.demo.common.ZnodeJson;
import io.deferredspans.sdk.TraceParent;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.curator.framework.CuratorFramework;

/**
 * Plays the code-review system and its driver: each "patchset uploaded" event gets a short trace of its own,
 * and is handed to the schedulers as an event znode carrying that trace's context.
 */
final class EventSource {
  private static final String PROJECT = "example/project";

  private final CuratorFramework client;
  private final DemoTelemetry telemetry;

  EventSource(CuratorFramework client, DemoTelemetry telemetry) {
    this.client = client;
    this.telemetry = telemetry;
  }

  TriggerEvent patchsetUploaded(int changeNumber) throws Exception {
    Change change = new Change(PROJECT, changeNumber, 1, newRevision());
    Span span =
        telemetry.tracer().spanBuilder("PatchsetUploaded")
            .setNoParent()
            .setSpanKind(SpanKind.PRODUCER)
            .setAllAttributes(DemoAttributes.vcs(change))
            .startSpan();
    try {
      String eventId = "ev-" + span.getSpanContext().getSpanId().substring(0, 8);
      span.setAttribute(DemoAttributes.EVENT_ID, eventId);
      TriggerEvent event =
          new TriggerEvent(eventId, change, TraceParent.format(span.getSpanContext()), System.currentTimeMillis());
      client.create().forPath(DemoPaths.event(eventId), ZnodeJson.write(event));
      return event;
    } finally {
      span.end();
    }
  }

  /** A commit id for the new patchset: nothing is committed anywhere, but it looks and travels like one. */
  private static String newRevision() {
    byte[] sha1 = new byte[20];
    ThreadLocalRandom.current().nextBytes(sha1);
    return HexFormat.of().formatHex(sha1);
  }
}
