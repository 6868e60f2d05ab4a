"""`HttpSource`: a remote file read with HTTP range requests, and the checks every response goes through.

The rules: one ranged GET first and never HEAD; bodies streamed and never read past what was asked; a 200 accepted
only for a small whole file; Content-Range, validators (ETag / Last-Modified) and encodings checked; a first answer
that is a web page or a JSON document refused (`io.sniff`); own retries (`http.retry`), redirects, deadlines and
watchdog (`http.transport`); errors that never show the token.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import requests

from ometiff_helpers.errors import (
    AccessDenied,
    ConnectionFailed,
    DeadlineExceeded,
    FormatError,
    NotATiff,
    NotFound,
    ProtocolError,
    RangeNotSupported,
    RateLimited,
)
from ometiff_helpers.fmt import human_bytes
from ometiff_helpers.io.base import ByteSource, Consumer, Detached, HttpOptions, Range
from ometiff_helpers.io.http.body import error_snippet, parse_length, sanitize_snippet
from ometiff_helpers.io.http.checks import check_content_range, unsatisfiable_error, validators_changed
from ometiff_helpers.io.http.retry import Retryable, body_failure, parse_retry_after, retrying
from ometiff_helpers.io.http.transport import Watch, new_session, redirect_hop, send, watching
from ometiff_helpers.io.ledger import RequestRecord
from ometiff_helpers.io.sniff import sniff_kind
from ometiff_helpers.urls import SecretURL, install_secret_filter, redact_text

__all__ = ["HttpSource"]

log = logging.getLogger(__name__)
# requests/urllib3 put the full URL into their DEBUG records: scrub ours and theirs
install_secret_filter("ometiff_helpers.io", "urllib3")

_READ_CHUNK = 256 * 1024


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
    t_headers: float | None = None  # when the last attempt's answer headers arrived
    watch: Watch = field(default_factory=Watch)

    @property
    def expired(self) -> bool:
        """The watchdog cut the connection: whatever arrived since may be cut short."""
        return self.watch.fired

    def sleep(self, seconds: float) -> None:
        """A retry's backoff, cut short when the watchdog fires (the deadline passed, or the round failed)."""
        self.watch.sleep(seconds)

    def __repr__(self) -> str:
        return f"_Attempt(span={self.span}, got={self.got}, attempt={self.attempt})"


