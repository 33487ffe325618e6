package io.deferredspans.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.store.DeferredSpanStore;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.ACLProvider;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.test.TestingServer;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.junit.jupiter.api.Test;

/** Each failure an operator can meet is one line on stderr, without a stack trace, with its own exit code. */
class CliErrorsTest {
  @Test
  void unreachableEnsembleFailsWithinTheConnectTimeout() throws Exception {
    int closedPort;
    try (ServerSocket socket = new ServerSocket(0)) {
      closedPort = socket.getLocalPort();
    }
    long start = System.nanoTime();
    Cli.Result result = Cli.run("127.0.0.1:" + closedPort, "list", "--connect-timeout", "1s");

    assertThat(result.exitCode()).isEqualTo(ExitCodes.UNREACHABLE);
    assertOneLine(result, "deferred-spans: cannot reach ZooKeeper at 127.0.0.1:" + closedPort
        + " within 1s (--connect-timeout)");
    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isLessThan(5_000);
  }

  @Test
  void wrongBasePathNamesWhatIsThere() throws Exception {
    try (TestingServer zookeeper = new TestingServer(true);
        AppHost host = AppHost.holdingExports("scheduler-1", zookeeper.getConnectString(), "/deferred-spans")) {
      Cli.Result result = Cli.run(zookeeper.getConnectString(), "stats", "--base-path", "/deferred-span");

      assertThat(result.exitCode()).isEqualTo(ExitCodes.NO_STORE);
      assertOneLine(result, "deferred-spans: no deferred-spans store at /deferred-span on "
          + zookeeper.getConnectString() + " (check --base-path; / holds deferred-spans, items, zookeeper)");

      host.client.create().forPath("/not-a-store");
      Cli.Result notAStore = Cli.run(zookeeper.getConnectString(), "list", "--base-path", "/not-a-store");
      assertThat(notAStore.exitCode()).isEqualTo(ExitCodes.NO_STORE);
      assertThat(notAStore.err()).contains("the znode exists but has no open/ under it");

      Cli.Result invalid = Cli.run(zookeeper.getConnectString(), "list", "--base-path", "no-slash");
      assertThat(invalid.exitCode()).isEqualTo(ExitCodes.USAGE);
      assertThat(invalid.err()).startsWith("deferred-spans: --base-path no-slash: ");
    }
  }

  /** Creator-only ACLs under the store, as in span-store's AclTest: reading needs the store's credentials. */
  @Test
  void storeWithAclsNeedsItsCredentials() throws Exception {
    try (TestingServer zookeeper = new TestingServer(true);
        CuratorFramework trusted = aclClient(zookeeper, "deferred-spans:s3cret")) {
      DeferredTracing tracing = DeferredTracing.builder().setHostName("scheduler-1").build();
      try (DeferredSpanStore store = DeferredSpanStore.builder(trusted, tracing).build()) {
        store.start();
        store.beginDeferredSpan("item-1", tracing.spanBuilder("QueueItem").begin());
        String zk = zookeeper.getConnectString();

        Cli.Result anonymous = Cli.run(zk, "list");
        assertThat(anonymous.exitCode()).isEqualTo(ExitCodes.NOT_AUTHORIZED);
        assertOneLine(anonymous, "deferred-spans: not authorized to read /deferred-spans/open: the store has "
            + "ACLs; give --auth USER:PASSWORD (or DEFERRED_SPANS_AUTH)");

        Cli.Result wrongPassword = Cli.run(zk, "pending", "--auth", "deferred-spans:guess");
        assertThat(wrongPassword.exitCode()).isEqualTo(ExitCodes.NOT_AUTHORIZED);
        assertOneLine(wrongPassword, "deferred-spans: not authorized to read /deferred-spans/open with the "
            + "credentials given by --auth");

        Cli.Result trustedList = Cli.run(zk, "list", "--auth", "deferred-spans:s3cret");
        assertThat(trustedList.exitCode()).as(trustedList.toString()).isZero();
        assertThat(trustedList.out()).contains("QueueItem", "item-1", "scheduler-1");

        assertThat(Cli.run(zk, "list", "--auth", "no-colon").exitCode()).isEqualTo(ExitCodes.USAGE);
      }
    }
  }

  @Test
  void usageErrorsExitWithTwo() {
    Cli.Result noZookeeper = Cli.runRaw("list");
    assertThat(noZookeeper.exitCode()).isEqualTo(ExitCodes.USAGE);
    assertThat(noZookeeper.err()).contains("Missing required option: '--zookeeper=HOST:PORT[,...]'");

    Cli.Result noCommand = Cli.runRaw();
    assertThat(noCommand.exitCode()).isEqualTo(ExitCodes.USAGE);
    assertThat(noCommand.err()).contains("Missing required subcommand");

    Cli.Result badDuration = Cli.runRaw("list", "--zookeeper", "x:1", "--older-than", "ten minutes");
    assertThat(badDuration.exitCode()).isEqualTo(ExitCodes.USAGE);
    assertThat(badDuration.err()).contains("'ten minutes' is not a duration");

    Cli.Result help = Cli.runRaw("--help");
    assertThat(help.exitCode()).isZero();
    assertThat(help.out()).contains("list", "show", "pending", "quarantine", "stats", "serve", "Exit codes:");
  }

  private static void assertOneLine(Cli.Result result, String expected) {
    assertThat(result.err().lines().toList()).as(result.toString()).containsExactly(expected);
    assertThat(result.out()).isEmpty();
  }

  private static CuratorFramework aclClient(TestingServer zookeeper, String credentials) throws Exception {
    ACLProvider storeOnly = new ACLProvider() {
      @Override
      public List<ACL> getDefaultAcl() {
        return ZooDefs.Ids.OPEN_ACL_UNSAFE;
      }

      @Override
      public List<ACL> getAclForPath(String path) {
        return path.startsWith("/deferred-spans/") ? ZooDefs.Ids.CREATOR_ALL_ACL : ZooDefs.Ids.OPEN_ACL_UNSAFE;
      }
    };
    CuratorFramework client = CuratorFrameworkFactory.builder()
        .connectString(zookeeper.getConnectString())
        .retryPolicy(new ExponentialBackoffRetry(100, 3))
        .aclProvider(storeOnly)
        .authorization("digest", credentials.getBytes(StandardCharsets.UTF_8))
        .build();
    client.start();
    client.blockUntilConnected(30, TimeUnit.SECONDS);
    return client;
  }
}
