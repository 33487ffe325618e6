package io.deferredspans.sdk;

import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanId;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceId;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.api.trace.TraceStateBuilder;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Strict W3C Trace Context ({@code traceparent} / {@code tracestate}) formatting and parsing, for embedding a
 * deferred span's context in job requests and messages.
 *
 * <p>Unlike the lenient {@code W3CTraceContextPropagator}, which quietly returns an invalid context, parsing here
 * either yields a complete, valid remote {@link SpanContext} or throws {@link MalformedTraceparentException}
 * saying what is wrong: a header is never half-used.
 *
 * <p>Child processes (a job's steps, a playbook, a shell command) get their parent through their environment:
 * {@link #toEnvironment} writes the {@value #TRACEPARENT_VARIABLE} and {@value #TRACESTATE_VARIABLE} variables
 * into the environment a child is started with, {@link #fromEnvironment} reads them back in the child. These are
 * the names OpenTelemetry's specification gives the W3C keys when environment variables are the carrier
 * ("Environment Variables as Context Propagation Carriers": key names normalized, i.e. upper-cased), the ones
 * {@code opentelemetry-api-incubator}'s {@code EnvironmentSetter} and {@code EnvironmentGetter} use, and the ones
 * other tools (Ansible's OpenTelemetry callback, Jenkins, otel-cli) read and write.
 */
public final class TraceParent {
  private static final String VERSION_00 = "00";
  private static final int VERSION_00_LENGTH = 55;
  private static final int MAX_TRACESTATE_MEMBERS = 32;
  private static final int MAX_TRACESTATE_VALUE_LENGTH = 256;
  private static final Pattern TRACESTATE_KEY =
      Pattern.compile(
          "[a-z][_0-9a-z\\-*/]{0,255}|[a-z0-9][_0-9a-z\\-*/]{0,240}@[a-z][_0-9a-z\\-*/]{0,13}");

  /** The environment variable that carries the {@code traceparent} to a child process. */
  public static final String TRACEPARENT_VARIABLE = "TRACEPARENT";

  /** The environment variable that carries the {@code tracestate} to a child process, when it is not empty. */
  public static final String TRACESTATE_VARIABLE = "TRACESTATE";

  private TraceParent() {}

  /**
   * Makes {@code context} the parent of a child process: writes {@value #TRACEPARENT_VARIABLE}, and {@value
   * #TRACESTATE_VARIABLE} when the trace state is not empty, into {@code environment}, the child's environment
   * (typically {@code ProcessBuilder.environment()}). That map starts as a copy of this process's own environment,
   * which may hold this process's own parent: what it inherited is replaced, and a {@value #TRACESTATE_VARIABLE}
   * that does not belong to {@code context} is removed, so a child never pairs one parent with another's state.
   * An invalid context (tracing disabled) removes both: the child has no parent rather than a wrong one. Nothing
   * else in {@code environment} is touched; this process's own environment never is.
   */
  public static void toEnvironment(SpanContext context, Map<String, String> environment) {
    environment.remove(TRACESTATE_VARIABLE);
    if (!context.isValid()) {
      environment.remove(TRACEPARENT_VARIABLE);
      return;
    }
    environment.put(TRACEPARENT_VARIABLE, format(context));
    if (!context.getTraceState().isEmpty()) {
      environment.put(TRACESTATE_VARIABLE, formatTraceState(context.getTraceState()));
    }
  }

  /**
   * The parent this process was started under, from its environment (typically {@code System.getenv()}, read once
   * at start-up): {@value #TRACEPARENT_VARIABLE} and {@value #TRACESTATE_VARIABLE}, parsed as strictly as {@link
   * #parse(String, String)}. Only these upper-case names are read, never a variable spelled otherwise such as
   * {@code traceparent} (on Windows, whose environment ignores case, the platform may still match one).
   *
   * @return the parent as a remote span context, or empty if there is no {@value #TRACEPARENT_VARIABLE} (the
   *     process then starts a trace of its own)
   * @throws MalformedTraceparentException if a variable is there but malformed; the message names the variable
   */
  public static Optional<SpanContext> fromEnvironment(Map<String, String> environment) {
    String traceparent = environment.get(TRACEPARENT_VARIABLE);
    if (traceparent == null) {
      return Optional.empty();
    }
    SpanContext parent;
    TraceState state;
    try {
      parent = parse(traceparent);
    } catch (MalformedTraceparentException e) {
      throw inVariable(TRACEPARENT_VARIABLE, e);
    }
    try {
      state = parseTraceState(environment.get(TRACESTATE_VARIABLE));
    } catch (MalformedTraceparentException e) {
      throw inVariable(TRACESTATE_VARIABLE, e);
    }
    return Optional.of(SpanContext.createFromRemoteParent(
        parent.getTraceId(), parent.getSpanId(), parent.getTraceFlags(), state));
  }

  private static MalformedTraceparentException inVariable(String variable, MalformedTraceparentException e) {
    return new MalformedTraceparentException("environment variable " + variable + ": " + e.getMessage());
  }

  /** Formats {@code context} as a version-00 {@code traceparent} value. */
  public static String format(SpanContext context) {
    if (!context.isValid()) {
      throw new IllegalArgumentException("cannot format an invalid span context as traceparent");
    }
    return VERSION_00
        + '-'
        + context.getTraceId()
        + '-'
        + context.getSpanId()
        + '-'
        + context.getTraceFlags().asHex();
  }

  /** Formats a trace state as a {@code tracestate} value; empty when the state is empty. */
  public static String formatTraceState(TraceState traceState) {
    StringBuilder out = new StringBuilder();
    traceState.forEach(
        (key, value) -> {
          if (out.length() > 0) {
            out.append(',');
          }
          out.append(key).append('=').append(value);
        });
    return out.toString();
  }

  /** Parses a {@code traceparent} with no {@code tracestate}. */
  public static SpanContext parse(String traceparent) {
    return parse(traceparent, null);
  }

  /**
   * Parses a {@code traceparent} and optional {@code tracestate} into a remote span context.
   *
   * @throws MalformedTraceparentException if either value breaks the W3C grammar, or the IDs are all zeros
   */
  public static SpanContext parse(String traceparent, String tracestate) {
    if (traceparent == null) {
      throw new MalformedTraceparentException("traceparent is null");
    }
    if (traceparent.length() < VERSION_00_LENGTH) {
      throw malformed(traceparent, "too short");
    }
    String version = traceparent.substring(0, 2);
    if (!isLowerHex(version) || version.equals("ff")) {
      throw malformed(traceparent, "invalid version '" + version + "'");
    }
    boolean exactLength = traceparent.length() == VERSION_00_LENGTH;
    // Version 00 has exactly four fields; later versions may append fields after a dash (W3C §3.2.4).
    if (version.equals(VERSION_00) ? !exactLength
        : !exactLength && traceparent.charAt(VERSION_00_LENGTH) != '-') {
      throw malformed(traceparent, "wrong length for version " + version);
    }
    if (traceparent.charAt(2) != '-' || traceparent.charAt(35) != '-' || traceparent.charAt(52) != '-') {
      throw malformed(traceparent, "fields are not separated by '-' at the expected positions");
    }
    String traceId = traceparent.substring(3, 35);
    String spanId = traceparent.substring(36, 52);
    String flags = traceparent.substring(53, 55);
    if (!isLowerHex(traceId) || !TraceId.isValid(traceId)) {
      throw malformed(traceparent, "trace id must be 32 lowercase hex digits, not all zero");
    }
    if (!isLowerHex(spanId) || !SpanId.isValid(spanId)) {
      throw malformed(traceparent, "parent id must be 16 lowercase hex digits, not all zero");
    }
    if (!isLowerHex(flags)) {
      throw malformed(traceparent, "trace flags must be 2 lowercase hex digits");
    }
    return SpanContext.createFromRemoteParent(
        traceId, spanId, TraceFlags.fromHex(flags, 0), parseTraceState(tracestate));
  }

  /**
   * Parses a {@code tracestate} value strictly (W3C Trace Context): at most 32 members, valid keys and values,
   * no duplicate keys; spaces and tabs around members and empty members are allowed. {@code null}, empty or only
   * spaces, tabs and commas yields the empty state.
   */
  public static TraceState parseTraceState(String tracestate) {
    if (tracestate == null) {
      return TraceState.getDefault();
    }
    List<String[]> members = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    for (String rawMember : tracestate.split(",", -1)) {
      String member = stripOptionalWhitespace(rawMember);
      if (member.isEmpty()) {
        continue; // empty list members are allowed by the grammar
      }
      int eq = member.indexOf('=');
      if (eq <= 0) {
        throw malformedState(tracestate, "member '" + member + "' is not key=value");
      }
      String key = member.substring(0, eq);
      String value = member.substring(eq + 1);
      if (!TRACESTATE_KEY.matcher(key).matches()) {
        throw malformedState(tracestate, "invalid key '" + key + "'");
      }
      if (!isValidTraceStateValue(value)) {
        throw malformedState(tracestate, "invalid value for key '" + key + "'");
      }
      if (!seen.add(key)) {
        throw malformedState(tracestate, "duplicate key '" + key + "'");
      }
      if (seen.size() > MAX_TRACESTATE_MEMBERS) {
        throw malformedState(tracestate, "more than " + MAX_TRACESTATE_MEMBERS + " members");
      }
      members.add(new String[] {key, value});
    }
    // The builder puts each new key in front, so feed it back to front to keep the header's order.
    TraceStateBuilder builder = TraceState.builder();
    for (int i = members.size() - 1; i >= 0; i--) {
      builder.put(members.get(i)[0], members.get(i)[1]);
    }
    return builder.build();
  }

  /** W3C's OWS around list members is spaces and tabs only: a newline or other whitespace is malformed. */
  private static String stripOptionalWhitespace(String member) {
    int start = 0;
    int end = member.length();
    while (start < end && (member.charAt(start) == ' ' || member.charAt(start) == '\t')) {
      start++;
    }
    while (end > start && (member.charAt(end - 1) == ' ' || member.charAt(end - 1) == '\t')) {
      end--;
    }
    return member.substring(start, end);
  }

  private static boolean isValidTraceStateValue(String value) {
    if (value.isEmpty() || value.length() > MAX_TRACESTATE_VALUE_LENGTH) {
      return false;
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c < 0x20 || c > 0x7e || c == ',' || c == '=') {
        return false;
      }
    }
    return value.charAt(value.length() - 1) != ' ';
  }

  static boolean isLowerHex(String s) {
    return !s.isEmpty() && isLowerHex(s, 0, s.length());
  }

  /**
   * Whether the characters from {@code from} to {@code to} (exclusive) are lowercase hex digits. A loop, not a
   * regex: every decoded record checks three IDs, and a matcher cost more than the rest of the decoding.
   */
  static boolean isLowerHex(String s, int from, int to) {
    for (int i = from; i < to; i++) {
      char c = s.charAt(i);
      if ((c < '0' || c > '9') && (c < 'a' || c > 'f')) {
        return false;
      }
    }
    return true;
  }

  private static MalformedTraceparentException malformed(String traceparent, String why) {
    return new MalformedTraceparentException(
        "malformed traceparent '" + abbreviate(traceparent) + "': " + why);
  }

  private static MalformedTraceparentException malformedState(String tracestate, String why) {
    return new MalformedTraceparentException(
        "malformed tracestate '" + abbreviate(tracestate) + "': " + why);
  }

  private static String abbreviate(String value) {
    return value.length() <= 80 ? value : value.substring(0, 77) + "...";
  }
}
