"""Beginning and ending deferred spans in ZooKeeper with kazoo, as docs/record-format.md specifies.

A begin is two create operations you add to your own transaction (``begin_ops``), so that an item never exists
without its span. An end (``end``) is one transaction: it deletes the record and its marker at the version read,
writes the finished span (with a claim that proves the win, released right after), and applies your operations;
``deferred-spans serve`` (or any Java host's recovery) then exports the span through OpenTelemetry, exactly once.
Racing enders, Python or Java, get exactly one ``ENDED``.

In embedded mode (``begin_embedded``, ``end_embedded``) the record rides inside the caller's own item znode: the
begin sends nothing, and the end's once-only rests on the caller's versioned delete or rewrite of that item.
"""

import enum
import secrets
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from kazoo.client import KazooClient, TransactionRequest
from kazoo.exceptions import (ConnectionClosedError, ConnectionLoss, NodeExistsError, NoNodeError, NotEmptyError,
                              OperationTimeoutError, RolledBackError, RuntimeInconsistency, SessionExpiredError)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.paths import _prefix_root
from kazoo.protocol.serialization import Create, Delete, SetData

from .keys import DEFAULT_BASE_PATH, Layout
from .record import (MAX_EPOCH_NANOS, MAX_FINISHED_BYTES, MIN_EPOCH_NANOS, AttributeValue, CorruptRecordError, DeferredSpanRecord, Event, FinishedSpan, Link,
                     RecordError, UnsupportedVersionError, _attributes_json, _links_json, decode_record,
                     encode_finished, encode_record)
from .tracecontext import SpanContext, parse_traceparent

__all__ = ["Outcome", "EndResult", "BegunSpan", "DeferredSpanStore", "StoreUnavailableError", "DeferredSpanError",
           "DeferredSpanLimitError", "trace_id_ratio"]

# ZooKeeper refuses a request over jute.maxbuffer (default 1 MiB less 1 byte); like Java, keep a 64 KiB margin.
_MAX_TRANSACTION_BYTES = 0xFFFFF - 64 * 1024
_UNANSWERED = (ConnectionLoss, ConnectionClosedError, SessionExpiredError, OperationTimeoutError, KazooTimeoutError)
_RESTARTS = 3

Session = Optional[Tuple[int, bytes]]
"""A kazoo ``client_id``: the session every write of one call goes out on."""
Ops = Callable[[TransactionRequest], None]
"""Adds the caller's own operations to the end's transaction: ``lambda tx: tx.delete(item_path)``."""
ParentLike = Union[str, SpanContext, DeferredSpanRecord, "BegunSpan"]


class Outcome(enum.Enum):
    """What an end did; the same outcomes as Java's EndResult.Outcome."""

    ENDED = "ENDED"
    """This call ended the span; the caller's operations were applied in the same transaction."""
    ALREADY_ENDED = "ALREADY_ENDED"
    """Another ender (any language) won; the caller's operations were NOT applied."""
    NO_RECORD = "NO_RECORD"
    """No open record for the key; the caller's operations were applied on their own."""
    REJECTED_RECORD = "REJECTED_RECORD"
    """The record could not be read: a corrupt one was moved to quarantine, a newer version left in place; the
    caller's operations were applied."""
    ABANDONED = "ABANDONED"
    """Recovery had already ended the span as abandoned; the caller's operations were applied on their own."""
    CALLER_OPERATIONS_FAILED = "CALLER_OPERATIONS_FAILED"
    """One of the caller's operations failed: nothing was applied, the span is still open (or was ended by
    whoever applied the caller's change first, e.g. an earlier attempt of this very end)."""


@dataclass(frozen=True)
class EndResult:
    outcome: Outcome
    span: Optional[FinishedSpan] = None
    """The finished span, for ENDED."""
    record_error: Optional[RecordError] = None
    """Why the record was rejected, for REJECTED_RECORD."""
    failed_operation: Optional[int] = None
    """Index of the caller's operation that failed (0 = the first one ``ops`` added), for CALLER_OPERATIONS_FAILED."""
    failure: Optional[Exception] = None
    """The kazoo error of that operation (e.g. NoNodeError), for CALLER_OPERATIONS_FAILED."""


class DeferredSpanError(Exception):
    """A begin or end that could not be done; nothing was applied unless the message says otherwise."""


class DeferredSpanLimitError(DeferredSpanError, ValueError):
    """Too large for a record or a ZooKeeper transaction; refused before anything was sent."""


