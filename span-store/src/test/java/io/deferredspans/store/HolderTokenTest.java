package io.deferredspans.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * The holder token ("eh", docs/record-format.md section 4) as the store writes and reads it: only the exact form
 * holds a span, so another writer's near miss is handed to recovery rather than held by a session that never
 * wrote it.
 */
class HolderTokenTest {
  private static final byte[] FINISHED = "{\"v\":1,\"c\":\"x\"}".getBytes(StandardCharsets.ISO_8859_1);

  private static byte[] withToken(String token) {
    return ("{\"v\":1,\"eh\":\"" + token + "\",\"c\":\"x\"}").getBytes(StandardCharsets.ISO_8859_1);
  }

  @Test
  void aTokenNamesItsSessionAndIsFreshForEachAttempt() {
    String token = ZNodeLayout.holderToken(0x0100015c31410003L);

    assertEquals("0100015c31410003", token.substring(0, 16));
    assertEquals(0x0100015c31410003L, ZNodeLayout.holderSession(token));
    assertNotEquals(token, ZNodeLayout.holderToken(0x0100015c31410003L));
    assertEquals("0100015c31410003", ZNodeLayout.sessionName(0x0100015c31410003L));
    assertEquals("8000000000000000", ZNodeLayout.sessionName(Long.MIN_VALUE));
  }

  @Test
  void aHeldSpanReadsBackItsTokenAndIsReleasedToTheCodecsBytes() {
    String token = ZNodeLayout.holderToken(42);
    byte[] held = ZNodeLayout.heldFinished(FINISHED, token);

    assertArrayEquals(withToken(token), held);
    assertEquals(token, ZNodeLayout.holderToken(held));
    assertArrayEquals(FINISHED, ZNodeLayout.released(held));
    assertArrayEquals(FINISHED, ZNodeLayout.released(FINISHED));
  }

  @Test
  void onlyTheExactFormHoldsASpan() {
    String good = "00000000000000aa-00000000000000bb";
    assertEquals(good, ZNodeLayout.holderToken(withToken(good)));
    for (String bad : new String[] {
        "00000000000000AA-00000000000000bb", // uppercase
        "00000000000000aa_00000000000000bb", // not a dash
        "000000000000000aa-0000000000000bb", // dash elsewhere
        "00000000000000aa-00000000000000bg", // not hex
    }) {
      assertNull(ZNodeLayout.holderToken(withToken(bad)), bad);
    }
    assertNull(ZNodeLayout.holderToken(("{\"v\":1,\"c\":\"x\",\"eh\":\"" + good + "\"}")
        .getBytes(StandardCharsets.ISO_8859_1)), "not the second member");
    assertNull(ZNodeLayout.holderToken(null));
  }
}
