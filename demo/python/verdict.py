#!/usr/bin/env python3
"""Reads the OTLP JSON lines files of a --python-scheduler run and checks the item's trace is whole.

  verdict.py TRACES_DIR ITEM_ID [--wait SECONDS]

Whole: one QueueItem root; BuildSet under it, Build under BuildSet, the executor's JobExecution under Build;
every span exported exactly once; every parent present. Prints the trace as a tree and VERDICT: OK or FAIL.
"""

import glob
import json
import os
import sys
import time


def spans(traces_dir: str) -> list:
    out = []
    for path in sorted(glob.glob(os.path.join(traces_dir, "*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                request = json.loads(line)
                for rs in request.get("resourceSpans", []):
                    service = next((a["value"].get("stringValue") for a in rs.get("resource", {}).get("attributes", [])
                                    if a["key"] == "service.name"), "?")
                    for ss in rs.get("scopeSpans", []):
                        for s in ss.get("spans", []):
                            attrs = {a["key"]: next(iter(a["value"].values()), None) for a in s.get("attributes", [])}
                            out.append(dict(s, service=service, attrs=attrs, file=os.path.basename(path)))
    return out


def check(all_spans: list, item_id: str) -> list:
    roots = [s for s in all_spans if s["name"] == "QueueItem" and not s.get("parentSpanId")]
    if len(roots) != 1:
        return None, ["expected one QueueItem root, found %d" % len(roots)]
    trace = [s for s in all_spans if s["traceId"] == roots[0]["traceId"]]
    problems = []
    ids = [s["spanId"] for s in trace]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        problems.append("exported more than once: %s" % duplicates)
    by_id = {s["spanId"]: s for s in trace}
    for s in trace:
        if s.get("parentSpanId") and s["parentSpanId"] not in by_id:
            problems.append("%s %s has a parent that never arrived" % (s["name"], s["spanId"]))
    def parent_name(name):
        s = next((x for x in trace if x["name"] == name), None)
        return s and by_id.get(s.get("parentSpanId"), {}).get("name")
    for child, parent in (("BuildSet", "QueueItem"), ("Build", "BuildSet"), ("JobExecution", "Build")):
        if parent_name(child) != parent:
            problems.append("%s is not under %s" % (child, parent))
    return trace, problems


def print_tree(trace: list) -> None:
    children = {}
    for s in trace:
        children.setdefault(s.get("parentSpanId") or "", []).append(s)
    t0 = min(int(s["startTimeUnixNano"]) for s in trace)

    def walk(parent: str, depth: int) -> None:
        for s in sorted(children.get(parent, []), key=lambda x: int(x["startTimeUnixNano"])):
            start = (int(s["startTimeUnixNano"]) - t0) / 1e9
            length = (int(s["endTimeUnixNano"]) - int(s["startTimeUnixNano"])) / 1e9
            by = s["attrs"].get("deferred_span.began_by")
            who = " began by %s, ended by %s" % (by, s["attrs"].get("deferred_span.ended_by")) if by else ""
            print("  %s%-*s +%6.2fs %6.2fs  [%s]%s" % ("  " * depth, 28 - 2 * depth, s["name"], start, length,
                                                      s["service"], who))
            walk(s["spanId"], depth + 1)

    walk("", 0)


def main() -> int:
    traces_dir, item_id = sys.argv[1], sys.argv[2]
    wait = float(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--wait" else 0
    deadline = time.monotonic() + wait
    while True:  # serve exports within a second or so of the last end; the executor's batch too
        trace, problems = check(spans(traces_dir), item_id)
        if not problems or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    if trace:
        print("Trace %s (%d spans):" % (trace[0]["traceId"], len(trace)))
        print_tree(trace)
    for p in problems:
        print("  problem: " + p)
    print("VERDICT: " + ("OK" if not problems else "FAIL"))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