class StoreUnavailableError(DeferredSpanError):
    """ZooKeeper did not answer. ``may_have_applied`` says whether the operations may have been applied anyway;
    retrying an end is safe either way (a retry after an applied end reports CALLER_OPERATIONS_FAILED when the
    caller's operations change the item, and recovery exports a span whose end was applied)."""

    def __init__(self, message: str, may_have_applied: bool) -> None:
        super().__init__(message)
        self.may_have_applied = may_have_applied


class _RecordChanged(Exception):
    pass


_UNKNOWN = object()


@dataclass(frozen=True)
class BegunSpan:
    """A span ready to be stored: add ``ops`` to your transaction (``add_to``) and commit it with your own; or,
    begun embedded, put ``record_bytes`` into your item."""

    key: Optional[str]
    """The span's key; None for a span begun embedded (``begin_embedded``)."""
    record: DeferredSpanRecord
    open_path: Optional[str]
    """Where the record is stored; None for a span begun embedded."""
    ops: Tuple[Any, ...] = field(repr=False)
    """kazoo Create requests for the record and its marker (empty for a span begun embedded)."""

    @property
    def record_bytes(self) -> bytes:
        """The record's bytes (docs/record-format.md section 3): what embedded mode puts inside the caller's item
        and gives back to ``end_embedded``."""
        return encode_record(self.record)

    @property
    def context(self) -> SpanContext:
        return self.record.context

    @property
    def traceparent(self) -> str:
        """The W3C ``traceparent`` children carry; OpenTelemetry's standard propagator extracts it."""
        return self.record.traceparent

    def headers(self) -> dict:
        """``traceparent`` (and ``tracestate``) as a carrier for ``TraceContextTextMapPropagator().extract``."""
        return self.record.context.headers()

    def add_to(self, transaction: TransactionRequest) -> None:
        """Appends the record's and marker's creation to ``transaction`` (before or after your own operations)."""
        if transaction.committed:
            raise ValueError("transaction already committed")
        transaction.operations.extend(self.ops)


def trace_id_ratio(ratio: float) -> Callable[[str], bool]:
    """A sampler keeping ``ratio`` of traces by trace id, as OpenTelemetry's TraceIdRatioBased decides it."""
    if not 0.0 <= ratio <= 1.0:
        raise ValueError("sampling ratio must be from 0.0 to 1.0: %r" % (ratio,))
    bound = round(ratio * (1 << 64))
    return lambda trace_id: int(trace_id[16:], 16) < bound


