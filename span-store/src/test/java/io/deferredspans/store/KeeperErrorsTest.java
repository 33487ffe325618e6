package io.deferredspans.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.OpResult;
import org.junit.jupiter.api.Test;

/** The one list of errors that mean "no answer", and where a refused multi failed. */
class KeeperErrorsTest {
  @Test
  void noAnswerIsALostConnectionATimeoutAMovedOrAnExpiredSession() {
    Set<Code> noAnswer = EnumSet.of(Code.CONNECTIONLOSS, Code.OPERATIONTIMEOUT, Code.SESSIONMOVED,
        Code.SESSIONEXPIRED);
    for (Code code : Code.values()) {
      assertThat(KeeperErrors.isConnectionProblem(code)).as(code.name()).isEqualTo(noAnswer.contains(code));
    }
    assertThat(KeeperErrors.isConnectionProblem(KeeperException.create(Code.SESSIONMOVED))).isTrue();
    assertThat(KeeperErrors.isConnectionProblem(KeeperException.create(Code.BADVERSION))).isFalse();
  }

  @Test
  void theFailedOperationIsTheFirstThatIsNeitherOkNorRolledBack() {
    KeeperException refused = new SessionFencedCall.Refused(Code.NONODE, List.of(
        new OpResult.ErrorResult(Code.OK.intValue()),
        new OpResult.ErrorResult(Code.RUNTIMEINCONSISTENCY.intValue()),
        new OpResult.ErrorResult(Code.NONODE.intValue()),
        new OpResult.ErrorResult(Code.RUNTIMEINCONSISTENCY.intValue())));

    assertThat(KeeperErrors.firstFailedIndex(refused)).isEqualTo(2);
    assertThat(KeeperErrors.codeAt(refused, 2)).isEqualTo(Code.NONODE);
    assertThat(KeeperErrors.firstFailedIndex(KeeperException.create(Code.NONODE))).isZero();
  }
}
