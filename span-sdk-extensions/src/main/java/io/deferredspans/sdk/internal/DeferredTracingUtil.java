package io.deferredspans.sdk.internal;

import io.deferredspans.sdk.DeferredSpanEnding;
import io.deferredspans.sdk.DeferredSpanLimitException;
import io.deferredspans.sdk.DeferredSpanRecord;
import io.deferredspans.sdk.DeferredTracing;
import io.deferredspans.sdk.FinishedDeferredSpan;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.reflect.Method;
import java.time.Duration;

/**
 * The steps of an end that a store takes one at a time, with its own durable copy between them: finish a span,
 * export it with a listener that hears what became of it, and time out exports that will never be acknowledged.
 * {@link DeferredTracing} keeps them package-private, since called on their own they skip what makes a stored
 * span end exactly once (a user exporting a span the store also holds would export it twice); applications end
 * spans with {@code DeferredSpanStore.endDeferredSpan}, or without a store with {@link DeferredTracing#end}.
 *
 * <p>Like opentelemetry-java's {@code SdkTracerProviderUtil}, this class reaches the package-private methods
 * reflectively; it looks each one up once, so a call costs what a direct call does.
 *
 * <p>This class is internal and is hence not for public use. Its APIs are unstable and can change at any time.
 */
public final class DeferredTracingUtil {
  private static final MethodHandle FINISH =
      handle("finish", DeferredSpanRecord.class, DeferredSpanEnding.class);
  private static final MethodHandle ABANDON = handle("abandon", DeferredSpanRecord.class, String.class);
  private static final MethodHandle EXPORT = handle("export", FinishedDeferredSpan.class, ExportListener.class);
  private static final MethodHandle PENDING_ACKNOWLEDGEMENTS = handle("pendingAcknowledgements");
  private static final MethodHandle EXPIRE_ACKNOWLEDGEMENTS = handle("expireAcknowledgements", Duration.class);

  private DeferredTracingUtil() {}

  /**
   * Ends a begun span on this host without exporting it: end time from this host's clock (unless the ending gives
   * one, and never before the start: see {@code DeferredSpanAttributes.CLOCK_SKEW_CLAMPED_NANOS}), end attributes
   * merged over begin attributes, and this library's attributes.
   *
   * @throws DeferredSpanLimitException if the end's attributes and links exceed the configured size
   * @throws IllegalArgumentException if the record is invalid, or no end time was given and this host's clock is
   *     outside the years 2000 to 2099
   */
  public static FinishedDeferredSpan finish(
      DeferredTracing tracing, DeferredSpanRecord record, DeferredSpanEnding ending) {
    try {
      return (FinishedDeferredSpan) FINISH.invokeExact(tracing, record, ending);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /**
   * Ends a span nobody ended (its owner vanished, or it outlived the maximum age), without exporting it: error
   * status and {@code DeferredSpanAttributes.ABANDONED}, so the trace shows the gap instead of a parent that
   * never arrives.
   */
  public static FinishedDeferredSpan abandon(DeferredTracing tracing, DeferredSpanRecord record, String reason) {
    try {
      return (FinishedDeferredSpan) ABANDON.invokeExact(tracing, record, reason);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /**
   * Hands a finished span to the host's span processors, as if an ordinary span had just ended there. The
   * listener hears when every exporter acknowledged it (or at once, when there is nothing to export or no
   * acknowledging exporter), or why it will not reach them ({@link ExportListener#onExportFailed}); after a
   * failure, no exporter of this host sends the span any more. {@link ExportListener#ignoring()} waits for no
   * answer: such a span is never timed out, nor withdrawn.
   */
  public static void export(DeferredTracing tracing, FinishedDeferredSpan span, ExportListener listener) {
    try {
      EXPORT.invokeExact(tracing, span, listener);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** How many exported deferred spans still wait for an exporter's answer (for metrics and tests). */
  public static int pendingAcknowledgements(DeferredTracing tracing) {
    try {
      return (int) PENDING_ACKNOWLEDGEMENTS.invokeExact(tracing);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /**
   * Reports as failed every exported span that has waited longer than {@code maxAge} for an exporter's answer:
   * a processor dropped it (e.g. its queue was full) and no answer will come. Stores call this periodically so
   * such spans are retried rather than forgotten.
   *
   * @return how many were expired
   */
  public static int expireAcknowledgements(DeferredTracing tracing, Duration maxAge) {
    try {
      return (int) EXPIRE_ACKNOWLEDGEMENTS.invokeExact(tracing, maxAge);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  private static MethodHandle handle(String name, Class<?>... parameterTypes) {
    try {
      Method method = DeferredTracing.class.getDeclaredMethod(name, parameterTypes);
      // The same module (and jar) as DeferredTracing: the module system allows this whatever the class path.
      method.setAccessible(true);
      return MethodHandles.lookup().unreflect(method);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("DeferredTracing." + name + " is missing: mixed versions of "
          + "deferred-spans-sdk-extensions on the class path?", e);
    }
  }

  /** What the method threw, unchanged: it declares no checked exception. */
  private static RuntimeException rethrow(Throwable thrown) {
    if (thrown instanceof RuntimeException runtime) {
      throw runtime;
    }
    if (thrown instanceof Error error) {
      throw error;
    }
    throw new IllegalStateException(thrown);
  }
}
