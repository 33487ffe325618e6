package io.deferredspans.sdk;

import io.deferredspans.sdk.internal.DeferredSpanRecordCodec;
import io.opentelemetry.api.logs.LoggerProvider;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/** The options both ways of building a {@link DeferredTracing} share, validated in one place. */
final class DeferredTracingOptions {
  String hostName;
  int maxAttributeBytes = DeferredTracingBuilder.DEFAULT_MAX_ATTRIBUTE_BYTES;
  List<String> deniedAttributeKeys = new ArrayList<>(AttributeFilter.DEFAULT_DENIED_KEYS);
  UntrustedParentPolicy untrustedParentPolicy = UntrustedParentPolicy.LINK;
  // Off unless set: where start events go.
  LoggerProvider startEventLoggerProvider;

  void setMaxAttributeBytes(int maxAttributeBytes) {
    if (maxAttributeBytes <= 0 || maxAttributeBytes > DeferredSpanRecordCodec.MAX_RECORD_BYTES / 2) {
      throw new IllegalArgumentException("maxAttributeBytes must be in (0, 256 KiB]: " + maxAttributeBytes);
    }
    this.maxAttributeBytes = maxAttributeBytes;
  }

  void setDeniedAttributeKeys(List<String> patterns) {
    this.deniedAttributeKeys = new ArrayList<>(patterns);
    new AttributeFilter(patterns); // fail now on a bad regex, not at the first span
  }

  void setUntrustedParentPolicy(UntrustedParentPolicy policy) {
    this.untrustedParentPolicy = Objects.requireNonNull(policy, "policy");
  }

  AttributeFilter attributeFilter() {
    return new AttributeFilter(deniedAttributeKeys);
  }
}
