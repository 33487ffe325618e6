"""begin_ops and end against a real ZooKeeper: DEFERRED_SPANS_TEST_ZOOKEEPER=host:port (the cross-language JUnit
test that runs these starts one; without it these tests are reported as skipped, with that reason)."""

import logging
import os
import re
import socket
import threading
import time
import unittest
import uuid

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import NoNodeError

from deferred_spans import (CorruptRecordError, DeferredSpanStore, Outcome, UnsupportedVersionError,
                            decode_finished, decode_record, parse_traceparent, trace_id_ratio)
from deferred_spans.record import MAX_FINISHED_BYTES
from deferred_spans.store import DeferredSpanError, StoreUnavailableError

ZOOKEEPER = os.environ.get("DEFERRED_SPANS_TEST_ZOOKEEPER")
# OpenTelemetry Python's TraceContextTextMapPropagator.extract accepts exactly this (opentelemetry-api,
# trace/propagation/tracecontext.py), and refuses version ff, all-zero ids and extra fields after version 00.
OTEL_TRACEPARENT = re.compile(r"^\s*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?\s*$")


def otel_extracts(traceparent: str) -> bool:
    match = OTEL_TRACEPARENT.match(traceparent)
    if not match:
        return False
    version, trace_id, span_id, _, rest = match.groups()
    return version != "ff" and trace_id != "0" * 32 and span_id != "0" * 16 and not (version == "00" and rest)


class CuttableProxy:
    """A loopback TCP proxy to the ZooKeeper under test whose connections can be cut and restored: a real client
    losing its connection (and keeping its session) without stopping the shared server."""

    def __init__(self, target: str) -> None:
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = "127.0.0.1:%d" % self.listener.getsockname()[1]
        self.open = threading.Event()
        self.open.set()
        self.sockets = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open.is_set():
                client.close()  # refused while cut: the client keeps trying to reconnect
                continue
            server = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            source.close()

    def cut(self) -> None:
        self.open.clear()
        with self.lock:
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.sockets = []

    def restore(self) -> None:
        self.open.set()

    def close(self) -> None:
        self.cut()
        self.listener.close()


