package io.deferredspans.demo.scheduler;

import io.deferredspans.store.DeferredSpanStoreException;
import io.deferredspans.store.EndResult;
import org.apache.zookeeper.KeeperException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one state transition that another scheduler may be making at the same moment. Every transition is one
 * ZooKeeper transaction guarded by the item's version (or by a znode that only one can create or delete), so the
 * loser's transaction fails as a whole; that is normal, not an error, and the loser just moves on.
 */
final class Transitions {
  private static final Logger log = LoggerFactory.getLogger(Transitions.class);

  @FunctionalInterface
  interface Transition {
    void apply() throws Exception;
  }

  @FunctionalInterface
  interface EndingTransition {
    EndResult apply() throws Exception;
  }

  private Transitions() {}

  /** @return whether this scheduler made the transition */
  static boolean attempt(String what, Transition transition) throws Exception {
    try {
      transition.apply();
      return true;
    } catch (KeeperException e) {
      if (isRace(e)) {
        log.info("{}: another scheduler got there first ({})", what, e.code());
        return false;
      }
      throw e;
    } catch (DeferredSpanStoreException e) {
      if (e.getCause() instanceof KeeperException cause && isRace(cause)) {
        log.info("{}: another scheduler got there first ({})", what, cause.code());
        return false;
      }
      throw e;
    }
  }

  /** A transition that ends a deferred span; made only if this scheduler's end won and its operations applied. */
  static boolean attemptEnd(String what, EndingTransition transition) throws Exception {
    EndResult[] result = new EndResult[1];
    if (!attempt(what, () -> result[0] = transition.apply())) {
      return false;
    }
    switch (result[0].getOutcome()) {
      case ENDED -> log.info("{}: ended {}", what, result[0].getSpan().map(s -> s.getRecord().getName()).orElse("span"));
      case ALREADY_ENDED -> log.info("{}: another scheduler ended the span first", what);
      case NO_RECORD -> log.warn("{}: no open span (ended elsewhere, e.g. as abandoned); state moved on anyway", what);
      case REJECTED_RECORD -> log.warn("{}: span record unreadable: {}", what, result[0].getRecordError().orElse(null));
    }
    return result[0].callerOperationsApplied();
  }

  private static boolean isRace(KeeperException e) {
    return e instanceof KeeperException.BadVersionException
        || e instanceof KeeperException.NodeExistsException
        || e instanceof KeeperException.NoNodeException
        // deleting a build request that an executor claimed (created its child) after we looked
        || e instanceof KeeperException.NotEmptyException;
  }
}
