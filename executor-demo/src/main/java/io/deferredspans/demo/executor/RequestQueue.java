package io.deferredspans.demo.executor;

import io.deferredspans.demo.common.DemoPaths;
import io.deferredspans.demo.common.ZnodeJson;
import io.deferredspans.demo.common.Znodes;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;

/**
 * A folder of request znodes that several executors share. A request is claimed by creating its ephemeral
 * {@code claim} child, which only one session can do; if the claiming process dies, the claim vanishes with its
 * session and another executor picks the request up again. A scheduler that wants a build stopped (a gate reset)
 * does not delete the request under the executor: it adds a {@code cancel} child and waits for the answer, so that
 * the executor's span ends before the scheduler's parent span does.
 */
final class RequestQueue<T> {
  private final Znodes znodes;
  private final String folder;
  private final Class<T> type;
  private final String instanceId;

  /** A request this executor holds the claim on. */
  record Claimed<T>(String path, T request) {}

  RequestQueue(Znodes znodes, String folder, Class<T> type, String instanceId) {
    this.znodes = znodes;
    this.folder = folder;
    this.type = type;
    this.instanceId = instanceId;
  }

  /** Claims the first request that is neither claimed nor to be cancelled, if there is one. */
  Optional<Claimed<T>> claimNext() throws Exception {
    CuratorFramework client = znodes.client();
    for (String name : znodes.children(folder)) {
      String path = ZKPaths.makePath(folder, name);
      if (znodes.exists(DemoPaths.claim(path)) || znodes.exists(DemoPaths.cancel(path))) {
        continue; // a cancel request on an unclaimed request is the scheduler's to withdraw
      }
      try {
        client.create().withMode(CreateMode.EPHEMERAL)
            .forPath(DemoPaths.claim(path), instanceId.getBytes(StandardCharsets.UTF_8));
      } catch (KeeperException.NodeExistsException | KeeperException.NoNodeException takenOrGone) {
        continue;
      }
      Optional<Znodes.Versioned<T>> request = znodes.read(path, type);
      if (request.isPresent()) {
        return Optional.of(new Claimed<>(path, request.get().value()));
      }
    }
    return Optional.empty();
  }

  /**
   * Hands the result back and removes the request (and a cancel request on it), in one transaction: a request is
   * never answered twice.
   */
  void complete(Claimed<T> claimed, String resultPath, Object result) throws Exception {
    CuratorFramework client = znodes.client();
    String cancel = DemoPaths.cancel(claimed.path());
    // The scheduler may add a cancel request between our look and our commit; the request then has a child we did
    // not delete, the commit fails, and the second look sees it.
    for (int attempt = 1; ; attempt++) {
      List<CuratorOp> ops = new ArrayList<>();
      ops.add(client.transactionOp().create().forPath(resultPath, ZnodeJson.write(result)));
      if (znodes.exists(cancel)) {
        ops.add(client.transactionOp().delete().forPath(cancel));
      }
      ops.add(client.transactionOp().delete().forPath(DemoPaths.claim(claimed.path())));
      ops.add(client.transactionOp().delete().forPath(claimed.path()));
      try {
        client.transaction().forOperations(ops);
        return;
      } catch (KeeperException.NotEmptyException e) {
        if (attempt == 2) {
          throw e;
        }
      }
    }
  }

  /**
   * Whether the scheduler asked for this request to be cancelled (a gate reset). Unknown (e.g. ZooKeeper unreachable
   * at shutdown) counts as not asked.
   */
  boolean cancelRequested(String requestPath) {
    try {
      return znodes.exists(DemoPaths.cancel(requestPath));
    } catch (Exception e) {
      return false;
    }
  }

  /** Gives a request back unanswered (e.g. at shutdown) so that another executor runs it. */
  void release(Claimed<T> claimed) {
    try {
      znodes.client().delete().forPath(DemoPaths.claim(claimed.path()));
    } catch (Exception e) {
      // The claim is ephemeral: it goes with our session at the latest.
    }
  }
}
