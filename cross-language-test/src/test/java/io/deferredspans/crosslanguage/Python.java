package io.deferredspans.crosslanguage;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The Python these tests run: the first of {@code -Dpython3=...}, {@code python3} on the PATH and Debian's
 * {@code /usr/bin/python3} that is at least 3.9 and imports kazoo. None is a failure that says how to get one,
 * never a skip: a build that cannot run the Python client has not tested it.
 */
final class Python {
  static final Path CLIENT = Path.of(System.getProperty("clients.python.dir", "../clients/python")).toAbsolutePath()
      .normalize();
  static final Path REPOSITORY = Path.of(System.getProperty("conformance.dir", "..")).toAbsolutePath().normalize();
  private static String interpreter;

  private Python() {}

  static synchronized String interpreter() {
    if (interpreter == null) {
      Set<String> candidates = new LinkedHashSet<>();
      if (System.getProperty("python3") != null) {
        candidates.add(System.getProperty("python3"));
      }
      candidates.add("python3");
      candidates.add("/usr/bin/python3");
      List<String> tried = new ArrayList<>();
      for (String candidate : candidates) {
        String problem = problem(candidate);
        if (problem == null) {
          interpreter = candidate;
          return interpreter;
        }
        tried.add(candidate + ": " + problem);
      }
      throw new AssertionError("no Python 3.9+ with kazoo to run the Python client with (" + String.join("; ", tried)
          + "). Run .ci/run, which installs it (apt-get install -y python3-kazoo; Debian's /usr/bin/python3), "
          + "or pass -Dpython3=/path/to/python3");
    }
    return interpreter;
  }

  /** A process running {@code args} with the client on its PYTHONPATH, in the client's directory. */
  static ProcessBuilder process(List<String> args) {
    List<String> command = new ArrayList<>();
    command.add(interpreter());
    command.addAll(args);
    ProcessBuilder builder = new ProcessBuilder(command).directory(CLIENT.toFile());
    builder.environment().put("PYTHONPATH", CLIENT.toString());
    builder.environment().put("PYTHONUNBUFFERED", "1");
    builder.environment().put("DEFERRED_SPANS_VECTORS", REPOSITORY.toString());
    return builder;
  }

  private static String problem(String candidate) {
    try {
      Path out = Files.createTempFile("python-probe", ".txt");
      try {
        Process probe = new ProcessBuilder(candidate, "-c",
            "import sys, kazoo; assert sys.version_info >= (3, 9), sys.version")
            .redirectErrorStream(true).redirectOutput(out.toFile()).start();
        if (!probe.waitFor(60, TimeUnit.SECONDS)) {
          probe.destroyForcibly();
          return "did not answer within 60 s";
        }
        String text = Files.readString(out, StandardCharsets.UTF_8).strip();
        return probe.exitValue() == 0 ? null : text.substring(Math.max(0, text.length() - 200));
      } finally {
        Files.deleteIfExists(out);
      }
    } catch (IOException e) {
      return e.getMessage();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    }
  }
}
