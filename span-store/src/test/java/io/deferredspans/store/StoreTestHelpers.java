package io.deferredspans.store;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.time.Duration;
import java.util.function.UnaryOperator;

/**
 * The helpers of a test class on {@link StoreServers}, under the short names its tests call: a class implements
 * this and names its servers, instead of writing the helpers again.
 */
interface StoreTestHelpers {
  StoreServers servers();

  /** A host exporting over OTLP/HTTP to the servers' receiver, its batch processor waiting 20 ms. */
  default TestHost host(String name) throws Exception {
    return host(name, UnaryOperator.identity(), Duration.ofMillis(20));
  }

  /** A host exporting over OTLP/HTTP to the servers' receiver, with these store options and batch delay. */
  default TestHost host(String name, UnaryOperator<DeferredSpanStore.Builder> options, Duration batchDelay)
      throws Exception {
    return host(name, TestHost.httpExporter(servers().receiver().httpEndpoint()), options, batchDelay);
  }

  /** A host exporting to {@code exporter}, with these store options and batch delay. */
  default TestHost host(String name, SpanExporter exporter, UnaryOperator<DeferredSpanStore.Builder> options,
      Duration batchDelay) throws Exception {
    return servers().host(name, exporter, options, batchDelay);
  }

  /** A recovery worker on {@code host}'s store with no grace period unless {@code options} say otherwise. */
  default DeferredSpanRecovery recovery(TestHost host, UnaryOperator<DeferredSpanRecovery.Builder> options) {
    return servers().recovery(host, options);
  }

  /** The queue item of {@code key}: what its span is owned by. */
  default String item(String key) {
    return servers().item(key);
  }

  /** Begins a "QueueItem" span under {@code key} from {@code host}, with its queue item. */
  default DeferredSpanRecord enqueue(TestHost host, String key) throws Exception {
    return servers().enqueue(host, key);
  }

  /** Ends {@code key}'s span from {@code host} with {@code ending}, deleting its queue item in the same transaction. */
  default EndResult dequeue(TestHost host, String key, DeferredSpanEnding ending) throws Exception {
    return servers().dequeue(host, key, ending);
  }

  /** Ends {@code key}'s span from {@code host} now, deleting its queue item in the same transaction. */
  default EndResult dequeue(TestHost host, String key) throws Exception {
    return dequeue(host, key, DeferredSpanEnding.now());
  }
}
