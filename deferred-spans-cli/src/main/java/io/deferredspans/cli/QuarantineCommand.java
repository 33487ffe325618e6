package io.deferredspans.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.deferredspans.cli.StoredItems.QuarantinedRecord;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.curator.framework.api.CuratorEvent;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.KeeperException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code deferred-spans quarantine list|show|delete}: bytes the store could not read, kept for an operator. */
@Command(name = "quarantine", description = "Records that could not be read, moved aside by an end or by recovery.",
    subcommands = {QuarantineCommand.ListQuarantine.class, QuarantineCommand.ShowQuarantine.class,
        QuarantineCommand.DeleteQuarantine.class})
final class QuarantineCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    throw new ParameterException(spec.commandLine(), "Missing required subcommand: list, show ID or delete ID --yes");
  }

  @Command(name = "list", description = "Quarantined records, oldest first.")
  static final class ListQuarantine extends StoreCommand {
    @Option(names = "--json", description = "A JSON array, one object per record.")
    boolean json;

    @Override
    int run(StoreConnection store, StoreReader reader, Instant now) throws Exception {
      List<QuarantinedRecord> records = reader.quarantine().stream()
          .sorted(Comparator.comparingLong(QuarantinedRecord::createdMillis)).toList();
      if (json) {
        ArrayNode array = JSON.createArrayNode();
        records.forEach(record -> array.add(toJson(record, now)));
        printJson(array);
        return ExitCodes.OK;
      }
      if (records.isEmpty()) {
        out().println("quarantine is empty in " + store.layout().basePath());
        out().flush();
        return ExitCodes.OK;
      }
      Table table = new Table("ID", "FROM", "KEY", "BYTES", "AGE");
      records.forEach(record -> table.row(record.id(), record.source(), record.key().orElse(null),
          record.data().length, Durations.format(record.age(now))));
      table.print(out());
      return ExitCodes.OK;
    }
  }

  @Command(name = "show", description = "One quarantined record: where it came from, why it is unreadable, its bytes.")
  static final class ShowQuarantine extends OneQuarantinedRecord {
    @Option(names = "--json", description = "One JSON object.")
    boolean json;

    @Override
    int run(StoreConnection store, String path, CuratorEvent read, Instant now) throws Exception {
      QuarantinedRecord record = QuarantinedRecord.of(path, read.getData(), read.getStat().getCtime());
      if (json) {
        ObjectNode node = toJson(record, now);
        node.put("problem", record.problem());
        node.put("data", new String(record.data(), StandardCharsets.UTF_8));
        printJson(node);
        return ExitCodes.OK;
      }
      Table table = new Table("FIELD", "VALUE");
      table.row("id", record.id());
      table.row("path", record.path());
      table.row("from", store.layout().basePath() + "/" + record.source());
      record.key().ifPresent(key -> table.row("key", key));
      table.row("quarantined", Instant.ofEpochMilli(record.createdMillis()) + " ("
          + Durations.format(record.age(now)) + " ago)");
      table.row("problem", record.problem());
      table.row("bytes", record.data().length);
      table.row("data", ShowCommand.printable(record.data()));
      table.print(out());
      return ExitCodes.OK;
    }
  }

  @Command(name = "delete", description = "Deletes one quarantined record; the only command that writes. Needs --yes.")
  static final class DeleteQuarantine extends OneQuarantinedRecord {
    @Option(names = "--yes", description = "Really delete it.")
    boolean yes;

    @Override
    int run(StoreConnection store, String path, CuratorEvent read, Instant now) throws Exception {
      if (!yes) {
        throw new CliException(ExitCodes.USAGE, "quarantine delete writes to ZooKeeper: add --yes to delete " + path
            + " (" + read.getData().length + " bytes; see quarantine show " + id + ")");
      }
      try {
        // The version read above: a record re-quarantined under this ID since is never deleted unseen.
        store.client().delete().withVersion(read.getStat().getVersion()).forPath(path);
      } catch (KeeperException.NoNodeException gone) {
        throw notFound(id);
      } catch (KeeperException.NoAuthException e) {
        throw new CliException(ExitCodes.NOT_AUTHORIZED, "not authorized to delete " + path
            + " (give --auth with the store's credentials)");
      } catch (Exception e) {
        throw store.translate(e, path);
      }
      out().println("deleted " + path);
      out().flush();
      return ExitCodes.OK;
    }
  }

  /** A subcommand about one quarantined record, named by the ID {@code quarantine list} prints. */
  abstract static class OneQuarantinedRecord extends StoreCommand {
    @Parameters(paramLabel = "ID", description = "As printed by quarantine list.")
    String id;

    @Override
    final int run(StoreConnection store, StoreReader reader, Instant now) throws Exception {
      String path = quarantinePath(store, id);
      return run(store, path, reader.read(path).orElseThrow(() -> notFound(id)), now);
    }

    /** Runs on the record at {@code path}, as {@code read} found it (its bytes and its stat). */
    abstract int run(StoreConnection store, String path, CuratorEvent read, Instant now) throws Exception;
  }

  private static String quarantinePath(StoreConnection store, String id) {
    if (id.isEmpty() || id.contains("/") || id.equals(".") || id.equals("..")) {
      throw new CliException(ExitCodes.USAGE, "'" + id + "' is not a quarantine ID (see quarantine list)");
    }
    return ZKPaths.makePath(store.layout().quarantineRoot(), id);
  }

  private static CliException notFound(String id) {
    return new CliException(ExitCodes.NOT_FOUND, "no quarantined record " + id + " (see quarantine list)");
  }

  private static ObjectNode toJson(QuarantinedRecord record, Instant now) {
    ObjectNode node = StoreCommand.JSON.createObjectNode();
    node.put("id", record.id());
    node.put("path", record.path());
    node.put("from", record.source());
    node.put("key", record.key().orElse(null));
    node.put("bytes", record.data().length);
    node.put("ageSeconds", record.age(now).getSeconds());
    return node;
  }
}
