package io.deferredspans.benchmarks.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** What the figures were measured on: they mean little without the machine and how busy it was. */
public final class MachineInfo {
  private MachineInfo() {}

  public static Map<String, String> describe() {
    Map<String, String> info = new LinkedHashMap<>();
    info.put("cpus", String.valueOf(Runtime.getRuntime().availableProcessors()));
    info.put("cpu model", firstLineStartingWith(Path.of("/proc/cpuinfo"), "model name"));
    info.put("memory", firstLineStartingWith(Path.of("/proc/meminfo"), "MemTotal"));
    info.put("jdk", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
    info.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
    return info;
  }

  /** The 1, 5 and 15 minute load averages, or "unknown" off Linux. */
  public static String loadAverage() {
    try {
      String[] fields = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return fields[0] + " " + fields[1] + " " + fields[2];
    } catch (IOException e) {
      return "unknown";
    }
  }

  private static String firstLineStartingWith(Path file, String prefix) {
    try {
      List<String> lines = Files.readAllLines(file);
      return lines.stream()
          .filter(line -> line.startsWith(prefix))
          .map(line -> line.substring(line.indexOf(':') + 1).trim())
          .findFirst()
          .orElse("unknown");
    } catch (IOException e) {
      return "unknown";
    }
  }
}
