"""Begin records and finished spans, format version 1 (docs/record-format.md sections 3 to 7).

``encode_record`` / ``encode_finished`` write the canonical bytes Java's DeferredSpanRecordCodec writes;
``decode_record`` / ``decode_finished`` are strict readers that accept exactly what the specification allows and
raise :class:`CorruptRecordError` or :class:`UnsupportedVersionError` for anything else, never another exception.
"""

import json
import math
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .tracecontext import SpanContext, is_lower_hex, normalize_tracestate

__all__ = [
    "FORMAT_VERSION", "MIN_EPOCH_NANOS", "MAX_EPOCH_NANOS", "MAX_RECORD_BYTES", "MAX_FINISHED_BYTES", "MAX_NESTING_DEPTH", "KINDS",
    "STATUS_CODES", "AttributeValue", "Link", "Event", "DeferredSpanRecord", "FinishedSpan", "RecordError",
    "CorruptRecordError", "UnsupportedVersionError", "encode_record", "encode_finished", "decode_record",
    "decode_finished", "validate_owner",
]

FORMAT_VERSION = 1
MIN_EPOCH_NANOS = 946_684_800_000_000_000    # 2000-01-01T00:00:00Z, included
MAX_EPOCH_NANOS = 4_102_444_800_000_000_000  # 2100-01-01T00:00:00Z, excluded
# The size limit is specified in docs/record-format.md section 6 ("Limits"); this is its value.
# One limit for every implementation (record-format.md section 6): a record at its limit, what its end adds and
# the caller's operations fit one transaction below ZooKeeper's default jute.maxbuffer.
MAX_RECORD_BYTES = 512 * 1024
MAX_FINISHED_BYTES = 768 * 1024
MAX_NESTING_DEPTH = 16
KINDS = ("INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
STATUS_CODES = ("UNSET", "OK", "ERROR")
_MAX_COUNT = 2**31 - 1
_FINISHED_KEYS = ("e", "eb", "ea", "ev", "s", "sd", "el", "da", "de")

AttributeValue = Union[str, bool, int, float, Tuple[str, ...], Tuple[bool, ...], Tuple[int, ...], Tuple[float, ...]]


class RecordError(ValueError):
    """Bytes that are not a record this implementation can read. ``record_name`` names it (e.g. its znode)."""

    def __init__(self, record_name: str, message: str) -> None:
        super().__init__("%s: %s" % (record_name, message))
        self.record_name = record_name


class CorruptRecordError(RecordError):
    """Not a valid record or finished span: moved to quarantine by an end or a recovery scan."""


class UnsupportedVersionError(RecordError):
    """A format version other than 1: left where it is, for a host that reads that version."""

    def __init__(self, record_name: str, version: int) -> None:
        super().__init__(record_name, "format version %d is not supported (this reader knows version %d)"
                         % (version, FORMAT_VERSION))
        self.version = version


@dataclass(frozen=True)
class Link:
    context: SpanContext
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    name: str
    time_ns: int
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)
    dropped_attributes: int = 0


@dataclass(frozen=True)
class DeferredSpanRecord:
    """What a begin stores: everything the span needs at its end except what the end adds."""

    context: SpanContext
    name: str
    start_ns: int
    parent_span_id: Optional[str] = None
    kind: str = "INTERNAL"
    began_by: str = ""
    owner: Optional[str] = None
    links: Tuple[Link, ...] = ()
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)

    @property
    def sampled(self) -> bool:
        return self.context.sampled

    @property
    def traceparent(self) -> str:
        """The W3C ``traceparent`` children of this span carry (to an executor, a merger, ...)."""
        return self.context.traceparent


@dataclass(frozen=True)
class FinishedSpan:
    """A record plus what its end added: what waits in ``ended/`` until an exporter acknowledged it."""

    record: DeferredSpanRecord
    end_ns: int
    ended_by: str = ""
    end_attributes: Mapping[str, AttributeValue] = field(default_factory=dict)
    events: Tuple[Event, ...] = ()
    status_code: str = "UNSET"
    status_description: str = ""
    end_links: Tuple[Link, ...] = ()
    dropped_attributes: int = 0
    dropped_events: int = 0


# ---- validation shared by the writer and the reader

