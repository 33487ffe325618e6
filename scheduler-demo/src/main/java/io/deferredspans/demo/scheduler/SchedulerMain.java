package io.deferredspans.demo.scheduler;

import io.deferredspans.demo.common.CommandLine;
import io.deferredspans.demo.common.DemoPaths;
import io.deferredspans.demo.common.DemoProcess;
import io.deferredspans.demo.common.Znodes;
import io.deferredspans.store.DeferredSpanRecovery;
import io.deferredspans.store.DeferredSpanStore;
import java.time.Duration;
import java.util.Set;

/**
 * The scheduler process: {@code --zookeeper HOST:PORT --instance-id NAME --traces-endpoint URL
 * [--item-seconds N] [--no-reset] [--session-timeout-ms MS]},
 * OpenTelemetry from {@code otel.*} / {@code OTEL_*}. Runs the pipeline loop, a {@link DeferredSpanStore} and a
 * {@link DeferredSpanRecovery} (which, led by one scheduler at a time, exports what a killed scheduler ended but
 * had not exported yet).
 */
public final class SchedulerMain {
  public static final String ITEM_SECONDS = "item-seconds";
  /** Do not make the first build of an item fail, i.e. no gate reset. */
  public static final String NO_RESET = "no-reset";

  private SchedulerMain() {}

  public static void main(String[] args) throws Exception {
    CommandLine cli =
        CommandLine.parse(
            args, DemoProcess.options(ITEM_SECONDS), Set.of(NO_RESET));
    DemoProcess process = DemoProcess.start("scheduler", cli);
    DeferredSpanStore store =
        process.register(
            DeferredSpanStore.builder(process.client(), process.telemetry().deferred())
                .basePath(DemoPaths.SPAN_STORE)
                .meterProvider(process.telemetry().meterProvider())
                .build());
    store.start();
    // Short intervals so that the spans of a killed scheduler reach the exporter within the demo's minute.
    DeferredSpanRecovery recovery =
        process.register(
            DeferredSpanRecovery.builder(store)
                .scanInterval(Duration.ofSeconds(1))
                .gracePeriod(Duration.ofSeconds(2))
                .build());
    recovery.start();
    Znodes znodes = new Znodes(process.client());
    JobPlan plan = new JobPlan(Duration.ofSeconds(cli.getLong(ITEM_SECONDS, 20)), !cli.has(NO_RESET));
    PipelineScheduler scheduler =
        process.register(
            new PipelineScheduler(
                new TriggerEventConsumer(znodes, store, process.telemetry()),
                new QueueItemProcessor(znodes, store, process.telemetry(), plan)));
    scheduler.start();
    process.runUntilStopped();
  }
}
