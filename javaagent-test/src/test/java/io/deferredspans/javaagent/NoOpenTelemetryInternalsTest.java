package io.deferredspans.javaagent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * No main code of any module names an OpenTelemetry {@code .internal.} package. Those carry no compatibility
 * promise: one pinned this build to OpenTelemetry 1.63.0 once its artifact stopped being published, and under the
 * Java agent such classes are the agent's relocated copies or absent. Tests may use them (a test breaks loudly);
 * main code may not.
 *
 * <p>A scan of every module's {@code src/main/java}, here because this module is about running next to
 * OpenTelemetry's own distribution; it finds imports, fully qualified names and Javadoc references alike.
 */
class NoOpenTelemetryInternalsTest {
  static final Pattern INTERNAL = Pattern.compile("\\bio\\.opentelemetry(\\.[A-Za-z_]\\w*)*\\.internal\\b");

  @Test
  void noMainSourceNamesAnOpenTelemetryInternalPackage() throws IOException {
    List<Path> sources = mainSources(repositoryRoot());
    // Guards against a scan that finds nothing (a moved folder) and so passes for nothing.
    assertTrue(sources.size() > 100, () -> "only " + sources.size() + " main sources found");

    List<String> violations = new ArrayList<>();
    for (Path source : sources) {
      List<String> lines = Files.readAllLines(source, StandardCharsets.UTF_8);
      for (int i = 0; i < lines.size(); i++) {
        if (INTERNAL.matcher(lines.get(i)).find()) {
          violations.add(source + ":" + (i + 1) + ": " + lines.get(i).trim());
        }
      }
    }
    assertEquals(List.of(), violations);
  }

  @Test
  void theRuleTellsInternalPackagesFromPublicOnes() {
    assertTrue(INTERNAL.matcher(
        "import io.opentelemetry.exporter.logging.otlp.internal.traces.OtlpStdoutSpanExporter;").find());
    assertTrue(INTERNAL.matcher("io.opentelemetry.sdk.autoconfigure.spi.internal.DefaultConfigProperties.create(m)")
        .find());
    assertTrue(INTERNAL.matcher("import io.opentelemetry.sdk.internal.*;").find());
    assertFalse(INTERNAL.matcher("import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;").find());
    assertFalse(INTERNAL.matcher("import io.opentelemetry.api.internalized.Thing;").find());
    assertFalse(INTERNAL.matcher("import io.deferredspans.internal.Thing;").find());
  }

  /** The multi-module root: the nearest folder up from this module that holds this module. */
  private static Path repositoryRoot() {
    Path dir = Path.of("").toAbsolutePath();
    while (dir != null && !Files.isDirectory(dir.resolve("javaagent-test"))) {
      dir = dir.getParent();
    }
    if (dir == null) {
      throw new IllegalStateException("no folder above " + Path.of("").toAbsolutePath() + " holds javaagent-test");
    }
    return dir;
  }

  private static List<Path> mainSources(Path root) throws IOException {
    List<Path> sources = new ArrayList<>();
    try (Stream<Path> modules = Files.list(root)) {
      for (Path module : modules.filter(Files::isDirectory).toList()) {
        Path main = module.resolve("src/main/java");
        if (Files.isDirectory(main)) {
          try (Stream<Path> files = Files.walk(main)) {
            files.filter(f -> f.toString().endsWith(".java")).forEach(sources::add);
          } catch (UncheckedIOException e) {
            throw e.getCause();
          }
        }
      }
    }
    return sources;
  }
}
