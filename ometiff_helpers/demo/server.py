"""A small threaded HTTP/1.1 server on loopback that serves files with single byte ranges, ETags and CORS.

It serves the bundled demo file to the notebooks and the command line (``--demo``), so that they run with no
set-up, and a browser viewer can read it (CORS). It does only that: latency, TLS, token gating, faults and the
request log belong to the test fault server (``tests/faultserver.py``), which extends this one.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import threading
from collections.abc import Mapping
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from ometiff_helpers.frozen import record

__all__ = ["RangeRequestHandler", "RangeServer", "parse_range_header"]

_EPOCH = 1704067200  # 2024-01-01T00:00:00Z: Last-Modified is fixed so that outputs are deterministic
_CHUNK = 256 * 1024
_TIFF_SUFFIXES = (".tif", ".tiff", ".btf", ".tf8", ".svs")


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


@record
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
    """Serves the files of its `RangeServer`; a subclass may override `answer` or `respond` (the test fault server)."""

    protocol_version = "HTTP/1.1"
    # headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm holds the body back until
    # the client's delayed ACK (~40 ms per request on loopback)
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: object) -> None:
        """Write nothing to stderr."""
        return

    @property
    def owner(self) -> RangeServer:
        """The `RangeServer` this handler serves for."""
        return self.server.owner

    @property
    def url_path(self) -> str:
        """The request's path, percent-decoded, without the query."""
        return unquote(urlsplit(self.path).path)

    def do_GET(self) -> None:
        """Answer a GET."""
        self.answer("GET")

    def do_HEAD(self) -> None:
        """Answer a HEAD."""
        self.answer("HEAD")

    def do_OPTIONS(self) -> None:
        """Answer a CORS preflight."""
        self.answer("OPTIONS")

    def answer(self, method: str) -> None:
        """Answer one request; a client that goes away ends the connection quietly."""
        try:
            if method == "OPTIONS":
                self.preflight()
            else:
                self.respond(head_only=method == "HEAD")
        except (ConnectionError, TimeoutError, OSError):
            self.close_connection = True

    def preflight(self) -> None:
        """204 with the CORS preflight headers."""
        self.send_status(HTTPStatus.NO_CONTENT, {"Content-Length": "0"}, preflight=True)
        self.end_headers()

    def cors_headers(self, preflight: bool = False) -> None:
        """The CORS headers a browser viewer needs to read ranges (none when the server has ``cors=False``)."""
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

    def send_status(
        self, status: int, headers: Mapping[str, str] | None = None, *, preflight: bool = False
    ) -> None:
        """The status line, the CORS headers and ``headers`` (the caller ends the headers)."""
        self.send_response(status)
        self.cors_headers(preflight)
        for key, value in (headers or {}).items():
            self.send_header(key, value)

    def send_simple(
        self, status: int, body: bytes = b"", content_type: str = "text/plain; charset=utf-8"
    ) -> None:
        """A complete small response (error pages)."""
        self.send_status(status, {"Content-Type": content_type, "Content-Length": str(len(body))})
        self.end_headers()
        if self.command != "HEAD" and body:
            self.write_body(body)

    def write_body(self, data: bytes) -> None:
        """Write body bytes."""
        self.wfile.write(data)

    def respond(self, head_only: bool) -> None:
        """Serve the file named by the path, or 404."""
        entry = self.owner._entry(self.url_path.lstrip("/"))
        if entry is None:
            self.send_simple(404, b"not found\n")
            return
        self.serve_entry(entry, head_only)

    def serve_entry(self, entry: _Entry, head_only: bool, *, honour_range: bool = True) -> None:
        """200 with the whole file, 206 with one range, 416, or 412 when If-Match names another version."""
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

    def handle_error(self, request: object, client_address: object) -> None:
        """Print no traceback."""
        return


class RangeServer:
    """Serve ``files`` (name -> path or bytes) at ``http://127.0.0.1:<port>/<name>`` from a daemon thread."""

    handler_class: type[RangeRequestHandler] = RangeRequestHandler
    scheme = "http"

    def __init__(
        self,
        files: Mapping[str, Path | bytes] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        cors: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.cors = cors
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._generation = 0
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        for name, data in (files or {}).items():
            self.set_file(name, data)

    def set_file(self, name: str, data: Path | bytes) -> None:
        """Serve ``data`` under ``name`` (replacing any earlier file: the ETag and Last-Modified change)."""
        key = name.lstrip("/")
        with self._lock:
            self._generation += 1
            self._entries[key] = _make_entry(key, data, self._generation)

    def _entry(self, name: str) -> _Entry | None:
        with self._lock:
            return self._entries.get(name)

    def _bind(self) -> _HTTPServer:
        """The listening socket's server (a subclass may wrap its socket)."""
        return _HTTPServer((self.host, self.port), self.handler_class)

    def start(self) -> RangeServer:
        """Listen and serve from a daemon thread (no-op when started)."""
        if self._httpd is not None:
            return self
        httpd = self._bind()
        httpd.owner = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="RangeServer", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (no-op when stopped)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> RangeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (RuntimeError when not started)."""
        if self._httpd is None:
            raise RuntimeError("RangeServer is not started")
        return f"{self.scheme}://{self.host}:{self.port}"

    def url(self, name: str) -> str:
        """The URL of ``name``."""
        return f"{self.base_url}/{quote(name.lstrip('/'))}"

    def __repr__(self) -> str:
        where = f"{self.host}:{self.port}" if self._httpd else "stopped"
        return f"{type(self).__name__}({where}, {len(self._entries)} files)"