def _lone_surrogate(text: str) -> bool:
    # json.loads joins escaped surrogate pairs into one code point: any surrogate left is unpaired.
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def validate_owner(owner: str) -> Optional[str]:
    """Why ``owner`` is not an absolute znode path as ZooKeeper's PathUtils.validatePath accepts it, or None."""
    if not isinstance(owner, str):
        return "must be a string"
    if not owner:
        return "must not be empty: an owner is an absolute znode path such as /zuul/gate/8f1c"
    if owner[0] != "/":
        return "must be an absolute znode path (start with '/'): %r" % owner
    if owner == "/":
        return None
    if owner.endswith("/"):
        return "must not end with '/': %r" % owner
    for segment in owner[1:].split("/"):
        if segment == "":
            return "has an empty node name ('//'): %r" % owner
        if segment in (".", ".."):
            return "has a relative segment %r: %r" % (segment, owner)
    for ch in owner:
        o = ord(ch)
        if o == 0 or 0x01 <= o <= 0x1F or 0x7F <= o <= 0x9F or 0xD800 <= o <= 0xF8FF or 0xFFF0 <= o:
            return "holds U+%04X, which ZooKeeper refuses in a path: %r" % (o, owner)
    return None


def _time_in_range(nanos: int) -> bool:
    return MIN_EPOCH_NANOS <= nanos < MAX_EPOCH_NANOS


# ---- writing (Jackson's spelling, so that ASCII and non-ASCII records alike come out as Java writes them)

_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}


def _quote(text: str, what: str) -> str:
    if not isinstance(text, str):
        raise TypeError("%s must be a str, not %s" % (what, type(text).__name__))
    out = ['"']
    for ch in text:
        o = ord(ch)
        if ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif o < 0x20:
            out.append("\\u%04X" % o)
        elif 0xD800 <= o <= 0xDFFF:
            raise ValueError("%s holds an unpaired surrogate U+%04X: it is not valid Unicode" % (what, o))
        elif o > 0xFFFF:
            o -= 0x10000
            out.append("\\u%04X\\u%04X" % (0xD800 + (o >> 10), 0xDC00 + (o & 0x3FF)))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_TWO_DIGITS = Context(prec=2, rounding=ROUND_HALF_EVEN)


def java_double(value: float) -> str:
    """A finite double in Java's Double.toString layout with the shortest digits (what JDK 19 and later write)."""
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    if len(digits) == 1:
        # One digit reads back as the value, but Java then writes the two-digit decimal closest to it (4.9E-324).
        sign, digits, exponent = _TWO_DIGITS.plus(Decimal(value)).as_tuple()
    digits = list(digits)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exponent += 1
    text = "".join(map(str, digits))
    scientific = exponent + len(digits) - 1
    if -3 <= scientific < 7:
        if scientific >= 0:
            whole = text[:scientific + 1].ljust(scientific + 1, "0")
            body = whole + "." + (text[scientific + 1:] or "0")
        else:
            body = "0." + "0" * (-scientific - 1) + text
    else:
        body = text[0] + "." + (text[1:] or "0") + "E" + str(scientific)
    return ("-" if sign else "") + body


