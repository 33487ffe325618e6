package io.deferredspans.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** A read-only command: connects, checks that a store is there, reads, prints, disconnects. */
abstract class StoreCommand implements Callable<Integer> {
  static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  @Mixin
  ConnectionOptions connection;

  @Spec
  CommandSpec spec;

  @Override
  public final Integer call() throws Exception {
    Logging.quiet();
    try (StoreConnection store = StoreConnection.open(connection)) {
      StoreReader reader = new StoreReader(store);
      reader.requireStore();
      return run(store, reader, Instant.now());
    }
  }

  abstract int run(StoreConnection store, StoreReader reader, Instant now) throws Exception;

  PrintWriter out() {
    return spec.commandLine().getOut();
  }

  PrintWriter err() {
    return spec.commandLine().getErr();
  }

  void printJson(Object tree) throws Exception {
    out().println(JSON.writeValueAsString(tree));
    out().flush();
  }
}
