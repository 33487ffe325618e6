package io.deferredspans.benchmarks;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.deferredspans.benchmarks.report.FigureReport;
import io.deferredspans.benchmarks.report.FigureRow;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Runs every figure for a handful of operations so that the harness cannot rot between benchmark runs. It
 * checks that each figure produces sane numbers, never how fast anything is.
 */
class RunAllFiguresSmokeTest {

  @Test
  void everyFigureProducesFiniteRows() throws Exception {
    Path results = Path.of("target", "smoke-results");
    FigureReport report = RunAllFigures.run(new RunAllFigures.Plan(RunOptions.smoke(), Set.of(), results));

    List<FigureRow> rows = report.rows();
    Set<String> figures = rows.stream().map(row -> row.figure().substring(0, 2)).collect(Collectors.toSet());
    assertTrue(figures.containsAll(Set.of("1.", "2.", "3.", "4.", "5.", "6a", "6b", "7.")), figures::toString);
    // Embedded mode runs as a variant of its own in figures 1, 2, 6a, 6c and 9.
    Set<String> withEmbedded = rows.stream().filter(row -> row.metric().contains("mbedded"))
        .map(row -> row.figure().substring(0, 2)).collect(Collectors.toSet());
    assertTrue(withEmbedded.containsAll(Set.of("1.", "2.", "6a", "6c", "9.")), withEmbedded::toString);
    for (FigureRow row : rows) {
      assertFalse(Double.isNaN(row.value().median()) || Double.isInfinite(row.value().median()), row::toString);
    }
    try (var written = Files.list(results)) {
      assertTrue(written.anyMatch(file -> file.toString().endsWith(".json")));
    }
  }
}