def _scalar(value: Any, what: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _quote(value, what)
    if isinstance(value, int):
        if not -2**63 <= value < 2**63:
            raise ValueError("%s: integer %d is outside signed 64 bits" % (what, value))
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return java_double(value)
        # JSON has no NaN or infinity: stored as strings, spelled as Java spells them (lossy by design).
        return '"NaN"' if value != value else '"Infinity"' if value > 0 else '"-Infinity"'
    raise TypeError("%s: unsupported attribute value type %s" % (what, type(value).__name__))


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _attributes_json(attributes: Mapping[str, AttributeValue], what: str) -> str:
    members = []
    for key in sorted(attributes, key=_utf16_key):  # Java's order: UTF-16 code units
        if not isinstance(key, str) or not key:
            raise ValueError("%s: attribute keys must be non-empty strings: %r" % (what, key))
        value = attributes[key]
        where = "%s attribute %r" % (what, key)
        if isinstance(value, (list, tuple)):
            kinds = {bool if isinstance(e, bool) else type(e) for e in value}
            if len(kinds) > 1:
                raise ValueError("%s mixes element types %s" % (where, sorted(k.__name__ for k in kinds)))
            if kinds and not kinds <= {str, bool, int, float}:
                raise TypeError("%s: unsupported element type %s" % (where, kinds.pop().__name__))
            if kinds == {float} and not all(math.isfinite(e) for e in value):
                # A string among numbers would be a mixed array: every element becomes a string, as in Java.
                elements = [_quote(java_double(e), where) if math.isfinite(e) else _scalar(e, where)
                            for e in value]
            else:
                elements = [_scalar(e, where) for e in value]
            members.append(_quote(key, what) + ":[" + ",".join(elements) + "]")
        else:
            members.append(_quote(key, what) + ":" + _scalar(value, where))
    return "{" + ",".join(members) + "}"


def _links_json(links: Sequence[Link], what: str) -> str:
    out = []
    for link in links:
        if not isinstance(link, Link):
            raise TypeError("%s: links must be Link values, not %s" % (what, type(link).__name__))
        parts = ['"c":' + _quote(link.context.compact, what)]
        if link.context.tracestate:
            parts.append('"ts":' + _quote(link.context.tracestate, what))
        if link.attributes:
            parts.append('"a":' + _attributes_json(link.attributes, what + " link"))
        out.append("{" + ",".join(parts) + "}")
    return "[" + ",".join(out) + "]"


def _record_members(record: DeferredSpanRecord) -> List[str]:
    if not isinstance(record, DeferredSpanRecord):
        raise TypeError("expected a DeferredSpanRecord, not %s" % type(record).__name__)
    ctx = record.context
    parts = ['"v":1', '"c":"%s"' % ctx.compact]
    if record.parent_span_id is not None:
        if not is_lower_hex(record.parent_span_id, 16) or not record.parent_span_id.strip("0"):
            raise ValueError("parent span id must be 16 lowercase hex digits, not all zero: %r"
                             % (record.parent_span_id,))
        if record.parent_span_id == ctx.span_id:
            raise ValueError("a span cannot be its own parent: %s" % ctx.span_id)
        parts.append('"p":"%s"' % record.parent_span_id)
    if ctx.tracestate:
        parts.append('"ts":' + _quote(ctx.tracestate, "tracestate"))
    parts.append('"n":' + _quote(record.name, "span name"))
    if record.kind not in KINDS:
        raise ValueError("unknown span kind %r (one of %s)" % (record.kind, ", ".join(KINDS)))
    if record.kind != "INTERNAL":
        parts.append('"k":"%s"' % record.kind)
    if isinstance(record.start_ns, bool) or not isinstance(record.start_ns, int) \
            or not _time_in_range(record.start_ns):
        raise ValueError("start time %r is outside the years 2000 to 2099 a record can hold; times are "
                         "nanoseconds since the epoch (time.time_ns())" % (record.start_ns,))
    parts.append('"t":%d' % record.start_ns)
    if record.began_by:
        parts.append('"b":' + _quote(record.began_by, "began by"))
    if record.owner is not None:
        why = validate_owner(record.owner)
        if why:
            raise ValueError("owner %s" % why)
        parts.append('"o":' + _quote(record.owner, "owner"))
    if record.links:
        parts.append('"l":' + _links_json(record.links, "begin"))
    if record.attributes:
        parts.append('"a":' + _attributes_json(record.attributes, "begin"))
    return parts


def encode_record(record: DeferredSpanRecord) -> bytes:
    """The bytes of a begin record. :raises ValueError/TypeError: for values no record may hold."""
    return _within(("{" + ",".join(_record_members(record)) + "}").encode("utf-8"), MAX_RECORD_BYTES, "record")


def _within(data: bytes, limit: int, what: str) -> bytes:
    if len(data) > limit:
        raise ValueError("the %s takes %d bytes, more than the %d the format allows" % (what, len(data), limit))
    return data


def _count(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_COUNT:
        raise ValueError("%s must be an int from 0 to %d: %r" % (what, _MAX_COUNT, value))
    return value


def encode_finished(span: FinishedSpan) -> bytes:
    """The bytes of a finished span, as written to ``ended/YY/SPANID``."""
    parts = _record_members(span.record)
    if isinstance(span.end_ns, bool) or not isinstance(span.end_ns, int) or not _time_in_range(span.end_ns):
        raise ValueError("end time %r is outside the years 2000 to 2099" % (span.end_ns,))
    if span.end_ns < span.record.start_ns:
        raise ValueError("end time %d is before the start time %d" % (span.end_ns, span.record.start_ns))
    parts.append('"e":%d' % span.end_ns)
    parts.append('"eb":' + _quote(span.ended_by, "ended by"))
    if span.end_attributes:
        parts.append('"ea":' + _attributes_json(span.end_attributes, "end"))
    if span.events:
        events = []
        for event in span.events:
            if isinstance(event.time_ns, bool) or not isinstance(event.time_ns, int) \
                    or not -2**63 <= event.time_ns < 2**63:
                raise ValueError("event %r: time must be a 64-bit int of nanoseconds" % (event.name,))
            e = ['"n":' + _quote(event.name, "event name"), '"t":%d' % event.time_ns]
            if event.attributes:
                e.append('"a":' + _attributes_json(event.attributes, "event"))
            dropped = _count(event.dropped_attributes, "event dropped attributes")
            if dropped + len(event.attributes) > _MAX_COUNT:
                raise ValueError("event %r: attributes plus dropped exceed %d" % (event.name, _MAX_COUNT))
            if dropped:
                e.append('"d":%d' % dropped)
            events.append("{" + ",".join(e) + "}")
        parts.append('"ev":[' + ",".join(events) + "]")
    if span.status_code not in STATUS_CODES:
        raise ValueError("unknown status code %r (one of %s)" % (span.status_code, ", ".join(STATUS_CODES)))
    if span.status_code != "UNSET":
        parts.append('"s":"%s"' % span.status_code)
        if span.status_description:
            parts.append('"sd":' + _quote(span.status_description, "status description"))
    if span.end_links:
        parts.append('"el":' + _links_json(span.end_links, "end"))
    if _count(span.dropped_attributes, "dropped attributes"):
        parts.append('"da":%d' % span.dropped_attributes)
    if _count(span.dropped_events, "dropped events"):
        parts.append('"de":%d' % span.dropped_events)
    return _within(("{" + ",".join(parts) + "}").encode("utf-8"), MAX_FINISHED_BYTES, "finished span")


# ---- reading

_WS = " \t\n\r"  # RFC 8259 whitespace, the only whitespace allowed around and between tokens
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


class _Corrupt(Exception):
    """Raised inside the parser; turned into CorruptRecordError with the record's name."""


def _reject_constant(name: str) -> Any:
    raise _Corrupt("%s is not JSON" % name)


def _pairs(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    obj: Dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _Corrupt("key %r appears twice in one object" % key)
        obj[key] = value
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_reject_constant)


def _depth(value: Any) -> int:
    """Containers nested in ``value``, itself included: the top-level object has depth 1."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def _version(text: str) -> int:
    """The leading ``"v"`` member, read before anything else: a reader of version 1 cannot know what follows it in
    another version, so a record of another version is unsupported whatever comes after its version."""
    i = _skip_ws(text, 0)
    if i >= len(text) or text[i] != "{":
        raise _Corrupt("not a JSON object")
    i = _skip_ws(text, i + 1)
    if i >= len(text) or text[i] != '"':
        raise _Corrupt("does not start with the format version 'v'")
    try:
        key, i = json.decoder.scanstring(text, i + 1)
    except ValueError as e:
        raise _Corrupt("not a valid record: %s" % e) from None
    i = _skip_ws(text, i)
    if key != "v" or i >= len(text) or text[i] != ":":
        raise _Corrupt("does not start with the format version 'v'")
    match = _NUMBER.match(text, _skip_ws(text, i + 1))
    if not match or match.group(1) or match.group(2):
        raise _Corrupt("format version is not an integer")
    version = int(match.group(0))
    if not -2**63 <= version < 2**63:
        raise _Corrupt("format version %s overflows a 64-bit integer" % match.group(0))
    return version


def _parse(data: bytes, record_name: str, limit: int) -> Dict[str, Any]:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("record data must be bytes, not %s" % type(data).__name__)
    data = bytes(data)
    if not data:
        raise CorruptRecordError(record_name, "empty")
    if len(data) > limit:
        raise CorruptRecordError(record_name, "%d bytes is larger than any valid record (%d)" % (len(data), limit))
    try:
        if data.startswith(b"\xef\xbb\xbf"):
            raise _Corrupt("starts with a byte order mark, which a record must not")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise _Corrupt("not valid UTF-8 at byte %d" % e.start) from None
        version = _version(text)
        if version != FORMAT_VERSION:
            raise UnsupportedVersionError(record_name, version)
        try:
            value, end = _DECODER.raw_decode(text, _skip_ws(text, 0))
        except (ValueError, RecursionError) as e:
            raise _Corrupt("not a valid record: %s" % e) from None
        if _skip_ws(text, end) != len(text):
            raise _Corrupt("trailing data after the record")
        if _depth(value) > MAX_NESTING_DEPTH:
            raise _Corrupt("nested deeper than %d" % MAX_NESTING_DEPTH)
        return value
    except _Corrupt as e:
        raise CorruptRecordError(record_name, str(e)) from None


def _string(obj: Dict[str, Any], key: str, what: str) -> Optional[str]:
    value = obj.get(key)
    if value is None and key not in obj:
        return None
    if not isinstance(value, str):
        raise _Corrupt("field %r is not a string" % what)
    if _lone_surrogate(value):
        raise _Corrupt("field %r holds an unpaired surrogate escape" % what)
    return value


def _int(obj: Dict[str, Any], key: str, what: str) -> Optional[int]:
    if key not in obj:
        return None
    value = obj[key]
    if type(value) is not int:  # noqa: E721 (bool is an int subclass; JSON true is not an integer)
        raise _Corrupt("field %r is not an integer" % what)
    if not -2**63 <= value < 2**63:
        raise _Corrupt("field %r overflows a 64-bit integer" % what)
    return value


def _count_field(obj: Dict[str, Any], key: str, what: str) -> int:
    value = _int(obj, key, what)
    if value is None:
        return 0
    if not 0 <= value <= _MAX_COUNT:
        raise _Corrupt("field %r is not a count: %d" % (what, value))
    return value


def _read_scalar(value: Any, where: str) -> Any:
    if isinstance(value, str):
        if _lone_surrogate(value):
            raise _Corrupt("%s holds an unpaired surrogate escape" % where)
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not -2**63 <= value < 2**63:
            raise _Corrupt("%s: integer overflows a 64-bit long" % where)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Corrupt("%s: number is out of the range of a double" % where)
        return value
    raise _Corrupt("%s has an unsupported value type %s" % (where, "null" if value is None else type(value).__name__))


def _read_attributes(value: Any, what: str) -> Dict[str, AttributeValue]:
    if not isinstance(value, dict):
        raise _Corrupt("%s attributes are not an object" % what)
    out: Dict[str, AttributeValue] = {}
    for key, v in value.items():
        if not key:
            raise _Corrupt("attribute with an empty key")
        if _lone_surrogate(key):
            raise _Corrupt("attribute key holds an unpaired surrogate escape")
        where = "attribute %r" % key
        if isinstance(v, list):
            kinds = {bool if isinstance(e, bool) else type(e) for e in v}
            if len(kinds) > 1:
                raise _Corrupt("array %s mixes element types" % where)
            if kinds and not kinds <= {str, bool, int, float}:
                raise _Corrupt("array %s has an unsupported element" % where)
            out[key] = tuple(_read_scalar(e, where) for e in v)
        else:
            out[key] = _read_scalar(v, where)
    return out


def _read_context(compact: str, tracestate: Optional[str]) -> SpanContext:
    if len(compact) != 52 or compact[32] != "-" or compact[49] != "-":
        raise _Corrupt("span context %r is not <trace id>-<span id>-<flags>" % compact)
    trace_id, span_id, flags = compact[:32], compact[33:49], compact[50:]
    if not is_lower_hex(trace_id, 32) or not trace_id.strip("0"):
        raise _Corrupt("invalid trace id %r" % trace_id)
    if not is_lower_hex(span_id, 16) or not span_id.strip("0"):
        raise _Corrupt("invalid span id %r" % span_id)
    if not is_lower_hex(flags, 2):
        raise _Corrupt("invalid trace flags %r" % flags)
    try:
        return SpanContext(trace_id, span_id, int(flags, 16), normalize_tracestate(tracestate))
    except ValueError as e:
        raise _Corrupt(str(e)) from None


def _read_links(value: Any, what: str) -> Tuple[Link, ...]:
    if not isinstance(value, list):
        raise _Corrupt("%s links are not an array" % what)
    links = []
    for item in value:
        if not isinstance(item, dict):
            raise _Corrupt("%s link is not an object" % what)
        compact = _string(item, "c", "link c")
        if compact is None:
            raise _Corrupt("link without a span context")
        attributes = _read_attributes(item["a"], "link") if "a" in item else {}
        links.append(Link(_read_context(compact, _string(item, "ts", "link ts")), attributes))
    return tuple(links)


def _read_record(obj: Dict[str, Any]) -> DeferredSpanRecord:
    compact = _string(obj, "c", "c")
    name = _string(obj, "n", "n")
    start = _int(obj, "t", "t")
    if compact is None:
        raise _Corrupt("missing span context 'c'")
    if name is None:
        raise _Corrupt("missing name 'n'")
    if start is None:
        raise _Corrupt("missing start time 't'")
    if not _time_in_range(start):
        raise _Corrupt("start time 't' %d is outside the years 2000 to 2099" % start)
    context = _read_context(compact, _string(obj, "ts", "ts"))
    parent = _string(obj, "p", "p")
    if parent is not None:
        if not is_lower_hex(parent, 16) or not parent.strip("0"):
            raise _Corrupt("invalid parent span id %r" % parent)
        if parent == context.span_id:
            raise _Corrupt("the span is its own parent %s" % parent)
    kind = _string(obj, "k", "k")
    if kind is not None and kind not in KINDS:
        raise _Corrupt("unknown span kind %r" % kind)
    owner = _string(obj, "o", "o")
    if owner is not None:
        why = validate_owner(owner)
        if why:
            raise _Corrupt("owner 'o' %s" % why)
    return DeferredSpanRecord(
        context=context, name=name, start_ns=start, parent_span_id=parent, kind=kind or "INTERNAL",
        began_by=_string(obj, "b", "b") or "", owner=owner,
        links=_read_links(obj["l"], "begin") if "l" in obj else (),
        attributes=_read_attributes(obj["a"], "begin") if "a" in obj else {})


def decode_record(data: bytes, record_name: str) -> DeferredSpanRecord:
    """Decodes a begin record.

    :raises UnsupportedVersionError: for a format version other than 1
    :raises CorruptRecordError: for anything else that is not a valid begin record
    """
    obj = _parse(data, record_name, MAX_RECORD_BYTES)
    try:
        present = [k for k in _FINISHED_KEYS if k in obj]
        if present:
            raise _Corrupt("a begin record holds finished-span fields %s" % ", ".join(present))
        return _read_record(obj)
    except _Corrupt as e:
        raise CorruptRecordError(record_name, str(e)) from None


def decode_finished(data: bytes, record_name: str) -> FinishedSpan:
    """Decodes a finished span (``ended/YY/SPANID``). :raises RecordError: as :func:`decode_record`."""
    obj = _parse(data, record_name, MAX_FINISHED_BYTES)
    try:
        record = _read_record(obj)
        end = _int(obj, "e", "e")
        if end is None:
            raise _Corrupt("missing end time 'e'")
        if not _time_in_range(end):
            raise _Corrupt("end time 'e' %d is outside the years 2000 to 2099" % end)
        if end < record.start_ns:
            raise _Corrupt("end time is before start time")
        events = []
        if "ev" in obj:
            if not isinstance(obj["ev"], list):
                raise _Corrupt("events are not an array")
            for item in obj["ev"]:
                if not isinstance(item, dict):
                    raise _Corrupt("event is not an object")
                name, time = _string(item, "n", "event n"), _int(item, "t", "event t")
                if name is None or time is None:
                    raise _Corrupt("event without a name or time")
                attributes = _read_attributes(item["a"], "event") if "a" in item else {}
                dropped = _count_field(item, "d", "event d")
                if dropped + len(attributes) > _MAX_COUNT:
                    raise _Corrupt("event attributes plus dropped 'd' exceed %d" % _MAX_COUNT)
                events.append(Event(name, time, attributes, dropped))
        status = _string(obj, "s", "s")
        if status is not None and status not in STATUS_CODES:
            raise _Corrupt("unknown status code %r" % status)
        return FinishedSpan(
            record=record, end_ns=end, ended_by=_string(obj, "eb", "eb") or "",
            end_attributes=_read_attributes(obj["ea"], "end") if "ea" in obj else {},
            events=tuple(events), status_code=status or "UNSET",
            status_description=_string(obj, "sd", "sd") or "",
            end_links=_read_links(obj["el"], "end") if "el" in obj else (),
            dropped_attributes=_count_field(obj, "da", "da"), dropped_events=_count_field(obj, "de", "de"))
    except _Corrupt as e:
        raise CorruptRecordError(record_name, str(e)) from None
