#!/usr/bin/env python3
"""A Zuul-like scheduler in Python, on Deferred Spans (clients/python): the demo's --python-scheduler scenario.

  zuul_scheduler.py enqueue --zookeeper HOST:PORT --item ID   begin QueueItem and BuildSet with the item, launch
                                                              one build for the Java executor, end its Build span
                                                              when the result arrives, mark the item done
  zuul_scheduler.py dequeue --zookeeper HOST:PORT --item ID   (another process) end BuildSet and QueueItem, in
                                                              the same transactions as the item's removal

Neither process exports anything: `deferred-spans serve` exports the spans they end. The executor's JobExecution
span is a child of Build through the traceparent in the build request, as in Zuul.
"""

import argparse
import json
import socket
import sys
import threading
import time
import uuid

from kazoo.client import KazooClient

from deferred_spans import DeferredSpanStore, Outcome

QUEUE = "/demo/python/queue"
BUILD_REQUESTS = "/demo/build-requests"  # what the Java executor demo polls
BUILD_RESULTS = "/demo/build-results"
CHANGE = {"project": "example/project", "number": 4711, "patchset": 1,
          "revision": "8f1c2ad5e0b94c3f9a1b7d6e5c4b3a2918f7e6d5"}


def connect(hosts: str) -> KazooClient:
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=30)
    return zk


def enqueue(zk: KazooClient, store: DeferredSpanStore, item_id: str, build_seconds: float) -> None:
    item = "%s/%s" % (QUEUE, item_id)
    for path in (QUEUE, BUILD_REQUESTS, BUILD_RESULTS):
        zk.ensure_path(path)
    # The item and its two spans commit together: an item never exists without them.
    queue_item = store.begin_ops("queue-item/" + item_id, "QueueItem", owner=item, kind="CONSUMER")
    build_set = store.begin_ops("build-set/" + item_id, "BuildSet", owner=item, parent=queue_item)
    tx = zk.transaction()
    tx.create(item, json.dumps({"id": item_id, "change": CHANGE}).encode())
    queue_item.add_to(tx)
    build_set.add_to(tx)
    check(tx.commit(), "enqueue")
    print("enqueued %s: QueueItem %s, trace %s" % (item_id, queue_item.context.span_id, queue_item.context.trace_id))

    # Launch one build: the Build span begins with the request, whose traceparent the executor continues.
    build_uuid = uuid.uuid4().hex
    request = "%s/%s" % (BUILD_REQUESTS, build_uuid)
    build = store.begin_ops("build/" + build_uuid, "Build", owner=item, parent=build_set,
                            attributes={"zuul.job": "tox-py311"})
    tx = zk.transaction()
    tx.create(request, json.dumps({
        "uuid": build_uuid, "itemId": item_id, "job": "tox-py311", "change": CHANGE,
        "durationMillis": int(build_seconds * 1000), "failsOnPurpose": False,
        "traceparent": build.traceparent}).encode())
    build.add_to(tx)
    check(tx.commit(), "launch build")
    print("launched build %s for the Java executor with traceparent %s" % (build_uuid, build.traceparent))

    result_path = "%s/%s" % (BUILD_RESULTS, build_uuid)
    arrived = threading.Event()
    zk.DataWatch(result_path, lambda data, stat: arrived.set() if data is not None else None)
    if not arrived.wait(120):
        sys.exit("no build result within 120 s: is the executor running?")
    result = json.loads(zk.get(result_path)[0])
    # The result is consumed in the same transaction as the Build span's end; the item is marked done with it.
    end = store.end("build/" + build_uuid, attributes={"zuul.build.result": result["result"],
                                                       "zuul.executor": result["executor"]},
                    status=("OK" if result["result"].upper() == "SUCCESS" else "ERROR", ""),
                    ops=lambda tx: (tx.delete(result_path), tx.create(item + "/done", result["result"].encode())))
    print("build %s: %s on %s; Build span %s" % (build_uuid, result["result"], result["executor"], end.outcome.value))
    if end.outcome is not Outcome.ENDED:
        sys.exit("the Build span did not end: %s" % (end,))


def dequeue(zk: KazooClient, store: DeferredSpanStore, item_id: str) -> None:
    item = "%s/%s" % (QUEUE, item_id)
    done = threading.Event()
    zk.DataWatch(item + "/done", lambda data, stat: done.set() if data is not None else None)
    if not done.wait(180):
        sys.exit("item %s never completed" % item_id)
    result = zk.get(item + "/done")[0].decode()
    ended = store.end("build-set/" + item_id, attributes={"zuul.buildset.result": result})
    print("dequeue %s: BuildSet %s" % (item_id, ended.outcome.value))
    # The QueueItem span ends exactly once with the item's removal, whoever dequeues it.
    ended_item = store.end("queue-item/" + item_id, attributes={"zuul.item.result": result,
                                                                 "zuul.pipeline": "check"},
                           ops=lambda tx: (tx.delete(item + "/done"), tx.delete(item)))
    print("dequeue %s: QueueItem %s" % (item_id, ended_item.outcome.value))
    if ended.outcome is not Outcome.ENDED or ended_item.outcome is not Outcome.ENDED:
        sys.exit("dequeue did not end both spans")


def check(results: list, what: str) -> None:
    failures = [r for r in results if isinstance(r, Exception)]
    if failures:
        sys.exit("%s failed: %r" % (what, failures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("role", choices=("enqueue", "dequeue"))
    parser.add_argument("--zookeeper", required=True)
    parser.add_argument("--item", required=True)
    parser.add_argument("--build-seconds", type=float, default=3.0)
    args = parser.parse_args()
    zk = connect(args.zookeeper)
    host = "py-%s-%s" % ("scheduler" if args.role == "enqueue" else "dequeuer", socket.gethostname())
    store = DeferredSpanStore(zk, host_name=host)
    store.ensure_shards()
    started = time.monotonic()
    try:
        (enqueue(zk, store, args.item, args.build_seconds) if args.role == "enqueue"
         else dequeue(zk, store, args.item))
    finally:
        zk.stop()
        zk.close()
    print("%s done in %.1f s" % (args.role, time.monotonic() - started))


if __name__ == "__main__":
    main()
