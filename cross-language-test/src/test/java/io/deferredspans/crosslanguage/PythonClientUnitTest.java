package io.deferredspans.crosslanguage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * clients/python's own unit tests ({@code python3 -m unittest}), against a real ZooKeeper and the repository's
 * conformance vectors, one JUnit test per Python test so that Surefire counts them. A skipped Python test fails
 * here: in the build, nothing it needs is missing.
 */
class PythonClientUnitTest {
  // "test_name (module.Class.test_name) ... ok" (Python 3.11) or "test_name (module.Class) ... ok" (3.9, 3.10)
  private static final Pattern RESULT = Pattern.compile("^(test\\w*) \\(([\\w.]+)\\)(?:\\n.*)?? \\.\\.\\. (.*)$",
      Pattern.MULTILINE);

  @TestFactory
  Stream<DynamicTest> pythonUnitTestsPass() throws Exception {
    Python.interpreter();
    int exit;
    String output;
    try (TestingServer zookeeper = new TestingServer(true)) {
      Path log = Files.createTempFile("python-unittest", ".log");
      try {
        ProcessBuilder builder = Python.process(List.of("-m", "unittest", "discover", "-s", "tests", "-t", ".", "-v"))
            .redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().put("DEFERRED_SPANS_TEST_ZOOKEEPER", zookeeper.getConnectString());
        Process process = builder.start();
        if (!process.waitFor(10, TimeUnit.MINUTES)) {
          process.destroyForcibly();
        }
        exit = process.isAlive() ? -1 : process.exitValue();
        output = Files.readString(log, StandardCharsets.UTF_8);
      } finally {
        Files.deleteIfExists(log);
      }
    }
    System.out.println(output);
    List<DynamicTest> tests = new ArrayList<>();
    Matcher results = RESULT.matcher(output);
    while (results.find()) {
      String name = results.group(2).replaceAll("\\." + results.group(1) + "$", "") + "." + results.group(1);
      String status = results.group(3).strip();
      tests.add(dynamicTest(name, () -> assertEquals("ok", status, name + ": " + status + "\n" + output)));
    }
    int ran = tests.size();
    String summary = output.lines().filter(l -> l.startsWith("Ran ") || l.startsWith("OK") || l.startsWith("FAILED"))
        .reduce((a, b) -> a + " | " + b).orElse("(no summary)");
    tests.add(dynamicTest("python3 -m unittest exit status and summary", () -> {
      assertEquals(0, exit, "python3 -m unittest failed: " + summary + "\n" + output);
      assertTrue(output.contains("\nOK\n") || output.endsWith("\nOK"), "no OK, or skips: " + summary + "\n" + output);
      assertTrue(output.contains("Ran " + ran + " test"), "every Python test has its JUnit test: " + summary);
    }));
    return tests.stream();
  }
}
