package io.deferredspans.demo.executor;

import io.deferredspans.demo.common.DemoPaths;
import io.deferredspans.demo.common.ZnodeJson;
import io.deferredspans.demo.common.Znodes;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;

/**
 * A folder of request znodes that several executors share. A request is claimed by creating its ephemeral
 * {@code claim} child, which only one session can do; if the claiming process dies, the claim vanishes with its
 * session and another executor picks the request up again.
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

  /** Claims the first unclaimed request, if there is one. */
  Optional<Claimed<T>> claimNext() throws Exception {
    CuratorFramework client = znodes.client();
    for (String name : znodes.children(folder)) {
      String path = ZKPaths.makePath(folder, name);
      if (znodes.exists(DemoPaths.claim(path))) {
        continue;
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

  /** Hands the result back and removes the request, in one transaction: a request is never answered twice. */
  void complete(Claimed<T> claimed, String resultPath, Object result) throws Exception {
    CuratorFramework client = znodes.client();
    client.transaction().forOperations(
        client.transactionOp().create().forPath(resultPath, ZnodeJson.write(result)),
        client.transactionOp().delete().forPath(DemoPaths.claim(claimed.path())),
        client.transactionOp().delete().forPath(claimed.path()));
  }

  /**
   * Whether the request was taken back while this executor ran it: the scheduler cancels a build (gate reset) by
   * deleting its request. Unknown (e.g. ZooKeeper unreachable at shutdown) counts as not withdrawn.
   */
  boolean withdrawn(String requestPath) {
    try {
      return !znodes.exists(requestPath);
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
