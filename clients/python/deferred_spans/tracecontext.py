"""W3C Trace Context: span contexts, ``traceparent`` and ``tracestate`` (https://www.w3.org/TR/trace-context/).

Strict, like io.deferredspans.sdk.TraceParent: a header is either fully valid or refused with a ValueError saying
what is wrong, never half-used.
"""

import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

__all__ = ["SpanContext", "parse_traceparent", "normalize_tracestate", "is_lower_hex"]

_LOWER_HEX = re.compile(r"[0-9a-f]+\Z")
# W3C tracestate keys: simple-key / tenant-id "@" system-id.
_TRACESTATE_KEY = re.compile(
    r"(?:[a-z][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})\Z")
_MAX_TRACESTATE_MEMBERS = 32
_MAX_TRACESTATE_VALUE = 256
_OWS = " \t"  # W3C optional whitespace: spaces and tabs only


def is_lower_hex(text: str, length: int) -> bool:
    return len(text) == length and _LOWER_HEX.match(text) is not None


def normalize_tracestate(tracestate: Optional[str]) -> str:
    """A valid ``tracestate`` with its optional whitespace and empty members removed; '' for none.

    Valid means the W3C grammar: at most 32 ``key=value`` members separated by commas, each surrounded by
    optional spaces or tabs; empty members are allowed; keys are simple or multi-tenant keys; values are 1 to 256
    printable ASCII characters other than ',' and '=', not ending in a space; no key twice.

    :raises ValueError: for anything else
    """
    if tracestate is None:
        return ""
    if not isinstance(tracestate, str):
        raise TypeError("tracestate must be a str")
    members: List[Tuple[str, str]] = []
    seen = set()
    for raw in tracestate.split(","):
        member = raw.strip(_OWS)
        if not member:
            continue
        key, eq, value = member.partition("=")
        if not eq or not key:
            raise ValueError("malformed tracestate %r: member %r is not key=value" % (tracestate, member))
        if not _TRACESTATE_KEY.match(key):
            raise ValueError("malformed tracestate %r: invalid key %r" % (tracestate, key))
        if not (0 < len(value) <= _MAX_TRACESTATE_VALUE) or value.endswith(" ") \
                or any(not (0x20 <= ord(c) <= 0x7E) or c in ",=" for c in value):
            raise ValueError("malformed tracestate %r: invalid value for key %r" % (tracestate, key))
        if key in seen:
            raise ValueError("malformed tracestate %r: duplicate key %r" % (tracestate, key))
        seen.add(key)
        if len(seen) > _MAX_TRACESTATE_MEMBERS:
            raise ValueError("malformed tracestate %r: more than %d members" % (tracestate, _MAX_TRACESTATE_MEMBERS))
        members.append((key, value))
    return ",".join("%s=%s" % m for m in members)


@dataclass(frozen=True)
class SpanContext:
    """A span's identity: 32 and 16 lowercase hex digits (never all zeros), trace flags 0-255, a tracestate."""

    trace_id: str
    span_id: str
    flags: int = 1
    tracestate: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.trace_id, str) or not is_lower_hex(self.trace_id, 32) or not self.trace_id.strip("0"):
            raise ValueError("trace id must be 32 lowercase hex digits, not all zero: %r" % (self.trace_id,))
        if not isinstance(self.span_id, str) or not is_lower_hex(self.span_id, 16) or not self.span_id.strip("0"):
            raise ValueError("span id must be 16 lowercase hex digits, not all zero: %r" % (self.span_id,))
        if isinstance(self.flags, bool) or not isinstance(self.flags, int) or not 0 <= self.flags <= 0xFF:
            raise ValueError("trace flags must be an int from 0 to 255: %r" % (self.flags,))
        object.__setattr__(self, "tracestate", normalize_tracestate(self.tracestate))

    @property
    def sampled(self) -> bool:
        return bool(self.flags & 1)

    @property
    def compact(self) -> str:
        """The record's ``c`` form: TRACEID-SPANID-FLAGS."""
        return "%s-%s-%02x" % (self.trace_id, self.span_id, self.flags)

    @property
    def traceparent(self) -> str:
        """A version-00 W3C ``traceparent``, as OpenTelemetry's TraceContextTextMapPropagator extracts it."""
        return "00-" + self.compact

    def headers(self) -> dict:
        """``traceparent`` (and ``tracestate`` if any) for a carrier a child's propagator extracts."""
        out = {"traceparent": self.traceparent}
        if self.tracestate:
            out["tracestate"] = self.tracestate
        return out


def parse_traceparent(traceparent: str, tracestate: Optional[str] = None) -> SpanContext:
    """Parses a W3C ``traceparent`` (and optional ``tracestate``) strictly.

    :raises ValueError: if either breaks the W3C grammar or an id is all zeros
    """
    if not isinstance(traceparent, str):
        raise TypeError("traceparent must be a str")
    if len(traceparent) < 55:
        raise ValueError("malformed traceparent %r: too short" % traceparent)
    version = traceparent[:2]
    if not is_lower_hex(version, 2) or version == "ff":
        raise ValueError("malformed traceparent %r: invalid version %r" % (traceparent, version))
    if version == "00" and len(traceparent) != 55 or len(traceparent) > 55 and traceparent[55] != "-":
        raise ValueError("malformed traceparent %r: wrong length for version %s" % (traceparent, version))
    if traceparent[2] != "-" or traceparent[35] != "-" or traceparent[52] != "-":
        raise ValueError("malformed traceparent %r: fields are not separated by '-'" % traceparent)
    flags = traceparent[53:55]
    if not is_lower_hex(flags, 2):
        raise ValueError("malformed traceparent %r: trace flags must be 2 lowercase hex digits" % traceparent)
    try:
        return SpanContext(traceparent[3:35], traceparent[36:52], int(flags, 16), tracestate or "")
    except ValueError as e:
        raise ValueError("malformed traceparent %r: %s" % (traceparent, e)) from None
