package io.deferredspans.cli;

/**
 * The read-only commands print one line on failure, so ZooKeeper's and Curator's own logging (connection
 * retries, with stack traces) must stay silent. slf4j-simple reads its levels once, when the first logger is
 * made, and system properties win over simplelogger.properties: so set them before any Curator class loads.
 */
final class Logging {
  private Logging() {}

  static void quiet() {
    setIfAbsent("org.slf4j.simpleLogger.defaultLogLevel", "error");
    setIfAbsent("org.slf4j.simpleLogger.log.org.apache.zookeeper", "off");
    setIfAbsent("org.slf4j.simpleLogger.log.org.apache.curator", "off");
  }

  private static void setIfAbsent(String key, String value) {
    if (System.getProperty(key) == null) {
      System.setProperty(key, value);
    }
  }
}
