package io.deferredspans.store;

/**
 * A store call failed. The message says whether anything was written; when the cause is a ZooKeeper error of
 * one of the caller's own operations, {@link #getCause()} is that {@code KeeperException}.
 */
public class DeferredSpanStoreException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  DeferredSpanStoreException(String message, Throwable cause) {
    super(message, cause);
  }
}
