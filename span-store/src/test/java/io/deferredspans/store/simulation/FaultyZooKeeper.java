package io.deferredspans.store.simulation;

import io.deferredspans.store.simulation.FaultPlan.CallKind;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.curator.utils.ZookeeperFactory;
import org.apache.zookeeper.AsyncCallback;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.client.ZKClientConfig;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Stat;

/**
 * A real ZooKeeper client handle whose calls (every call Curator makes in the foreground, every call the store
 * makes on a raw handle, and the asynchronous transactions the store sends each write of a call in) go through the
 * host's {@link FaultPlan} first. Curator gets it from
 * {@link #factory}, so a new handle after a session expiry is faulty too.
 */
final class FaultyZooKeeper extends ZooKeeper {
  /** A ZooKeeper call, applied by the server when called. */
  interface Call<T> {
    T call() throws KeeperException, InterruptedException;
  }

  // ZooKeeper's own overloads call each other: fault the outermost call only.
  private static final ThreadLocal<Boolean> INSIDE = ThreadLocal.withInitial(() -> false);

  private final FaultPlan plan;

  private FaultyZooKeeper(
      String connectString, int sessionTimeout, Watcher watcher, boolean canBeReadOnly, ZKClientConfig config,
      FaultPlan plan) throws IOException {
    super(connectString, sessionTimeout, watcher, canBeReadOnly, config);
    this.plan = plan;
  }

  static ZookeeperFactory factory(FaultPlan plan) {
    return new ZookeeperFactory() {
      @Override
      public ZooKeeper newZooKeeper(String connectString, int sessionTimeout, Watcher watcher, boolean canBeReadOnly)
          throws Exception {
        return newZooKeeper(connectString, sessionTimeout, watcher, canBeReadOnly, new ZKClientConfig());
      }

      @Override
      public ZooKeeper newZooKeeper(
          String connectString, int sessionTimeout, Watcher watcher, boolean canBeReadOnly, ZKClientConfig config)
          throws Exception {
        FaultyZooKeeper handle =
            new FaultyZooKeeper(connectString, sessionTimeout, watcher, canBeReadOnly, config, plan);
        plan.newHandle(handle);
        return handle;
      }
    };
  }

  private <T> T faulted(CallKind kind, String path, Call<T> call) throws KeeperException, InterruptedException {
    if (INSIDE.get()) {
      return call.call();
    }
    INSIDE.set(true);
    try {
      return plan.run(this, kind, path, call);
    } finally {
      INSIDE.set(false);
    }
  }

  @Override
  public String create(String path, byte[] data, List<ACL> acl, CreateMode mode)
      throws KeeperException, InterruptedException {
    return faulted(CallKind.CREATE, path, () -> super.create(path, data, acl, mode));
  }

  @Override
  public String create(String path, byte[] data, List<ACL> acl, CreateMode mode, Stat stat)
      throws KeeperException, InterruptedException {
    return faulted(CallKind.CREATE, path, () -> super.create(path, data, acl, mode, stat));
  }

  @Override
  public String create(String path, byte[] data, List<ACL> acl, CreateMode mode, Stat stat, long ttl)
      throws KeeperException, InterruptedException {
    return faulted(CallKind.CREATE, path, () -> super.create(path, data, acl, mode, stat, ttl));
  }

  @Override
  public void delete(String path, int version) throws InterruptedException, KeeperException {
    faulted(CallKind.DELETE, path, () -> {
      super.delete(path, version);
      return null;
    });
  }

  @Override
  public List<OpResult> multi(Iterable<Op> ops) throws InterruptedException, KeeperException {
    Iterator<Op> first = ops.iterator();
    return faulted(CallKind.MULTI, first.hasNext() ? first.next().getPath() : null, () -> super.multi(ops));
  }

  /**
   * The store sends each write of a call once, asynchronously, and waits for its answer (SessionFencedCall): the
   * fault is decided on the caller's thread, and a call it applies answers from a thread of its own, as the
   * client's event thread would, so that a held reply holds the caller in its wait and nothing else.
   */
  @Override
  public void multi(Iterable<Op> ops, AsyncCallback.MultiCallback callback, Object context) {
    List<Op> copy = new ArrayList<>();
    ops.forEach(copy::add);
    String path = copy.isEmpty() ? null : copy.get(0).getPath();
    Fault fault;
    try {
      fault = INSIDE.get() ? null : plan.next(CallKind.MULTI, path);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      callback.processResult(KeeperException.Code.CONNECTIONLOSS.intValue(), path, context, null);
      return;
    }
    if (fault == null) {
      super.multi(copy, callback, context);
      return;
    }
    Thread answer = new Thread(() -> {
      try {
        List<OpResult> results = plan.inject(this, fault, () -> syncMulti(copy));
        callback.processResult(KeeperException.Code.OK.intValue(), path, context, results);
      } catch (KeeperException e) {
        callback.processResult(e.code().intValue(), path, context, e.getResults());
      } catch (InterruptedException e) {
        callback.processResult(KeeperException.Code.CONNECTIONLOSS.intValue(), path, context, null);
      }
    }, "faulty-zookeeper-answer");
    answer.setDaemon(true);
    answer.start();
  }

  private List<OpResult> syncMulti(List<Op> ops) throws KeeperException, InterruptedException {
    INSIDE.set(true);
    try {
      return super.multi(ops);
    } finally {
      INSIDE.set(false);
    }
  }

  @Override
  public Stat exists(String path, Watcher watcher) throws KeeperException, InterruptedException {
    return faulted(CallKind.EXISTS, path, () -> super.exists(path, watcher));
  }

  @Override
  public Stat exists(String path, boolean watch) throws KeeperException, InterruptedException {
    return faulted(CallKind.EXISTS, path, () -> super.exists(path, watch));
  }

  @Override
  public byte[] getData(String path, Watcher watcher, Stat stat) throws KeeperException, InterruptedException {
    return faulted(CallKind.GET_DATA, path, () -> super.getData(path, watcher, stat));
  }

  @Override
  public byte[] getData(String path, boolean watch, Stat stat) throws KeeperException, InterruptedException {
    return faulted(CallKind.GET_DATA, path, () -> super.getData(path, watch, stat));
  }

  @Override
  public Stat setData(String path, byte[] data, int version) throws KeeperException, InterruptedException {
    return faulted(CallKind.SET_DATA, path, () -> super.setData(path, data, version));
  }

  @Override
  public List<String> getChildren(String path, Watcher watcher) throws KeeperException, InterruptedException {
    return faulted(CallKind.GET_CHILDREN, path, () -> super.getChildren(path, watcher));
  }

  @Override
  public List<String> getChildren(String path, boolean watch) throws KeeperException, InterruptedException {
    return faulted(CallKind.GET_CHILDREN, path, () -> super.getChildren(path, watch));
  }

  @Override
  public List<String> getChildren(String path, Watcher watcher, Stat stat)
      throws KeeperException, InterruptedException {
    return faulted(CallKind.GET_CHILDREN, path, () -> super.getChildren(path, watcher, stat));
  }

  @Override
  public List<String> getChildren(String path, boolean watch, Stat stat)
      throws KeeperException, InterruptedException {
    return faulted(CallKind.GET_CHILDREN, path, () -> super.getChildren(path, watch, stat));
  }
}
