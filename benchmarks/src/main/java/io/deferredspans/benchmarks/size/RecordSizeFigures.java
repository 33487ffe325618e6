package io.deferredspans.benchmarks.size;

import io.deferredspans.benchmarks.report.FigureRow;
import io.deferredspans.benchmarks.report.Spread;
import io.deferredspans.benchmarks.report.Target;
import io.deferredspans.sdk.DeferredSpanBuilder;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.sdk.trace.IdGenerator;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * Figure 4: bytes stored per open record, ours next to Zuul's format for the very same spans. IDs are random, and
 * Zuul's decimal IDs vary in length with their value, so each shape is encoded for many random spans and the
 * spread reported.
 */
public final class RecordSizeFigures {
  public static final String FIGURE = "4. stored bytes per record";
  private static final int SPANS_PER_SHAPE = 1_000;

  private RecordSizeFigures() {}

  private record Shape(String name, Target target, UnaryOperator<DeferredSpanBuilder> build) {}

  public static List<FigureRow> run() {
    DeferredTracing tracing = DeferredTracing.builder().setHostName("scheduler-1").build();
    List<Shape> shapes = List.of(
        new Shape("root, no attributes, no links", Target.atMost(128, "<= 128 B"), b -> b.setNoParent()),
        new Shape("root, no attributes, owner /queue/items/item-0000012345", Target.atMost(128, "<= 128 B"),
            b -> b.setNoParent().setOwner("/queue/items/item-0000012345")),
        new Shape("child, one link", Target.none(), b -> b.setParent(randomContext()).addLink(randomContext())),
        new Shape("child, five short attributes", Target.none(),
            b -> b.setParent(randomContext())
                .setAttribute("queue", "gate").setAttribute("project", "org/app")
                .setAttribute("job", "merge").setAttribute("attempt", 1L).setAttribute("node", "n1")));
    List<FigureRow> rows = new ArrayList<>();
    for (Shape shape : shapes) {
      double[] ours = new double[SPANS_PER_SHAPE];
      double[] zuul = new double[SPANS_PER_SHAPE];
      for (int i = 0; i < SPANS_PER_SHAPE; i++) {
        DeferredSpanRecord record = shape.build().apply(tracing.spanBuilder("QueueItem")).begin();
        ours[i] = record.toBytes().length;
        zuul[i] = ZuulSpanInfoJson.encode(record).length;
      }
      rows.add(new FigureRow(FIGURE, "ours: " + shape.name(), Spread.of(ours), "B", shape.target(), ""));
      rows.add(FigureRow.context(FIGURE, "  Zuul-style SpanInfo JSON: " + shape.name(), zuul, "B", "approximation"));
      rows.add(FigureRow.ratio(FIGURE, "  ours / Zuul-style", Spread.ratios(ours, zuul), Target.none(), ""));
    }
    return rows;
  }

  /** Sample records of each shape, for the report and the docs. */
  public static List<String> examples() {
    DeferredTracing tracing = DeferredTracing.builder().setHostName("scheduler-1").build();
    DeferredSpanRecord record =
        tracing.spanBuilder("QueueItem").setParent(randomContext()).addLink(randomContext()).begin();
    return List.of(
        new String(record.toBytes(), java.nio.charset.StandardCharsets.UTF_8),
        new String(ZuulSpanInfoJson.encode(record), java.nio.charset.StandardCharsets.UTF_8));
  }

  private static SpanContext randomContext() {
    IdGenerator ids = IdGenerator.random();
    return SpanContext.createFromRemoteParent(
        ids.generateTraceId(), ids.generateSpanId(), TraceFlags.getSampled(), TraceState.getDefault());
  }
}
