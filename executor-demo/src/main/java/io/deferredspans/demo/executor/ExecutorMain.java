package io.deferredspans.demo.executor;

import io.deferredspans.demo.common.CommandLine;
import io.deferredspans.demo.common.DemoProcess;
import io.deferredspans.demo.common.Znodes;
import java.util.Set;

/**
 * The executor process (also the merger, as a Zuul executor hosts one): {@code --zookeeper HOST:PORT
 * --instance-id NAME --traces-endpoint URL [--slots N] [--session-timeout-ms MS]}, OpenTelemetry from {@code otel.*} / {@code OTEL_*}.
 */
public final class ExecutorMain {
  private ExecutorMain() {}

  public static void main(String[] args) throws Exception {
    CommandLine cli =
        CommandLine.parse(args, DemoProcess.options("slots"), Set.of());
    DemoProcess process = DemoProcess.start("executor", cli);
    ExecutorWorker worker =
        process.register(
            new ExecutorWorker(new Znodes(process.client()), process.telemetry(), (int) cli.getLong("slots", 2),
                StepProcess.withThisProcessSettings(process.telemetry(), cli.require(DemoProcess.TRACES_ENDPOINT))));
    worker.start();
    process.runUntilStopped();
  }
}
