"""A small threaded HTTP/1.1 server on loopback that serves files with single byte ranges, ETags and CORS.

Used by the notebooks (to serve the bundled demo file), the tests and the benchmarks. Every served request is logged
(`RangeServer.log`) so that callers can count requests, bytes and sequential rounds (`sequential_rounds`).
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import ssl
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

__all__ = ["RangeServer", "ServedRequest", "parse_range_header", "sequential_rounds"]

_EPOCH = 1704067200  # 2024-01-01T00:00:00Z: Last-Modified is fixed so that outputs are deterministic
_CHUNK = 256 * 1024
_TIFF_SUFFIXES = (".tif", ".tiff", ".btf", ".tf8", ".svs")


@dataclass(frozen=True)
class ServedRequest:
    """One request as the server saw it (``path`` without the query; ``range`` is the raw Range header or None)."""

    method: str
    path: str
    range: str | None
    status: int
    nbytes: int
    t_start: float
    t_end: float
    note: str = ""


def sequential_rounds(log: Sequence[ServedRequest]) -> int:
    """Depth of the longest chain of requests in which each one started after the previous one ended.

    Under injected latency this is the number of round trips a client needed; requests that overlap in time count
    as one round.
    """
    events: list[tuple[float, int, int]] = []
    for i, r in enumerate(log):
        events.append((r.t_start, 1, i))
        events.append((r.t_end, 0, i))  # at equal times an end is processed before a start
    events.sort()
    depth: dict[int, int] = {}
    best_finished = 0
    for _, kind, i in events:
        if kind == 1:
            depth[i] = best_finished + 1
        else:
            best_finished = max(best_finished, depth[i])
    return max(depth.values(), default=0)


_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def parse_range_header(header: str, size: int) -> tuple[int, int] | str | None:
    """A single ``Range`` header -> half-open ``(start, end)`` clamped to ``size``; ``None`` to ignore it (malformed
    or multi-range: serve the whole file); ``"unsatisfiable"`` for a 416."""
    m = _RANGE_RE.match(header)
    if not m:
        return None
    first, last = m.group(1), m.group(2)
    if first == "" and last == "":
        return None
    if first == "":  # suffix: the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            return "unsatisfiable"
        return (max(0, size - n), size)
    start = int(first)
    end = size if last == "" else int(last) + 1
    if last != "" and end <= start:
        return None
    if start >= size:
        return "unsatisfiable"
    return (start, min(end, size))


@dataclass(frozen=True)
class _Entry:
    data: bytes | None
    path: Path | None
    size: int
    etag: str
    last_modified: str
    content_type: str

    def read(self, start: int, end: int) -> bytes:
        if self.data is not None:
            return self.data[start:end]
        assert self.path is not None
        with self.path.open("rb") as fh:
            fh.seek(start)
            return fh.read(end - start)


def _content_type(name: str) -> str:
    lower = name.lower()
    if lower.endswith(_TIFF_SUFFIXES):
        return "image/tiff"
    if lower.endswith((".ome", ".xml")):
        return "application/xml"
    guessed, _ = mimetypes.guess_type(lower)
    return guessed or "application/octet-stream"


def _make_entry(name: str, data: Path | bytes, generation: int) -> _Entry:
    if isinstance(data, (bytes, bytearray, memoryview)):
        blob = bytes(data)
        digest = hashlib.sha256(blob).hexdigest()[:20]
        return _Entry(
            blob, None, len(blob), f'"{digest}-{generation}"', formatdate(_EPOCH + generation, usegmt=True),
            _content_type(name),
        )  # fmt: skip
    path = Path(data)
    st = path.stat()
    digest = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:20]
    return _Entry(
        None, path, st.st_size, f'"{digest}-{generation}"', formatdate(_EPOCH + generation, usegmt=True),
        _content_type(name),
    )  # fmt: skip


class RangeRequestHandler(BaseHTTPRequestHandler):
    """Serves the files of its `RangeServer`; subclasses may override `respond` to inject faults."""

    protocol_version = "HTTP/1.1"
    # headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm holds the body back until
    # the client's delayed ACK (~40 ms per request on loopback), which would swamp the latency the benchmark injects
    disable_nagle_algorithm = True
    server: _HTTPServer

    # --- plumbing ------------------------------------------------------------------------------------------------

    def log_message(self, format: str, *args: object) -> None:  # never write to stderr
        return

    def setup(self) -> None:
        super().setup()
        self._t_start = time.monotonic()
        self._status = 0
        self._sent = 0
        self._note = ""

    @property
    def owner(self) -> RangeServer:
        return self.server.owner

    @property
    def url_path(self) -> str:
        return unquote(urlsplit(self.path).path)

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query, keep_blank_values=True)

    def _begin(self) -> None:
        self.owner._started_request()
        self._t_start = time.monotonic()
        self._status = 0
        self._sent = 0
        self._note = ""

    def _finish(self) -> None:
        self.owner._record(
            ServedRequest(
                method=self.command,
                path=self.url_path,
                range=self.headers.get("Range"),
                status=self._status,
                nbytes=self._sent,
                t_start=self._t_start,
                t_end=time.monotonic(),
                note=self._note,
            )
        )

    def _handle(self, head_only: bool) -> None:
        self._begin()
        try:
            if self.owner.latency > 0:
                time.sleep(self.owner.latency)
            self.respond(head_only)
        except (ConnectionError, TimeoutError, OSError) as exc:
            gone = f"client gone: {type(exc).__name__}"
            self._note = f"{self._note}; {gone}" if self._note else gone
            self.close_connection = True
        finally:
            self._finish()

    def do_GET(self) -> None:
        self._handle(head_only=False)

    def do_HEAD(self) -> None:
        self._handle(head_only=True)

    def do_OPTIONS(self) -> None:
        self._begin()
        try:
            self.send_response(HTTPStatus.NO_CONTENT)
            self.cors_headers(preflight=True)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self._status = 204
        finally:
            self._finish()

    # --- helpers for subclasses ----------------------------------------------------------------------------------

    def cors_headers(self, preflight: bool = False) -> None:
        if not self.owner.cors:
            return
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header(
            "Access-Control-Expose-Headers",
            "Content-Range, Content-Length, Content-Type, ETag, Last-Modified, Accept-Ranges",
        )
        if preflight:
            self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
            self.send_header(
                "Access-Control-Allow-Headers", "Range, If-Match, If-None-Match, Authorization, Content-Type"
            )
            self.send_header("Access-Control-Max-Age", "600")

    def send_status(self, status: int, headers: Mapping[str, str] | None = None) -> None:
        self._status = int(status)
        self.send_response(status)
        self.cors_headers()
        for key, value in (headers or {}).items():
            self.send_header(key, value)

    def send_simple(
        self, status: int, body: bytes = b"", content_type: str = "text/plain; charset=utf-8"
    ) -> None:
        """A complete small response (error pages)."""
        self.send_status(status, {"Content-Type": content_type, "Content-Length": str(len(body))})
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
            self._sent += len(body)

    def write_body(self, data: bytes) -> None:
        self.wfile.write(data)
        self._sent += len(data)

    def check_token(self) -> bool:
        """False (and a 401/403 sent) when the server requires a token this request lacks."""
        required = self.owner.require_token
        if required is None:
            return True
        given = self.query.get("token")
        if not given:
            self.send_simple(401, b'{"error": "missing token"}', "application/json")
            return False
        if given[0] != required:
            self.send_simple(403, b'{"error": "invalid or expired token"}', "application/json")
            return False
        return True

    # --- the normal behaviour ------------------------------------------------------------------------------------

    def respond(self, head_only: bool) -> None:
        if not self.check_token():
            return
        entry = self.owner._entry(self.url_path.lstrip("/"))
        if entry is None:
            self.send_simple(404, b"not found\n")
            return
        self.serve_entry(entry, head_only)

    def serve_entry(self, entry: _Entry, head_only: bool, *, honour_range: bool = True) -> None:
        base = {
            "Accept-Ranges": "bytes",
            "ETag": entry.etag,
            "Last-Modified": entry.last_modified,
            "Content-Type": entry.content_type,
        }
        if_match = self.headers.get("If-Match")
        if (
            if_match
            and if_match.strip() != "*"
            and entry.etag not in [t.strip() for t in if_match.split(",")]
        ):
            self.send_simple(412, b"precondition failed\n")
            return
        header = self.headers.get("Range") if honour_range else None
        span: tuple[int, int] | str | None = None
        if header is not None:
            span = parse_range_header(header, entry.size)
        if span == "unsatisfiable":
            self.send_status(416, {**base, "Content-Range": f"bytes */{entry.size}", "Content-Length": "0"})
            self.end_headers()
            return
        if isinstance(span, tuple):
            start, end = span
            self.send_status(
                206,
                {
                    **base,
                    "Content-Range": f"bytes {start}-{end - 1}/{entry.size}",
                    "Content-Length": str(end - start),
                },
            )
        else:
            start, end = 0, entry.size
            self.send_status(200, {**base, "Content-Length": str(entry.size)})
        self.end_headers()
        if head_only:
            return
        pos = start
        while pos < end:
            chunk = entry.read(pos, min(end, pos + _CHUNK))
            if not chunk:
                break
            self.write_body(chunk)
            pos += len(chunk)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    # clients open a dozen connections at once (one round of concurrent ranges): with socketserver's default
    # backlog of 5 the kernel drops SYNs and the client retransmits one second later
    request_queue_size = 128
    owner: RangeServer

    def handle_error(self, request: object, client_address: object) -> None:  # never print tracebacks
        return


class RangeServer:
    """Serve ``files`` (name -> path or bytes) at ``http://host:port/<name>`` from a daemon thread.

    ``latency`` seconds are added before each response; ``require_token`` makes every request need
    ``?token=<value>`` (401 without, 403 when wrong).
    """

    handler_class: type[RangeRequestHandler] = RangeRequestHandler
    LOG_SETTLE = 1.0

    def __init__(
        self,
        files: Mapping[str, Path | bytes] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        require_token: str | None = None,
        cors: bool = True,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.ssl_context = ssl_context
        self.stopping = threading.Event()  # set by stop(): long-running fault handlers watch it
        self.port = port
        self.latency = float(latency)
        self.require_token = require_token
        self.cors = cors
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._inflight = 0
        self._entries: dict[str, _Entry] = {}
        self._generation = 0
        self._log: list[ServedRequest] = []
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        for name, data in (files or {}).items():
            self.set_file(name, data)

    # --- files ---------------------------------------------------------------------------------------------------

    def set_file(self, name: str, data: Path | bytes) -> None:
        """Serve ``data`` under ``name`` (replacing any earlier file: the ETag and Last-Modified change)."""
        key = name.lstrip("/")
        with self._lock:
            self._generation += 1
            self._entries[key] = _make_entry(key, data, self._generation)

    def _entry(self, name: str) -> _Entry | None:
        with self._lock:
            return self._entries.get(name)

    # --- lifecycle -----------------------------------------------------------------------------------------------

    def start(self) -> RangeServer:
        if self._httpd is not None:
            return self
        httpd = _HTTPServer((self.host, self.port), self.handler_class)
        httpd.owner = self
        if self.ssl_context is not None:
            httpd.socket = self.ssl_context.wrap_socket(httpd.socket, server_side=True)
        self.stopping.clear()
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="RangeServer", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> RangeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- addresses -----------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("RangeServer is not started")
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def url(self, name: str, token: str | None = None) -> str:
        """The URL of ``name`` (with ``?token=`` when given). Pass it to `urls.SecretURL` before printing it."""
        url = f"{self.base_url}/{quote(name.lstrip('/'))}"
        return f"{url}?token={quote(token, safe='')}" if token is not None else url

    # --- log -----------------------------------------------------------------------------------------------------

    def _started_request(self) -> None:
        with self._lock:
            self._inflight += 1

    def _record(self, entry: ServedRequest) -> None:
        with self._lock:
            self._log.append(entry)
            self._inflight -= 1
            self._idle.notify_all()

    @property
    def log(self) -> list[ServedRequest]:
        """A copy of the requests served so far, in completion order.

        A handler logs its request just after writing the last byte, so a client can see a response before it is
        logged: this waits (at most ``LOG_SETTLE`` seconds) until no request is being handled.
        """
        with self._idle:
            self._idle.wait_for(lambda: self._inflight <= 0, timeout=self.LOG_SETTLE)
            return list(self._log)

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()

    def __repr__(self) -> str:
        where = f"{self.host}:{self.port}" if self._httpd else "stopped"
        return f"RangeServer({where}, {len(self._entries)} files)"
