package io.deferredspans.demo.common;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * The demo programs' own flags ({@code --name value} and bare {@code --flag}). OpenTelemetry settings are not
 * flags: they come from {@code OTEL_*} variables and {@code otel.*} system properties, read by autoconfigure.
 */
public final class CommandLine {
  private final Map<String, String> values;
  private final Set<String> flags;

  private CommandLine(Map<String, String> values, Set<String> flags) {
    this.values = values;
    this.flags = flags;
  }

  /**
   * @param valueOptions names (without dashes) that take a value
   * @param flagOptions names that take none
   * @throws IllegalArgumentException naming the first argument that is not one of them
   */
  public static CommandLine parse(String[] args, Set<String> valueOptions, Set<String> flagOptions) {
    Map<String, String> values = new HashMap<>();
    Set<String> flags = new HashSet<>();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      String name = arg.startsWith("--") ? arg.substring(2) : null;
      if (name != null && flagOptions.contains(name)) {
        flags.add(name);
      } else if (name != null && valueOptions.contains(name)) {
        if (i + 1 >= args.length) {
          throw new IllegalArgumentException(arg + " needs a value");
        }
        values.put(name, args[++i]);
      } else {
        throw new IllegalArgumentException("unknown argument: " + arg);
      }
    }
    return new CommandLine(values, flags);
  }

  public String get(String name, String defaultValue) {
    return values.getOrDefault(name, defaultValue);
  }

  public String require(String name) {
    String value = values.get(name);
    if (value == null) {
      throw new IllegalArgumentException("--" + name + " is required");
    }
    return value;
  }

  public long getLong(String name, long defaultValue) {
    String value = values.get(name);
    if (value == null) {
      return defaultValue;
    }
    try {
      return Long.parseLong(value);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--" + name + " must be a whole number, not '" + value + "'", e);
    }
  }

  public boolean has(String flag) {
    return flags.contains(flag);
  }
}
