"""A line-oriented driver of deferred_spans for the cross-language tests and the serve benchmark (not an API).

    python3 tests/driver.py --zookeeper HOST:PORT --base-path /deferred-spans --host-name py-1 [--session-timeout S]

Reads one JSON command per line on stdin, answers one JSON line on stdout:
  {"op": "begin", "key": K, "name": N, "item": PATH?, "parent": TRACEPARENT?, "sampled": BOOL?}
      -> {"traceparent", "traceId", "spanId", "start"}
  {"op": "end", "key": K, "deleteItem": PATH?, "claim": BOOL?, "attributes": {..}?, "status": [CODE, DESC]?,
   "hangBeforeRelease": BOOL?}  -> {"outcome", "endedNanos" (time.monotonic_ns() once end returned), "error"?}
      hangBeforeRelease: commit the end, say so, then never release the claim (the process is to be killed).
  {"op": "raw", "key": K, "base64": DATA, "marker": SPANID?}  -> {"path"}: bytes written as a record, unchecked
  {"op": "beginEmbedded", "item": PATH, "name": N?}  -> as begin: creates the item, b"job\n" + the record's bytes
  {"op": "endEmbedded", "item": PATH, "claim": BOOL?, "attributes": {..}?, "version": V?, "base64": DATA?}
      -> {"outcome", "endedNanos", "error"?}: ends the span embedded in the item (what follows its first newline)
      with a delete of the item at its version; with "version", as given (the record's bytes in "base64")
      instead of as read now, so that racing enders can use what one read gave them all.
  {"op": "exit"}
"""

import argparse
import base64
import json
import sys
import threading
import time

from kazoo.client import KazooClient

from deferred_spans import DeferredSpanStore


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--zookeeper", required=True)
    parser.add_argument("--base-path", default="/deferred-spans")
    parser.add_argument("--host-name", default="py-driver")
    parser.add_argument("--session-timeout", type=float, default=10.0)
    args = parser.parse_args()
    zk = KazooClient(hosts=args.zookeeper, timeout=args.session_timeout)
    zk.start(timeout=30)
    store = DeferredSpanStore(zk, args.base_path, host_name=args.host_name)
    store.ensure_shards()
    say({"ready": True, "sessionTimeoutMillis": zk._session_timeout})
    for line in sys.stdin:
        command = json.loads(line)
        try:
            if command["op"] == "exit":
                break
            say(handle(zk, store, command))
        except Exception as e:  # reported to the test, which decides
            say({"error": "%s: %s" % (type(e).__name__, e)})
    zk.stop()
    zk.close()
    return 0


def handle(zk: KazooClient, store: DeferredSpanStore, command: dict) -> dict:
    op = command["op"]
    if op == "begin":
        item = command.get("item")
        begun = store.begin_ops(command["key"], command.get("name", "QueueItem"), owner=item,
                                parent=command.get("parent"), sampled=command.get("sampled"))
        tx = zk.transaction()
        if item:
            tx.create(item, b"item")
        begun.add_to(tx)
        failures = [repr(r) for r in tx.commit() if isinstance(r, Exception)]
        if failures:
            return {"error": "begin failed: %s" % failures}
        return {"traceparent": begun.traceparent, "traceId": begun.context.trace_id,
                "spanId": begun.context.span_id, "start": begun.record.start_ns}
    if op == "end":
        item = command.get("deleteItem")
        if command.get("hangBeforeRelease"):
            committed = threading.Event()

            def hang(ended: str, session) -> None:
                say({"outcome": "ENDED", "committed": True, "endedNanos": time.monotonic_ns()})
                committed.set()
                threading.Event().wait()  # dies here, claim held, when the test kills this process

            store._release = hang  # the window between the commit and the claim's release
        status = command.get("status") or ["UNSET", ""]
        result = store.end(command["key"], attributes=command.get("attributes"), status=(status[0], status[1]),
                           ops=(lambda tx: tx.delete(item)) if item else None, claim=command.get("claim", True))
        out = {"outcome": result.outcome.value, "endedNanos": time.monotonic_ns()}
        if result.record_error is not None:
            out["error"] = str(result.record_error)
        return out
    if op == "beginEmbedded":
        begun = store.begin_embedded(command.get("name", "QueueItem"))
        zk.create(command["item"], b"job\n" + begun.record_bytes)
        return {"traceparent": begun.traceparent, "traceId": begun.context.trace_id,
                "spanId": begun.context.span_id, "start": begun.record.start_ns}
    if op == "endEmbedded":
        item = command["item"]
        if "version" in command:
            version, record_bytes = command["version"], base64.b64decode(command["base64"])
        else:
            data, stat = zk.get(item)
            version, record_bytes = stat.version, data.split(b"\n", 1)[1]
        result = store.end_embedded(item, record_bytes, ops=lambda tx: tx.delete(item, version=version),
                                    attributes=command.get("attributes"), claim=command.get("claim", True))
        out = {"outcome": result.outcome.value, "endedNanos": time.monotonic_ns()}
        if result.record_error is not None:
            out["error"] = str(result.record_error)
        return out
    if op == "raw":
        path = store.layout.open_path(command["key"])
        tx = zk.transaction()
        tx.create(path, base64.b64decode(command["base64"]))
        if command.get("marker"):
            tx.create(path + "/span-" + command["marker"])
        failures = [repr(r) for r in tx.commit() if isinstance(r, Exception)]
        return {"error": "raw failed: %s" % failures} if failures else {"path": path}
    raise ValueError("unknown op %r" % op)


_OUT = threading.Lock()


def say(message: dict) -> None:
    with _OUT:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