class _Round:
    """The watches of one round's requests, so that the first failure can cut the others."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watches: list[Watch] = []
        self._stopped = False

    def add(self, watch: Watch) -> None:
        """A request of the round starts (cut at once if the round has already failed)."""
        with self._lock:
            self._watches.append(watch)
            if self._stopped:
                watch.fire()

    def stop(self) -> None:
        """Cut every request of the round, running or still to start."""
        with self._lock:
            self._stopped = True
            for watch in self._watches:
                watch.fire()


def _abort_consumers(jobs: Sequence[tuple[Range, Consumer | None]]) -> None:
    """A round failed: a consumer waiting for its turn (the pieces of one streamed range, ``io.ordered``) stops
    waiting, and a consumer that can be told so (``abort()``) learns that no more bytes come."""
    for _span, consumer in jobs:
        abort = getattr(consumer, "abort", None)
        if abort is not None:
            abort()


class _Running(Detached):
    """The streamed requests of a detached round, running in the source's pool."""

    def __init__(
        self,
        source: HttpSource,
        futures: list[Future[bytes]],
        group: _Round,
        jobs: list[tuple[Range, Consumer | None]],
    ) -> None:
        self._source = source
        self._futures = futures
        self._group = group
        self._jobs = jobs
        self._lock = threading.Lock()
        self._stopped = False
        self._error: BaseException | None = (
            None  # the first request to fail (the others were cut because of it)
        )
        for fut in futures:
            fut.add_done_callback(self._ended)

    def _ended(self, fut: Future[bytes]) -> None:
        """A request ended: when it failed, cut the others and tell the consumers at once (not only in ``wait``)."""
        error = None if fut.cancelled() else fut.exception()
        if error is None:
            return
        with self._lock:
            if self._error is None and not self._stopped:
                self._error = error
        self._stop()

    def _stop(self) -> None:
        """Cut every request (once): queued ones dropped, running ones cut, consumers told."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        for other in self._futures:
            other.cancel()
        self._group.stop()
        _abort_consumers(self._jobs)

    def wait(self) -> None:
        """Wait for every request (the time counts against the source's deadline); raise the first error."""
        started = time.monotonic()
        try:
            wait(self._futures)
        finally:
            self._source._busy += time.monotonic() - started
        with self._lock:
            error = self._error
        if error is None:  # a failure whose callback has not run yet: nothing was cut because of it
            error = next((f.exception() for f in self._futures if not f.cancelled() and f.exception()), None)
        if error is not None:
            raise error

    def cancel(self) -> None:
        """Cut every request and wait until none runs (nothing writes to the ledger after the read's error)."""
        self._stop()
        wait(self._futures)


def _pass_on(state: _Attempt, consumer: Consumer) -> None:
    """Hand the request's pending bytes to its consumer, the buffer emptied first: a consumer may block (a piece held
    back waits its turn) and the copy it holds is then the only one."""
    data = bytes(state.pending)
    state.pending.clear()
    consumer(data)


class HttpSource(ByteSource):
    """A remote file read with HTTP range requests (GET only) through one keep-alive `requests.Session`."""

    kind = "http"
    splits_streams = True

    def __init__(
        self,
        url: str | SecretURL,
        *,
        token: str | None = None,
        options: HttpOptions | None = None,
        expect: str = "tiff",
    ) -> None:
        """``expect``: what the file is, "tiff" (a web page or a JSON document is refused on the first read) or
        "json" (a side file such as an offsets.json: a web page is refused)."""
        super().__init__(options)
        if expect not in ("tiff", "json"):
            raise ValueError(f"expect must be 'tiff' or 'json', not {expect!r}")
        self.expect = expect
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
        """The redacted URL."""
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
        """The session, made on first use."""
        with self._state_lock:
            if self._session is None:
                self._session = new_session(self.options)
            return self._session

    def release_threads(self) -> None:
        """End the request pool's idle threads (up to ``max_concurrency`` of them); the next round makes a pool
        again. Waits for a round still running in it (a detached stream)."""
        with self._state_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def close(self) -> None:
        """Stop the request pool and close the session's connections."""
        super().close()
        with self._state_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
            if self._session is not None:
                self._session.close()
                self._session = None

    def _run(self, jobs: Sequence[tuple[Range, Consumer | None]]) -> list[bytes]:
        """One round of requests, timed against the source's deadline."""
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
        """Add the round's time to the time spent in requests."""
        self._busy += time.monotonic() - self._round_started

    def _run_round(self, jobs: Sequence[tuple[Range, Consumer | None]]) -> list[bytes]:
        """Send a round's requests concurrently. The first one to fail ends the round: the queued ones are
        dropped, the running ones cut (their watchdogs fire), and its error is raised once they have ended."""
        if len(jobs) == 1:
            return [self._get(*jobs[0])]
        pool = self._request_pool()
        group = _Round()
        futures = [
            pool.submit(self._request, span, consumer, first=False, group=group) for span, consumer in jobs
        ]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [fut for fut in futures if fut in done and fut.exception() is not None]
        if not failed:
            return [fut.result() for fut in futures]
        for fut in futures:
            fut.cancel()  # the queued requests are dropped
        group.stop()  # the running ones are cut
        _abort_consumers(jobs)
        wait(futures)  # nothing of this round still runs (or writes to the ledger) once the error is raised
        first = failed[0].exception()  # the first failed request, in submission order among those done
        assert first is not None
        raise first

    def _request_pool(self) -> ThreadPoolExecutor:
        """The threads that run a round's requests, made on first use."""
        with self._state_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.options.max_concurrency, thread_name_prefix="range"
                )
            return self._pool

    def _start_detached(self, jobs: Sequence[tuple[Range, Consumer | None]]) -> Detached:
        """Start the streamed requests of a detached round in the pool; they run beside the later rounds."""
        self._begin_round()  # the source's deadline bounds them too
        pool = self._request_pool()
        group = _Round()
        futures = [
            pool.submit(self._request, span, consumer, first=False, group=group) for span, consumer in jobs
        ]
        return _Running(self, futures, group, list(jobs))

    # --- the two entry points ------------------------------------------------------------------------------------

    def _open_first(self, first_read: int) -> bytes:
        """The first request (bytes ``[0, first_read)``), as a round of its own."""
        self._begin_round()
        try:
            return self._request((0, first_read), None, first=True)
        finally:
            self._end_round()

    def _get(self, span: Range, consumer: Consumer | None) -> bytes:
        """One range of a round."""
        return self._request(span, consumer, first=False)

    def _forget(self) -> None:
        """Back to unopened after a failed first read; redirects are followed afresh."""
        super()._forget()
        self._effective = self.url  # a redirect that led to a web page is followed afresh

    # --- one range, with retries ---------------------------------------------------------------------------------

    def _deadline_for_request(self) -> float:
        """When the next request must end: its own deadline or the round's, whichever comes first."""
        return min(time.monotonic() + self.options.request_deadline, self._round_deadline)

    def _request(
        self, span: Range, consumer: Consumer | None, *, first: bool, group: _Round | None = None
    ) -> bytes:
        """One range, retried and redirected as needed, under the watchdog of its deadline (and of its round's
        first failure, with ``group``)."""
        state = _Attempt(span=span, consumer=consumer, deadline_at=self._deadline_for_request(), first=first)
        if group is not None:
            group.add(state.watch)
        with watching(state.watch, state.deadline_at):
            done = retrying(
                state,
                lambda: self._attempt(state),
                options=self.options,
                where=lambda: self._effective,
                deadline_error=lambda why, hint: self._deadline_error(state, why, hint),
            )
        if consumer is not None and state.pending:
            _pass_on(state, consumer)
        return done

    def watchdog(self, seconds: float) -> contextlib.AbstractContextManager[Watch]:
        """For side requests sent through `session` (the probes): the connection this thread uses is cut once
        ``seconds`` have passed, headers included; the context's value tells whether it ``fired``."""
        return watching(Watch(), time.monotonic() + seconds)

    def _deadline_error(self, state: _Attempt, why: str, hint: str | None = None) -> DeadlineExceeded:
        """The error for a request that ran out of time, saying how much arrived (``hint`` when not slowness)."""
        s, e = state.span
        waited = time.monotonic() - state.started
        return DeadlineExceeded(
            f"reading bytes {s:,}-{e - 1:,} of {self.url.redacted} ran out of time after {waited:.1f} s ({why}); "
            f"{state.got:,} of {e - s:,} bytes arrived",
            url=self.url.redacted,
            hint=hint or "The server is too slow; try again later or raise the deadline.",
        )

    # --- one attempt (following redirects) -----------------------------------------------------------------------

    def _headers(self, url: SecretURL, span: Range) -> dict[str, str]:
        """The request headers for ``span`` at ``url`` (extra headers only to the original origin)."""
        headers = {"Range": f"bytes={span[0]}-{span[1] - 1}", "Accept-Encoding": "identity"}
        if self._etag and not self._etag.startswith("W/"):
            headers["If-Match"] = self._etag
        if url.origin == self.url.origin:
            headers.update(self.options.headers)
        return headers

    def _send(self, url: SecretURL, span: Range, deadline_at: float) -> requests.Response:
        """One GET of ``span`` without redirects. Raises `Retryable` or an OmeTiffError."""
        remaining = deadline_at - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded(f"no time left to read {self.url.redacted}", url=self.url.redacted)
        timeout = (min(self.options.connect_timeout, remaining), min(self.options.read_timeout, remaining))
        return send(self._get_session(), "GET", url, self._headers(url, span), timeout)

    def _attempt(self, state: _Attempt) -> bytes:
        """One attempt at a range: send, follow redirects, check and read the answer."""
        url = self._effective
        visited = [url]
        while True:
            start = state.span[0] + state.got
            span = (start, state.span[1])
            t0 = time.monotonic()
            log.debug("GET %s bytes=%d-%d (attempt %d)", url.redacted, span[0], span[1] - 1, state.attempt)
            try:
                response = self._send(url, span, state.deadline_at)
                state.t_headers = time.monotonic()
            except BaseException:
                state.watch.detach()  # urllib3 closed and discarded the connection
                raise
            try:
                target = redirect_hop(
                    response,
                    url,
                    visited,
                    start=self.url,
                    max_redirects=self.options.max_redirects,
                    cross_host=self.options.follow_cross_host_redirects,
                )
                if target is not None:
                    self._record(span, 0, response.status_code, t0, state, f"redirect to {target.redacted}")
                    visited.append(target)
                    url = target
                    continue
                return self._handle(response, url, visited, span, state, t0)
            finally:
                state.watch.detach()  # before the connection can go back to the pool for another request
                response.close()

    def _record(
        self, span: Range, nbytes: int, status: int, t0: float, state: _Attempt, note: str = ""
    ) -> None:
        """Add one request to the ledger (its note redacted)."""
        self.ledger.add(
            RequestRecord(
                span[0],
                span[1],
                nbytes,
                status,
                t0,
                time.monotonic(),
                state.attempt,
                redact_text(note),
                state.t_headers,
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
        """Judge one (non-redirect) answer: status, encoding, Content-Range, then read the body."""
        status = response.status_code
        headers = response.headers
        where = url.redacted
        after = f" after redirect from {visited[0].redacted} to {url.redacted}" if len(visited) > 1 else ""

        if status in (401, 403):
            snippet = error_snippet(response, state.deadline_at)
            self._record(span, 0, status, t0, state, "access denied")
            raise AccessDenied(
                f"access denied (HTTP {status}) for {where}{after}. The token is likely missing or expired."
                + (f' The server said: "{snippet.strip()}".' if snippet and snippet.strip() else ""),
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
            raise unsatisfiable_error(headers.get("Content-Range"), span, state.first, where)
        if status == 429 or 500 <= status <= 599:
            wait = parse_retry_after(headers.get("Retry-After"))
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
            raise Retryable("status", f"HTTP {status}", wait=wait, status=status)
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

    def _check_validators(
        self, headers: Mapping[str, str], where: str, span: Range, state: _Attempt, t0: float
    ) -> None:
        """A later answer whose ETag / Last-Modified differ: the file was replaced while we read it."""
        if state.first or not validators_changed(headers, self._etag, self._last_modified):
            return
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
        answer = check_content_range(headers, span, self._size)
        if answer.problem:
            self._record(span, 0, 206, t0, state, answer.problem)
            raise ProtocolError(f"{answer.problem} from {where}", url=where, status=206, hint=answer.hint)
        if self._size is None:
            self._size = answer.total
        return answer.expected

    def _read_body(
        self, response: requests.Response, span: Range, expected: int, state: _Attempt, t0: float, status: int
    ) -> None:
        """Stream exactly ``expected`` bytes into the attempt's buffer (or consumer), watching the deadline."""
        got_here = 0
        problem: Retryable | None = None
        raw = response.raw
        while got_here < expected:
            if time.monotonic() > state.deadline_at:
                self._record(span, got_here, status, t0, state, "deadline")
                raise self._deadline_error(state, "the server sends too slowly")
            try:
                chunk = raw.read1(min(_READ_CHUNK, expected - got_here), decode_content=False)
            except Exception as exc:  # urllib3 wraps resets/IncompleteRead/timeouts in its own errors
                problem = body_failure(exc, got_here, expected)
                break
            if not chunk:
                problem = Retryable("truncated", f"{got_here:,} of {expected:,} bytes")
                break
            got_here += len(chunk)
            state.got += len(chunk)
            self._deliver(state, chunk)  # a consumer's own error propagates as is
        if problem is not None:
            self._record(span, got_here, status, t0, state, problem.message)
            raise problem
        self._record(span, got_here, status, t0, state)

    def _deliver(self, state: _Attempt, chunk: bytes) -> None:
        """Pass received bytes to the buffer, or to the consumer in chunks that grow from one socket read to
        ``consumer_chunk`` (each as large as what was passed on before): the first bytes of a stream (the head of
        an OME-XML) are not held back on a slow link, and a long stream still costs few calls."""
        if state.consumer is None:
            state.buf += chunk
            return
        state.pending += chunk
        passed_on = state.got - len(state.pending)
        if len(state.pending) >= min(self.options.consumer_chunk, max(_READ_CHUNK, passed_on)):
            _pass_on(state, state.consumer)

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
        length = parse_length(response.headers.get("Content-Length"))
        asked = human_bytes(span[1] - span[0])
        gz_hint = (
            "The object is probably stored with Content-Encoding: gzip (GCS decompressive transcoding); "
            "store it uncompressed."
            if encoding not in ("", "identity")
            else "Serve the file from a server that supports byte ranges (S3, GCS, nginx, Apache do)."
        )

        def refuse(read: int, total: str) -> RangeNotSupported:
            """The error for a whole-file answer too large to accept."""
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
        problem: Retryable | None = None
        while len(data) <= limit:
            if time.monotonic() > state.deadline_at:
                self._record(span, len(data), 200, t0, state, "deadline")
                raise self._deadline_error(state, "the server sends too slowly")
            try:
                chunk = response.raw.read1(min(_READ_CHUNK, limit + 1 - len(data)), decode_content=False)
            except Exception as exc:
                problem = body_failure(exc, len(data), length or 0)
                break
            if not chunk:
                break
            data += chunk
        if len(data) > limit:
            raise refuse(len(data), f"more than {human_bytes(limit)}, no Content-Length")
        if problem is None and length is not None and len(data) < length:
            problem = Retryable("truncated", f"{len(data):,} of {length:,} bytes")
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

    def _after_first(self, headers: Mapping[str, str], data: bytes, where: str) -> FormatError | None:
        """Keep the validators; the error to raise when the first bytes are a web page, or a JSON document where
        a TIFF is expected."""
        self._etag = headers.get("ETag")
        self._last_modified = headers.get("Last-Modified")
        self._content_type = headers.get("Content-Type")
        kind = sniff_kind(data, self._content_type)
        if kind == "html" and self.expect != "tiff":
            return FormatError(
                f"the server returned an HTML page (login or error page?), not the {self.expect.upper()} document "
                f"expected, for {where}: {sanitize_snippet(data, 120)}",
                hint="Check the URL and its token: open it in a browser to see the page.",
            )
        if kind == "html":
            return NotATiff(
                f"the server returned an HTML page (login or error page?), not a TIFF, for {where}: "
                f"{sanitize_snippet(data, 120)}",
                kind="html",
                hint="Open the link in a browser: if it shows a login page, copy a direct download link with its token.",
            )
        if kind == "json" and self.expect == "tiff":
            return NotATiff(
                f"the server returned a JSON document, not a TIFF, for {where}: {sanitize_snippet(data, 200)}",
                kind="json",
                hint="The JSON usually says what went wrong (expired token, missing object).",
            )
        return None
