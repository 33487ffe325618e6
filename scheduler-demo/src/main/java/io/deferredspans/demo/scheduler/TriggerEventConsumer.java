package io.deferredspans.demo.scheduler;

import io.deferredspans.demo.common.DemoAttributes;
import io.deferredspans.demo.common.DemoPaths;
import io.deferredspans.demo.common.DemoTelemetry;
import io.deferredspans.demo.common.Messages.ItemState;
import io.deferredspans.demo.common.Messages.QueueItem;
import io.deferredspans.demo.common.Messages.TriggerEvent;
import io.deferredspans.demo.common.ZnodeJson;
import io.deferredspans.demo.common.Znodes;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.store.DeferredSpanStore;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.context.Scope;
import java.util.List;
import java.util.Optional;
import org.apache.curator.framework.CuratorFramework;

/**
 * Turns trigger events into queue items. Processing an event is a short span in the event's trace; the queue item
 * it creates starts a trace of its own (it lives for hours in Zuul) whose root span links back to that processing
 * span. The item znode, its {@code QueueItem} span record and the event's removal commit in one transaction, so
 * when both schedulers see the same event exactly one enqueues it.
 */
final class TriggerEventConsumer {
  private final Znodes znodes;
  private final CuratorFramework client;
  private final DeferredSpanStore store;
  private final DemoTelemetry telemetry;

  TriggerEventConsumer(Znodes znodes, DeferredSpanStore store, DemoTelemetry telemetry) {
    this.znodes = znodes;
    this.client = znodes.client();
    this.store = store;
    this.telemetry = telemetry;
  }

  void consumeAll() throws Exception {
    for (String eventId : znodes.children(DemoPaths.EVENTS)) {
      Optional<Znodes.Versioned<TriggerEvent>> event = znodes.read(DemoPaths.event(eventId), TriggerEvent.class);
      if (event.isPresent()) {
        enqueue(event.get());
      }
    }
  }

  private void enqueue(Znodes.Versioned<TriggerEvent> versioned) throws Exception {
    TriggerEvent event = versioned.value();
    String itemId = "item-" + event.id();
    Span processing =
        telemetry.tracer().spanBuilder("ProcessTriggerEvent")
            .setParent(DemoTelemetry.remoteParent(event.traceparent()))
            .setSpanKind(SpanKind.CONSUMER)
            .setAttribute(DemoAttributes.EVENT_ID, event.id())
            .setAttribute(DemoAttributes.PIPELINE_NAME, DemoPaths.PIPELINE)
            .setAllAttributes(DemoAttributes.vcs(event.change()))
            .startSpan();
    try (Scope ignored = processing.makeCurrent()) {
      // The pipeline run (CICD conventions: kind SERVER). What identifies the run is known now and goes into the
      // stored record, where the sampler sees it too; the result is added by whoever ends the span.
      DeferredSpanRecord itemSpan =
          telemetry.deferred().spanBuilder("QueueItem")
              .setNoParent()
              .setSpanKind(SpanKind.SERVER)
              .setAttribute(DemoAttributes.PIPELINE_NAME, DemoPaths.PIPELINE)
              .setAttribute(DemoAttributes.PIPELINE_RUN_ID, itemId)
              .setAttribute(DemoAttributes.PIPELINE_RUN_URL,
                  DemoAttributes.pipelineRunUrl(DemoPaths.TENANT, event.change()))
              .addLink(processing.getSpanContext())
              .setOwner(DemoPaths.item(itemId))
              .begin();
      QueueItem item =
          new QueueItem(itemId, event.id(), event.change(), telemetry.instanceId(),
              System.currentTimeMillis(), ItemState.ENQUEUED, 1, null, List.of());
      boolean enqueued =
          Transitions.attempt("enqueue " + itemId, () -> store.beginDeferredSpan(
              SpanKeys.item(itemId),
              itemSpan,
              client.transactionOp().create().forPath(DemoPaths.item(itemId), ZnodeJson.write(item)),
              client.transactionOp().delete().withVersion(versioned.version()).forPath(DemoPaths.event(event.id()))));
      processing.setAttribute(DemoAttributes.PIPELINE_RUN_ID, itemId);
      processing.setAttribute(DemoAttributes.EVENT_OUTCOME, enqueued ? "enqueued" : "enqueued by another scheduler");
    } finally {
      processing.end();
    }
  }
}
