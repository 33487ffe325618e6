package io.deferredspans.cli;

import java.time.Duration;
import picocli.CommandLine.Option;

/** How every command finds the store: the ensemble, the base path, credentials, and how long to try. */
final class ConnectionOptions {
  @Option(names = "--zookeeper", required = true, paramLabel = "HOST:PORT[,...]",
      description = "ZooKeeper connect string (a chroot suffix such as /app works too).")
  String zookeeper;

  @Option(names = "--base-path", defaultValue = "/deferred-spans", paramLabel = "PATH",
      description = "The store's base path, as given to DeferredSpanStore.Builder.basePath (default: ${DEFAULT-VALUE}).")
  String basePath;

  @Option(names = "--auth", paramLabel = "USER:PASSWORD", defaultValue = "${env:DEFERRED_SPANS_AUTH}",
      description = "Digest credentials for a store with ACLs (or DEFERRED_SPANS_AUTH, which keeps them out of ps).")
  String auth;

  @Option(names = "--connect-timeout", defaultValue = "10s", paramLabel = "DURATION",
      converter = Durations.Converter.class,
      description = "How long to try to reach the ensemble (default: ${DEFAULT-VALUE}).")
  Duration connectTimeout;
}
