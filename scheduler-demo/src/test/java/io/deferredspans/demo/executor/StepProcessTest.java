package io.deferredspans.demo.executor;

import static org.assertj.core.api.Assertions.assertThat;

import io.deferredspans.demo.common.DemoTelemetry;
import io.deferredspans.otlp.json.ReceivedSpan;
import io.deferredspans.testing.otlp.OtlpTestReceiver;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.context.Scope;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A job step run as a real child process: its span, exported by that process, is parented through nothing but
 * {@code TRACEPARENT} in the process's environment, and a stopped step still ends (with an error) before the
 * executor's step span does.
 */
class StepProcessTest {
  private static final Duration WAIT = Duration.ofSeconds(60);

  private OtlpTestReceiver receiver;
  private OtlpTestReceiver executorSpans;
  private DemoTelemetry executor;
  private StepProcess steps;
  private final CountDownLatch started = new CountDownLatch(1);

  @BeforeEach
  void start() {
    receiver = OtlpTestReceiver.start();
    // The executor's own spans are not what these tests look at: they go elsewhere, the step's to receiver.
    executorSpans = OtlpTestReceiver.start();
    executor = DemoTelemetry.start("executor", "executor-1", executorSpans.httpEndpoint());
    steps = new StepProcess(receiver.httpEndpoint(), "executor-1", Map.of("otel.bsp.schedule.delay", "100"), line -> {
      if (line.equals(StepProcess.STARTED)) {
        started.countDown();
      }
    });
  }

  @AfterEach
  void stop() {
    executor.close();
    executorSpans.close();
    receiver.close();
  }

  @Test
  void theStepProcessParentsItsSpanOnTheTraceparentInItsEnvironment() throws Exception {
    Span step = executor.tracer().spanBuilder("Playbook run").startSpan();
    try (Scope ignored = step.makeCurrent()) {
      steps.run("playbooks/tox-py311.yaml", 50, "b1");
    } finally {
      step.end();
    }

    // The process flushed its span before it exited, and run waited for it to exit.
    ReceivedSpan child = receiver.spans().get(0);
    assertThat(receiver.spans()).hasSize(1);
    assertThat(child.name()).isEqualTo(StepProcess.SPAN_NAME);
    assertThat(child.traceId()).isEqualTo(step.getSpanContext().getTraceId());
    assertThat(child.parentSpanId()).isEqualTo(step.getSpanContext().getSpanId());
    assertThat(child.attributes()).containsEntry("zuul.playbook", "playbooks/tox-py311.yaml");
    assertThat(child.statusCode()).isNotEqualTo("STATUS_CODE_ERROR");
  }

  @Test
  void aStoppedStepEndsItsSpanWithAnErrorBeforeRunReturns() throws Exception {
    Span step = executor.tracer().spanBuilder("Playbook run").startSpan();
    CompletableFuture<Throwable> outcome = new CompletableFuture<>();
    Thread runner = new Thread(() -> {
      try (Scope ignored = step.makeCurrent()) {
        steps.run("playbooks/tox-py311.yaml", WAIT.toMillis() * 10, "b2");
        outcome.complete(null);
      } catch (InterruptedException | RuntimeException e) {
        outcome.complete(e);
      }
    });
    runner.start();
    // The process has begun its span (and a stop would end it): the executor cancels the build now.
    assertThat(started.await(WAIT.toSeconds(), TimeUnit.SECONDS)).as("step process started").isTrue();
    runner.interrupt();

    assertThat(outcome.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isInstanceOf(InterruptedException.class);
    step.end();
    // run returned only after the process exited, so after its shutdown hook ended and exported its span.
    assertThat(ProcessHandle.current().children()).isEmpty();
    assertThat(receiver.spans()).singleElement().satisfies(child -> {
      assertThat(child.name()).isEqualTo(StepProcess.SPAN_NAME);
      assertThat(child.parentSpanId()).isEqualTo(step.getSpanContext().getSpanId());
      assertThat(child.statusCode()).isEqualTo("STATUS_CODE_ERROR");
    });
  }
}
