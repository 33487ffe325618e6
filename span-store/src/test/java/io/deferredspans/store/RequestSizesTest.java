package io.deferredspans.store;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.junit.jupiter.api.Test;

/** The sizes counted from a request's fields are what jute writes, byte for byte. */
class RequestSizesTest {
  private static void assertCountedAsWritten(Op op) {
    assertEquals(RequestSizes.MULTI_HEADER_BYTES + RequestSizes.serialized(op.toRequestRecord()),
        RequestSizes.serializedSize(op), op.toString());
  }

  @Test
  void everyRequestOfABeginOrAnEndIsCountedAsJuteWritesIt() {
    byte[] data = "{\"v\":1,\"n\":\"Queue Item \u00e9\u4e2d\ud83d\ude00\"}".getBytes(StandardCharsets.UTF_8);
    List<ACL> acls = List.of(new ACL(ZooDefs.Perms.ALL, new Id("digest", "user:h4sh\u00e9=")),
        new ACL(ZooDefs.Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE));
    for (String path : List.of("/ds/open/07/tenant%2Fgate%2Fitem+1", "/items/\u00e9l\u00e8ve-\u4e2d-\ud83d\ude00")) {
      for (CreateMode mode : List.of(CreateMode.PERSISTENT, CreateMode.EPHEMERAL, CreateMode.PERSISTENT_SEQUENTIAL)) {
        assertCountedAsWritten(Op.create(path, data, ZooDefs.Ids.OPEN_ACL_UNSAFE, mode));
        assertCountedAsWritten(Op.create(path, data, acls, mode));
        assertCountedAsWritten(Op.create(path, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, mode));
      }
      assertCountedAsWritten(Op.create(path, null, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));
      assertCountedAsWritten(Op.delete(path, 0));
      assertCountedAsWritten(Op.delete(path, -1));
      assertCountedAsWritten(Op.setData(path, data, 3));
      assertCountedAsWritten(Op.check(path, 7));
    }
  }

  @Test
  void otherRequestsAreMeasuredBySerializing() {
    assertCountedAsWritten(Op.create("/a/b", new byte[10], ZooDefs.Ids.OPEN_ACL_UNSAFE,
        CreateMode.PERSISTENT_WITH_TTL, 60_000));
    assertCountedAsWritten(Op.create("/a/c", new byte[10], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER));
  }
}
