package io.deferredspans.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;

/** Runs the command line in this JVM, as {@code main} would, and keeps what it printed. */
final class Cli {
  record Result(int exitCode, String out, String err) {
    List<String> lines() {
      return out.lines().toList();
    }

    @Override
    public String toString() {
      return "exit " + exitCode + "\n--- out\n" + out + "--- err\n" + err;
    }
  }

  private Cli() {}

  static Result run(String zookeeper, String... args) {
    List<String> all = new ArrayList<>(List.of(args));
    all.add("--zookeeper");
    all.add(zookeeper);
    return runRaw(all.toArray(String[]::new));
  }

  static Result runRaw(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine command = DeferredSpansCli.commandLine();
    command.setOut(new PrintWriter(out, true));
    command.setErr(new PrintWriter(err, true));
    int code = command.execute(args);
    return new Result(code, out.toString(), err.toString());
  }
}
