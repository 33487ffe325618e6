package io.deferredspans.demo.common;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;

/** JSON for znode bodies. Unknown fields are ignored so that processes of different versions can share a queue. */
public final class ZnodeJson {
  private static final ObjectMapper MAPPER =
      new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

  private ZnodeJson() {}

  public static byte[] write(Object value) {
    try {
      return MAPPER.writeValueAsBytes(value);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + value.getClass().getSimpleName() + " as JSON", e);
    }
  }

  public static <T> T read(byte[] data, Class<T> type, String path) {
    try {
      return MAPPER.readValue(data, type);
    } catch (IOException e) {
      throw new IllegalStateException("znode " + path + " does not hold a " + type.getSimpleName(), e);
    }
  }
}
