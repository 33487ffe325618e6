package io.deferredspans.cli;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Durations as operators write them ({@code 500ms}, {@code 30s}, {@code 10m}, {@code 1h30m}, {@code 7d}) and ages as they read them. */
final class Durations {
  private static final Pattern PART = Pattern.compile("(\\d+)(ms|s|m|h|d)");

  private Durations() {}

  static Duration parse(String text) {
    String value = text.trim().toLowerCase(Locale.ROOT);
    if (value.startsWith("p")) {
      return Duration.parse(value.toUpperCase(Locale.ROOT));
    }
    Matcher matcher = PART.matcher(value);
    Duration total = Duration.ZERO;
    int end = 0;
    while (matcher.find() && matcher.start() == end) {
      long amount = Long.parseLong(matcher.group(1));
      switch (matcher.group(2)) {
        case "ms" -> total = total.plusMillis(amount);
        case "s" -> total = total.plusSeconds(amount);
        case "m" -> total = total.plusMinutes(amount);
        case "h" -> total = total.plusHours(amount);
        default -> total = total.plusDays(amount);
      }
      end = matcher.end();
    }
    if (end == 0 || end != value.length()) {
      throw new IllegalArgumentException("'" + text + "' is not a duration such as 500ms, 30s, 10m, 1h30m or 7d");
    }
    return total;
  }

  /** An age in its two largest units: {@code 45s}, {@code 12m05s}, {@code 3h07m}, {@code 2d04h}. */
  static String format(Duration age) {
    if (age.isNegative()) {
      return "-" + format(age.negated());
    }
    long seconds = age.getSeconds();
    if (seconds < 60) {
      return seconds + "s";
    }
    if (seconds < 3_600) {
      return String.format(Locale.ROOT, "%dm%02ds", seconds / 60, seconds % 60);
    }
    if (seconds < 86_400) {
      return String.format(Locale.ROOT, "%dh%02dm", seconds / 3_600, seconds % 3_600 / 60);
    }
    return String.format(Locale.ROOT, "%dd%02dh", seconds / 86_400, seconds % 86_400 / 3_600);
  }

  /** Lets picocli take durations in either form for any option typed {@link Duration}. */
  static final class Converter implements ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      try {
        return parse(value);
      } catch (RuntimeException e) {
        throw new TypeConversionException(e.getMessage());
      }
    }
  }
}
