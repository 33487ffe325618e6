"""Embedded mode (begin_embedded, end_embedded) against a real ZooKeeper: the record rides inside the caller's item,
the begin sends nothing, and the end's once-only rests on the caller's versioned delete or rewrite of that item."""

import threading
import uuid
import unittest

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, ConnectionLoss, NoNodeError

from deferred_spans import (CorruptRecordError, DeferredSpanStore, Outcome, UnsupportedVersionError,
                            decode_finished, decode_record, trace_id_ratio)
from deferred_spans.store import StoreUnavailableError
from tests.test_store import ZOOKEEPER


def item_data(payload: str, record_bytes: bytes) -> bytes:
    """An item as a caller might frame it: its own payload, a newline, then the record's bytes."""
    return payload.encode("utf-8") + b"\n" + record_bytes


def record_bytes_of(data: bytes) -> bytes:
    return data.split(b"\n", 1)[1]


@unittest.skipUnless(ZOOKEEPER, "needs a ZooKeeper: set DEFERRED_SPANS_TEST_ZOOKEEPER=host:port")
class EmbeddedTest(unittest.TestCase):
    def setUp(self):
        self.base = "/ds-%s" % uuid.uuid4().hex[:12]
        self.items = "/items-%s" % uuid.uuid4().hex[:12]
        self.zk = self.client()
        self.store = DeferredSpanStore(self.zk, self.base, host_name="py-executor-1")
        self.store.ensure_shards()
        self.zk.ensure_path(self.items)

    def client(self, hosts=None) -> KazooClient:
        zk = KazooClient(hosts=hosts or ZOOKEEPER, timeout=10)
        zk.start(timeout=30)
        self.addCleanup(zk.close)
        self.addCleanup(zk.stop)
        return zk

    def enqueue(self, name, store=None, **options):
        begun = (store or self.store).begin_embedded("QueueItem", **options)
        item = "%s/%s" % (self.items, name)
        self.zk.create(item, item_data("job " + name, begun.record_bytes))
        return begun, item

    def dequeue(self, item, store=None, **options):
        data, stat = self.zk.get(item)
        return (store or self.store).end_embedded(
            item, record_bytes_of(data), ops=lambda tx: tx.delete(item, version=stat.version), **options)

    def finished_spans(self):
        return [c for s in self.store.layout.shard_paths("ended") for c in self.zk.get_children(s)]

    def quarantined(self):
        path = self.base + "/quarantine"
        return {name: self.zk.get(path + "/" + name)[0] for name in self.zk.get_children(path)}

    def test_begin_sends_nothing_and_the_end_stores_the_finished_span_with_the_dequeue(self):
        begun = self.store.begin_embedded("QueueItem", attributes={"zuul.pipeline": "gate"})
        self.assertIsNone(begun.key)
        self.assertIsNone(begun.open_path)
        self.assertEqual((), begun.ops)
        self.assertEqual(begun.record, decode_record(begun.record_bytes, "embedded"))
        self.assertEqual("py-executor-1", begun.record.began_by)
        self.assertEqual([], [c for s in self.store.layout.shard_paths() for c in self.zk.get_children(s)])
        item = self.items + "/item-1"
        self.zk.create(item, item_data("job", begun.record_bytes))

        result = self.dequeue(item, attributes={"zuul.result": "SUCCESS"}, status=("OK", ""))

        self.assertIs(Outcome.ENDED, result.outcome)
        self.assertIsNone(self.zk.exists(item))
        ended = self.store.layout.ended_path(begun.context.span_id)
        self.assertEqual([], self.zk.get_children(ended), "the claim was released at once")
        finished = decode_finished(self.zk.get(ended)[0], ended)
        self.assertEqual(result.span, finished)
        self.assertEqual(begun.record, finished.record)
        self.assertEqual("SUCCESS", finished.end_attributes["zuul.result"])
        self.assertEqual("py-executor-1", finished.end_attributes["deferred_span.ended_by"])

    def test_without_a_claim_the_finished_span_has_none(self):
        begun, item = self.enqueue("item-1")
        self.assertIs(Outcome.ENDED, self.dequeue(item, claim=False).outcome)
        self.assertEqual([], self.zk.get_children(self.store.layout.ended_path(begun.context.span_id)))

    def test_racing_enders_get_exactly_one_ended_and_the_others_caller_operations_failed(self):
        for round_ in range(5):
            begun, item = self.enqueue("raced-%d" % round_)
            data, stat = self.zk.get(item)
            stores = [DeferredSpanStore(self.client(), self.base, host_name="ender") for _ in range(4)]
            barrier = threading.Barrier(len(stores))
            outcomes = []

            def end(store):
                barrier.wait()
                outcomes.append(store.end_embedded(item, record_bytes_of(data),
                                                   ops=lambda tx: tx.delete(item, version=stat.version)))

            threads = [threading.Thread(target=end, args=(s,)) for s in stores]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            self.assertEqual(1, [r.outcome for r in outcomes].count(Outcome.ENDED), outcomes)
            losers = [r for r in outcomes if r.outcome is not Outcome.ENDED]
            self.assertEqual(3, len(losers), outcomes)
            for loser in losers:
                self.assertIs(Outcome.CALLER_OPERATIONS_FAILED, loser.outcome)
                self.assertEqual(0, loser.failed_operation)
                self.assertIsInstance(loser.failure, (NoNodeError, BadVersionError))
            self.assertIn(begun.context.span_id, self.finished_spans())

    def test_a_late_end_with_the_same_bytes_applies_nothing(self):
        _, item = self.enqueue("item-1")
        data, stat = self.zk.get(item)
        self.assertIs(Outcome.ENDED, self.dequeue(item).outcome)
        late = self.store.end_embedded(item, record_bytes_of(data),
                                       ops=lambda tx: tx.delete(item, version=stat.version))
        self.assertIs(Outcome.CALLER_OPERATIONS_FAILED, late.outcome)
        self.assertIsInstance(late.failure, NoNodeError)

    def test_an_item_rewritten_at_its_version_ends_once_too(self):
        begun, item = self.enqueue("item-1")
        data, stat = self.zk.get(item)
        ops = lambda tx: tx.set_data(item, b"done", version=stat.version)  # noqa: E731
        self.assertIs(Outcome.ENDED, self.store.end_embedded(item, record_bytes_of(data), ops=ops).outcome)
        self.assertIs(Outcome.CALLER_OPERATIONS_FAILED,
                      self.store.end_embedded(item, record_bytes_of(data), ops=ops).outcome)
        self.assertEqual(b"done", self.zk.get(item)[0])
        self.assertEqual([begun.context.span_id], self.finished_spans())

    def test_operations_that_cannot_make_the_end_once_only_are_refused_before_anything_is_sent(self):
        _, item = self.enqueue("item-1")
        other = self.items + "/other"
        self.zk.create(other)
        data = record_bytes_of(self.zk.get(item)[0])
        for ops in (lambda tx: tx.delete(item),  # any version
                    lambda tx: tx.delete(other, version=0),
                    lambda tx: tx.check(item, 0),
                    lambda tx: tx.set_data(item, b"x"),
                    lambda tx: None):
            with self.assertRaisesRegex(ValueError, "at the version it was read with"):
                self.store.end_embedded(item, data, ops=ops)
        self.assertIsNotNone(self.zk.exists(item))
        self.assertIsNotNone(self.zk.exists(other))
        self.assertEqual([], self.finished_spans())

    def test_a_rewrite_that_keeps_the_record_in_the_item_is_refused_before_anything_is_sent(self):
        begun, item = self.enqueue("item-1")
        data, stat = self.zk.get(item)
        still_holding_it = item_data("job item-1, retried", begun.record_bytes)
        for ops in (lambda tx: tx.set_data(item, still_holding_it, version=stat.version),
                    lambda tx: (tx.delete(item, version=stat.version), tx.create(item, still_holding_it))):
            with self.assertRaisesRegex(ValueError, "still holds the record"):
                self.store.end_embedded(item, record_bytes_of(data), ops=ops)
        self.assertEqual(data, self.zk.get(item)[0])
        self.assertEqual([], self.finished_spans())

    def test_operations_on_the_stores_own_znodes_are_refused_before_anything_is_sent(self):
        begun, item = self.enqueue("item-1")
        data = record_bytes_of(self.zk.get(item)[0])
        planted = self.store.layout.ended_path(begun.context.span_id)
        with self.assertRaisesRegex(ValueError, "inside the store's own tree"):
            self.store.end_embedded(item, data, ops=lambda tx: (tx.delete(item, version=0),
                                                                 tx.create(planted, b"foreign")))
        self.assertIsNone(self.zk.exists(planted))
        self.assertIsNotNone(self.zk.exists(item))
        self.assertIs(Outcome.ENDED, self.dequeue(item).outcome)

    def test_garbage_never_blocks_a_dequeue_whose_own_operations_are_large(self):
        item = self.items + "/big"
        self.zk.create(item)
        garbage = b"x" * (700 * 1024)
        rewritten = b"r" * (600 * 1024)
        result = self.store.end_embedded(item, garbage, ops=lambda tx: tx.set_data(item, rewritten, version=0))
        self.assertIs(Outcome.REJECTED_RECORD, result.outcome)
        self.assertEqual(rewritten, self.zk.get(item)[0])
        [kept] = self.quarantined().values()
        self.assertTrue(kept and garbage.startswith(kept), len(kept))

    def test_unreadable_bytes_are_quarantined_and_the_item_is_still_dequeued(self):
        garbage = b'{"v":1,"c":"not a context"}'
        newer = b'{"v":2,"x":1}'
        for name in ("corrupt", "newer"):
            self.zk.create(self.items + "/" + name)
        corrupt = self.store.end_embedded(self.items + "/corrupt", garbage,
                                          ops=lambda tx: tx.delete(self.items + "/corrupt", version=0))
        newer_version = self.store.end_embedded(self.items + "/newer", newer,
                                                ops=lambda tx: tx.delete(self.items + "/newer", version=0))
        self.assertIs(Outcome.REJECTED_RECORD, corrupt.outcome)
        self.assertIsInstance(corrupt.record_error, CorruptRecordError)
        self.assertIn(self.items + "/corrupt", str(corrupt.record_error))
        self.assertIs(Outcome.REJECTED_RECORD, newer_version.outcome)
        self.assertIsInstance(newer_version.record_error, UnsupportedVersionError)
        self.assertIsNone(self.zk.exists(self.items + "/corrupt"))
        self.assertIsNone(self.zk.exists(self.items + "/newer"))
        kept = self.quarantined()
        self.assertEqual(sorted([garbage, newer]), sorted(kept.values()))
        # Named as Java names them: the item's path, '/' as '~', then the sequential suffix.
        prefix = self.items.replace("/", "~")
        self.assertEqual({prefix + "~corrupt-", prefix + "~newer-"}, {n[:-10] for n in kept}, kept)

    def test_an_item_without_a_record_is_dequeued_as_no_record(self):
        item = self.items + "/item-1"
        self.zk.create(item)
        result = self.store.end_embedded(item, None, ops=lambda tx: tx.delete(item, version=0))
        self.assertIs(Outcome.NO_RECORD, result.outcome)
        self.assertIsNone(self.zk.exists(item))

    def test_the_same_record_embedded_in_two_items_is_stored_once_and_does_not_block_the_second_item(self):
        begun = self.store.begin_embedded("QueueItem")
        for name in ("first", "copy"):
            self.zk.create(self.items + "/" + name, item_data(name, begun.record_bytes))
        self.assertIs(Outcome.ENDED, self.dequeue(self.items + "/first").outcome)

        copy = self.dequeue(self.items + "/copy")

        self.assertIs(Outcome.REJECTED_RECORD, copy.outcome)
        self.assertIn("already ended", str(copy.record_error))
        self.assertIsNone(self.zk.exists(self.items + "/copy"), "the caller's dequeue was applied")
        self.assertEqual([begun.record_bytes], list(self.quarantined().values()))
        self.assertEqual([begun.context.span_id], self.finished_spans())

    def test_an_unsampled_span_is_ended_with_the_item_and_nothing_is_stored(self):
        store = DeferredSpanStore(self.zk, self.base, host_name="h", sampler=trace_id_ratio(0.0))
        begun, item = self.enqueue("item-1", store=store)
        self.assertFalse(begun.record.sampled)
        result = self.dequeue(item)
        self.assertIs(Outcome.ENDED, result.outcome)
        self.assertIsNotNone(result.span)
        self.assertIsNone(self.zk.exists(item))
        self.assertEqual([], self.finished_spans())

    def test_a_lost_reply_is_settled_by_reading_the_claim_back(self):
        # The transaction applied but its answer was lost: the claim read back on the session says ENDED.
        begun, item = self.enqueue("applied")
        send = self.store._send

        def applied_then_lost(tx, session, what):
            send(tx, session, what)
            raise ConnectionLoss()

        self.store._send = applied_then_lost
        self.assertIs(Outcome.ENDED, self.dequeue(item).outcome)
        self.assertEqual([], self.zk.get_children(self.store.layout.ended_path(begun.context.span_id)),
                         "the claim was released")
        # Never sent: no claim of ours on the session, so nothing was applied, and a retry ends it.
        _, item = self.enqueue("unsent")

        def lost(tx, session, what):
            raise ConnectionLoss()

        self.store._send = lost
        with self.assertRaisesRegex(StoreUnavailableError, "nothing was applied, retry") as raised:
            self.dequeue(item)
        self.assertFalse(raised.exception.may_have_applied)
        self.store._send = send
        self.assertIs(Outcome.ENDED, self.dequeue(item).outcome)

    def test_an_item_in_a_chroot_is_named_as_the_client_names_it(self):
        self.zk.ensure_path("/tenant-" + self.base[4:] + "/q")
        scoped = self.client(ZOOKEEPER + "/tenant-" + self.base[4:])
        store = DeferredSpanStore(scoped, self.base, host_name="scoped")
        store.ensure_shards()
        begun = store.begin_embedded("QueueItem")
        scoped.create("/q/item-1", begun.record_bytes)
        data, stat = scoped.get("/q/item-1")
        result = store.end_embedded("/q/item-1", data, ops=lambda tx: tx.delete("/q/item-1", version=stat.version))
        self.assertIs(Outcome.ENDED, result.outcome)
        self.assertIsNone(scoped.exists("/q/item-1"))


if __name__ == "__main__":
    unittest.main()
