package io.deferredspans.cli;

import io.deferredspans.cli.StoredItems.OpenSpan;
import io.deferredspans.cli.StoredItems.PendingSpan;
import io.deferredspans.cli.StoredItems.QuarantinedRecord;
import io.deferredspans.store.DeferredSpanStoreLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.LongAdder;
import org.apache.curator.RetryLoop;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.BackgroundCallback;
import org.apache.curator.framework.api.CuratorEvent;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.data.Stat;

/**
 * Reads a store's znodes for the commands, without writing anything. Every request is asynchronous: ZooKeeper
 * pipelines them on the one connection, so listing 256 shards and 100,000 records costs round trips in the tens,
 * not in the hundred thousands. The records themselves are read {@value #READS_PER_REQUEST} to a request (a
 * ZooKeeper multi of getData operations), so that the server and this client handle a few thousand requests rather
 * than one per record: that per-request work, not the round trip, is what bound a listing once it was pipelined.
 * At most {@value #MAX_IN_FLIGHT} reads are outstanding, which bounds the memory of a huge store and what the
 * server is asked to queue.
 */
final class StoreReader {
  static final int MAX_IN_FLIGHT = 2_000;
  static final int READS_PER_REQUEST = 100;

  private final StoreConnection connection;
  private final CuratorFramework client;
  private final DeferredSpanStoreLayout layout;
  private final Semaphore inFlight = new Semaphore(MAX_IN_FLIGHT);
  private final LongAdder reads = new LongAdder();
  private final LongAdder requests = new LongAdder();

  StoreReader(StoreConnection connection) {
    this.connection = connection;
    this.client = connection.client();
    this.layout = connection.layout();
  }

  /** ZooKeeper reads issued so far (each getData, getChildren or exists is one, inside a multi or not). */
  long reads() {
    return reads.sum();
  }

  /** ZooKeeper requests sent so far (a multi of many reads is one). */
  long requests() {
    return requests.sum();
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
    List<OpenSpan> spans = new ArrayList<>();
    dataOf(childPaths(layout.openShards()))
        .forEach(node -> spans.add(OpenSpan.decode(node.path(), node.data(), node.stat().getCtime())));
    return spans;
  }

  /** Every finished span waiting for export, with its claim's holder (two reads each, and one per holding session). */
  List<PendingSpan> pendingSpans() {
    List<String> paths = childPaths(layout.endedShards());
    List<String> spanAndClaim = new ArrayList<>(2 * paths.size());
    for (String path : paths) {
      spanAndClaim.add(path);
      spanAndClaim.add(ZKPaths.makePath(path, DeferredSpanStoreLayout.CLAIM));
    }
    Map<String, Node> nodes = new HashMap<>();
    dataOf(spanAndClaim).forEach(node -> nodes.put(node.path(), node));
    // A span its ender's session holds has no claim child: that session's liveness node names the host.
    Set<String> liveNodes = new LinkedHashSet<>();
    for (String path : paths) {
      Node span = nodes.get(path);
      if (span != null && !nodes.containsKey(ZKPaths.makePath(path, DeferredSpanStoreLayout.CLAIM))) {
        layout.holderLivePath(span.data()).ifPresent(liveNodes::add);
      }
    }
    dataOf(new ArrayList<>(liveNodes)).forEach(node -> nodes.put(node.path(), node));
    List<PendingSpan> pending = new ArrayList<>(paths.size());
    for (String path : paths) {
      Node span = nodes.get(path);
      if (span != null) {
        Node claim = nodes.get(ZKPaths.makePath(path, DeferredSpanStoreLayout.CLAIM));
        Optional<String> holder = claim != null
            ? Optional.of(DeferredSpanStoreLayout.claimHolder(claim.data()))
            : layout.holderLivePath(span.data()).map(nodes::get)
                .map(live -> DeferredSpanStoreLayout.claimHolder(live.data()));
        pending.add(PendingSpan.decode(path, span.data(), holder, span.stat().getCtime()));
      }
    }
    return pending;
  }

