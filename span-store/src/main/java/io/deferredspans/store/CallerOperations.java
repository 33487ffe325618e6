package io.deferredspans.store;

import java.util.List;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.ZooDefs;

/**
 * The check every call that takes the caller's operations makes before anything is sent: none of them may act on
 * the store's own znodes, except the creates of {@code beginOps} (which callers put into an end's transaction to
 * begin the next span). One that did could break what the store guarantees of spans that are not the caller's:
 * a deleted claim lets recovery export a span its owner is exporting too; a node created where an embedded end's
 * finished span goes would be committed in its place and exported as if it were one.
 */
final class CallerOperations {
  private final String base;
  private final List<String> ownedRoots; // as the server sees them: with the store client's namespace
  private final String openRoot;

  CallerOperations(String clientNamespace, ZNodeLayout layout) {
    this.base = ZKPaths.fixForNamespace(clientNamespace, layout.base());
    this.ownedRoots = layout.storeOwnedRoots().stream()
        .map(root -> ZKPaths.fixForNamespace(clientNamespace, root))
        .toList();
    this.openRoot = ZKPaths.fixForNamespace(clientNamespace, layout.openRoot());
  }

  /** Returns {@code ops}, copied, if none of them acts on the store's znodes; refuses them otherwise. */
  List<CuratorOp> requireOutsideStore(List<CuratorOp> ops, String what) {
    List<CuratorOp> copy = List.copyOf(ops);
    for (int i = 0; i < copy.size(); i++) {
      Op op = copy.get(i).get();
      String path = op.getPath();
      // beginOps' creates may ride in an end's transaction (end one span, begin the next): a create under open/
      // can only add a span, never break another (a key in use fails the whole transaction).
      boolean begins = (op.getType() == ZooDefs.OpCode.create || op.getType() == ZooDefs.OpCode.create2)
          && path.startsWith(openRoot + "/");
      if (!begins && isStores(path)) {
        throw new IllegalArgumentException(what + ": the caller's operation #" + i + " acts on " + path
            + ", inside the store's own tree (" + base + "); only the store writes there. Nothing was sent");
      }
    }
    return copy;
  }

  private boolean isStores(String path) {
    if (path.equals(base)) {
      return true;
    }
    for (String root : ownedRoots) {
      if (path.equals(root) || path.startsWith(root + "/")) {
        return true;
      }
    }
    return false;
  }
}
