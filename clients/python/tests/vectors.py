"""The conformance vectors RecordFormatConformanceTest and KeyEncodingConformanceTest run, read as Python values."""

import json
import os
import pathlib
from typing import Any, Dict, List

from deferred_spans import DeferredSpanRecord, Event, FinishedSpan, Link, SpanContext

# The repository's copies; DEFERRED_SPANS_VECTORS points elsewhere (e.g. an unpacked source release).
_ROOT = pathlib.Path(os.environ.get("DEFERRED_SPANS_VECTORS", pathlib.Path(__file__).resolve().parents[3]))
RECORDS_PATH = _ROOT / "span-sdk-extensions/src/test/resources/conformance/records.json"
KEYS_PATH = _ROOT / "span-store/src/test/resources/conformance/keys.json"


def load(path: pathlib.Path) -> Dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError("conformance vectors not found at %s (set DEFERRED_SPANS_VECTORS to the "
                                "repository root)" % path)
    return json.loads(path.read_text(encoding="utf-8"))


def _double(value: Any) -> float:
    return float(value)  # "NaN", "Infinity" and "-0.0" are given as strings


def attributes(items: List[Dict[str, Any]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for a in items:
        kind, value = a["type"], a["value"]
        if kind == "double":
            value = _double(value)
        elif kind == "double_array":
            value = tuple(_double(e) for e in value)
        elif kind.endswith("_array"):
            value = tuple(value)
        out[a["key"]] = value
    return out


def context(c: Dict[str, Any]) -> SpanContext:
    return SpanContext(c["traceId"], c["spanId"], int(c["flags"], 16), c.get("traceState", ""))


def links(items: List[Dict[str, Any]]) -> tuple:
    return tuple(Link(context(l), attributes(l.get("attributes", []))) for l in items)


def record(r: Dict[str, Any]) -> DeferredSpanRecord:
    return DeferredSpanRecord(
        context=context(r), name=r["name"], start_ns=r["start"], parent_span_id=r.get("parentSpanId"),
        kind=r.get("kind", "INTERNAL"), began_by=r.get("beganBy", ""), owner=r.get("owner"),
        links=links(r.get("links", [])), attributes=attributes(r.get("attributes", [])))


def finished(f: Dict[str, Any]) -> FinishedSpan:
    status = f.get("status", {})
    return FinishedSpan(
        record=record(f["record"]), end_ns=f["end"], ended_by=f.get("endedBy", ""),
        end_attributes=attributes(f.get("endAttributes", [])),
        events=tuple(Event(e["name"], e["time"], attributes(e.get("attributes", [])), e.get("droppedAttributes", 0))
                     for e in f.get("events", [])),
        status_code=status.get("code", "UNSET"), status_description=status.get("description", ""),
        end_links=links(f.get("endLinks", [])), dropped_attributes=f.get("droppedAttributes", 0),
        dropped_events=f.get("droppedEvents", 0))


def raw_bytes(v: Dict[str, Any]) -> bytes:
    import base64
    return base64.b64decode(v["base64"]) if "base64" in v else v["text"].encode("utf-8", "surrogatepass")
