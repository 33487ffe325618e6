package io.deferredspans.cli;

/**
 * The exit status of every {@code deferred-spans} command, one per kind of failure so that a script can tell an
 * operator's mistake from an outage. Listed in {@code deferred-spans --help} and docs/operations.md.
 */
public final class ExitCodes {
  /** Done. */
  public static final int OK = 0;
  /** Anything not listed below: ZooKeeper refused for another reason, an unexpected error. */
  public static final int FAILURE = 1;
  /** Bad options or arguments (picocli's own code for usage errors), or a delete without {@code --yes}. */
  public static final int USAGE = 2;
  /** The ensemble could not be reached within {@code --connect-timeout}, or the connection was lost. */
  public static final int UNREACHABLE = 3;
  /** No store under {@code --base-path}. */
  public static final int NO_STORE = 4;
  /** ZooKeeper refused for lack of permission (NoAuth) or rejected the credentials. */
  public static final int NOT_AUTHORIZED = 5;
  /** {@code show KEY} or a quarantine ID names nothing. */
  public static final int NOT_FOUND = 6;
  /** {@code show KEY} found a record that cannot be read. */
  public static final int CORRUPT_RECORD = 7;
  /** {@code serve} could not start for a reason other than the ones above (its OpenTelemetry configuration). */
  public static final int CANNOT_START = 8;

  private ExitCodes() {}
}
