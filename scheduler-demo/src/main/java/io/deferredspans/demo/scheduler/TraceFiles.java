package io.deferredspans.demo.scheduler;

import io.deferredspans.otlp.json.OtlpJsonLines;
import io.deferredspans.otlp.json.ReceivedSpan;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** Reads back the OTLP JSON lines every process wrote into the traces folder. */
final class TraceFiles {
  /**
   * @param unreadableLines lines that are not OTLP JSON, e.g. the last batch of a process killed mid-write
   */
  record Contents(List<Path> files, List<ReceivedSpan> spans, int unreadableLines) {}

  static final String JSON_LINES = ".jsonl";

  private TraceFiles() {}

  /** Removes the previous run's files ending in {@code suffix}, so the waterfall shows this run only. */
  static void clear(Path dir, String suffix) throws IOException {
    for (Path file : list(dir, suffix)) {
      Files.delete(file);
    }
  }

  static Contents read(Path dir) throws IOException {
    List<Path> files = list(dir, JSON_LINES);
    List<ReceivedSpan> spans = new ArrayList<>();
    int unreadable = 0;
    for (Path file : files) {
      for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
        if (line.isBlank()) {
          continue;
        }
        try {
          spans.addAll(ReceivedSpan.fromRequest(OtlpJsonLines.parseRequest(line), ReceivedSpan.TRANSPORT_FILE));
        } catch (IllegalArgumentException e) {
          unreadable++;
        }
      }
    }
    return new Contents(files, spans, unreadable);
  }

  private static List<Path> list(Path dir, String suffix) throws IOException {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> entries = Files.list(dir)) {
      return entries.filter(p -> p.getFileName().toString().endsWith(suffix)).sorted().toList();
    }
  }
}
