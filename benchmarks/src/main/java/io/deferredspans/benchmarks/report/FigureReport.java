package io.deferredspans.benchmarks.report;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Collects the rows of all figures of one run, prints them as tables and writes them as JSON and CSV. */
public final class FigureReport {
  private final Map<String, String> run = new LinkedHashMap<>();
  private final List<FigureRow> rows = new ArrayList<>();

  public synchronized void put(String key, String value) {
    run.put(key, value);
  }

  public synchronized void add(FigureRow row) {
    rows.add(row);
  }

  public synchronized void addAll(List<FigureRow> more) {
    rows.addAll(more);
  }

  public synchronized List<FigureRow> rows() {
    return List.copyOf(rows);
  }

  /** Prints the rows of one figure as a table, so progress is visible while later figures still run. */
  public synchronized void printFigure(String figure, PrintStream out) {
    out.println();
    out.println("== " + figure);
    out.printf(Locale.ROOT, "%-66s %12s %25s %25s %4s  %s%n", "metric", "median", "p25-p75", "min-max", "met",
        "target");
    for (FigureRow row : rows) {
      if (row.figure().equals(figure)) {
        Spread v = row.value();
        out.printf(Locale.ROOT, "%-66s %12s %25s %25s %4s  %s%n",
            row.metric(),
            format(v.median()) + " " + row.unit(),
            format(v.p25()) + " - " + format(v.p75()),
            format(v.min()) + " - " + format(v.max()),
            row.met() == null ? "" : row.met() ? "yes" : "NO",
            row.target().text());
      }
    }
  }

  public synchronized void printRun(PrintStream out) {
    out.println();
    run.forEach((key, value) -> out.println(key + ": " + value));
  }

  /** Writes {@code <prefix>.json} (everything) and {@code <prefix>.csv} (the rows). */
  public synchronized void write(Path directory, String prefix) throws IOException {
    Files.createDirectories(directory);
    try (Writer writer = Files.newBufferedWriter(directory.resolve(prefix + ".json"), StandardCharsets.UTF_8);
        JsonGenerator json = new JsonFactory().createGenerator(writer)) {
      json.useDefaultPrettyPrinter();
      json.writeStartObject();
      json.writeObjectFieldStart("run");
      for (Map.Entry<String, String> entry : run.entrySet()) {
        json.writeStringField(entry.getKey(), entry.getValue());
      }
      json.writeEndObject();
      json.writeArrayFieldStart("rows");
      for (FigureRow row : rows) {
        writeRow(json, row);
      }
      json.writeEndArray();
      json.writeEndObject();
    }
    List<String> csv = new ArrayList<>();
    csv.add("figure,metric,unit,median,p25,p75,min,max,samples,target,met,note");
    for (FigureRow row : rows) {
      Spread v = row.value();
      csv.add(String.join(",", quote(row.figure()), quote(row.metric()), quote(row.unit()),
          num(v.median()), num(v.p25()), num(v.p75()), num(v.min()), num(v.max()),
          String.valueOf(v.samples()), quote(row.target().text()), String.valueOf(row.met()), quote(row.note())));
    }
    Files.write(directory.resolve(prefix + ".csv"), csv, StandardCharsets.UTF_8);
  }

  private static void writeRow(JsonGenerator json, FigureRow row) throws IOException {
    Spread v = row.value();
    json.writeStartObject();
    json.writeStringField("figure", row.figure());
    json.writeStringField("metric", row.metric());
    json.writeStringField("unit", row.unit());
    json.writeNumberField("median", v.median());
    json.writeNumberField("p25", v.p25());
    json.writeNumberField("p75", v.p75());
    json.writeNumberField("min", v.min());
    json.writeNumberField("max", v.max());
    json.writeNumberField("samples", v.samples());
    json.writeStringField("target", row.target().text());
    if (row.met() == null) {
      json.writeNullField("met");
    } else {
      json.writeBooleanField("met", row.met());
    }
    json.writeStringField("note", row.note());
    json.writeEndObject();
  }

  static String format(double value) {
    double magnitude = Math.abs(value);
    if (magnitude >= 1000 || value == Math.rint(value) && magnitude >= 100) {
      return String.format(Locale.ROOT, "%.0f", value);
    }
    if (magnitude >= 10) {
      return String.format(Locale.ROOT, "%.1f", value);
    }
    return String.format(Locale.ROOT, "%.3f", value);
  }

  private static String num(double value) {
    return String.format(Locale.ROOT, "%.6g", value);
  }

  private static String quote(String text) {
    return '"' + text.replace("\"", "\"\"") + '"';
  }
}
