package io.deferredspans.cli;

import io.deferredspans.store.DeferredSpanStoreLayout;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.apache.curator.RetryPolicy;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.client.ZKClientConfig;
import org.apache.zookeeper.common.ZKConfig;

/**
 * One Curator client connected to the ensemble a command names, and the layout of the store under its base path.
 * Turns what ZooKeeper answers into {@link CliException}s an operator can act on.
 */
final class StoreConnection implements AutoCloseable {
  private final ConnectionOptions options;
  private final CuratorFramework client;
  private final DeferredSpanStoreLayout layout;

  private StoreConnection(ConnectionOptions options, CuratorFramework client, DeferredSpanStoreLayout layout) {
    this.options = options;
    this.client = client;
    this.layout = layout;
  }

  /**
   * A started, connected client.
   *
   * @throws CliException {@link ExitCodes#UNREACHABLE} if the ensemble does not answer within the connect timeout,
   *     {@link ExitCodes#USAGE} for a malformed connect string, base path or credentials
   */
  static StoreConnection open(ConnectionOptions options) {
    // A few quick retries ride out a leader election; an outage should fail the command, not hang it.
    return open(options, new ExponentialBackoffRetry(200, 3, 2_000));
  }

  /** As {@link #open(ConnectionOptions)}, retrying failed operations as {@code retryPolicy} says. */
  static StoreConnection open(ConnectionOptions options, RetryPolicy retryPolicy) {
    DeferredSpanStoreLayout layout;
    try {
      layout = DeferredSpanStoreLayout.of(options.basePath);
    } catch (IllegalArgumentException e) {
      throw new CliException(ExitCodes.USAGE, "--base-path " + options.basePath + ": " + e.getMessage());
    }
    int timeoutMs = (int) Math.max(1, options.connectTimeout.toMillis());
    CuratorFrameworkFactory.Builder builder = CuratorFrameworkFactory.builder()
        .connectString(options.zookeeper)
        .connectionTimeoutMs(timeoutMs)
        .sessionTimeoutMs(Math.max(timeoutMs, 10_000))
        .retryPolicy(retryPolicy)
        .zkClientConfig(clientConfig());
    if (options.auth != null && !options.auth.isEmpty()) {
      if (options.auth.indexOf(':') <= 0) {
        throw new CliException(ExitCodes.USAGE, "--auth must be USER:PASSWORD (ZooKeeper digest credentials)");
      }
      builder.authorization("digest", options.auth.getBytes(StandardCharsets.UTF_8));
    }
    CuratorFramework client;
    try {
      client = builder.build();
      client.start();
    } catch (IllegalArgumentException e) {
      throw new CliException(ExitCodes.USAGE, "--zookeeper " + options.zookeeper + ": " + e.getMessage());
    }
    try {
      if (!client.blockUntilConnected(timeoutMs, TimeUnit.MILLISECONDS)) {
        client.close();
        throw new CliException(ExitCodes.UNREACHABLE, "cannot reach ZooKeeper at " + options.zookeeper
            + " within " + Durations.format(options.connectTimeout) + " (--connect-timeout)");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      client.close();
      throw new CliException(ExitCodes.UNREACHABLE, "interrupted while connecting to " + options.zookeeper);
    }
    return new StoreConnection(options, client, layout);
  }

  /**
   * ZooKeeper's client refuses (and drops the connection on) an answer longer than its {@code jute.maxbuffer}, which
   * by default is the longest znode the server accepts. {@link StoreReader} asks for
   * {@value StoreReader#READS_PER_REQUEST} znodes in one multi, so the answer may be that many times longer.
   */
  private static ZKClientConfig clientConfig() {
    ZKClientConfig config = new ZKClientConfig();
    long longestZnode = config.getInt(ZKConfig.JUTE_MAXBUFFER, ZKClientConfig.CLIENT_MAX_PACKET_LENGTH_DEFAULT);
    long longestAnswer = longestZnode * StoreReader.READS_PER_REQUEST + 64 * 1024; // and the multi's framing
    config.setProperty(ZKConfig.JUTE_MAXBUFFER, Long.toString(Math.min(Integer.MAX_VALUE, longestAnswer)));
    return config;
  }

  CuratorFramework client() {
    return client;
  }

  DeferredSpanStoreLayout layout() {
    return layout;
  }

  String zookeeper() {
    return options.zookeeper;
  }

  /** What a failed ZooKeeper call on {@code path} means for the operator. */
  CliException translate(Exception e, String path) {
    if (e instanceof CliException cli) {
      return cli;
    }
    if (e instanceof KeeperException keeper) {
      switch (keeper.code()) {
        case NOAUTH:
          return new CliException(ExitCodes.NOT_AUTHORIZED, "not authorized to read " + path + (options.auth == null
              ? ": the store has ACLs; give --auth USER:PASSWORD (or DEFERRED_SPANS_AUTH)"
              : " with the credentials given by --auth"));
        case AUTHFAILED:
          return new CliException(ExitCodes.NOT_AUTHORIZED, "ZooKeeper rejected the credentials (" + keeper.code() + ")");
        case CONNECTIONLOSS:
        case SESSIONEXPIRED:
        case OPERATIONTIMEOUT:
        case SESSIONMOVED:
          return new CliException(ExitCodes.UNREACHABLE, "lost the connection to ZooKeeper at " + options.zookeeper
              + " while reading " + path);
        default:
          return new CliException(ExitCodes.FAILURE, "ZooKeeper refused to read " + path + ": " + keeper.code());
      }
    }
    if (e instanceof InterruptedException) {
      Thread.currentThread().interrupt();
      return new CliException(ExitCodes.FAILURE, "interrupted while reading " + path);
    }
    return new CliException(ExitCodes.FAILURE, "reading " + path + " failed: " + e);
  }

  @Override
  public void close() {
    client.close();
  }
}
