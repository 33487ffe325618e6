package io.deferredspans.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.sdk.trace.data.SpanData;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The example the docs and README point to keeps compiling and keeps doing what they say. */
class EmbeddingExampleTest {

  @Test
  void exampleEndsOnHostBTheSpanBegunOnHostA() throws Exception {
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    List<SpanData> spans = EmbeddingExample.run(new PrintStream(printed, true, StandardCharsets.UTF_8));

    assertEquals(2, spans.size());
    SpanData item = spans.stream().filter(s -> s.getName().equals("QueueItem")).findFirst().orElseThrow();
    SpanData merge = spans.stream().filter(s -> s.getName().equals("MergeJob")).findFirst().orElseThrow();
    assertEquals(item.getSpanId(), merge.getParentSpanId());
    assertEquals("scheduler-a", item.getAttributes().get(AttributeKey.stringKey("deferred_span.began_by")));
    assertEquals("scheduler-b", item.getAttributes().get(AttributeKey.stringKey("deferred_span.ended_by")));
    assertEquals("gate", item.getAttributes().get(AttributeKey.stringKey("zuul.pipeline")));
    assertThat(printed.toString(StandardCharsets.UTF_8)).contains("host B ended it: ENDED");
  }
}
