#!/usr/bin/env python3
"""Runs the Python reference code in docs/record-format.md against the conformance vectors.

Usage (from the repository root, Python 3.7+, no packages needed): python3 docs/conformance/check_python_snippets.py
"""
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC = (ROOT / "docs" / "record-format.md").read_text(encoding="utf-8")
KEYS = json.loads((ROOT / "span-store/src/test/resources/conformance/keys.json").read_text(encoding="utf-8"))
RECORDS = json.loads(
    (ROOT / "span-sdk-extensions/src/test/resources/conformance/records.json").read_text(encoding="utf-8"))

# The reference code, exactly as the spec shows it; the kazoo example needs a server and is left out.
reference = {}
for block in re.findall(r"```python\n(.*?)```", SPEC, re.S):
    if "KazooClient" not in block:
        exec(block, reference)
encode_key, java_string_hash, shard, open_path, record_bytes = (
    reference[n] for n in ("encode_key", "java_string_hash", "shard", "open_path", "record_bytes"))

failures = []
for v in KEYS["valid"]:
    key = v["key"]
    got = (encode_key(key), java_string_hash(key), shard(key), open_path(key, KEYS["basePath"]))
    want = (v["encoded"], v["hash"], v["shard"], v["path"])
    if got != want:
        failures.append("key %r: got %r, want %r" % (key, got, want))
for v in KEYS["invalid"]:
    try:
        encode_key(v["key"])
        failures.append("key %r (%s) was accepted" % (v["key"], v["note"]))
    except ValueError:
        pass


def attributes(items):
    out = {}
    for a in items:
        value = a["value"]
        if a["type"] == "double":
            value = float(value)
        elif a["type"] == "double_array":
            value = [float(e) for e in value]
        out[a["key"]] = value
    return out


identical = same_json = skipped = 0
for v in RECORDS["records"] + RECORDS["lossy"]:
    r = v["record"]
    if r.get("flags") not in ("00", "01") or any("traceState" in l for l in r.get("links", [])):
        skipped += 1  # the reference writer keeps to the sampled bit and links without tracestate
        continue
    got = record_bytes(
        r["name"], r["start"], trace_id=r["traceId"], span_id=r["spanId"], sampled=r["flags"] == "01",
        parent_span_id=r.get("parentSpanId"), tracestate=r.get("traceState", ""), kind=r.get("kind", "INTERNAL"),
        began_by=r.get("beganBy", ""), owner=r.get("owner"),
        links=[(l["traceId"], l["spanId"], l["flags"], attributes(l.get("attributes", []))) for l in r.get("links", [])],
        attributes=attributes(r.get("attributes", [])))
    want = v["text"].encode("utf-8")
    if got == want:
        identical += 1
    elif json.loads(got) == json.loads(want) and list(json.loads(got)) == list(json.loads(want)):
        same_json += 1
    else:
        failures.append("record %r: wrote %s, want %s" % (v["note"], got, want))

print("keys: %d valid and %d invalid vectors checked" % (len(KEYS["valid"]), len(KEYS["invalid"])))
print("records: %d byte-identical, %d equal as JSON (spelling differs), %d outside the reference writer's scope"
      % (identical, same_json, skipped))
for f in failures:
    print("FAIL", f)
sys.exit(1 if failures else 0)
