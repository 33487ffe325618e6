package io.deferredspans.demo.executor;

import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Scope;

/**
 * Runs the steps of a simulated job, each as an ordinary in-process span under the current span. The work itself
 * is a wait of the requested length: the demo is about where spans begin and end, not about running Ansible.
 */
final class SimulatedSteps {
  /** Work inside a step, which may itself run nested steps. */
  @FunctionalInterface
  interface Body {
    void run() throws InterruptedException;
  }

  private final Tracer tracer;

  SimulatedSteps(Tracer tracer) {
    this.tracer = tracer;
  }

  /** A step that just takes {@code millis}. */
  void step(String name, long millis, Attributes attributes) throws InterruptedException {
    step(name, attributes, () -> Thread.sleep(millis));
  }

  /** A step whose span covers {@code body}; an interrupted step ends with an error status. */
  void step(String name, Attributes attributes, Body body) throws InterruptedException {
    Span span = tracer.spanBuilder(name).setAllAttributes(attributes).startSpan();
    try (Scope ignored = span.makeCurrent()) {
      body.run();
    } catch (InterruptedException e) {
      span.setStatus(StatusCode.ERROR, "interrupted: the process is shutting down");
      throw e;
    } finally {
      span.end();
    }
  }
}
