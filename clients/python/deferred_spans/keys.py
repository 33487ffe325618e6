"""Keys, znode names and shards, as docs/record-format.md section 2 specifies them (io.deferredspans.store.ZNodeLayout)."""

from typing import FrozenSet

__all__ = [
    "MAX_KEY_UTF16_UNITS",
    "SHARDS",
    "DEFAULT_BASE_PATH",
    "encode_key",
    "java_string_hash",
    "shard",
    "Layout",
]

MAX_KEY_UTF16_UNITS = 1024
SHARDS = 256
DEFAULT_BASE_PATH = "/deferred-spans"
# java.net.URLEncoder leaves exactly these bytes alone; space becomes '+', every other byte %XX (uppercase hex).
_UNRESERVED: FrozenSet[int] = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-*_")


def utf16_length(text: str) -> int:
    """Java's String.length(): UTF-16 code units, so a character outside the BMP counts 2."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def encode_key(key: str) -> str:
    """The znode name of a key. Unlike urllib.parse.quote_plus, '~' becomes %7E and '*' stays '*'.

    :raises ValueError: if the key is empty, longer than 1024 UTF-16 code units or holds an unpaired surrogate
    """
    if not isinstance(key, str):
        raise TypeError("deferred span key must be a str, not %s" % type(key).__name__)
    units = utf16_length(key)
    if units == 0:
        raise ValueError("deferred span key must not be empty")
    if units > MAX_KEY_UTF16_UNITS:
        raise ValueError("deferred span key is longer than %d UTF-16 code units: %d" % (MAX_KEY_UTF16_UNITS, units))
    try:
        data = key.encode("utf-8")  # strict: an unpaired surrogate has no UTF-8 encoding
    except UnicodeEncodeError as e:
        raise ValueError("deferred span key holds an unpaired surrogate at index %d: it is not valid Unicode and "
                         "has no UTF-8 encoding" % e.start) from None
    encoded = "".join(chr(b) if b in _UNRESERVED else "+" if b == 0x20 else "%%%02X" % b for b in data)
    if encoded in (".", ".."):  # not valid znode names
        encoded = encoded.replace(".", "%2E")
    return encoded


def java_string_hash(key: str) -> int:
    """Java's String.hashCode() over UTF-16 code units, as a signed 32-bit int."""
    data = key.encode("utf-16-be", "surrogatepass")
    h = 0
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] << 8 | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def shard(key: str) -> str:
    """Two lowercase hex digits: the low 8 bits of the hash of the key as given (not of the encoded key)."""
    return "%02x" % (java_string_hash(key) & (SHARDS - 1))


# The children of the base path that only the store writes (ZNodeLayout.storeOwnedRoots in Java).
_STORE_OWNED = ("open", "ended", "quarantine", "abandoned", "recovery-leader", "recovery-progress", "live")


class Layout:
    """Where a store under ``base_path`` keeps what (docs/znode-layout.md)."""

    def __init__(self, base_path: str = DEFAULT_BASE_PATH) -> None:
        if not isinstance(base_path, str) or not base_path.startswith("/") or base_path.endswith("/") \
                or "//" in base_path:
            raise ValueError("base path must be an absolute znode path without a trailing '/': %r" % (base_path,))
        self.base_path = base_path

    def open_path(self, key: str) -> str:
        """Where the begin record of the span under ``key`` lives."""
        return "%s/open/%s/%s" % (self.base_path, shard(key), encode_key(key))

    def owns(self, path: str) -> bool:
        """Whether ``path`` (as the server names it, with the chroot) is one of the store's own znodes: the base
        itself or inside one of the trees only the store writes (the base's other children are the user's)."""
        if path == self.base_path:
            return True
        return any(path == root or path.startswith(root + "/") for root in (
            "%s/%s" % (self.base_path, name) for name in _STORE_OWNED))

    @staticmethod
    def marker_path(open_path: str, span_id: str) -> str:
        """The empty, persistent child that names the span a record belongs to."""
        return "%s/span-%s" % (open_path, span_id)

    def ended_path(self, span_id: str) -> str:
        """Where a finished span waits for an exporter."""
        return "%s/ended/%s/%s" % (self.base_path, span_id[:2], span_id)

    @staticmethod
    def claim_path(ended_path: str) -> str:
        return ended_path + "/claim"

    def abandoned_path(self, open_path: str) -> str:
        """The tombstone recovery leaves when it ends the span under ``open_path`` as abandoned."""
        return "%s/abandoned/%s" % (self.base_path, open_path.rsplit("/", 1)[1])

    def quarantine_prefix(self, source_path: str) -> str:
        """The persistent-sequential name unreadable bytes are kept under: where they came from, '/' as '~'."""
        relative = source_path[len(self.base_path) + 1:] if source_path.startswith(self.base_path + "/") \
            else source_path
        return "%s/quarantine/%s-" % (self.base_path, relative.replace("/", "~"))

    def shard_paths(self, kind: str = "open") -> list:
        return ["%s/%s/%02x" % (self.base_path, kind, i) for i in range(SHARDS)]
