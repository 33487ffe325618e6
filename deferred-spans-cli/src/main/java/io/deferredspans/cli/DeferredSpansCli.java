package io.deferredspans.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * {@code deferred-spans}: the operator's view of a Deferred Spans store in ZooKeeper, and {@code serve}, a
 * standalone recovery worker. Every command but {@code quarantine delete} and {@code serve} only reads.
 */
@Command(name = "deferred-spans",
    description = "Inspect a Deferred Spans store in ZooKeeper, or run its recovery worker.",
    subcommands = {ListCommand.class, ShowCommand.class, PendingCommand.class, QuarantineCommand.class,
        StatsCommand.class, ServeCommand.class},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
        "0:done",
        "1:other failure (ZooKeeper refused for another reason)",
        "2:bad options, or quarantine delete without --yes",
        "3:ZooKeeper unreachable within --connect-timeout, or connection lost",
        "4:no store under --base-path",
        "5:not authorized (NoAuth: the store has ACLs; give --auth)",
        "6:show KEY or a quarantine ID names nothing",
        "7:show KEY found an unreadable record",
        "8:serve cannot start (its OpenTelemetry configuration)"},
    footer = "%nSee docs/operations.md for a walk-through.")
public final class DeferredSpansCli implements Callable<Integer> {
  @Option(names = {"-h", "--help"}, usageHelp = true, scope = ScopeType.INHERIT, description = "Show this help.")
  boolean help;

  @Spec
  CommandSpec spec;

  private DeferredSpansCli() {}

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  /** The command line, with failures printed as one line and mapped to {@link ExitCodes}. */
  public static CommandLine commandLine() {
    return new CommandLine(new DeferredSpansCli())
        .setCaseInsensitiveEnumValuesAllowed(true)
        .setExecutionExceptionHandler(DeferredSpansCli::failed);
  }

  @Override
  public Integer call() {
    throw new ParameterException(spec.commandLine(),
        "Missing required subcommand: list, show, pending, quarantine, stats or serve");
  }

  private static int failed(Exception e, CommandLine command, ParseResult parsed) {
    String message = e instanceof CliException ? e.getMessage() : "unexpected error: " + e;
    command.getErr().println("deferred-spans: " + message);
    command.getErr().flush();
    return e instanceof CliException cli ? cli.exitCode() : ExitCodes.FAILURE;
  }
}