@unittest.skipUnless(ZOOKEEPER, "needs a ZooKeeper: set DEFERRED_SPANS_TEST_ZOOKEEPER=host:port")
class StoreTest(unittest.TestCase):
    def setUp(self):
        self.base = "/ds-%s" % uuid.uuid4().hex[:12]
        self.zk = self.client()
        self.store = DeferredSpanStore(self.zk, self.base, host_name="py-scheduler-1")
        self.store.ensure_shards()
        self.zk.ensure_path("/items")

    def client(self) -> KazooClient:
        zk = KazooClient(hosts=ZOOKEEPER, timeout=10)
        zk.start(timeout=30)
        self.addCleanup(zk.close)
        self.addCleanup(zk.stop)
        return zk

    def enqueue(self, key, store=None, **options):
        store = store or self.store
        item = "/items/" + uuid.uuid4().hex
        begun = store.begin_ops(key, "QueueItem", owner=item, **options)
        tx = self.zk.transaction()
        tx.create(item, b"item")
        begun.add_to(tx)
        results = tx.commit()
        self.assertFalse([r for r in results if isinstance(r, Exception)], results)
        return begun, item

    def test_begin_ops_commit_with_the_callers_own_operations(self):
        begun, item = self.enqueue("tenant/gate/item 1", attributes={"zuul.pipeline": "gate"})
        self.assertEqual(self.base + "/open/43/tenant%2Fgate%2Fitem+1", begun.open_path)
        data, _ = self.zk.get(begun.open_path)
        self.assertEqual(begun.record, decode_record(data, begun.open_path))
        self.assertEqual(["span-" + begun.context.span_id], self.zk.get_children(begun.open_path))
        self.assertEqual(item, begun.record.owner)
        self.assertEqual("py-scheduler-1", begun.record.began_by)
        self.assertTrue(otel_extracts(begun.traceparent), begun.traceparent)
        self.assertEqual(begun.context, parse_traceparent(begun.traceparent))

    def test_end_applies_the_callers_operations_and_leaves_the_finished_span_for_the_service(self):
        begun, item = self.enqueue("item-1")
        result = self.store.end("item-1", attributes={"zuul.result": "SUCCESS"}, status=("OK", ""),
                                ops=lambda tx: tx.delete(item))
        self.assertIs(Outcome.ENDED, result.outcome)
        self.assertIsNone(self.zk.exists(item))
        self.assertIsNone(self.zk.exists(begun.open_path))
        ended = self.store.layout.ended_path(begun.context.span_id)
        self.assertEqual([], self.zk.get_children(ended), "the claim was released at once")
        finished = decode_finished(self.zk.get(ended)[0], ended)
        self.assertEqual(result.span, finished)
        self.assertEqual(begun.record, finished.record)
        self.assertEqual("SUCCESS", finished.end_attributes["zuul.result"])
        self.assertEqual("py-scheduler-1", finished.end_attributes["deferred_span.ended_by"])
        self.assertEqual("OK", finished.status_code)
        self.assertGreaterEqual(finished.end_ns, finished.record.start_ns)

        again = self.store.end("item-1", ops=lambda tx: tx.create("/items/after-" + uuid.uuid4().hex))
        self.assertIs(Outcome.NO_RECORD, again.outcome)

    def test_without_a_claim_the_finished_span_has_none(self):
        begun, _ = self.enqueue("item-1")
        self.assertIs(Outcome.ENDED, self.store.end("item-1", claim=False).outcome)
        ended = self.store.layout.ended_path(begun.context.span_id)
        self.assertEqual([], self.zk.get_children(ended))

    def test_racing_enders_get_exactly_one_ended(self):
        for round_ in range(5):
            key = "raced-%d" % round_
            _, item = self.enqueue(key)
            stores = [DeferredSpanStore(self.client(), self.base, host_name="ender-%d" % i) for i in range(4)]
            barrier = threading.Barrier(len(stores))
            outcomes = []

            def end(store):
                barrier.wait()
                outcomes.append(store.end(key, ops=lambda tx: tx.delete(item)).outcome)

            threads = [threading.Thread(target=end, args=(s,)) for s in stores]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            self.assertEqual(1, outcomes.count(Outcome.ENDED), outcomes)
            self.assertEqual(set(), set(outcomes) - {Outcome.ENDED, Outcome.ALREADY_ENDED,
                                                     Outcome.CALLER_OPERATIONS_FAILED}, outcomes)

    def test_an_unsampled_span_is_removed_and_never_stored_as_finished(self):
        store = DeferredSpanStore(self.zk, self.base, host_name="h", sampler=trace_id_ratio(0.0))
        begun, item = self.enqueue("unsampled", store=store)
        self.assertFalse(begun.record.sampled)
        self.assertTrue(begun.traceparent.endswith("-00"))
        child, _ = self.enqueue("child", store=store, parent=begun)
        self.assertFalse(child.record.sampled, "a child follows its parent's decision")
        self.assertEqual(begun.context.trace_id, child.context.trace_id)
        self.assertEqual(begun.context.span_id, child.record.parent_span_id)
        self.assertIs(Outcome.ENDED, store.end("unsampled", ops=lambda tx: tx.delete(item)).outcome)
        self.assertIsNone(self.zk.exists(self.store.layout.ended_path(begun.context.span_id)))

    def test_a_corrupt_record_is_quarantined_with_the_callers_operations(self):
        path = self.store.layout.open_path("corrupt")
        self.zk.create(path, b'{"v":1,"c":"nonsense"}')
        self.zk.create(path + "/span-00f067aa0ba902b7")
        result = self.store.end("corrupt", ops=lambda tx: tx.create("/items/dequeued-corrupt"))
        self.assertIs(Outcome.REJECTED_RECORD, result.outcome)
        self.assertIsInstance(result.record_error, CorruptRecordError)
        self.assertIsNone(self.zk.exists(path))
        self.assertIsNotNone(self.zk.exists("/items/dequeued-corrupt"))
        quarantined = self.zk.get_children(self.base + "/quarantine")
        self.assertEqual(1, len(quarantined))
        self.assertTrue(quarantined[0].startswith("open~"), quarantined)

    def test_a_corrupt_record_too_large_to_copy_whole_is_quarantined_cut_to_768_kib(self):
        # As Java (EndTransaction): a quarantined copy keeps the first 768 KiB, so that the quarantine, the
        # record's deletion and the caller's operations fit in one transaction whatever the record's size.
        path = self.store.layout.open_path("huge")
        data = b'{"v":1,"n":"' + b"x" * 1_000_000 + b'"}'
        self.zk.create(path, data)
        result = self.store.end("huge", ops=lambda tx: tx.create("/items/dequeued-huge"))
        self.assertIs(Outcome.REJECTED_RECORD, result.outcome)
        self.assertIsNone(self.zk.exists(path))
        self.assertIsNotNone(self.zk.exists("/items/dequeued-huge"))
        quarantined = self.zk.get_children(self.base + "/quarantine")
        self.assertEqual(1, len(quarantined))
        kept, _ = self.zk.get(self.base + "/quarantine/" + quarantined[0])
        self.assertEqual(data[:MAX_FINISHED_BYTES], kept)

    def test_an_end_while_disconnected_sends_nothing_then_or_later(self):
        # As Java: a call while the client is not connected fails at once, outcome known (nothing was sent), and
        # nothing of it goes out when the same session reconnects (kazoo would otherwise queue the transaction
        # and send it then, after or without the caller's knowledge).
        begun, item = self.enqueue("disconnected")
        proxy = CuttableProxy(ZOOKEEPER)
        self.addCleanup(proxy.close)
        # Its own logger, quiet: the drop is intended, and kazoo's warnings would interleave with unittest's lines.
        quiet = logging.getLogger("deferred_spans.tests.cut-client")
        quiet.propagate = False
        quiet.addHandler(logging.NullHandler())
        zk = KazooClient(hosts=proxy.address, timeout=10, connection_retry={"max_tries": -1, "max_delay": 0.2},
                         logger=quiet)
        zk.start(timeout=30)
        self.addCleanup(zk.close)
        self.addCleanup(zk.stop)
        session = zk.client_id
        states = {KazooState.SUSPENDED: threading.Event(), KazooState.CONNECTED: threading.Event()}
        zk.add_listener(lambda state: states[state].set() if state in states else None)
        store = DeferredSpanStore(zk, self.base, host_name="py-dequeuer")
        proxy.cut()
        self.assertTrue(states[KazooState.SUSPENDED].wait(30), "the client never saw its connection drop")
        outcome = []

        def end() -> None:
            try:
                outcome.append(store.end("disconnected", ops=lambda tx: tx.delete(item)))
            except StoreUnavailableError as e:
                outcome.append(e)

        ender = threading.Thread(target=end, daemon=True)
        ender.start()
        ender.join(30)  # a guard against a hang, not a measure: the answer is due at once
        self.assertFalse(ender.is_alive(), "end() waited for the connection instead of failing at once")
        self.assertIsInstance(outcome[0], StoreUnavailableError)
        self.assertFalse(outcome[0].may_have_applied, str(outcome[0]))
        proxy.restore()
        self.assertTrue(states[KazooState.CONNECTED].wait(30), "the client never reconnected")
        self.assertEqual(session, zk.client_id, "the session was to survive the cut")
        zk.sync(begun.open_path)  # answered in order: anything sent before this read has been applied by now
        zk.get(item)
        self.assertIsNotNone(self.zk.exists(item), "the end's transaction went out on the reconnection")
        self.assertIsNotNone(self.zk.exists(begun.open_path))
        self.assertIs(Outcome.ENDED, store.end("disconnected", ops=lambda tx: tx.delete(item)).outcome)

    def test_a_newer_version_is_left_in_place_with_the_callers_operations_applied(self):
        path = self.store.layout.open_path("newer")
        self.zk.create(path, b'{"v":2,"anything":"else"}')
        result = self.store.end("newer", ops=lambda tx: tx.create("/items/dequeued-newer"))
        self.assertIs(Outcome.REJECTED_RECORD, result.outcome)
        self.assertIsInstance(result.record_error, UnsupportedVersionError)
        self.assertIsNotNone(self.zk.exists(path))
        self.assertIsNotNone(self.zk.exists("/items/dequeued-newer"))

    def test_an_extra_child_makes_the_record_unendable_for_that_reason(self):
        begun, _ = self.enqueue("extra")
        self.zk.create(begun.open_path + "/not-a-marker")
        result = self.store.end("extra")
        self.assertIs(Outcome.REJECTED_RECORD, result.outcome)
        self.assertIn("it has children other than its span marker", str(result.record_error))
        self.assertIsNone(self.zk.exists(begun.open_path))

    def test_an_ephemeral_record_is_quarantined_for_that_reason(self):
        path = self.store.layout.open_path("ephemeral")
        begun = self.store.begin_ops("ephemeral", "QueueItem")
        self.zk.create(path, begun.ops[0].data, ephemeral=True)  # no marker: ephemeral znodes have no children
        result = self.store.end("ephemeral")
        self.assertIs(Outcome.REJECTED_RECORD, result.outcome)
        self.assertIn("it is ephemeral (records must be persistent)", str(result.record_error))
        self.assertIsNone(self.zk.exists(path))

    def test_a_record_modified_before_the_end_read_it_is_ended_as_read(self):
        begun, _ = self.enqueue("modified")
        self.zk.set(begun.open_path, self.zk.get(begun.open_path)[0])  # a writer that broke the rule: version 1
        self.assertIs(Outcome.ENDED, self.store.end("modified").outcome)

    def test_a_failing_caller_operation_applies_nothing(self):
        begun, _ = self.enqueue("item-1")
        result = self.store.end("item-1", ops=lambda tx: (tx.create("/items/x-" + uuid.uuid4().hex),
                                                          tx.delete("/items/missing")))
        self.assertIs(Outcome.CALLER_OPERATIONS_FAILED, result.outcome)
        self.assertEqual(1, result.failed_operation)
        self.assertIsInstance(result.failure, NoNodeError)
        self.assertIsNotNone(self.zk.exists(begun.open_path), "the span is still open")

    def test_a_key_already_holding_an_open_span_is_refused(self):
        self.store.begin("item-1", "QueueItem")
        with self.assertRaisesRegex(DeferredSpanError, "already holds an open span"):
            self.store.begin("item-1", "QueueItem")

    def test_bad_input_is_refused_before_anything_is_written(self):
        cases = [
            dict(key="", name="x"),
            dict(key="a\ud800", name="x"),
            dict(key="k", name="x", owner="items/relative"),
            dict(key="k", name="x", owner=""),
            dict(key="k", name="x", start_ns=int(time.time())),  # seconds, not nanoseconds
            dict(key="k", name="Queue\udc00"),
            dict(key="k", name="x", parent="00-" + "0" * 32 + "-00f067aa0ba902b7-01"),
            dict(key="k", name="x", kind="SIDEWAYS"),
            dict(key="k", name="x", attributes={"mixed": [1, "a"]}),
            dict(key="k", name="x", attributes={"x": "y" * 5000}),
        ]
        for case in cases:
            with self.subTest(case=repr(case)[:80]):
                with self.assertRaises(ValueError):
                    self.store.begin(**case)
        self.assertEqual([], [c for s in self.store.layout.shard_paths() for c in self.zk.get_children(s)])
        self.store.begin("k", "QueueItem")
        with self.assertRaises(ValueError):
            self.store.end("k", end_ns=1)
        self.assertEqual(1, len(self.zk.get_children(self.store.layout.open_path("k"))))


class TraceparentTest(unittest.TestCase):
    def test_children_get_a_traceparent_opentelemetry_python_extracts(self):
        for flags in (0, 1, 3):
            record_context = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-%02x" % flags)
            self.assertTrue(otel_extracts(record_context.traceparent))
            self.assertEqual(flags, record_context.flags)

    def test_malformed_traceparents_are_refused_with_the_reason(self):
        for bad in ("", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
                    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"):
            with self.subTest(traceparent=bad):
                with self.assertRaisesRegex(ValueError, "malformed traceparent"):
                    parse_traceparent(bad)


if __name__ == "__main__":
    unittest.main()
