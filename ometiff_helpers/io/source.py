"""Byte sources: HTTP range requests, local files and in-memory bytes, with a request ledger and a block cache.

All sources share the planning logic in `ByteSource`: ranges are clamped to the file size, served from the cache when
possible, the rest coalesced when close and sent as one *round* of concurrent requests. `HttpSource` adds the
transport rules (one ranged GET first and never HEAD, streamed bodies that are never read past what was asked, own
retries/redirects/deadlines, secret-safe errors). `FileSource` and `BytesSource` follow the same plan so that the
ledger counts the requests an HTTP read would make.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import re
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.retry import Retry

from ometiff_helpers.errors import (
    AccessDenied,
    ConnectionFailed,
    CorruptTiff,
    DeadlineExceeded,
    LimitExceeded,
    NotATiff,
    NotFound,
    OmeTiffError,
    ProtocolError,
    RangeNotSupported,
    RateLimited,
    RedirectError,
    RemoteError,
    ServerError,
)
from ometiff_helpers.io.segments import Segments
from ometiff_helpers.urls import SecretURL, install_secret_filter, redact_text

__all__ = [
    "ByteSource",
    "BytesSource",
    "FileSource",
    "HttpOptions",
    "HttpSource",
    "Ledger",
    "Range",
    "RequestRecord",
    "SourceInfo",
    "open_source",
]

Range = tuple[int, int]
Consumer = Callable[[bytes], None]

log = logging.getLogger(__name__)
# requests/urllib3 put the full URL into their DEBUG records: scrub ours and theirs
install_secret_filter(__name__, "urllib3")

_KIB = 1024
_MIB = 1024 * 1024


def human_bytes(n: int | float) -> str:
    """1536 -> '1.5 KiB'; exact below 1 KiB."""
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover


# --- records ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestRecord:
    """One request sent (or one read of a local file): half-open byte range, bytes received, status, times."""

    start: int
    end: int
    nbytes: int
    status: int
    t_start: float
    t_end: float
    attempt: int = 1
    note: str = ""


class Ledger:
    """Every request a source made, with totals; safe to update from several threads."""

    def __init__(self, max_concurrency: int = 16) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []
        self._rounds = 0
        self._max_concurrency = max(1, max_concurrency)

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def add_round(self, n_requests: int) -> None:
        """Count the round(s) of one `open`/`fetch` call that sends ``n_requests`` requests."""
        if n_requests > 0:
            with self._lock:
                self._rounds += math.ceil(n_requests / self._max_concurrency)

    @property
    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._records)

    @property
    def bytes(self) -> int:
        with self._lock:
            return sum(r.nbytes for r in self._records)

    @property
    def rounds(self) -> int:
        with self._lock:
            return self._rounds

    @property
    def seconds(self) -> float:
        with self._lock:
            if not self._records:
                return 0.0
            return max(r.t_end for r in self._records) - min(r.t_start for r in self._records)

    def as_dict(self) -> dict[str, int | float]:
        return {
            "count": self.count,
            "bytes": self.bytes,
            "rounds": self.rounds,
            "seconds": round(self.seconds, 6),
        }

    def __repr__(self) -> str:
        d = self.as_dict()
        return f"Ledger(count={d['count']}, bytes={d['bytes']}, rounds={d['rounds']})"


@dataclass(frozen=True)
class SourceInfo:
    """What a source learned about its file on `open()`."""

    size: int
    etag: str | None
    last_modified: str | None
    content_type: str | None
    kind: str  # "http" | "file" | "bytes"
    display_name: str

    def as_dict(self) -> dict[str, object]:
        return {
            "size": self.size,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "content_type": self.content_type,
            "kind": self.kind,
            "display_name": self.display_name,
        }


@dataclass(frozen=True)
class HttpOptions:
    """Transport settings and budgets. Times in seconds, sizes in bytes. Local sources use the planning fields."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0  # per socket read
    request_deadline: float = 60.0  # wall clock for one range, retries included
    deadline: float = (
        600.0  # wall clock spent in requests by one source (idle time between calls not counted)
    )
    max_retries: int = 3  # for resets, 429 and 5xx; a truncated body is retried once
    backoff_base: float = 0.2
    backoff_max: float = 5.0
    retry_after_cap: float = 10.0
    max_redirects: int = 5
    max_concurrency: int = 16
    coalesce_gap: int = 32 * _KIB
    max_request_bytes: int = 16 * _MIB  # a merged request is never larger (single ranges are split)
    small_file_limit: int = 1 * _MIB  # a whole-file 200 answer is accepted up to this size
    max_requests: int = 5000
    max_bytes: int = 1024 * _MIB
    consumer_chunk: int = 1 * _MIB
    follow_cross_host_redirects: bool = True
    user_agent: str = "ometiff-inspect"
    #: extra request headers (e.g. Authorization); sent to the original origin only, never after a cross-host redirect
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)


def coalesce(spans: Iterable[Range], gap: int, max_size: int) -> list[Range]:
    """Sort and merge half-open spans separated by at most ``gap`` bytes; no merged span exceeds ``max_size``
    (longer single spans are split into ``max_size`` pieces)."""
    merged: list[Range] = []
    for s, e in sorted(spans):
        if merged and s - merged[-1][1] <= gap and max(e, merged[-1][1]) - merged[-1][0] <= max_size:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    out: list[Range] = []
    for s, e in merged:
        while e - s > max_size:
            out.append((s, s + max_size))
            s += max_size
        out.append((s, e))
    return out


# --- the abstract source ---------------------------------------------------------------------------------------------


