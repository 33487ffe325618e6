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

  /** @param telemetrySettings what the job's step processes start their OpenTelemetry SDK with */
  public static InProcessExecutor start(Znodes znodes, DemoTelemetry telemetry, int slots,
      Map<String, String> telemetrySettings) {
    ExecutorWorker worker = new ExecutorWorker(znodes, telemetry, slots, new StepProcess(telemetrySettings));
    worker.start();
    return new InProcessExecutor(worker);
  }

  @Override
  public void close() throws Exception {
    worker.close();
  }
}
