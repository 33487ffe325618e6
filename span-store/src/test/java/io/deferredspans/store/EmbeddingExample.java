package io.deferredspans.store;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.sdk.TraceParent;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.data.SpanData;
import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.test.TestingServer;

/**
 * The library in one page, as docs/embedding.md shows it: host A begins a queue item's span in the same
 * ZooKeeper transaction as the item, a merger attaches a child through a traceparent, and host B ends the span
 * while dequeuing, exporting it through its own SDK pipeline with A's IDs and start time.
 *
 * <p>Runnable (it starts its own ZooKeeper): see the README. Checked by {@code EmbeddingExampleTest}.
 */
public final class EmbeddingExample {
  private EmbeddingExample() {}

  public static void main(String[] args) throws Exception {
    List<SpanData> spans = run(System.out);
    System.exit(spans.size() == 2 ? 0 : 1);
  }

  /** Runs the example and returns what host B's exporter received. */
  static List<SpanData> run(PrintStream out) throws Exception {
    try (TestingServer zookeeper = new TestingServer(true);
        CuratorFramework clientA = newClient(zookeeper);
        CuratorFramework clientB = newClient(zookeeper)) {
      // Each host builds its SDK pipeline once; in a service, use DeferredTracingAutoConfiguration instead to
      // take exporters and endpoints from the OTEL_* variables.
      InMemorySpanExporter exporterB = InMemorySpanExporter.create();
      DeferredTracing hostA = tracing("scheduler-a", InMemorySpanExporter.create());
      DeferredTracing hostB = tracing("scheduler-b", exporterB);

      try (DeferredSpanStore storeA = DeferredSpanStore.builder(clientA, hostA).build();
          DeferredSpanStore storeB = DeferredSpanStore.builder(clientB, hostB).build()) {
        storeA.start();
        storeB.start();
        clientA.createContainers("/queue");

        // Host A, enqueue: the item and its span commit together, or neither does.
        DeferredSpanRecord item =
            hostA.spanBuilder("QueueItem").setOwner("/queue/item-42").setAttribute("zuul.pipeline", "gate").begin();
        storeA.beginDeferredSpan("item-42", item, clientA.transactionOp().create().forPath("/queue/item-42"));
        out.printf("host A began %s: trace %s span %s at %s%n", item.getName(),
            item.getSpanContext().getTraceId(), item.getSpanContext().getSpanId(), instant(item.getStartEpochNanos()));

        // A merger elsewhere gets only a traceparent in its job request, and parents its own span on it.
        String traceparent = storeB.read("item-42").orElseThrow().traceparent();
        Span mergeJob = hostB.getTracerProvider().orElseThrow().get("merger").spanBuilder("MergeJob")
            .setParent(Context.root().with(Span.wrap(TraceParent.parse(traceparent))))
            .startSpan();
        mergeJob.end();
        out.printf("merger attached MergeJob under traceparent %s%n", traceparent);

        // Host B, dequeue: ends the span exactly once, in the same transaction as the item's removal.
        EndResult result = storeB.endDeferredSpan("item-42",
            DeferredSpanEnding.builder().setAttribute("zuul.result", "SUCCESS").build(),
            clientB.transactionOp().delete().forPath("/queue/item-42"));
        out.printf("host B ended it: %s%n", result.getOutcome());

        hostB.getTracerProvider().orElseThrow().forceFlush().join(10, TimeUnit.SECONDS);
        List<SpanData> exported = exporterB.getFinishedSpanItems();
        for (SpanData span : exported) {
          out.printf("exported by host B: %-9s trace %s span %s parent %s, %s -> %s, began_by=%s ended_by=%s%n",
              span.getName(), span.getTraceId(), span.getSpanId(),
              span.getParentSpanContext().isValid() ? span.getParentSpanId() : "(root)",
              instant(span.getStartEpochNanos()), instant(span.getEndEpochNanos()),
              span.getAttributes().get(AttributeKey.stringKey("deferred_span.began_by")),
              span.getAttributes().get(AttributeKey.stringKey("deferred_span.ended_by")));
        }
        return exported;
      } finally {
        // In this order: the stores drain first (their spans acknowledged and removed), then the SDK shuts down.
        hostA.getTracerProvider().orElseThrow().shutdown().join(10, TimeUnit.SECONDS);
        hostB.getTracerProvider().orElseThrow().shutdown().join(10, TimeUnit.SECONDS);
      }
    }
  }

  private static DeferredTracing tracing(String host, InMemorySpanExporter exporter) {
    return DeferredTracing.builder()
        .setResource(Resource.getDefault().merge(Resource.create(Attributes.of(
            AttributeKey.stringKey("service.name"), "example",
            AttributeKey.stringKey("service.instance.id"), host))))
        .addSpanExporter(exporter)
        .build();
  }

  private static CuratorFramework newClient(TestingServer zookeeper) throws InterruptedException {
    CuratorFramework client =
        CuratorFrameworkFactory.newClient(zookeeper.getConnectString(), new ExponentialBackoffRetry(100, 3));
    client.start();
    client.blockUntilConnected((int) Duration.ofSeconds(30).toSeconds(), TimeUnit.SECONDS);
    return client;
  }

  private static Instant instant(long epochNanos) {
    return Instant.ofEpochSecond(0, epochNanos);
  }
}