class ByteSource(ABC):
    """Random access to the bytes of one file, in rounds of (coalesced, concurrent) range reads."""

    kind = "bytes"

    def __init__(self, options: HttpOptions | None = None) -> None:
        self.options = options or HttpOptions()
        self.ledger = Ledger(self.options.max_concurrency)
        self._cache = Segments()
        self._size: int | None = None
        self._etag: str | None = None
        self._last_modified: str | None = None
        self._content_type: str | None = None
        self._closed = False
        self._open_lock = threading.Lock()

    # --- what subclasses provide ---------------------------------------------------------------------------------

    @property
    @abstractmethod
    def display_name(self) -> str:
        """A name safe to print (redacted URL, path, "bytes")."""

    @abstractmethod
    def _open_first(self, first_read: int) -> bytes:
        """Read ``[0, first_read)`` (or less at EOF), set ``_size`` and the validators, return the bytes."""

    @abstractmethod
    def _get(self, span: Range, consumer: Consumer | None) -> bytes:
        """Read one span (already clamped, not cached); with a consumer, pass the bytes to it and return b""."""

    def _run(self, jobs: Sequence[tuple[Range, Consumer | None]]) -> list[bytes]:
        """Run one round of jobs; local sources run them in order."""
        return [self._get(span, consumer) for span, consumer in jobs]

    # --- public API ----------------------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        if self._size is None:
            raise RuntimeError(f"{self.display_name}: size unknown before open()")
        return self._size

    @property
    def is_open(self) -> bool:
        return self._size is not None

    @property
    def info(self) -> SourceInfo:
        return SourceInfo(
            size=self.size,
            etag=self._etag,
            last_modified=self._last_modified,
            content_type=self._content_type,
            kind=self.kind,
            display_name=self.display_name,
        )

    def open(self, first_read: int = 64 * _KIB) -> bytes:
        """First request: bytes ``[0, first_read)`` (fewer when the file is smaller); learns the size."""
        if first_read <= 0:
            raise ValueError("first_read must be positive")
        with self._open_lock:
            if self._size is None:
                self._check_budget(1, first_read)
                self.ledger.add_round(1)
                try:
                    data = self._open_first(first_read)
                except BaseException:
                    self._forget()  # reusing the source runs the first-read checks again
                    raise
                self._cache.add(0, data)
                log.debug("opened %s: %d bytes", self.display_name, self._size or 0)
                return data
        end = min(first_read, self.size)
        return self.fetch([(0, end)])[0] or b""

    def fetch(
        self, ranges: Sequence[Range], *, consumers: Mapping[int, Consumer] | None = None
    ) -> list[bytes | None]:
        """One round: the bytes of each half-open range (clamped to the file); ranges with a consumer are streamed
        to it and come back as ``None``."""
        if self._closed:
            raise RuntimeError(f"{self.display_name}: source is closed")
        if not self.is_open:
            self.open()
        consumers = consumers or {}
        size = self.size
        clamped: list[Range] = []
        for s, e in ranges:
            if s < 0 or e < s:
                raise ValueError(f"bad byte range ({s}, {e})")
            clamped.append((min(s, size), min(e, size)))

        jobs: list[tuple[Range, Consumer | None]] = []
        streamed: set[int] = set()
        plain_missing: list[Range] = []
        for i, (s, e) in enumerate(clamped):
            if s >= e:
                continue
            gaps = self._cache.missing(s, e)
            if i in consumers:
                if gaps:
                    streamed.add(i)
                    jobs.append(((s, e), consumers[i]))
                continue
            plain_missing.extend(gaps)
        jobs.extend(
            (span, None) for span in coalesce(plain_missing, self.options.coalesce_gap, self._max_request())
        )

        if jobs:
            self._check_budget(len(jobs), sum(b - a for (a, b), _ in jobs))
            self.ledger.add_round(len(jobs))
            results = self._run(jobs)
            for ((a, _b), consumer), data in zip(jobs, results, strict=True):
                if consumer is None:
                    self._cache.add(a, data)

        out: list[bytes | None] = []
        for i, (s, e) in enumerate(clamped):
            if i in consumers:
                if i not in streamed and s < e:
                    consumers[i](self._cached(s, e))
                out.append(None)
            else:
                out.append(self._cached(s, e))
        return out

    def _forget(self) -> None:
        """Back to unopened after a failed first read: size and validators unknown, nothing cached (a web page's
        bytes, or a size learned from a cut-off answer, must not serve a later read)."""
        self._size = None
        self._etag = self._last_modified = self._content_type = None
        self._cache.clear()

    def _cached(self, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` that ``fetch`` has just made sure are in the cache."""
        data = self._cache.get(start, end)
        if data is None:  # pragma: no cover - guarded by missing()
            raise RuntimeError("block cache miss")
        return data

    def read(self, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` (clamped to the file)."""
        return self.fetch([(start, end)])[0] or b""

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> ByteSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        size = f"{self._size:,} bytes" if self._size is not None else "not opened"
        return f"{type(self).__name__}({self.display_name!r}, {size})"

    # --- helpers -------------------------------------------------------------------------------------------------

    def _max_request(self) -> int:
        return max(1, self.options.max_request_bytes)

    def _check_budget(self, n_requests: int, n_bytes: int) -> None:
        opts = self.options
        if self.ledger.count + n_requests > opts.max_requests:
            raise LimitExceeded(
                f"reading {self.display_name} needs more than {opts.max_requests:,} requests "
                f"({self.ledger.count:,} sent, {n_requests:,} more planned). The file's IFDs are probably many and "
                "scattered.",
                name="max_requests",
                value=self.ledger.count + n_requests,
                limit=opts.max_requests,
                hint="Provide an offsets.json sidecar with the IFD offsets (as Viv does) or raise max_requests.",
            )
        if self.ledger.bytes + n_bytes > opts.max_bytes:
            raise LimitExceeded(
                f"reading {self.display_name} needs more than {human_bytes(opts.max_bytes)} "
                f"({human_bytes(self.ledger.bytes)} read, {human_bytes(n_bytes)} more planned).",
                name="max_bytes",
                value=self.ledger.bytes + n_bytes,
                limit=opts.max_bytes,
                hint="Provide an offsets.json sidecar with the IFD offsets (as Viv does) or raise max_bytes.",
            )


# --- local sources ---------------------------------------------------------------------------------------------------


class BytesSource(ByteSource):
    """An in-memory file; the ledger counts the requests an HTTP source would make."""

    kind = "bytes"

    def __init__(self, data: bytes, name: str = "bytes", *, options: HttpOptions | None = None) -> None:
        super().__init__(options)
        self._data = bytes(data)
        self._name = name

    @property
    def display_name(self) -> str:
        return self._name

    def _open_first(self, first_read: int) -> bytes:
        self._size = len(self._data)
        self._content_type = None
        return self._get((0, min(first_read, self._size)), None)

    def _get(self, span: Range, consumer: Consumer | None) -> bytes:
        t0 = time.monotonic()
        data = self._data[span[0] : span[1]]
        self.ledger.add(RequestRecord(span[0], span[1], len(data), 206, t0, time.monotonic(), 1, self.kind))
        if consumer is not None:
            for pos in range(0, len(data), self.options.consumer_chunk):
                consumer(data[pos : pos + self.options.consumer_chunk])
            return b""
        return data


class FileSource(ByteSource):
    """A local file; the ledger counts the requests an HTTP source would make. Each read opens the file briefly,
    so no handle stays open between reads."""

    kind = "file"

    def __init__(self, path: str | Path, *, options: HttpOptions | None = None) -> None:
        super().__init__(options)
        self.path = Path(path)

    @property
    def display_name(self) -> str:
        return str(self.path)

    def _open_first(self, first_read: int) -> bytes:
        failure: OmeTiffError | None = None
        try:
            if self.path.is_dir():
                raise IsADirectoryError
            self._size = self.path.stat().st_size
        except FileNotFoundError:
            failure = NotFound(f"no file at {self.path}: check the path", url=str(self.path))
        except IsADirectoryError:
            failure = NotFound(f"{self.path} is a directory, not a file: check the path", url=str(self.path))
        except OSError as exc:
            failure = ConnectionFailed(f"cannot open {self.path}: {exc.strerror}", url=str(self.path))
        if failure is not None:
            raise failure
        return self._get((0, min(first_read, self.size)), None)

    def _get(self, span: Range, consumer: Consumer | None) -> bytes:
        t0 = time.monotonic()
        start, end = span
        step = self.options.consumer_chunk if consumer is not None else end - start
        total = 0
        parts: list[bytes] = []
        failure: OmeTiffError | None = None
        try:
            with self.path.open("rb") as fh:
                fh.seek(start)
                while total < end - start:
                    piece = fh.read(min(step, end - start - total))
                    if not piece:
                        break
                    total += len(piece)
                    if consumer is not None:
                        consumer(piece)
                    else:
                        parts.append(piece)
        except PermissionError:
            failure = AccessDenied(f"no permission to read {self.path}", url=str(self.path))
        except FileNotFoundError:
            failure = NotFound(f"{self.path} disappeared while reading: check the path", url=str(self.path))
        self.ledger.add(RequestRecord(start, end, total, 206, t0, time.monotonic(), 1, self.kind))
        if failure is None and total < end - start:
            failure = ProtocolError(
                f"{self.path} shrank while reading: got {total} of {end - start} bytes at offset {start}",
                url=str(self.path),
            )
        if failure is not None:
            raise failure
        return b"" if consumer is not None else b"".join(parts)


# --- HTTP ------------------------------------------------------------------------------------------------------------

_CONTENT_RANGE_RE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)
_CONTENT_RANGE_416_RE = re.compile(r"^\s*bytes\s+\*/(\d+)\s*$", re.IGNORECASE)
_REDIRECTS = (301, 302, 303, 307, 308)
_ERROR_SNIPPET = 200
_ERROR_BODY_READ = 4 * _KIB
_READ_CHUNK = 256 * _KIB


def read_capped(response: requests.Response, limit: int, deadline_at: float, into: bytearray) -> None:
    """Append at most ``limit`` bytes of ``response``'s body to ``into``: raw (never decoded, so no gzip bomb), one
    socket read at a time, stopping at EOF or once ``time.monotonic()`` passes ``deadline_at`` (a server that sends
    a byte now and then never trips the per-read timeout). urllib3's errors propagate; ``into`` keeps what arrived.
    """
    while len(into) < limit and time.monotonic() < deadline_at:
        chunk = response.raw.read1(limit - len(into), decode_content=False)
        if not chunk:
            break
        into += chunk


def sanitize_snippet(data: bytes, limit: int = _ERROR_SNIPPET) -> str:
    """A short printable preview of a response body: tags dropped, whitespace collapsed, secrets scrubbed."""
    text = data[: limit * 8].decode("utf-8", errors="replace")
    text = re.sub(r"<script.*?</script>|<style.*?</style>", " ", text, flags=re.IGNORECASE | re.DOTALL)
    if text.lstrip().startswith("<"):
        text = re.sub(r"<[^>]*>", " ", text)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = re.sub(r"\s+", " ", text).strip()
    text = redact_text(text)
    return text[:limit] + ("…" if len(text) > limit else "")


def _sniff_text_kind(content_type: str | None, data: bytes) -> str | None:
    """ "html" / "json" when a first read is obviously a web page or a JSON document, else None."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if ctype in ("text/html", "application/xhtml+xml") or head.startswith((b"<!doctype", b"<html")):
        return "html"
    if ctype.endswith("json") or (
        head[:1] in (b"{", b"[") and head[1:].lstrip()[:1] in (b'"', b"{", b"]", b"}")
    ):
        return "json"
    return None


def _parse_length(value: str | None) -> int | None:
    """A Content-Length header's value; None when absent or not a plain decimal number (``"12, 12"``, ``"²"``)."""
    m = re.fullmatch(r"\s*([0-9]+)\s*", value or "")
    return int(m.group(1)) if m else None


def _parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None when absent or garbage."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class _NoRedirectSession(requests.Session):
    """A session that never resolves redirects itself. Even with ``allow_redirects=False``, `requests.Session.send`
    walks one step of `resolve_redirects` to fill ``Response.next``, and that step reads the 3xx's whole body
    (decoded, unbounded) and parses its Location (a raw ValueError). This module follows redirects on its own."""

    def resolve_redirects(self, *args: object, **kwargs: object) -> Iterator[Any]:
        return iter(())


# --- the deadline watchdog ------------------------------------------------------------------------------------------
# A socket read timeout bounds one read, not a response: a server that sends its status line and headers one byte at
# a time keeps every read short while http.client waits hours for the blank line. Each range request therefore arms a
# timer at its deadline; the connection it uses registers itself (thread-local, from inside urllib3) and the timer
# shuts that socket down, so the blocked read returns at once.

_watched = threading.local()


def _shut(sock: socket.socket | None) -> None:
    if sock is None:
        return
    # the plain socket's shutdown, also under TLS: SSLSocket.shutdown would unwrap it under the reader's feet
    with contextlib.suppress(OSError):  # already closed
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watch:
    """The deadline of one range request: `fire` (the timer) cuts the connection attached by the request's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn: HTTPConnection | None = None
        # the connection's socket as last seen: http.client drops ``conn.sock`` when a response says
        # "Connection: close", while the response still reads from it
        self._sock: socket.socket | None = None
        self.fired = False

    def attach(self, conn: HTTPConnection) -> None:
        with self._lock:
            if conn is not self._conn:
                self._conn, self._sock = conn, None
            self._sock = conn.sock or self._sock
            if self.fired:
                _shut(self._sock)

    def detach(self) -> None:
        """The request no longer uses its connection (which may go back to the pool for another request)."""
        with self._lock:
            self._conn = self._sock = None

    def fire(self) -> None:
        with self._lock:
            self.fired = True
            if self._conn is not None:
                _shut(self._conn.sock or self._sock)


@contextlib.contextmanager
def _watching(watch: _Watch, deadline_at: float) -> Iterator[_Watch]:
    """Arm a timer that fires ``watch`` at ``deadline_at`` for the requests this thread sends; disarm it on exit."""
    timer = threading.Timer(max(0.0, deadline_at - time.monotonic()), watch.fire)
    timer.name = "ometiff-deadline"
    timer.daemon = True
    outer = getattr(_watched, "watch", None)
    _watched.watch = watch
    timer.start()
    try:
        yield watch
    finally:
        timer.cancel()
        timer.join()
        _watched.watch = outer


def _attach_current(conn: HTTPConnection) -> None:
    watch: _Watch | None = getattr(_watched, "watch", None)
    if watch is not None:
        watch.attach(conn)


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        _attach_current(self)  # while connecting (the socket appears midway)
        super().connect()
        _attach_current(self)  # a deadline that passed while connecting cuts the new socket now

    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        _attach_current(self)  # a kept-alive connection is not connected again
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        _attach_current(self)
        super().connect()
        _attach_current(self)

    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        _attach_current(self)
        super().request(*args, **kwargs)


class _WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = MappingProxyType({"http": _WatchedHTTPConnectionPool, "https": _WatchedHTTPSConnectionPool})


class _WatchedAdapter(HTTPAdapter):
    """An adapter whose connections register with the deadline watch of the request using them."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_WATCHED_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = dict(_WATCHED_POOLS)
        return manager


class _Retry(Exception):
    """Internal: this attempt failed in a way worth retrying."""

    def __init__(self, kind: str, message: str, wait: float | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind  # "reset" | "truncated" | "timeout" | "status"
        self.message = message
        self.wait = wait
        self.status = status


@dataclass(repr=False)
class _Attempt:
    """State of one range request across its retries and redirects."""

    span: Range
    consumer: Consumer | None
    deadline_at: float
    first: bool
    buf: bytearray = field(default_factory=bytearray)
    pending: bytearray = field(default_factory=bytearray)  # consumer bytes not yet delivered
    got: int = 0
    attempt: int = 0
    started: float = field(default_factory=time.monotonic)
    watch: _Watch = field(default_factory=_Watch)

    @property
    def expired(self) -> bool:
        """The watchdog cut the connection: whatever arrived since may be cut short."""
        return self.watch.fired

    def __repr__(self) -> str:
        return f"_Attempt(span={self.span}, got={self.got}, attempt={self.attempt})"


class HttpSource(ByteSource):
    """A remote file read with HTTP range requests (GET only) through one keep-alive `requests.Session`."""

    kind = "http"

    def __init__(
        self, url: str | SecretURL, *, token: str | None = None, options: HttpOptions | None = None
    ) -> None:
        super().__init__(options)
        self.url = url if isinstance(url, SecretURL) and token is None else SecretURL(url, token)
        if not self.url.is_http:
            raise ConnectionFailed(
                f"only http:// and https:// URLs can be read, not {self.url.redacted}", url=self.url.redacted
            )
        self._effective = self.url
        self._busy = 0.0  # seconds spent in rounds so far (the per-source deadline)
        self._round_started = self._round_deadline = time.monotonic()
        self._session: requests.Session | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._state_lock = threading.Lock()

    @property
    def display_name(self) -> str:
        return self.url.redacted

    @property
    def effective_url(self) -> SecretURL:
        """Where the bytes come from after redirects (later ranges go straight there)."""
        return self._effective

    @property
    def session(self) -> requests.Session:
        """The keep-alive session, for side requests (the diagnostics' probes), which keep their own count."""
        return self._get_session()

    # --- session -------------------------------------------------------------------------------------------------

    def _get_session(self) -> requests.Session:
        with self._state_lock:
            if self._session is None:
                session = _NoRedirectSession()
                adapter = _WatchedAdapter(
                    pool_connections=4,
                    pool_maxsize=max(16, self.options.max_concurrency),
                    max_retries=Retry(
                        total=0, connect=0, read=0, redirect=0, status=0, other=0, raise_on_status=False
                    ),
                )
                session.mount("http://", adapter)
                session.mount("https://", adapter)
                session.headers["Accept-Encoding"] = "identity"
                session.headers["User-Agent"] = self.options.user_agent
                self._session = session
            return self._session

    def close(self) -> None:
        super().close()
        with self._state_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
            if self._session is not None:
                self._session.close()
                self._session = None

    def _run(self, jobs: Sequence[tuple[Range, Consumer | None]]) -> list[bytes]:
        self._begin_round()
        try:
            return self._run_round(jobs)
        finally:
            self._end_round()

    def _begin_round(self) -> None:
        """Start the clock of one round; the source's deadline counts time spent in rounds, not idle time."""
        self._round_started = time.monotonic()
        left = self.options.deadline - self._busy
        if left <= 0:
            raise DeadlineExceeded(
                f"reading {self.url.redacted} has taken {self._busy:.0f} s, the limit for one file",
                url=self.url.redacted,
                hint="The server is too slow; try again later or raise the deadline.",
            )
        self._round_deadline = self._round_started + left

    def _end_round(self) -> None:
        self._busy += time.monotonic() - self._round_started

    def _run_round(self, jobs: Sequence[tuple[Range, Consumer | None]]) -> list[bytes]:
        if len(jobs) == 1:
            return [self._get(*jobs[0])]
        with self._state_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.options.max_concurrency, thread_name_prefix="range"
                )
            pool = self._pool
        futures = [pool.submit(self._get, span, consumer) for span, consumer in jobs]
        failure: BaseException | None = None
        for fut in futures:
            exc = None if fut.cancelled() else fut.exception()
            if exc is not None and failure is None:
                failure = exc
                for other in futures:
                    other.cancel()  # queued requests are dropped; running ones end by their deadline
        if failure is not None:
            raise failure
        return [fut.result() for fut in futures]

    # --- the two entry points ------------------------------------------------------------------------------------

    def _open_first(self, first_read: int) -> bytes:
        self._begin_round()
        try:
            return self._request((0, first_read), None, first=True)
        finally:
            self._end_round()

    def _get(self, span: Range, consumer: Consumer | None) -> bytes:
        return self._request(span, consumer, first=False)

    def _forget(self) -> None:
        super()._forget()
        self._effective = self.url  # a redirect that led to a web page is followed afresh

    # --- one range, with retries ---------------------------------------------------------------------------------

    def _deadline_for_request(self) -> float:
        return min(time.monotonic() + self.options.request_deadline, self._round_deadline)

    def _request(self, span: Range, consumer: Consumer | None, *, first: bool) -> bytes:
        state = _Attempt(span=span, consumer=consumer, deadline_at=self._deadline_for_request(), first=first)
        with _watching(state.watch, state.deadline_at):
            return self._retrying(state)

    def watchdog(self, seconds: float) -> contextlib.AbstractContextManager[_Watch]:
        """For side requests sent through `session` (the probes): the connection this thread uses is cut once
        ``seconds`` have passed, headers included; the context's value tells whether it ``fired``."""
        return _watching(_Watch(), time.monotonic() + seconds)

    def _retrying(self, state: _Attempt) -> bytes:
        consumer = state.consumer
        opts = self.options
        resets = truncations = 0
        failure: OmeTiffError | None = None
        while failure is None:
            state.attempt += 1
            retry: _Retry | None = None
            try:
                done = self._attempt(state)
            except _Retry as r:
                retry = r
            except OmeTiffError:
                if state.expired:  # e.g. headers cut off by the watchdog, read as a bad answer
                    raise self._deadline_error(state, "the server sends too slowly") from None
                raise
            if state.expired:  # what arrived may be cut short: neither retry nor trust it
                raise self._deadline_error(state, "the server sends too slowly")
            if retry is None:
                if consumer is not None and state.pending:
                    consumer(bytes(state.pending))
                    state.pending.clear()
                return done
            # decide whether to try again
            if retry.kind == "truncated":
                truncations += 1
                if truncations > 1:
                    failure = ProtocolError(
                        f"truncated response from {self._effective.redacted}: the connection closed early twice "
                        f"({retry.message})",
                        url=self._effective.redacted,
                    )
                    break
            else:
                resets += 1
                if resets > opts.max_retries:
                    failure = self._retries_exhausted(retry, resets)
                    break
            wait = self._backoff(resets + truncations) if retry.wait is None else retry.wait
            remaining = state.deadline_at - time.monotonic()
            if wait >= remaining:
                failure = self._deadline_error(state, f"the next retry (in {wait:.1f} s) would pass it")
                if retry.kind == "status" and retry.wait is not None and retry.status in (429, 503):
                    failure = RateLimited(
                        f"{self._effective.redacted} is rate-limiting us (HTTP {retry.status}) and asks to wait "
                        f"{retry.wait:.0f} s, longer than the time left for this request",
                        url=self._effective.redacted,
                        status=retry.status,
                        retry_after=retry.wait,
                        hint="Try again later.",
                    )
                break
            log.debug("retrying %s after %s: waiting %.2f s", self._effective.redacted, retry.message, wait)
            time.sleep(max(0.0, wait))
        raise failure

    def _backoff(self, n: int) -> float:
        base = min(self.options.backoff_max, self.options.backoff_base * 2 ** (n - 1))
        return base * random.uniform(0.5, 1.5)  # noqa: S311 - jitter, not security

    def _retries_exhausted(self, retry: _Retry, tries: int) -> OmeTiffError:
        where = self._effective.redacted
        if retry.kind == "status" and retry.status == 429:
            return RateLimited(
                f"{where} kept answering HTTP 429 (too many requests) after {tries} attempts",
                url=where,
                status=429,
                retry_after=retry.wait,
                hint="Wait a minute and try again.",
            )
        if retry.kind == "status":
            return ServerError(
                f"the server kept failing (HTTP {retry.status}) after {tries} attempts for {where}",
                url=where,
                status=retry.status,
                hint="The server has a problem; try again later or ask its administrators.",
            )
        if retry.kind == "timeout":
            return DeadlineExceeded(
                f"no answer from {self._effective.host} after {tries} attempts ({retry.message})",
                url=where,
                hint="The server is too slow or unreachable; try again later.",
            )
        return ProtocolError(
            f"the connection to {self._effective.host} kept breaking after {tries} attempts ({retry.message})",
            url=where,
        )

    def _deadline_error(self, state: _Attempt, why: str) -> DeadlineExceeded:
        s, e = state.span
        waited = time.monotonic() - state.started
        return DeadlineExceeded(
            f"reading bytes {s:,}-{e - 1:,} of {self.url.redacted} ran out of time after {waited:.1f} s ({why}); "
            f"{state.got:,} of {e - s:,} bytes arrived",
            url=self.url.redacted,
            hint="The server is too slow; try again later or raise the deadline.",
        )

    # --- one attempt (following redirects) -----------------------------------------------------------------------

    def _headers(self, url: SecretURL, span: Range) -> dict[str, str]:
        headers = {"Range": f"bytes={span[0]}-{span[1] - 1}", "Accept-Encoding": "identity"}
        if self._etag and not self._etag.startswith("W/"):
            headers["If-Match"] = self._etag
        if url.origin == self.url.origin:
            headers.update(self.options.headers)
        return headers

    def _send(self, url: SecretURL, span: Range, deadline_at: float) -> requests.Response:
        """One GET without redirects; the URL goes out exactly as given. Raises _Retry or an OmeTiffError."""
        session = self._get_session()
        remaining = deadline_at - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded(f"no time left to read {self.url.redacted}", url=self.url.redacted)
        timeout = (min(self.options.connect_timeout, remaining), min(self.options.read_timeout, remaining))
        failure: OmeTiffError | _Retry | None = None
        response: requests.Response | None = None
        try:
            prepared = session.prepare_request(
                requests.Request("GET", url.reveal(), headers=self._headers(url, span))
            )
            prepared.url = url.reveal()  # requests re-quotes the URL while preparing: send it byte for byte
            settings = session.merge_environment_settings(prepared.url, {}, True, None, None)
            response = session.send(
                prepared,
                stream=True,
                timeout=timeout,
                allow_redirects=False,
                verify=settings.get("verify") or True,
                proxies=settings.get("proxies") or {},
                cert=settings.get("cert"),
            )
        except requests.exceptions.SSLError as exc:
            failure = ConnectionFailed(
                f"TLS error talking to {url.host}: {_tls_reason(exc)}. Certificate verification stays on.",
                url=url.redacted,
                hint="Use the portal's https URL; if it is an internal server, install its CA certificate.",
            )
        except requests.exceptions.ConnectTimeout:
            failure = _Retry("timeout", f"connecting to {url.host} timed out")
        except requests.exceptions.ReadTimeout:
            failure = _Retry("timeout", f"{url.host} sent no response in time")
        except requests.exceptions.ConnectionError as exc:
            failure = _classify_connection_error(exc, url)
        except requests.exceptions.InvalidURL:
            failure = ConnectionFailed(f"not a valid URL: {url.redacted}", url=url.redacted)
        except requests.exceptions.RequestException as exc:
            failure = ConnectionFailed(
                f"request to {url.host} failed: {type(exc).__name__}", url=url.redacted
            )
        if failure is not None:
            raise failure
        assert response is not None
        return response

    def _attempt(self, state: _Attempt) -> bytes:
        url = self._effective
        visited = [url]
        while True:
            start = state.span[0] + state.got
            span = (start, state.span[1])
            t0 = time.monotonic()
            log.debug("GET %s bytes=%d-%d (attempt %d)", url.redacted, span[0], span[1] - 1, state.attempt)
            try:
                response = self._send(url, span, state.deadline_at)
            except BaseException:
                state.watch.detach()  # urllib3 closed and discarded the connection
                raise
            try:
                status = response.status_code
                if status in _REDIRECTS and response.headers.get("Location"):
                    target = self._redirect_target(url, _location(url, response.headers["Location"]), visited)
                    self._record(span, 0, status, t0, state, f"redirect to {target.redacted}")
                    visited.append(target)
                    url = target
                    continue
                return self._handle(response, url, visited, span, state, t0)
            finally:
                state.watch.detach()  # before the connection can go back to the pool for another request
                response.close()

    def _redirect_target(self, current: SecretURL, target: SecretURL, visited: list[SecretURL]) -> SecretURL:
        hop = f"from {current.redacted} to {target.redacted}"
        if not target.is_http:
            raise RedirectError(f"refused a redirect to a non-HTTP URL ({hop})", url=current.redacted)
        if current.scheme == "https" and target.scheme == "http":
            raise RedirectError(f"refused a redirect from https to plain http ({hop})", url=current.redacted)
        if target.origin != current.origin and not self.options.follow_cross_host_redirects:
            raise RedirectError(f"refused a redirect to another host ({hop})", url=current.redacted)
        if target in visited:
            raise RedirectError(f"redirect loop ({hop} was already visited)", url=self.url.redacted)
        if len(visited) > self.options.max_redirects:
            raise RedirectError(
                f"too many redirects (more than {self.options.max_redirects}) starting at {self.url.redacted}",
                url=self.url.redacted,
            )
        return target

    def _record(
        self, span: Range, nbytes: int, status: int, t0: float, state: _Attempt, note: str = ""
    ) -> None:
        self.ledger.add(
            RequestRecord(
                span[0], span[1], nbytes, status, t0, time.monotonic(), state.attempt, redact_text(note)
            )
        )

    # --- one response --------------------------------------------------------------------------------------------

    def _handle(
        self,
        response: requests.Response,
        url: SecretURL,
        visited: list[SecretURL],
        span: Range,
        state: _Attempt,
        t0: float,
    ) -> bytes:
        status = response.status_code
        headers = response.headers
        where = url.redacted
        after = f" after redirect from {visited[0].redacted} to {url.redacted}" if len(visited) > 1 else ""

        if status in (401, 403):
            snippet = self._error_snippet(response, state)
            self._record(span, 0, status, t0, state, "access denied")
            raise AccessDenied(
                f"access denied (HTTP {status}) for {where}{after}: the token is likely missing or expired"
                + (f". Server said: {snippet}" if snippet else ""),
                url=where,
                status=status,
                hint="Copy a fresh link (with its token) from the portal and try again.",
            )
        if status in (404, 410):
            self._record(span, 0, status, t0, state, "not found")
            raise NotFound(
                f"no file at this URL: check the path (HTTP {status} for {where}{after})",
                url=where,
                status=status,
            )
        if status == 412:
            self._record(span, 0, status, t0, state, "precondition failed")
            raise ProtocolError(
                f"file changed during read: {where} no longer matches ETag {self._etag} (HTTP 412)",
                url=where,
                status=412,
                hint="The file was replaced on the server; inspect it again.",
            )
        if status == 416:
            self._record(span, 0, status, t0, state, "range not satisfiable")
            raise self._unsatisfiable(headers.get("Content-Range"), span, state, where)
        if status == 429 or 500 <= status <= 599:
            wait = _parse_retry_after(headers.get("Retry-After"))
            self._record(
                span, 0, status, t0, state, f"retryable status, Retry-After={headers.get('Retry-After')}"
            )
            if wait is not None and wait > self.options.retry_after_cap:
                raise RateLimited(
                    f"{where} asks us to wait {wait:,.0f} s before retrying (HTTP {status}); that is longer than "
                    f"the {self.options.retry_after_cap:.0f} s we wait",
                    url=where,
                    status=status,
                    retry_after=wait,
                    hint="Try again later.",
                )
            raise _Retry("status", f"HTTP {status}", wait=wait, status=status)
        if status not in (200, 206):
            self._record(span, 0, status, t0, state, "unexpected status")
            raise ProtocolError(f"unexpected HTTP {status} from {where}{after}", url=where, status=status)

        encoding = headers.get("Content-Encoding", "identity").strip().lower()
        if status == 200:
            return self._whole_file(response, url, span, state, t0, encoding)
        if encoding not in ("", "identity"):
            self._record(span, 0, status, t0, state, f"content-encoding {encoding}")
            raise ProtocolError(
                f"the server applied Content-Encoding: {encoding} to a byte range of {where}; encoded ranges are not "
                "file bytes",
                url=where,
                status=status,
                hint="The object is probably stored with Content-Encoding: gzip; store it uncompressed.",
            )
        self._check_validators(headers, where, span, state, t0)
        expected = self._check_content_range(headers, span, where, state, t0)
        self._read_body(response, span, expected, state, t0, status)
        self._effective = url
        data = bytes(state.buf)
        failure = self._after_first(headers, data, where) if state.first else None
        if failure is not None:
            data = b""  # a web page may echo the token: keep it out of the traceback's locals
            state.buf.clear()
            raise failure
        return data

    def _error_snippet(self, response: requests.Response, state: _Attempt) -> str:
        data = bytearray()
        try:
            read_capped(response, _ERROR_BODY_READ, state.deadline_at, data)
        except Exception:  # the body is only decoration for the message
            log.debug("could not read the error body")
        return sanitize_snippet(bytes(data))

    def _unsatisfiable(
        self, content_range: str | None, span: Range, state: _Attempt, where: str
    ) -> OmeTiffError:
        m = _CONTENT_RANGE_416_RE.match(content_range or "")
        total = int(m.group(1)) if m else None
        if (total is None and state.first) or (total is not None and total < 8):
            n = "an unknown size" if total is None else f"{total} bytes"
            return NotATiff(
                f"file too short: the server says {where} has {n} (HTTP 416 for bytes {span[0]}-{span[1] - 1}); "
                "a TIFF needs at least 8 bytes",
                kind="empty" if total == 0 else "too-short",
            )
        return CorruptTiff(
            f"file is {total if total is not None else 'an unknown number of'} bytes, too small: bytes "
            f"{span[0]:,}-{span[1] - 1:,} are past its end (HTTP 416 from {where})",
            offset=span[0],
        )

    def _check_validators(
        self, headers: Mapping[str, str], where: str, span: Range, state: _Attempt, t0: float
    ) -> None:
        if state.first:
            return
        etag, modified = headers.get("ETag"), headers.get("Last-Modified")
        changed = (self._etag is not None and etag is not None and etag != self._etag) or (
            self._etag is None
            and self._last_modified is not None
            and modified is not None
            and modified != self._last_modified
        )
        if changed:
            self._record(span, 0, 206, t0, state, "file changed")
            raise ProtocolError(
                f"file changed during read: {where} now has a different "
                f"{'ETag' if self._etag else 'Last-Modified'} than when we started",
                url=where,
                hint="The file was replaced on the server; inspect it again.",
            )

    def _check_content_range(
        self, headers: Mapping[str, str], span: Range, where: str, state: _Attempt, t0: float
    ) -> int:
        """Validate a 206's Content-Range against the request; return the number of body bytes to read."""
        start, end = span
        value = headers.get("Content-Range")
        length_s = headers.get("Content-Length")
        length = _parse_length(length_s)
        problem = ""
        expected = 0
        if value is None:
            # H9: usable only if the size is already known and the length matches the request
            want = (min(end, self._size) - start) if self._size is not None else None
            if want is None or length is None or length != want:
                problem = "206 response without Content-Range"
            else:
                expected = want
        else:
            m = _CONTENT_RANGE_RE.match(value)
            if not m:
                problem = f"unreadable Content-Range {value!r}"
            else:
                a, b, total_s = int(m.group(1)), int(m.group(2)), m.group(3)
                total = int(total_s) if total_s != "*" else self._size
                if total is None:
                    problem = "Content-Range without the file size (bytes a-b/*); the size is needed to check offsets"
                elif a != start or b < a or b + 1 != min(end, total):
                    problem = (
                        f"Content-Range mismatch: asked for bytes {start}-{end - 1}, got {value.strip()}"
                    )
                elif self._size is not None and total != self._size:
                    problem = f"file changed during read: size was {self._size:,}, now {total:,}"
                else:
                    expected = b + 1 - a
                    if self._size is None:
                        self._size = total
                    if length_s is not None and length != expected:
                        problem = (
                            f"Content-Length {length_s.strip()} disagrees with Content-Range {value.strip()}"
                        )
        if problem:
            self._record(span, 0, 206, t0, state, problem)
            raise ProtocolError(f"{problem} from {where}", url=where, status=206)
        return expected

    def _read_body(
        self, response: requests.Response, span: Range, expected: int, state: _Attempt, t0: float, status: int
    ) -> None:
        """Stream exactly ``expected`` bytes into the attempt's buffer (or consumer), watching the deadline."""
        got_here = 0
        problem: _Retry | None = None
        raw = response.raw
        while got_here < expected:
            if time.monotonic() > state.deadline_at:
                self._record(span, got_here, status, t0, state, "deadline")
                raise self._deadline_error(state, "the server sends too slowly")
            try:
                chunk = raw.read1(min(_READ_CHUNK, expected - got_here), decode_content=False)
            except Exception as exc:  # urllib3 wraps resets/IncompleteRead/timeouts in its own errors
                problem = _body_failure(exc, got_here, expected)
                break
            if not chunk:
                problem = _Retry("truncated", f"{got_here:,} of {expected:,} bytes")
                break
            got_here += len(chunk)
            state.got += len(chunk)
            self._deliver(state, chunk)  # a consumer's own error propagates as is
        if problem is not None:
            self._record(span, got_here, status, t0, state, problem.message)
            raise problem
        self._record(span, got_here, status, t0, state)

    def _deliver(self, state: _Attempt, chunk: bytes) -> None:
        if state.consumer is None:
            state.buf += chunk
            return
        state.pending += chunk
        if len(state.pending) >= self.options.consumer_chunk:
            state.consumer(bytes(state.pending))
            state.pending.clear()

    def _whole_file(
        self,
        response: requests.Response,
        url: SecretURL,
        span: Range,
        state: _Attempt,
        t0: float,
        encoding: str,
    ) -> bytes:
        """A 200 to a range request: accept a small complete file, otherwise stop before downloading it."""
        where = url.redacted
        limit = self.options.small_file_limit
        length = _parse_length(response.headers.get("Content-Length"))
        asked = human_bytes(span[1] - span[0])
        gz_hint = (
            "The object is probably stored with Content-Encoding: gzip (GCS decompressive transcoding); "
            "store it uncompressed."
            if encoding not in ("", "identity")
            else "Serve the file from a server that supports byte ranges (S3, GCS, nginx, Apache do)."
        )

        def refuse(read: int, total: str) -> RangeNotSupported:
            self._record(span, read, 200, t0, state, "range ignored")
            return RangeNotSupported(
                f"this server ignores Range requests: it answered a {asked} range request for {where} with the "
                f"whole file ({total}); continuing would download {total}",
                url=where,
                status=200,
                hint=gz_hint,
            )

        if length is not None and length > limit:
            raise refuse(0, f"Content-Length {human_bytes(length)}")
        if encoding not in ("", "identity"):
            raise refuse(0, f"Content-Encoding {encoding}, size unknown")
        data = bytearray()
        problem: _Retry | None = None
        while len(data) <= limit:
            if time.monotonic() > state.deadline_at:
                self._record(span, len(data), 200, t0, state, "deadline")
                raise self._deadline_error(state, "the server sends too slowly")
            try:
                chunk = response.raw.read1(min(_READ_CHUNK, limit + 1 - len(data)), decode_content=False)
            except Exception as exc:
                problem = _body_failure(exc, len(data), length or 0)
                break
            if not chunk:
                break
            data += chunk
        if len(data) > limit:
            raise refuse(len(data), f"more than {human_bytes(limit)}, no Content-Length")
        if problem is None and length is not None and len(data) < length:
            problem = _Retry("truncated", f"{len(data):,} of {length:,} bytes")
        if problem is not None:
            self._record(span, len(data), 200, t0, state, problem.message)
            raise problem  # bytes already in state.buf (an earlier 206) stay valid: the retry resumes after them
        self._record(span, len(data), 200, t0, state, "whole file")
        body = bytes(data)
        if self._size is not None and len(body) != self._size:
            raise ProtocolError(
                f"file changed during read: {where} is now {len(body):,} bytes, was {self._size:,}", url=where
            )
        if not state.first:
            self._check_validators(response.headers, where, span, state, t0)
        self._size = len(body)
        self._effective = url
        self._cache.add(0, body)
        failure = self._after_first(response.headers, body, where) if state.first else None
        if failure is not None:
            data, body, chunk = bytearray(), b"", b""  # a web page may echo the token: keep it out of locals
            raise failure
        # ``span`` starts after the bytes an earlier, broken 206 already gave (``state.got``): append, never replace
        piece = body[span[0] : min(span[1], len(body))]
        if state.consumer is not None:
            state.pending += piece
            return b""
        state.buf += piece
        return bytes(state.buf)

    def _after_first(self, headers: Mapping[str, str], data: bytes, where: str) -> NotATiff | None:
        """Keep the validators; the error to raise when the first bytes are a web page or a JSON document."""
        self._etag = headers.get("ETag")
        self._last_modified = headers.get("Last-Modified")
        self._content_type = headers.get("Content-Type")
        kind = _sniff_text_kind(self._content_type, data)
        if kind == "html":
            return NotATiff(
                f"the server returned an HTML page (login or error page?), not a TIFF, for {where}: "
                f"{sanitize_snippet(data, 120)}",
                kind="html",
                hint="Open the link in a browser: if it shows a login page, copy a direct download link with its token.",
            )
        if kind == "json":
            return NotATiff(
                f"the server returned a JSON document, not a TIFF, for {where}: {sanitize_snippet(data, 200)}",
                kind="json",
                hint="The JSON usually says what went wrong (expired token, missing object).",
            )
        return None


def _location(current: SecretURL, location: str) -> SecretURL:
    """The redirect target ``location`` resolved against ``current``; `RedirectError` when it is no URL at all."""
    try:
        return SecretURL(urljoin(current.reveal(), location.strip()))
    except ValueError:  # urllib's message is harmless, but the Location may hold a secret: say nothing of it
        location = ""  # nor keep it in this frame's locals (verbose tracebacks print them)
        raise RedirectError(
            f"the server at {current.redacted} redirected to an address that is not a valid URL",
            url=current.redacted,
            hint="The server is misconfigured; ask its administrators.",
        ) from None


def _tls_reason(exc: BaseException) -> str:
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return "certificate verification failed (self-signed or unknown certificate authority)"
    if "hostname" in text.lower():
        return "the certificate does not match the host name"
    return "the secure connection could not be set up"


def _classify_connection_error(exc: BaseException, url: SecretURL) -> OmeTiffError | _Retry:
    text = repr(exc)
    host = url.host
    port = url.origin[2]
    if (
        "NameResolutionError" in text
        or "Name or service not known" in text
        or "nodename nor servname" in text
    ):
        return ConnectionFailed(
            f"could not connect to host {host}: the name does not resolve (DNS failure)",
            url=url.redacted,
            hint="Check the host name in the URL.",
        )
    if "Connection refused" in text or "ConnectionRefusedError" in text or "NewConnectionError" in text:
        return ConnectionFailed(
            f"could not connect to host {host} port {port}: connection refused",
            url=url.redacted,
            hint="Check the URL; the server may be down.",
        )
    if "timed out" in text or "Timeout" in text:
        return _Retry("timeout", f"{host} did not answer in time")
    return _Retry("reset", f"connection to {host} broken ({_exc_kind(exc)})")


def _exc_kind(exc: BaseException) -> str:
    seen: set[int] = set()
    names: list[str] = []
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        names.append(type(cur).__name__)
        cur = cur.__cause__ or cur.__context__
    for wanted in (
        "ConnectionResetError",
        "BrokenPipeError",
        "RemoteDisconnected",
        "IncompleteRead",
        "timeout",
    ):
        if wanted in names or any(wanted in repr(a) for a in getattr(exc, "args", ())):
            return wanted
    return names[-1] if names else "error"


def _body_failure(exc: BaseException, got: int, expected: int) -> _Retry:
    kind = _exc_kind(exc)
    text = f"{kind} after {got:,} of {expected:,} bytes"
    if kind == "IncompleteRead":
        return _Retry("truncated", text)
    if "timeout" in kind.lower() or "Timeout" in type(exc).__name__:
        return _Retry("timeout", text)
    return _Retry("reset", text)


def open_source(
    url_or_path: str | Path | SecretURL | bytes,
    *,
    token: str | None = None,
    options: HttpOptions | None = None,
) -> ByteSource:
    """An `HttpSource` for http(s) URLs, a `FileSource` for paths (and file:// URLs), a `BytesSource` for bytes."""
    if isinstance(url_or_path, (bytes, bytearray, memoryview)):
        return BytesSource(bytes(url_or_path), options=options)
    if isinstance(url_or_path, SecretURL):
        return HttpSource(url_or_path, token=token, options=options)
    if isinstance(url_or_path, Path):
        return FileSource(url_or_path, options=options)
    text = str(url_or_path).strip()
    lower = text.lower()
    if lower.startswith(("http://", "https://")):
        return HttpSource(text, token=token, options=options)
    if lower.startswith("file://"):
        from urllib.parse import unquote, urlsplit

        return FileSource(unquote(urlsplit(text).path), options=options)
    if re.match(r"^[a-z][a-z0-9+.\-]*://", lower):
        safe = SecretURL(text)
        raise ConnectionFailed(
            f"only http://, https:// and file paths can be read, not {safe.redacted}", url=safe.redacted
        )
    return FileSource(text, options=options)


# re-exported for callers that catch transport problems generically
TransportError = RemoteError