  List<QuarantinedRecord> quarantine() {
    List<QuarantinedRecord> records = new ArrayList<>();
    dataOf(childPaths(List.of(layout.quarantineRoot())))
        .forEach(node -> records.add(QuarantinedRecord.of(node.path(), node.data(), node.stat().getCtime())));
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

  /** One znode read inside a multi. */
  private record Node(String path, byte[] data, Stat stat) {}

  /**
   * Data and stat of every path that exists, in the order given, read {@value #READS_PER_REQUEST} to a multi with
   * every multi sent before the first answer is awaited (as far as {@value #MAX_IN_FLIGHT} reads allow).
   */
  private List<Node> dataOf(List<String> paths) {
    List<List<String>> batches = new ArrayList<>();
    for (int from = 0; from < paths.size(); from += READS_PER_REQUEST) {
      batches.add(paths.subList(from, Math.min(paths.size(), from + READS_PER_REQUEST)));
    }
    List<CompletableFuture<List<OpResult>>> answers = batches.stream().map(this::multiRead).toList();
    List<Node> nodes = new ArrayList<>(paths.size());
    for (int b = 0; b < batches.size(); b++) {
      List<String> batch = batches.get(b);
      List<OpResult> results = multiAnswer(answers.get(b), batch);
      for (int i = 0; i < batch.size(); i++) {
        String path = batch.get(i);
        if (results.get(i) instanceof OpResult.GetDataResult read) {
          nodes.add(new Node(path, read.getData(), read.getStat()));
          continue;
        }
        // NONODE: ended or removed since the listing; skipped, as a single getData would be.
        KeeperException.Code code = KeeperException.Code.get(((OpResult.ErrorResult) results.get(i)).getErr());
        if (code != KeeperException.Code.NONODE) {
          throw connection.translate(KeeperException.create(code, path), path);
        }
      }
    }
    return nodes;
  }

  /**
   * Sends one multi of getData operations; blocks the caller (never ZooKeeper's event thread, which only
   * completes futures) while the most reads allowed are outstanding. Curator has no multi-read, so this goes to
   * Curator's ZooKeeper handle: {@link #multiAnswer} applies the retry policy that Curator applies to the others.
   */
  private CompletableFuture<List<OpResult>> multiRead(List<String> paths) {
    CompletableFuture<List<OpResult>> answer = new CompletableFuture<>();
    inFlight.acquireUninterruptibly(paths.size());
    requests.increment();
    reads.add(paths.size());
    try {
      client.getZookeeperClient().getZooKeeper().multi(ops(paths), (rc, path, ctx, results) -> {
        inFlight.release(paths.size());
        if (results != null) { // every read answered, each with its own result or error
          answer.complete(results);
        } else {
          answer.completeExceptionally(KeeperException.create(KeeperException.Code.get(rc)));
        }
      }, null);
    } catch (Exception e) {
      inFlight.release(paths.size());
      answer.completeExceptionally(e);
    }
    return answer;
  }

  /**
   * The results of one multi-read, sent again (synchronously) as the retry policy allows if the connection failed.
   * A multi of reads answers every read, failed or not: ZooKeeper's synchronous {@code multi} throws only for writes.
   */
  private List<OpResult> multiAnswer(CompletableFuture<List<OpResult>> future, List<String> paths) {
    try {
      return future.join();
    } catch (CompletionException e) {
      Exception cause = e.getCause() instanceof Exception c ? c : e;
      if (!client.getZookeeperClient().getRetryPolicy().allowRetry(cause)) {
        throw connection.translate(cause, paths.get(0));
      }
    }
    try {
      return RetryLoop.callWithRetry(client.getZookeeperClient(), () -> {
        requests.increment();
        reads.add(paths.size());
        return client.getZookeeperClient().getZooKeeper().multi(ops(paths));
      });
    } catch (Exception e) {
      throw connection.translate(e, paths.get(0));
    }
  }

  private static List<Op> ops(List<String> paths) {
    return paths.stream().map(Op::getData).toList();
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
    requests.increment();
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
