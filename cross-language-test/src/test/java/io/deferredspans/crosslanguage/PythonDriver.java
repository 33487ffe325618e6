package io.deferredspans.crosslanguage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The Python client in a process of its own (clients/python/tests/driver.py): one JSON command per line in, one
 * JSON answer per line out, with its own ZooKeeper session.
 */
final class PythonDriver implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration ANSWER = Duration.ofSeconds(60);

  private final String name;
  private final Process process;
  private final File stderr;
  private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
  private final OutputStream stdin;

  private PythonDriver(String name, Process process, File stderr) {
    this.name = name;
    this.process = process;
    this.stderr = stderr;
    this.stdin = process.getOutputStream();
    Thread reader = new Thread(() -> {
      try (BufferedReader out =
          new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = out.readLine()) != null) {
          lines.add(line);
        }
      } catch (IOException killed) {
        // the stream ends
      }
    }, "python-driver-" + name);
    reader.setDaemon(true);
    reader.start();
  }

  static PythonDriver start(String name, String zookeeper, String basePath, double sessionTimeoutSeconds)
      throws Exception {
    File stderr = Files.createTempFile("python-" + name, ".err").toFile();
    Process process = Python.process(List.of("tests/driver.py", "--zookeeper", zookeeper, "--base-path", basePath,
        "--host-name", name, "--session-timeout", Double.toString(sessionTimeoutSeconds)))
        .redirectError(stderr).start();
    PythonDriver driver = new PythonDriver(name, process, stderr);
    JsonNode ready = driver.next();
    if (!ready.path("ready").asBoolean()) {
      throw new AssertionError(name + " did not start: " + ready);
    }
    return driver;
  }

  /** Sends a command and waits for its answer; an answer with "error" fails the test. */
  JsonNode call(Map<String, ?> command) throws Exception {
    send(command);
    JsonNode answer = next();
    if (answer.has("error") && !answer.has("outcome")) {
      throw new AssertionError(name + ": " + command + " -> " + answer.get("error").asText());
    }
    return answer;
  }

  void send(Map<String, ?> command) throws IOException {
    stdin.write((JSON.writeValueAsString(command) + "\n").getBytes(StandardCharsets.UTF_8));
    stdin.flush();
  }

  /** The next line the driver printed. */
  JsonNode next() throws Exception {
    String line = lines.poll(ANSWER.toMillis(), TimeUnit.MILLISECONDS);
    if (line == null) {
      throw new AssertionError(name + " did not answer within " + ANSWER + " (alive=" + process.isAlive()
          + ")\n--- stderr\n" + Files.readString(stderr.toPath()));
    }
    return JSON.readTree(line);
  }

  /** SIGKILL: the process dies at once, as a crashed scheduler would; its session ends on the server later. */
  void kill() throws InterruptedException {
    process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws Exception {
    if (process.isAlive()) {
      try {
        send(Map.of("op", "exit"));
      } catch (IOException gone) {
        // already exiting
      }
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    }
    stderr.delete();
  }
}
