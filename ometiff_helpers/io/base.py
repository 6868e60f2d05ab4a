"""The planning base every byte source shares: clamping, the block cache, coalescing, rounds and THE one budget.

Ranges are clamped to the file size, served from the cache when possible, the rest coalesced when close and sent as
one *round* of concurrent requests (`ByteSource.fetch`). Subclasses only say how to read one span (`_get`) and how to
make the first read (`_open_first`); `HttpSource` also runs a round's spans concurrently.
"""

from __future__ import annotations

import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import field
from types import MappingProxyType

from ometiff_helpers.errors import LimitExceeded
from ometiff_helpers.fmt import human_bytes
from ometiff_helpers.frozen import record
from ometiff_helpers.io.ledger import Ledger
from ometiff_helpers.io.ordered import OrderedStream, split_range
from ometiff_helpers.io.segments import Segments
from ometiff_helpers.urls import install_secret_filter

__all__ = ["ByteSource", "Consumer", "Detached", "HttpOptions", "Range", "SourceInfo", "coalesce"]

Range = tuple[int, int]
Consumer = Callable[[bytes], None]

_KIB = 1024
_MIB = 1024 * 1024


@record
class SourceInfo:
    """What a source learned about its file on `open()`."""

    size: int
    etag: str | None
    last_modified: str | None
    content_type: str | None
    kind: str  # "http" | "file" | "bytes"
    display_name: str

    def as_dict(self) -> dict[str, object]:
        """The info as a JSON-ready dict."""
        return {
            "size": self.size,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "content_type": self.content_type,
            "kind": self.kind,
            "display_name": self.display_name,
        }


@record
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
    max_concurrency: int = 64  # requests of one round in flight at once (object stores take many)
    coalesce_gap: int = 4 * _KIB  # ranges this close are read as one request (the bytes between cost little)
    # more than max_concurrency requests in a round: the gap is doubled up to this while that saves a batch
    coalesce_gap_max: int = 256 * _KIB
    max_request_bytes: int = 16 * _MIB  # a merged request is never larger (single ranges are split)
    small_file_limit: int = 1 * _MIB  # a whole-file 200 answer is accepted up to this size
    max_requests: int = 5000
    max_bytes: int = 1024 * _MIB
    consumer_chunk: int = (
        1 * _MIB
    )  # the largest chunk a streamed range is passed on in (HTTP: the first are smaller)
    # a streamed range (the OME-XML) of at least 2 pieces of stream_piece_min bytes is read as up to
    # stream_pieces concurrent ranges, passed on in order (a link that throttles each connection)
    stream_pieces: int = 8
    stream_piece_min: int = 2 * _MIB
    # ... and only as many as make each piece last about this long on one connection at the rate the first read
    # measured (a fast link reads it on one: each piece costs a connection, and its thread's buffers memory);
    # 0, or no rate measured: as many as the two above allow
    stream_piece_seconds: float = 0.5
    stream_hold_max: int = 4 * _MIB  # bytes of later pieces held at once; past it their connections pause
    follow_cross_host_redirects: bool = True
    user_agent: str = "ometiff-inspect"
    #: extra request headers (e.g. Authorization); sent to the original origin only, never after a cross-host redirect
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)


def _log_debug(message: str, *args: object) -> None:
    """Log ``message`` at DEBUG on this module's logger (with the secret filter on it), when logging is in use.

    Until something imports ``logging`` nothing can have configured it, and a DEBUG record would be dropped: a local
    inspect from the command line does not import it (about 2 ms of its start)."""
    logging = sys.modules.get("logging")
    if logging is None:
        return
    logger = logging.getLogger(__name__)
    if logger.isEnabledFor(logging.DEBUG):
        install_secret_filter(__name__)
        logger.debug(message, *args, stacklevel=2)


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


class Detached:
    """The streamed ranges of a round that go on arriving after ``ByteSource.fetch_detached`` returned.

    This one is already complete (a local source reads its streams at once); ``HttpSource`` returns one whose
    requests still run. ``wait()`` returns when every byte was passed on, or raises the first request's error;
    ``cancel()`` cuts what still runs (another part of the read failed) and raises nothing.
    """

    def wait(self) -> None:
        """Return once every streamed byte was passed on; raise the first failed request's error."""

    def cancel(self) -> None:
        """Stop what still runs, without raising (the read failed elsewhere)."""


# --- the abstract source ---------------------------------------------------------------------------------------------


