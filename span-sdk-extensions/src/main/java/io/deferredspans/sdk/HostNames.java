package io.deferredspans.sdk;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.sdk.resources.Resource;
import java.net.InetAddress;
import java.net.UnknownHostException;

final class HostNames {
  private static final AttributeKey<String> SERVICE_INSTANCE_ID = AttributeKey.stringKey("service.instance.id");
  private static final AttributeKey<String> HOST_NAME = AttributeKey.stringKey("host.name");

  private HostNames() {}

  /** Distinguishes processes, not just machines: two schedulers often share a host. */
  static String defaultHostName(Resource resource) {
    String instance = resource.getAttribute(SERVICE_INSTANCE_ID);
    if (instance != null && !instance.isEmpty()) {
      return instance;
    }
    String host = resource.getAttribute(HOST_NAME);
    if (host != null && !host.isEmpty()) {
      return host;
    }
    String local;
    try {
      local = InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      local = "unknown-host";
    }
    return ProcessHandle.current().pid() + "@" + local;
  }
}
