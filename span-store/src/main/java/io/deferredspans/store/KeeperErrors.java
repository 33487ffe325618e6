package io.deferredspans.store;

import java.util.List;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.OpResult;

/**
 * What a {@link KeeperException} means to the store: the one list of errors that say "no answer" (the request may
 * or may not have been applied, and only a read on the same session can tell), and where a refused transaction
 * failed. Every class of the store asks here, so an end, a begin, a fenced call and recovery agree on what a
 * connection problem is.
 */
final class KeeperErrors {
  private KeeperErrors() {}

  static boolean isConnectionProblem(KeeperException e) {
    return isConnectionProblem(e.code());
  }

  /**
   * CONNECTIONLOSS, OPERATIONTIMEOUT and SESSIONEXPIRED: the request may have reached the leader, the reply did
   * not reach us. SESSIONMOVED is on the list too: the server that answered says the session has moved to another
   * server, which happens when the client reconnected elsewhere while this request was in flight. The request was
   * not applied by the server that refused it, but the same session may have sent it before the move, so it is
   * no answer either, and is settled like a lost reply (by reading on the session, never by re-sending).
   */
  static boolean isConnectionProblem(KeeperException.Code code) {
    switch (code) {
      case CONNECTIONLOSS:
      case OPERATIONTIMEOUT:
      case SESSIONMOVED:
      case SESSIONEXPIRED:
        return true;
      default:
        return false;
    }
  }

  /** The index of the operation that made a multi fail (0 if the results do not say). */
  static int firstFailedIndex(KeeperException e) {
    List<OpResult> results = e.getResults();
    if (results == null) {
      return 0;
    }
    for (int i = 0; i < results.size(); i++) {
      OpResult result = results.get(i);
      if (result instanceof OpResult.ErrorResult) {
        int err = ((OpResult.ErrorResult) result).getErr();
        if (err != KeeperException.Code.OK.intValue()
            && err != KeeperException.Code.RUNTIMEINCONSISTENCY.intValue()) {
          return i;
        }
      }
    }
    return 0;
  }

  /** The error of the operation at {@code index} of a failed multi, or the exception's own code. */
  static KeeperException.Code codeAt(KeeperException e, int index) {
    List<OpResult> results = e.getResults();
    if (results != null && index < results.size() && results.get(index) instanceof OpResult.ErrorResult) {
      return KeeperException.Code.get(((OpResult.ErrorResult) results.get(index)).getErr());
    }
    return e.code();
  }
}