class ByteSource(ABC):
    """Random access to the bytes of one file, in rounds of (coalesced, concurrent) range reads."""

    kind = "bytes"
    splits_streams = False  # a streamed range is read as concurrent pieces (HTTP: one connection may be slow)

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
        """The file size in bytes (known after `open`)."""
        if self._size is None:
            raise RuntimeError(f"{self.display_name}: size unknown before open()")
        return self._size

    @property
    def is_open(self) -> bool:
        """Whether the first read has happened (the size is known)."""
        return self._size is not None

    @property
    def info(self) -> SourceInfo:
        """What the first read learned: size, validators, content type, kind, name."""
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
                _log_debug("opened %s: %d bytes", self.display_name, self._size or 0)
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
        results, detached = self._fetch_round(ranges, consumers or {}, detach=False)
        detached.wait()  # already complete
        return results

    def fetch_detached(
        self, ranges: Sequence[Range], *, consumers: Mapping[int, Consumer]
    ) -> tuple[list[bytes | None], Detached]:
        """Like ``fetch`` (one round, counted and budgeted as one), but returns as soon as the ranges without a
        consumer have arrived: the streamed ones go on in the returned ``Detached`` (call its ``wait()``, or
        ``cancel()`` when the read fails elsewhere), so that later rounds need not wait for a large stream."""
        if self._closed:
            raise RuntimeError(f"{self.display_name}: source is closed")
        if not self.is_open:
            self.open()
        return self._fetch_round(ranges, consumers, detach=True)

    def _fetch_round(
        self, ranges: Sequence[Range], consumers: Mapping[int, Consumer], *, detach: bool
    ) -> tuple[list[bytes | None], Detached]:
        """One round of ``fetch``; with ``detach`` the streamed requests run apart (``_start_detached``)."""
        size = self.size
        clamped: list[Range] = []
        for s, e in ranges:
            if s < 0 or e < s:
                raise ValueError(f"bad byte range ({s}, {e})")
            clamped.append((min(s, size), min(e, size)))

        stream_jobs: list[tuple[Range, Consumer | None]] = []
        streamed: set[int] = set()
        plain_missing: list[Range] = []
        for i, (s, e) in enumerate(clamped):
            if s >= e:
                continue
            gaps = self._cache.missing(s, e)
            if i in consumers:
                if gaps:
                    streamed.add(i)
                    stream_jobs.extend(self._stream_jobs(s, e, consumers[i]))
                continue
            plain_missing.extend(gaps)
        plain_jobs: list[tuple[Range, Consumer | None]] = [
            (span, None) for span in self._coalesce(plain_missing, len(stream_jobs))
        ]
        jobs = stream_jobs + plain_jobs

        detached = Detached()
        if jobs:
            self._check_budget(len(jobs), sum(b - a for (a, b), _ in jobs))
            self.ledger.add_round(len(jobs))
            if detach and stream_jobs:
                detached = self._start_detached(stream_jobs)
                jobs = plain_jobs
            try:
                results = self._run(jobs) if jobs else []
            except BaseException:
                detached.cancel()
                raise
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
        return out, detached

    def _start_detached(self, jobs: Sequence[tuple[Range, Consumer | None]]) -> Detached:
        """Start the streamed requests of a detached round; a local source reads them at once."""
        self._run(jobs)
        return Detached()

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

    def release_threads(self) -> None:
        """Let the threads that ran earlier rounds end (a later round makes new ones): called once a read is done,
        so that a long step after it (parsing a large OME-XML) does not hold their stacks and buffers. A source
        without threads of its own has nothing to release."""
        return None

    def close(self) -> None:
        """Refuse further reads (subclasses also release connections)."""
        self._closed = True

    def __enter__(self) -> ByteSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        size = f"{self._size:,} bytes" if self._size is not None else "not opened"
        return f"{type(self).__name__}({self.display_name!r}, {size})"

    # --- helpers -------------------------------------------------------------------------------------------------

    def _stream_jobs(self, start: int, end: int, consumer: Consumer) -> list[tuple[Range, Consumer | None]]:
        """The requests of one streamed range: one, or (see ``_stream_pieces``) several concurrent pieces whose
        bytes reach ``consumer`` in order."""
        n = self._stream_pieces(end - start)
        if n <= 1:
            return [((start, end), consumer)]
        pieces = split_range(start, end, n)
        ordered = OrderedStream(consumer, pieces, self.options.stream_hold_max)
        return [(piece, ordered.part(k)) for k, piece in enumerate(pieces)]

    def _stream_pieces(self, nbytes: int) -> int:
        """How many concurrent requests read a streamed range of ``nbytes``: up to ``stream_pieces`` (never more
        than ``max_concurrency``) of at least ``stream_piece_min`` bytes each over HTTP, no more than take
        ``stream_piece_seconds`` each at the measured rate of one connection; one for a local source."""
        opts = self.options
        if not self.splits_streams or opts.stream_piece_min <= 0:
            return 1
        n = min(opts.stream_pieces, opts.max_concurrency, nbytes // opts.stream_piece_min)
        rate = self.ledger.connection_rate() if opts.stream_piece_seconds > 0 else None
        if rate is not None:
            n = min(n, -(-nbytes // max(1, int(rate * opts.stream_piece_seconds))))
        return max(1, n)

    def _coalesce(self, spans: list[Range], streamed: int) -> list[Range]:
        """``spans`` merged across gaps of ``coalesce_gap`` bytes; when that leaves more requests (with the
        ``streamed`` ones) than one batch of ``max_concurrency``, across doubled gaps (at most ``coalesce_gap_max``)
        as long as that saves a batch: bytes between ranges are read only where they save a round trip."""
        opts = self.options
        conc = max(1, opts.max_concurrency)
        gap = opts.coalesce_gap
        merged = coalesce(spans, gap, self._max_request())
        while gap < opts.coalesce_gap_max and -(-(len(merged) + streamed) // conc) > 1:
            gap = min(opts.coalesce_gap_max, max(1, 2 * gap))
            wider = coalesce(spans, gap, self._max_request())
            if -(-(len(wider) + streamed) // conc) < -(-(len(merged) + streamed) // conc):
                merged = wider
        return merged

    def _max_request(self) -> int:
        """The largest request a coalesced span may become."""
        return max(1, self.options.max_request_bytes)

    def _check_budget(self, n_requests: int, n_bytes: int) -> None:
        """THE budget check: raise `LimitExceeded` before a round would pass ``max_requests`` or ``max_bytes``."""
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
