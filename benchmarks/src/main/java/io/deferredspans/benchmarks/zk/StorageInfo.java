package io.deferredspans.benchmarks.zk;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Which device and file system hold a directory. ZooKeeper fsyncs its transaction log on every write, so the
 * storage under its data directory sets the floor of every write figure; the report names it.
 */
public final class StorageInfo {
  private StorageInfo() {}

  /** E.g. "/tmp/x on /dev/vda (ext4, mounted at /)", from the longest matching mount point in /proc/mounts. */
  public static String describe(Path directory) {
    String absolute = directory.toAbsolutePath().toString();
    String best = null;
    String bestMount = "";
    try {
      for (String line : Files.readAllLines(Path.of("/proc/mounts"))) {
        String[] fields = line.split(" ");
        if (fields.length < 3) {
          continue;
        }
        String mount = fields[1];
        boolean contains = absolute.equals(mount) || absolute.startsWith(mount.endsWith("/") ? mount : mount + "/");
        if (contains && mount.length() >= bestMount.length()) {
          bestMount = mount;
          best = fields[0] + " (" + fields[2] + ", mounted at " + mount + ")";
        }
      }
    } catch (IOException e) {
      return absolute + " on unknown storage";
    }
    return absolute + " on " + (best == null ? "unknown storage" : best)
        + "; fsync per transaction (zookeeper.forceSync default yes)";
  }
}
