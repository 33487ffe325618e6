package io.deferredspans.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.testing.TestExporters;
import io.opentelemetry.sdk.logs.SdkLoggerProvider;
import io.opentelemetry.sdk.logs.export.SimpleLogRecordProcessor;
import io.opentelemetry.sdk.testing.exporter.InMemoryLogRecordExporter;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The store announces a span as begun only once its begin transaction committed. */
class StartEventsStoreTest {
  @RegisterExtension static final StoreServers SERVERS = new StoreServers("start-events");

  @Test
  void oneEventPerCommittedBeginAndNoneForARefusedOne() throws Exception {
    InMemoryLogRecordExporter logs = InMemoryLogRecordExporter.create();
    SdkLoggerProvider loggerProvider =
        SdkLoggerProvider.builder().addLogRecordProcessor(SimpleLogRecordProcessor.create(logs)).build();
    CuratorFramework client = SERVERS.closeAfterTest(CuratorFrameworkFactory.newClient(
        SERVERS.zookeeper().getConnectString(), new ExponentialBackoffRetry(100, 3)));
    client.start();
    DeferredTracing tracing = DeferredTracing.builder().setStartEventLoggerProvider(loggerProvider)
        .addSpanExporter(TestExporters.neverAnswering()).build();
    DeferredSpanStore store = SERVERS.closeAfterTest(
        DeferredSpanStore.builder(client, tracing).basePath(SERVERS.base()).build());
    store.start();
    client.createContainers(SERVERS.items());

    DeferredSpanRecord first = tracing.spanBuilder("QueueItem").setNoParent().begin();
    store.beginDeferredSpan("item", first, client.transactionOp().create().forPath(SERVERS.items() + "/item"));
    DeferredSpanRecord refused = tracing.spanBuilder("QueueItem").setNoParent().begin();
    assertThrows(DeferredSpanStoreException.class, () -> store.beginDeferredSpan("item", refused));

    assertEquals(1, logs.getFinishedLogRecordItems().size(), "the refused begin is not announced");
    assertEquals(first.getSpanContext().getSpanId(),
        logs.getFinishedLogRecordItems().get(0).getSpanContext().getSpanId());
  }
}
