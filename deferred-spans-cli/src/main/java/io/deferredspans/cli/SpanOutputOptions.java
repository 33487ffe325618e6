package io.deferredspans.cli;

import picocli.CommandLine.Option;

/** How {@code list} and {@code show} print spans: a table or JSON for scripts, with a link into a trace backend. */
final class SpanOutputOptions {
  @Option(names = "--json", description = "JSON for scripts: list prints an array, one object per span; show one object.")
  boolean json;

  @Option(names = "--trace-url", paramLabel = "TEMPLATE",
      description = "A link per span, e.g. 'http://jaeger:16686/trace/{traceId}' ({spanId} works too).")
  String traceUrl;
}
