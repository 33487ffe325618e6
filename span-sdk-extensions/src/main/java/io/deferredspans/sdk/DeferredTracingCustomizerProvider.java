package io.deferredspans.sdk;

import io.opentelemetry.sdk.autoconfigure.spi.AutoConfigurationCustomizer;
import io.opentelemetry.sdk.autoconfigure.spi.AutoConfigurationCustomizerProvider;

/**
 * Lets OpenTelemetry's autoconfigure install {@link DeferredTracingAutoConfiguration} by itself: registered in
 * {@code META-INF/services}, so any {@code AutoConfiguredOpenTelemetrySdk} built with this library on the class
 * path has its pipeline captured. Get the result with {@link DeferredTracingAutoConfiguration#get}.
 *
 * <p>Not meant to be called: autoconfigure's {@code ServiceLoader} instantiates it.
 */
public final class DeferredTracingCustomizerProvider implements AutoConfigurationCustomizerProvider {

  @Override
  public void customize(AutoConfigurationCustomizer autoConfiguration) {
    DeferredTracingAutoConfiguration.install(autoConfiguration);
  }

  /**
   * Last, so the capture sees the sampler, exporters and processors as every other customizer left them, and
   * its marker on the sampler is the outermost one.
   */
  @Override
  public int order() {
    return Integer.MAX_VALUE;
  }
}
