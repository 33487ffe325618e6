"""Deferred Spans for Python: begin and end OpenTelemetry spans stored in ZooKeeper, in your own transactions.

A span begun here (``DeferredSpanStore.begin_ops``) is ended by any host, Python or Java
(``DeferredSpanStore.end``); ``deferred-spans serve`` exports what Python ends. The format is specified in
docs/record-format.md of the Deferred Spans repository; this package is its reference client.
"""

from .keys import DEFAULT_BASE_PATH, Layout, encode_key, java_string_hash, shard
from .record import (
    FORMAT_VERSION,
    CorruptRecordError,
    DeferredSpanRecord,
    Event,
    FinishedSpan,
    Link,
    RecordError,
    UnsupportedVersionError,
    decode_finished,
    decode_record,
    encode_finished,
    encode_record,
    validate_owner,
)
from .tracecontext import SpanContext, normalize_tracestate, parse_traceparent

__all__ = [
    "DEFAULT_BASE_PATH", "Layout", "encode_key", "java_string_hash", "shard",
    "FORMAT_VERSION", "CorruptRecordError", "DeferredSpanRecord", "Event", "FinishedSpan", "Link", "RecordError",
    "UnsupportedVersionError", "decode_finished", "decode_record", "encode_finished", "encode_record",
    "validate_owner", "SpanContext", "normalize_tracestate", "parse_traceparent",
]

try:  # the store needs kazoo; the codec does not
    from .store import (  # noqa: F401
        BegunSpan,
        DeferredSpanStore,
        EndResult,
        Outcome,
        StoreUnavailableError,
        trace_id_ratio,
    )
    __all__ += ["BegunSpan", "DeferredSpanStore", "EndResult", "Outcome", "StoreUnavailableError", "trace_id_ratio"]
except ImportError as _e:  # pragma: no cover - only without kazoo
    if getattr(_e, "name", None) not in ("kazoo", "kazoo.client", "kazoo.exceptions"):
        raise

__version__ = "0.1.0"