def _new_id(hex_digits: int) -> str:
    while True:
        value = secrets.token_hex(hex_digits // 2)
        if value.strip("0"):
            return value


def _context_of(value: ParentLike, what: str) -> SpanContext:
    if isinstance(value, SpanContext):
        return value
    if isinstance(value, DeferredSpanRecord):
        return value.context
    if isinstance(value, BegunSpan):
        return value.record.context
    if isinstance(value, str):
        return parse_traceparent(value)
    raise TypeError("%s must be a traceparent string, SpanContext, DeferredSpanRecord or BegunSpan, not %s"
                    % (what, type(value).__name__))


class DeferredSpanStore:
    """Begins and ends deferred spans in the store under ``base_path`` (the Java hosts' ``basePath``, inside their
    Curator namespace: use ``KazooClient(hosts="zk:2181/namespace")`` for one).

    :param client: a started KazooClient (this class never starts or stops it)
    :param host_name: who begins and ends spans here: ``deferred_span.began_by`` / ``ended_by``
    :param sampler: decides at begin, from the trace id, whether a root span is sampled (default: always); a
        child follows its parent's decision
    """

    def __init__(self, client: KazooClient, base_path: str = DEFAULT_BASE_PATH, *, host_name: Optional[str] = None,
                 sampler: Optional[Callable[[str], bool]] = None, max_begin_attribute_bytes: int = 4096,
                 max_links: int = 128, clock: Callable[[], int] = time.time_ns) -> None:
        self._client = client
        self.layout = Layout(base_path)
        self.host_name = socket.gethostname() if host_name is None else host_name
        self._sampler = sampler or (lambda trace_id: True)
        self._max_begin_attribute_bytes = max_begin_attribute_bytes
        self._max_links = max_links
        self._clock = clock

    # ---- begin

    def ensure_shards(self) -> None:
        """Creates the shard znodes a begin and an end write under, if missing (a Java store's start() does the
        same); idempotent, call it once at startup."""
        for path in self.layout.shard_paths("open") + self.layout.shard_paths("ended"):
            self._client.ensure_path(path)
        self._client.ensure_path(self.layout.base_path + "/quarantine")

    def begin_ops(self, key: str, name: str, *, owner: Optional[str] = None, parent: Optional[ParentLike] = None,
                  links: Iterable[Union[ParentLike, Link]] = (), attributes: Optional[Mapping[str, AttributeValue]]
                  = None, kind: str = "INTERNAL", start_ns: Optional[int] = None,
                  sampled: Optional[bool] = None) -> BegunSpan:
        """Draws the span's ids, takes the sampling decision and returns the operations that store it.

        :param key: the span's key, usually the item's identity (``tenant/gate/8f1c``)
        :param owner: absolute znode path of what the span measures; recovery ends the span as abandoned once it
            is gone
        :param parent: the parent span (same trace) as a traceparent, SpanContext or begun span; none for a root
        :param links: links to other spans (the event that caused this item, the previous build set, ...)
        :param start_ns: start time in nanoseconds since the epoch (default: now)
        :param sampled: overrides the sampling decision (default: the parent's, else the store's sampler)
        :raises ValueError: for a bad key, owner, name, attribute, time, parent or link; nothing is created
        """
        open_path = self.layout.open_path(key)
        record, data = self._new_record(name, owner, parent, links, attributes, kind, start_ns, sampled)
        scratch = self._client.transaction()  # the client's own chroot and default ACL, as tx.create applies them
        scratch.create(open_path, data)
        scratch.create(Layout.marker_path(open_path, record.context.span_id), b"")
        return BegunSpan(key, record, open_path, tuple(scratch.operations))

    def begin_embedded(self, name: str, **options: Any) -> BegunSpan:
        """Begins a span in embedded mode: nothing is sent to ZooKeeper. Put ``record_bytes`` of the result into
        the data of your own item znode when you create it, and end the span with ``end_embedded``.

        Takes the options of ``begin_ops`` (owner, parent, links, attributes, kind, start_ns, sampled); the
        result has no key, no open path and no operations.

        :raises ValueError: for a bad owner, name, attribute, time, parent or link
        """
        record, _ = self._new_record(name, **options)
        return BegunSpan(None, record, None, ())

    def _new_record(self, name: str, owner: Optional[str] = None, parent: Optional[ParentLike] = None,
                    links: Iterable[Union[ParentLike, Link]] = (),
                    attributes: Optional[Mapping[str, AttributeValue]] = None, kind: str = "INTERNAL",
                    start_ns: Optional[int] = None, sampled: Optional[bool] = None) -> Tuple[DeferredSpanRecord, bytes]:
        """A new record and its bytes, every value checked."""
        parent_context = _context_of(parent, "parent") if parent is not None else None
        trace_id = parent_context.trace_id if parent_context else _new_id(32)
        if sampled is None:
            sampled = parent_context.sampled if parent_context else bool(self._sampler(trace_id))
        flags = (parent_context.flags & ~1 if parent_context else 0) | (1 if sampled else 0)
        context = SpanContext(trace_id, _new_id(16), flags, parent_context.tracestate if parent_context else "")
        links = tuple(l if isinstance(l, Link) else Link(_context_of(l, "link")) for l in links)
        attributes = dict(attributes or {})
        if len(links) > self._max_links:
            raise DeferredSpanLimitError("%d links is more than the %d a span may have" % (len(links), self._max_links))
        size = len('{"v":1' + (',"a":' + _attributes_json(attributes, "begin") if attributes else "")
                   + (',"l":' + _links_json(links, "begin") if links else "") + "}")
        if size > self._max_begin_attribute_bytes:
            raise DeferredSpanLimitError(
                "begin attributes and links of %r take %d bytes encoded, more than %d; attributes belong to the "
                "end" % (name, size, self._max_begin_attribute_bytes))
        record = DeferredSpanRecord(
            context=context, name=name, start_ns=self._clock() if start_ns is None else start_ns,
            parent_span_id=parent_context.span_id if parent_context else None, kind=kind,
            began_by=self.host_name, owner=owner, links=links, attributes=attributes)
        return record, encode_record(record)  # validates everything else

    def begin(self, key: str, name: str, *, ops: Optional[Ops] = None, **options: Any) -> BegunSpan:
        """Begins a span in a transaction of its own with the caller's ``ops``: all or nothing.

        :raises DeferredSpanError: if the transaction failed (e.g. the key already holds an open span)
        """
        begun = self.begin_ops(key, name, **options)
        tx = self._client.transaction()
        begun.add_to(tx)
        if ops:
            ops(tx)
        self._require_fits(tx.operations, "begin " + begun.open_path)
        try:
            results = self._send(tx, self._client.client_id, "begin " + begun.open_path)
        except _UNANSWERED as e:
            raise StoreUnavailableError("begin %s: no answer from ZooKeeper; it may have been applied"
                                        % begun.open_path, True) from e
        failed = _first_failure(results)
        if failed is not None:
            error = results[failed]
            if failed == 0 and isinstance(error, NodeExistsError):
                raise DeferredSpanError("begin %s: the key %r already holds an open span; nothing was written"
                                        % (begun.open_path, key)) from error
            if failed < 2 and isinstance(error, NoNodeError):
                raise DeferredSpanError("begin %s: the shard znode is missing (call ensure_shards() once, or "
                                        "start a Java store); nothing was written" % begun.open_path) from error
            raise DeferredSpanError("begin %s: operation %d failed (%s); nothing was written"
                                    % (begun.open_path, failed, type(error).__name__)) from error
        return begun

    # ---- end

    def end(self, key: str, *, attributes: Optional[Mapping[str, AttributeValue]] = None,
            events: Sequence[Event] = (), status: Tuple[str, str] = ("UNSET", ""), links: Iterable[Union[ParentLike,
            Link]] = (), end_ns: Optional[int] = None, ops: Optional[Ops] = None, claim: bool = True) -> EndResult:
        """Ends the span under ``key`` exactly once, in one transaction with the caller's ``ops``.

        :param attributes: end attributes (they win over the begin's)
        :param status: (code, description), code one of UNSET, OK, ERROR
        :param claim: write an ephemeral claim with the finished span and release it after the commit: the claim's
            nonce tells a won end from a lost race after a lost reply. Without it (``False``), an unanswered end
            raises StoreUnavailableError(may_have_applied=True).
        :raises ValueError: for bad end attributes, events, status or time; nothing is applied
        :raises StoreUnavailableError: if ZooKeeper did not answer
        """
        end_links = tuple(l if isinstance(l, Link) else Link(_context_of(l, "link")) for l in links)
        ending = (dict(attributes or {}), tuple(events), status, end_links, end_ns)
        open_path = self.layout.open_path(key)
        session = self._client.client_id  # every write of this end goes out on this session, or none does
        self._require_connected(session, "end " + open_path)
        for _ in range(_RESTARTS):
            try:
                return self._end_once(open_path, ending, ops, claim, session)
            except _RecordChanged:
                continue
        raise StoreUnavailableError("end %s: the record kept changing while being ended; nothing was applied, "
                                    "retry" % open_path, False)

    def end_embedded(self, item_path: str, record_bytes: Optional[bytes], *, ops: Ops,
                     attributes: Optional[Mapping[str, AttributeValue]] = None, events: Sequence[Event] = (),
                     status: Tuple[str, str] = ("UNSET", ""), links: Iterable[Union[ParentLike, Link]] = (),
                     end_ns: Optional[int] = None, claim: bool = True) -> EndResult:
        """Ends the span whose record rides inside your item (embedded mode), in one transaction with ``ops``.

        Read the item (data and stat), take the record's bytes out of it, and pass ``ops`` that delete or rewrite
        ``item_path`` at the version read: ``lambda tx: tx.delete(item_path, version=stat.version)``. That
        versioned operation is what makes the end happen once: of racing enders, only one changes the item at
        that version; the others get CALLER_OPERATIONS_FAILED. The caller's operations come first in the
        transaction (``failed_operation`` counts from them), then the finished span and its claim, as ``end``.

        :param item_path: the item's path, in the client's chroot (as ``ops`` name it)
        :param record_bytes: what ``begin_embedded(...).record_bytes`` (or Java's ``record.toBytes()``) wrote, or
            None if the item holds no record: then only ``ops`` are applied (NO_RECORD). Bytes that are not a
            record this client reads (corrupt, or a newer format version) are kept in quarantine with ``ops``
            applied (REJECTED_RECORD), as is a record whose span was already ended (embedded in two items).
        :param claim: as for ``end``
        :raises ValueError: if no operation of ``ops`` deletes or rewrites ``item_path`` at a version, or for bad
            end attributes, events, status or time; nothing is sent
        :raises StoreUnavailableError: if ZooKeeper did not answer; running the same end again is safe
        """
        what = "end of the span embedded in %s" % item_path
        if not isinstance(item_path, str) or not item_path.startswith("/"):
            raise ValueError("%s: the item path must be an absolute znode path; nothing was sent" % what)
        scratch = self._client.transaction()
        ops(scratch)
        caller_ops = list(scratch.operations)
        target = _prefix_root(self._client.chroot, item_path)
        if not any(isinstance(op, (Delete, SetData)) and op.path == target and op.version >= 0 for op in caller_ops):
            raise ValueError("%s: the operations must delete or rewrite %s at the version it was read with "
                             "(tx.delete(path, version=stat.version)); that is what makes the end happen once. "
                             "Nothing was sent" % (what, item_path))
        store_base = _prefix_root(self._client.chroot, self.layout.base_path)
        for i, op in enumerate(caller_ops):
            begins = isinstance(op, Create) and op.path.startswith(store_base + "/open/")  # begin_ops: allowed
            if not begins and Layout(store_base).owns(op.path):
                raise ValueError("%s: the caller's operation #%d acts on %s, inside the store's own tree (%s); only "
                                 "the store writes there. Nothing was sent" % (what, i, op.path, store_base))
            if record_bytes and isinstance(op, (Create, SetData)) and op.path == target \
                    and bytes(record_bytes) in bytes(op.data or b""):
                raise ValueError("%s: the operations write %s with data that still holds the record, so its next "
                                 "dequeue would end the span again; leave the record out of the item's new data. "
                                 "Nothing was sent" % (what, item_path))
        end_links = tuple(l if isinstance(l, Link) else Link(_context_of(l, "link")) for l in links)
        ending = (dict(attributes or {}), tuple(events), status, end_links, end_ns)
        session = self._client.client_id  # every write of this end goes out on this session, or none does
        self._require_connected(session, what)
        caller = lambda tx: tx.operations.extend(caller_ops)  # noqa: E731 - built once, checked above
        if record_bytes is None:
            return self._embedded_alone(item_path, None, caller, EndResult(Outcome.NO_RECORD), session)
        try:
            record = decode_record(bytes(record_bytes), "the item " + item_path)
        except RecordError as e:
            # The item goes away with its bytes, so even a newer format version is kept, for an operator.
            return self._embedded_quarantine(item_path, record_bytes, caller, e, session)
        finished = self._finish(record, *ending)
        if not record.sampled:
            return self._embedded_alone(item_path, None, caller, EndResult(Outcome.ENDED, span=finished), session)
        span_id = record.context.span_id
        ended = self.layout.ended_path(span_id)
        tx = self._client.transaction()
        tx.operations.extend(caller_ops)
        tx.create(ended, encode_finished(finished))
        claim_data = None
        if claim:
            claim_data = ("%s\n%x" % (self.host_name, secrets.randbits(63) | 1 << 63)).encode("utf-8")
            tx.create(Layout.claim_path(ended), claim_data, ephemeral=True)
        self._require_fits(tx.operations, what)
        try:
            results = self._send(tx, session, what)
        except _UNANSWERED as e:
            if claim_data is None:
                raise StoreUnavailableError(
                    what + ": ZooKeeper did not say whether the end was applied; if it was, the service exports "
                    "the span. Retrying is safe: it reports CALLER_OPERATIONS_FAILED if the first attempt "
                    "applied", True) from e
            held = self._claim_on(ended, session)
            if held == claim_data:
                self._release(ended, session)
                return EndResult(Outcome.ENDED, span=finished)
            if held is _UNKNOWN:
                raise StoreUnavailableError(
                    what + ": ZooKeeper did not say whether the end was applied, and the claim could not be read "
                    "back on the same session; if it was applied, the service exports the span. Retrying is "
                    "safe: it reports CALLER_OPERATIONS_FAILED if the first attempt applied", True) from e
            # Read on the session the transaction went to, which answers in order: no claim of ours there means
            # the transaction was never applied, and never will be.
            raise StoreUnavailableError(what + ": connection lost; nothing was applied, retry", False) from e
        failed = _first_failure(results)
        if failed is None:
            if claim_data is not None:
                self._release(ended, session)
            return EndResult(Outcome.ENDED, span=finished)
        if failed < len(caller_ops):
            return EndResult(Outcome.CALLER_OPERATIONS_FAILED, failed_operation=failed, failure=results[failed])
        if failed == len(caller_ops) and isinstance(results[failed], NodeExistsError):
            return self._embedded_quarantine(item_path, record_bytes, caller, CorruptRecordError(
                "the item " + item_path, "its span %s was already ended (the same record embedded twice, or a node "
                "another writer put at %s)" % (span_id, ended)), session)
        raise DeferredSpanError("%s: ZooKeeper refused the store's own operation #%d (%s); nothing was applied. "
                                "Were the shards created (ensure_shards)?"
                                % (what, failed - len(caller_ops), type(results[failed]).__name__))

    def _embedded_quarantine(self, item_path: str, data: bytes, caller: Ops, error: RecordError,
                             session: Session) -> EndResult:
        """Keeps unendable bytes in quarantine, in one transaction with the caller's dequeue."""
        # Cut, as Java does: never above what a finished span may take, and never so much that it would not fit in
        # one transaction with the caller's operations (keeping bytes must not block the dequeue).
        prefix = self.layout.quarantine_prefix(item_path)
        scratch = self._client.transaction()
        caller(scratch)
        scratch.create(prefix, b"", sequence=True)  # the quarantine's create, its data not yet counted
        room = _MAX_TRANSACTION_BYTES - sum(len(op.serialize()) + 16 for op in scratch.operations)
        kept = bytes(data[:max(0, min(room, MAX_FINISHED_BYTES))])
        return self._embedded_alone(
            item_path, lambda tx: tx.create(prefix, kept, sequence=True), caller,
            EndResult(Outcome.REJECTED_RECORD, record_error=error), session)

    def _embedded_alone(self, item_path: str, ours: Optional[Ops], caller: Ops, result: EndResult,
                        session: Session) -> EndResult:
        try:
            return self._apply_alone(item_path, ours, caller, result, session)
        except _RecordChanged:
            # Our only operation here is a sequential create in quarantine/, which fails only without the tree.
            raise DeferredSpanError("end of the span embedded in %s: could not write to the store's quarantine; "
                                    "nothing was applied. Were the shards created (ensure_shards)?"
                                    % item_path) from None

    def _claim_on(self, ended: str, session: Session) -> Any:
        """The claim's data as read on ``session``; None if there is none; _UNKNOWN if it could not be read there."""
        if self._client.client_id != session:
            return _UNKNOWN
        try:
            held, _ = self._client.retry(self._client.get, Layout.claim_path(ended))
        except NoNodeError:
            held = None
        except _UNANSWERED:
            return _UNKNOWN
        return held if self._client.client_id == session else _UNKNOWN

    def _end_once(self, open_path: str, ending: tuple, ops: Optional[Ops], claim: bool,
                  session: Session) -> EndResult:
        read = self._fresh_get(open_path)
        if read is None:
            tombstone = self._client.exists(self.layout.abandoned_path(open_path))
            if tombstone is not None:
                return self._dequeue_abandoned(open_path, tombstone.version, ops, session)
            return self._apply_alone(open_path, None, ops, EndResult(Outcome.NO_RECORD), session)
        data, stat = read
        try:
            record = decode_record(data, open_path)
        except UnsupportedVersionError as e:
            return self._apply_alone(open_path, None, ops, EndResult(Outcome.REJECTED_RECORD, record_error=e),
                                     session)
        except CorruptRecordError as e:
            return self._quarantine_with(open_path, stat, data, ops, e, session)
        return self._commit(open_path, stat, data, self._finish(record, *ending), ops, claim, session)

    def _finish(self, record: DeferredSpanRecord, attributes: dict, events: tuple, status: Tuple[str, str],
                end_links: tuple, end_ns: Optional[int]) -> FinishedSpan:
        end = self._clock() if end_ns is None else end_ns
        if isinstance(end, bool) or not isinstance(end, int) or not MIN_EPOCH_NANOS <= end < MAX_EPOCH_NANOS:
            raise ValueError("end time %r is outside the years 2000 to 2099 a record can hold; times are nanoseconds "
                             "since the epoch (time.time_ns())" % (end,))
        if record.began_by:
            attributes["deferred_span.began_by"] = record.began_by
        if self.host_name:
            attributes["deferred_span.ended_by"] = self.host_name
        if isinstance(end, int) and not isinstance(end, bool) and end < record.start_ns:
            # The ending host's clock is behind the beginning host's: never a negative duration, but say so.
            attributes["deferred_span.clock_skew_clamped_nanos"] = record.start_ns - end
            end = record.start_ns
        code, description = status
        finished = FinishedSpan(record=record, end_ns=end, ended_by=self.host_name, end_attributes=attributes,
                                events=events, status_code=code, status_description=description, end_links=end_links)
        encode_finished(finished)  # refuses bad input here, before anything is sent
        return finished

    def _commit(self, open_path: str, stat: Any, data: bytes, finished: FinishedSpan, ops: Optional[Ops],
                claim: bool, session: Session) -> EndResult:
        what = "end " + open_path
        span_id = finished.record.context.span_id
        marker = Layout.marker_path(open_path, span_id)
        ended = self.layout.ended_path(span_id)
        tx = self._client.transaction()
        # The marker fails this transaction if the key now holds another span than the one read (key reuse).
        tx.delete(marker)
        tx.delete(open_path, version=stat.version)
        claim_data = None
        if finished.record.sampled:
            tx.create(ended, encode_finished(finished))
            if claim:
                claim_data = ("%s\n%x" % (self.host_name, secrets.randbits(63) | 1 << 63)).encode("utf-8")
                tx.create(Layout.claim_path(ended), claim_data, ephemeral=True)
        ours = len(tx.operations)
        if ops:
            ops(tx)
        self._require_fits(tx.operations, what)
        try:
            results = self._send(tx, session, what)
        except _UNANSWERED as e:
            if claim_data is not None and self._client.client_id == session and self._is_our_claim(ended, claim_data):
                self._release(ended, session)
                return EndResult(Outcome.ENDED, span=finished)
            raise StoreUnavailableError(
                what + ": ZooKeeper did not say whether the end was applied; if it was, the service exports the "
                "span. Retrying is safe: it reports CALLER_OPERATIONS_FAILED if the first attempt applied", True) from e
        failed = _first_failure(results)
        if failed is None:
            if claim_data is not None:
                self._release(ended, session)
            return EndResult(Outcome.ENDED, span=finished)
        if failed >= ours:
            return EndResult(Outcome.CALLER_OPERATIONS_FAILED, failed_operation=failed - ours, failure=results[failed])
        now = self._client.retry(self._client.exists, open_path)
        if now is not None and now.czxid == stat.czxid:
            # The record read is still there, yet our delete of it failed: no end can ever succeed on it.
            marker_there = self._client.retry(self._client.exists, marker) is not None
            why = ("it is ephemeral (records must be persistent)" if stat.ephemeralOwner
                   else "it has no span marker 'span-%s'" % span_id if not marker_there
                   else "it has children other than its span marker" if isinstance(results[1], NotEmptyError)
                   else "it was modified after it was written" if now.version != stat.version
                   else "its span %s was already ended under another key" % span_id)
            return self._quarantine_with(open_path, now, data, ops,
                                         CorruptRecordError(open_path, "not a record this store can end: " + why),
                                         session)
        # The record read is gone: another end committed first. Was it recovery, giving up on the span?
        tombstone = self._fresh_get(self.layout.abandoned_path(open_path))
        if tombstone is not None and tombstone[0].decode("utf-8", "replace").startswith(span_id + "\n"):
            return self._dequeue_abandoned(open_path, tombstone[1].version, ops, session)
        return EndResult(Outcome.ALREADY_ENDED)

    def _release(self, ended: str, session: Session) -> None:
        """Gives the span to the service at once: its recovery exports a finished span as soon as its claim is
        deleted. If this fails, the claim goes with this session and the service exports the span then."""
        if self._client.client_id != session:
            return  # that session has ended, and its claim with it
        if not self._client.connected:
            # Not waited for: kazoo sends it if this session reconnects, and drops it if the session expires (the
            # claim goes then). A release only hands the committed span to the service sooner.
            self._client.delete_async(Layout.claim_path(ended))
            return
        try:
            self._client.delete(Layout.claim_path(ended))
        except (NoNodeError,) + _UNANSWERED:
            pass

    def _is_our_claim(self, ended: str, claim_data: bytes) -> bool:
        try:
            held, _ = self._client.retry(self._client.get, Layout.claim_path(ended))
        except NoNodeError:
            return False
        except _UNANSWERED:
            return False
        return held == claim_data

    def _dequeue_abandoned(self, open_path: str, version: int, ops: Optional[Ops], session: Session) -> EndResult:
        return self._apply_alone(open_path, lambda tx: tx.delete(self.layout.abandoned_path(open_path), version),
                                 ops, EndResult(Outcome.ABANDONED), session)

    def _quarantine_with(self, open_path: str, stat: Any, data: bytes, ops: Optional[Ops],
                         error: RecordError, session: Session) -> EndResult:
        """Moves an unendable record (and its children) to quarantine with the caller's operations."""
        try:
            children, parent = self._client.get_children(open_path, include_data=True)
        except NoNodeError:
            raise _RecordChanged() from None
        if parent.czxid != stat.czxid:
            raise _RecordChanged()

        def quarantine(tx: TransactionRequest) -> None:
            for child in children:
                tx.delete(open_path + "/" + child)
            tx.delete(open_path, version=stat.version)
            # Cut, as Java does: the copy, the deletions and the caller's operations fit one transaction whatever
            # the size of what was found (corrupt in any case past the record limit).
            tx.create(self.layout.quarantine_prefix(open_path), data[:MAX_FINISHED_BYTES], sequence=True)

        return self._apply_alone(open_path, quarantine, ops, EndResult(Outcome.REJECTED_RECORD, record_error=error),
                                 session)

    def _apply_alone(self, open_path: str, ours: Optional[Ops], ops: Optional[Ops], result: EndResult,
                     session: Session) -> EndResult:
        """Our operations (possibly none) and the caller's, in one transaction, without blind retries."""
        tx = self._client.transaction()
        if ours:
            ours(tx)
        count = len(tx.operations)
        if ops:
            ops(tx)
        if not tx.operations:
            return result
        self._require_fits(tx.operations, "end " + open_path)
        try:
            results = self._send(tx, session, "end " + open_path)
        except _UNANSWERED as e:
            raise StoreUnavailableError("end %s: no answer from ZooKeeper; the operations may have been applied. "
                                        "Retrying is safe: it reports CALLER_OPERATIONS_FAILED if they were"
                                        % open_path, True) from e
        failed = _first_failure(results)
        if failed is None:
            return result
        if failed < count:
            raise _RecordChanged()
        return EndResult(Outcome.CALLER_OPERATIONS_FAILED, failed_operation=failed - count, failure=results[failed])

    def _require_connected(self, session: Session, what: str) -> None:
        if session is None or self._client.client_id != session or not self._client.connected:
            raise StoreUnavailableError(
                "%s: not connected to ZooKeeper%s; nothing was sent" % (
                    what, "" if session is None or self._client.client_id == session
                    else " on the session this call began on"), False)

    def _send(self, tx: TransactionRequest, session: Session, what: str) -> List[Any]:
        """Commits ``tx`` once, on ``session``, and only while it is connected: kazoo queues a request made while
        disconnected and sends it on the reconnection, which may come after the caller gave up on the call. kazoo
        never sends a request twice, and fails the queued ones when the connection drops or the session expires,
        so a request handed over here goes out at most once, and never after this call returned."""
        self._require_connected(session, what)
        return tx.commit()

    def _fresh_get(self, path: str) -> Optional[Tuple[bytes, Any]]:
        """Reads ``path``; an absence is confirmed after a sync, since the server we read may lag the leader."""
        for attempt in (0, 1):
            try:
                return self._client.retry(self._client.get, path)
            except NoNodeError:
                if attempt == 0:
                    self._client.retry(self._client.sync, path)
        return None

    @staticmethod
    def _require_fits(operations: List[Any], what: str) -> None:
        size = sum(len(op.serialize()) + 16 for op in operations)
        if size > _MAX_TRANSACTION_BYTES:
            raise DeferredSpanLimitError(
                "%s: the transaction takes %d bytes, more than the %d ZooKeeper accepts (jute.maxbuffer less a "
                "margin); nothing was sent. Reduce the end's attributes and events or the caller's operations"
                % (what, size, _MAX_TRANSACTION_BYTES))


def _first_failure(results: List[Any]) -> Optional[int]:
    """Index of the operation that failed a transaction, or None if it committed."""
    for i, result in enumerate(results):
        if isinstance(result, Exception) and not isinstance(result, (RolledBackError, RuntimeInconsistency)):
            return i
    return None


