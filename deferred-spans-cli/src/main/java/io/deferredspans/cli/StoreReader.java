package io.deferredspans.cli;

import io.deferredspans.cli.StoredItems.OpenSpan;
import io.deferredspans.cli.StoredItems.PendingSpan;
import io.deferredspans.cli.StoredItems.QuarantinedRecord;
import io.deferredspans.store.DeferredSpanStoreLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.LongAdder;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.BackgroundCallback;
import org.apache.curator.framework.api.CuratorEvent;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.KeeperException;

/**
 * Reads a store's znodes for the commands, without writing anything. Every read is asynchronous (Curator's
 * background calls): ZooKeeper pipelines them on the one connection, so listing 256 shards and 100,000 records
 * costs round trips in the tens, not in the hundred thousands. At most {@value #MAX_IN_FLIGHT} reads are
 * outstanding, which bounds the memory of a huge store and what the server is asked to queue.
 */
final class StoreReader {
  static final int MAX_IN_FLIGHT = 2_000;

  private final StoreConnection connection;
  private final CuratorFramework client;
  private final DeferredSpanStoreLayout layout;
  private final Semaphore inFlight = new Semaphore(MAX_IN_FLIGHT);
  private final LongAdder reads = new LongAdder();

  StoreReader(StoreConnection connection) {
    this.connection = connection;
    this.client = connection.client();
    this.layout = connection.layout();
  }

  /** ZooKeeper reads issued so far (each getData, getChildren or exists is one). */
  long reads() {
    return reads.sum();
  }

  /**
   * Fails with {@link ExitCodes#NO_STORE} unless a store was started under the base path, naming what the parent
   * does hold so that a mistyped path is easy to correct.
   */
  void requireStore() {
    if (exists(layout.openRoot())) {
      return;
    }
    String message = "no deferred-spans store at " + layout.basePath() + " on " + connection.zookeeper();
    if (exists(layout.basePath())) {
      throw new CliException(ExitCodes.NO_STORE, message + " (the znode exists but has no open/ under it)");
    }
    String parent = ZKPaths.getPathAndNode(layout.basePath()).getPath();
    List<String> siblings;
    try {
      siblings = children(parent).stream().sorted().limit(10).toList();
    } catch (CliException unreadable) {
      siblings = List.of(); // only a hint
    }
    throw new CliException(ExitCodes.NO_STORE, message + " (check --base-path"
        + (siblings.isEmpty() ? "" : "; " + parent + " holds " + String.join(", ", siblings)) + ")");
  }

  /** Every open record, readable or not. */
  List<OpenSpan> openSpans() {
    List<String> paths = childPaths(layout.openShards());
    List<CompletableFuture<CuratorEvent>> data = paths.stream().map(this::data).toList();
    List<OpenSpan> spans = new ArrayList<>(paths.size());
    for (int i = 0; i < paths.size(); i++) {
      answer(data.get(i), paths.get(i))
          .ifPresent(event -> spans.add(OpenSpan.decode(event.getPath(), event.getData(), event.getStat().getCtime())));
    }
    return spans;
  }

  /** Every finished span waiting for export, with its claim's holder (two reads each). */
  List<PendingSpan> pendingSpans() {
    List<String> paths = childPaths(layout.endedShards());
    List<CompletableFuture<CuratorEvent>> data = new ArrayList<>(paths.size());
    List<CompletableFuture<CuratorEvent>> claims = new ArrayList<>(paths.size());
    for (String path : paths) {
      data.add(data(path));
      claims.add(data(ZKPaths.makePath(path, DeferredSpanStoreLayout.CLAIM)));
    }
    List<PendingSpan> pending = new ArrayList<>(paths.size());
    for (int i = 0; i < paths.size(); i++) {
      Optional<String> holder = answer(claims.get(i), paths.get(i))
          .map(event -> DeferredSpanStoreLayout.claimHolder(event.getData()));
      answer(data.get(i), paths.get(i)).ifPresent(event -> pending.add(
          PendingSpan.decode(event.getPath(), event.getData(), holder, event.getStat().getCtime())));
    }
    return pending;
  }

  List<QuarantinedRecord> quarantine() {
    List<String> paths = childPaths(List.of(layout.quarantineRoot()));
    List<CompletableFuture<CuratorEvent>> data = paths.stream().map(this::data).toList();
    List<QuarantinedRecord> records = new ArrayList<>(paths.size());
    for (int i = 0; i < paths.size(); i++) {
      answer(data.get(i), paths.get(i)).ifPresent(
          event -> records.add(QuarantinedRecord.of(event.getPath(), event.getData(), event.getStat().getCtime())));
    }
    return records;
  }

  /** Children of one znode; empty if it does not exist. */
  List<String> children(String path) {
    return answer(childrenOf(path), path).map(CuratorEvent::getChildren).orElse(List.of());
  }

  /** Data and stat of one znode, if it exists. */
  Optional<CuratorEvent> read(String path) {
    return answer(data(path), path);
  }

  boolean exists(String path) {
    return answer(submit(path, (callback, p) -> client.checkExists().inBackground(callback).forPath(p)), path)
        .isPresent();
  }

  /** The full paths of the children of every parent, all parents listed at once. */
  private List<String> childPaths(List<String> parents) {
    List<CompletableFuture<CuratorEvent>> listings = parents.stream().map(this::childrenOf).toList();
    List<String> paths = new ArrayList<>();
    for (int i = 0; i < parents.size(); i++) {
      String parent = parents.get(i);
      answer(listings.get(i), parent).ifPresent(
          event -> event.getChildren().forEach(child -> paths.add(ZKPaths.makePath(parent, child))));
    }
    return paths;
  }

  private CompletableFuture<CuratorEvent> data(String path) {
    return submit(path, (callback, p) -> client.getData().inBackground(callback).forPath(p));
  }

  private CompletableFuture<CuratorEvent> childrenOf(String path) {
    return submit(path, (callback, p) -> client.getChildren().inBackground(callback).forPath(p));
  }

  private interface BackgroundRead {
    void start(BackgroundCallback callback, String path) throws Exception;
  }

  /**
   * Sends one read; blocks the caller (never ZooKeeper's event thread, which only completes futures) while the
   * most reads allowed are outstanding.
   */
  private CompletableFuture<CuratorEvent> submit(String path, BackgroundRead read) {
    CompletableFuture<CuratorEvent> answer = new CompletableFuture<>();
    inFlight.acquireUninterruptibly();
    reads.increment();
    try {
      read.start((c, event) -> {
        inFlight.release();
        answer.complete(event);
      }, path);
    } catch (Exception e) {
      inFlight.release();
      answer.completeExceptionally(e);
    }
    return answer;
  }

  /** The event of a read that succeeded; empty if the znode is gone (ended or removed meanwhile). */
  private Optional<CuratorEvent> answer(CompletableFuture<CuratorEvent> future, String path) {
    CuratorEvent event;
    try {
      event = future.join();
    } catch (CompletionException e) {
      throw connection.translate(e.getCause() instanceof Exception cause ? cause : e, path);
    }
    KeeperException.Code code = KeeperException.Code.get(event.getResultCode());
    if (code == KeeperException.Code.OK) {
      return Optional.of(event);
    }
    if (code == KeeperException.Code.NONODE) {
      return Optional.empty();
    }
    throw connection.translate(KeeperException.create(code, event.getPath()), event.getPath());
  }
}
