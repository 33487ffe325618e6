package io.deferredspans.cli;

import io.deferredspans.testing.JvmProcess;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** {@code deferred-spans serve} in its own JVM, from the test classpath: launch it, read its lines, signal it. */
final class ServeProcess extends JvmProcess {
  private ServeProcess(String name, Map<String, String> environment, List<String> args) throws IOException {
    super(name, DeferredSpansCli.class, List.of(), args, environment);
  }

  static ServeProcess launch(String name, Map<String, String> environment, String... args) throws IOException {
    List<String> serve = new ArrayList<>(List.of("serve"));
    serve.addAll(List.of(args));
    return new ServeProcess(name, environment, serve);
  }
}
