package io.deferredspans.demo.scheduler;

import io.deferredspans.demo.common.DemoAttributes;
import io.deferredspans.demo.common.DemoPaths;
import io.deferredspans.demo.common.DemoTelemetry;
import io.deferredspans.demo.common.Messages.TriggerEvent;
import io.deferredspans.demo.common.ZnodeJson;
import io.deferredspans.sdk.TraceParent;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
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
    String change = changeNumber + ",1";
    Span span =
        telemetry.tracer().spanBuilder("PatchsetUploaded")
            .setNoParent()
            .setSpanKind(SpanKind.PRODUCER)
            .setAttribute(DemoAttributes.CHANGE, change)
            .startSpan();
    try {
      String eventId = "ev-" + span.getSpanContext().getSpanId().substring(0, 8);
      span.setAttribute(DemoAttributes.EVENT_ID, eventId);
      TriggerEvent event =
          new TriggerEvent(eventId, change, PROJECT, TraceParent.format(span.getSpanContext()), System.currentTimeMillis());
      client.create().forPath(DemoPaths.event(eventId), ZnodeJson.write(event));
      return event;
    } finally {
      span.end();
    }
  }
}
