package io.deferredspans.demo.executor;

import io.deferredspans.demo.common.DemoTelemetry;
import io.deferredspans.demo.common.Znodes;
import java.util.Map;

/**
 * The executor's real worker, started in a test's JVM: tests in other packages reach the package-private
 * {@link ExecutorWorker} through it.
 */
public final class InProcessExecutor implements AutoCloseable {
  private final ExecutorWorker worker;

  private InProcessExecutor(ExecutorWorker worker) {
    this.worker = worker;
  }

  /**
   * @param tracesEndpoint where the job's step processes send their spans
   * @param telemetrySettings what else the job's step processes start their OpenTelemetry SDK with
   */
  public static InProcessExecutor start(Znodes znodes, DemoTelemetry telemetry, int slots, String tracesEndpoint,
      Map<String, String> telemetrySettings) {
    StepProcess steps = new StepProcess(tracesEndpoint, telemetry.instanceId(), telemetrySettings, line -> { });
    ExecutorWorker worker = new ExecutorWorker(znodes, telemetry, slots, steps);
    worker.start();
    return new InProcessExecutor(worker);
  }

  @Override
  public void close() throws Exception {
    worker.close();
  }
}
