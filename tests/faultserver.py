"""The one test HTTP server: the demo's `RangeServer` plus everything a test needs to switch on.

Per instance: ``latency`` (seconds before every answer), ``rate`` (bytes a second per connection), ``require_token`` (401 without ``?token=``, 403 when
wrong), ``ssl_context`` (HTTPS), ``cors``, ``modes`` (whole-server misbehaviours the network probes look for:
``head403``, ``trickle_head``, ``eof416``, ``eof200``, ``no_total``, ``no_expose``, ``ignore_range``).
Per request: ``?latency=<s>`` adds to the instance latency; ``/<mode>/<file>?<params>`` picks a fault mode of
`faultmodes.PathFaults` (unknown modes and plain paths serve the file normally); ``behaviour`` (a test's own
callable, given the handler) answers any request it returns True for, before all of the above.
Every request is logged (`FaultServer.log`: `ServedRequest`) so that tests and benchmarks count requests, bytes and,
under latency, sequential rounds (`sequential_rounds`). Also: helpers that check that a secret leaks nowhere.
"""

from __future__ import annotations

import gzip
import logging
import socket
import ssl
import subprocess
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

from faultmodes import CANARY, SERVER_SEND_CAP, VIRTUAL_SIZE, PathFaults

from ometiff_helpers.demo.server import RangeServer, parse_range_header

__all__ = [
    "CANARY", "SERVER_SEND_CAP", "VIRTUAL_SIZE", "FaultHandler", "FaultServer", "ServedRequest", "sequential_rounds",
]  # fmt: skip


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
    as one round. Scheduling noise can split a round or merge two: a pass/fail test uses a latency that dominates it
    (>= 0.3 s) or the client ledger's logical rounds.
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


_THROTTLE_CHUNK = 16 * 1024  # bytes written between two checks of the per-connection rate


class FaultHandler(PathFaults):
    """Logs every request, adds latency, checks tokens, applies the server's modes, dispatches path fault modes."""

    owner: FaultServer  # type: ignore[assignment]

    def answer(self, method: str) -> None:
        """Answer one request (after the latency) and log it, whatever happens."""
        self.owner._started_request()
        self._t_start = time.monotonic()
        self._status = 0
        self._sent = 0
        self._note = ""
        self.__dict__.pop("_rate_t0", None)  # each response starts its own throttle clock
        try:
            if method != "OPTIONS":
                delay = self.owner.latency + float(self.param("latency", "0"))
                if delay > 0:
                    time.sleep(delay)
                self.respond(head_only=method == "HEAD")
            else:
                self.preflight()
        except (ConnectionError, TimeoutError, OSError) as exc:
            gone = f"client gone: {type(exc).__name__}"
            self._note = f"{self._note}; {gone}" if self._note else gone
            self.close_connection = True
        finally:
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

    def send_response(self, code: int, message: str | None = None) -> None:
        """The status line (remembered for the log)."""
        self._status = int(code)
        super().send_response(code, message)

    def write_body(self, data: bytes) -> None:
        """Write body bytes (counted for the log), at most ``FaultServer.rate`` bytes a second per connection."""
        rate = self.owner.rate
        if rate <= 0:
            self.wfile.write(data)
            self._sent += len(data)
            return
        if not hasattr(self, "_rate_t0"):  # the clock of this response (one per request on a keep-alive link)
            self._rate_t0, self._rate_sent = time.monotonic(), 0
        for pos in range(0, len(data), _THROTTLE_CHUNK):
            chunk = data[pos : pos + _THROTTLE_CHUNK]
            self.wfile.write(chunk)
            self._sent += len(chunk)
            self._rate_sent += len(chunk)
            ahead = self._rate_sent / rate - (time.monotonic() - self._rate_t0)
            if ahead > 0:
                time.sleep(ahead)

    def cors_headers(self, preflight: bool = False) -> None:
        """The demo's CORS headers; with the ``no_expose`` mode, only Allow-Origin (and Allow-Headers: Range)."""
        if "no_expose" not in self.owner.modes:
            super().cors_headers(preflight)
        elif self.owner.cors:
            self.send_header("Access-Control-Allow-Origin", "*")
            if preflight:
                self.send_header("Access-Control-Allow-Headers", "Range")

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

    def respond(self, head_only: bool) -> None:
        """The test's behaviour, else a path fault mode, else the server's modes, else the file (after the token
        check)."""
        path = self.url_path.lstrip("/")
        mode, _, rest = path.partition("/")
        self.owner.seen.append(
            (self.command, self.url_path, self.path, dict(self.headers.items()), self.client_address[1])
        )
        behaviour = self.owner.behaviour
        if behaviour is not None and behaviour(self):
            return
        handler = getattr(self, f"mode_{mode}", None)
        if handler is not None and rest:
            after = int(self.param("after", "0"))  # the first `after` requests of this URL behave normally
            if after and self.count(f"after:{self.url_path}") < after:
                self.serve_entry(self.entry(rest), head_only)
                return
            self._note = mode
            handler(rest)
            return
        if self.owner.modes and self.server_modes(head_only):
            return
        if self.check_token():
            super().respond(head_only)

    def server_modes(self, head_only: bool) -> bool:
        """Apply the server's modes to a plain path; False when none applies to this request."""
        modes = self.owner.modes
        if (
            head_only and "trickle_head" in modes
        ):  # the status line one byte every `trickle_every` s, never the end
            self.close_connection = True
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"." * 200:
                if self.owner.stopping.wait(self.owner.trickle_every):
                    return True
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            return True
        if head_only and "head403" in modes:
            self.send_simple(403, b"<Error>SignatureDoesNotMatch</Error>", "application/xml")
            return True
        entry = self.owner._entry(self.url_path.lstrip("/"))
        header = self.headers.get("Range")
        if entry is None or not header:
            return False
        if not self.check_token():
            return True
        span = parse_range_header(header, entry.size)
        last = header.rsplit("-", 1)[1].strip()
        past_eof = (int(last) + 1 if last else 0) > entry.size
        if "ignore_range" in modes or (past_eof and "eof200" in modes):
            self.serve_entry(entry, head_only, honour_range=False)
            return True
        if past_eof and "eof416" in modes:
            self.send_status(416, {"Content-Range": f"bytes */{entry.size}", "Content-Length": "0"})
            self.end_headers()
            return True
        if "no_total" in modes and past_eof and isinstance(span, tuple):
            start, end = span
            body = entry.read(start, end)
            self.send_status(
                206, {"Content-Range": f"bytes {start}-{end - 1}/*", "Content-Length": str(len(body))}
            )
            self.end_headers()
            if not head_only:
                self.write_body(body)
            return True
        self.serve_entry(entry, head_only)
        return True


class FaultServer(RangeServer):
    """`RangeServer` with `FaultHandler`: latency, token, TLS, modes, a request log; ``seen`` keeps (method, path,
    raw path with query, headers, client port) per request."""

    handler_class = FaultHandler
    LOG_SETTLE = 2.0

    def __init__(
        self,
        files: Mapping[str, Path | bytes] | None = None,
        *,
        latency: float = 0.0,
        require_token: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        modes: set[str] | frozenset[str] = frozenset(),
        rate: float = 0.0,
        **kwargs,
    ) -> None:
        super().__init__(files, **kwargs)
        self.latency = float(latency)
        self.rate = float(
            rate
        )  # bytes per second per connection (0: unthrottled), like a throttling object store
        self.require_token = require_token
        self.ssl_context = ssl_context
        self.modes = set(modes)
        self.trickle_every = 0.2  # seconds between the bytes of the trickle_head mode
        self.behaviour: Callable[[FaultHandler], bool] | None = None  # answers a request when it returns True
        self.stopping = threading.Event()  # set by stop(): long-running fault handlers watch it
        self.seen: list[tuple[str, str, str, dict[str, str], int]] = []
        self.counters: dict[str, int] = {}
        self.counter_lock = threading.Lock()
        self._bomb: bytes | None = None
        self._idle = threading.Condition(self._lock)
        self._inflight = 0
        self._log: list[ServedRequest] = []

    @property
    def scheme(self) -> str:  # type: ignore[override]
        """https with an SSL context."""
        return "https" if self.ssl_context is not None else "http"

    def _bind(self) -> ThreadingHTTPServer:
        """The listening server, its socket wrapped in TLS when an SSL context is given."""
        httpd = super()._bind()
        if self.ssl_context is not None:
            httpd.socket = self.ssl_context.wrap_socket(httpd.socket, server_side=True)
        return httpd

    def start(self) -> FaultServer:
        """Listen and serve."""
        self.stopping.clear()
        super().start()
        return self

    def stop(self) -> None:
        """Wake the long-running fault handlers, then stop listening."""
        self.stopping.set()
        super().stop()

    def __enter__(self) -> FaultServer:
        return self.start()

    @property
    def paths(self) -> list[str]:
        """The raw path (with the query) of every request seen so far."""
        return [raw for _, _, raw, _, _ in self.seen]

    def url(self, name: str, token: str | None = None) -> str:
        """The URL of ``name`` (with ``?token=`` when given). Pass it to `urls.SecretURL` before printing it."""
        url = super().url(name)
        return f"{url}?token={quote(token, safe='')}" if token is not None else url

    def fault_url(self, mode: str, name: str, token: str | None = CANARY, **params: str | int | float) -> str:
        """The URL of ``name`` under fault mode ``mode`` with query ``params``."""
        url = self.url(f"{mode}/{name}", token=token)
        extra = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in params.items())
        if extra:
            url += ("&" if "?" in url else "?") + extra
        return url

    def gzip_bomb(self) -> bytes:
        """50 MB of zeros, gzip-compressed (made once)."""
        if self._bomb is None:
            self._bomb = gzip.compress(b"\0" * (50 * 1024 * 1024), compresslevel=9)
        return self._bomb

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
        """A copy of the requests served so far, in the order they started.

        A handler logs its request just after writing the last byte, so a client can see a response before it is
        logged: this waits (at most ``LOG_SETTLE`` seconds) until no request is being handled. Completion order
        depends on scheduling (a busy machine may log a request after the next one); start order does not, for
        requests a client sent one after another.
        """
        with self._idle:
            self._idle.wait_for(lambda: self._inflight <= 0, timeout=self.LOG_SETTLE)
            return sorted(self._log, key=lambda r: r.t_start)

    def reset_log(self) -> None:
        """Forget the requests logged so far."""
        with self._lock:
            self._log.clear()


def assert_connections_released(source) -> None:
    """Every connection of the source's pools is back in its pool (or closed): none is held by a response."""
    session = source._session
    if session is None:
        return
    for adapter in session.adapters.values():
        manager = adapter.poolmanager
        for key in list(manager.pools.keys()):
            pool = manager.pools[key]
            assert pool.pool.qsize() == pool.pool.maxsize, (
                f"{pool.pool.maxsize - pool.pool.qsize()} connection(s) held"
            )


def assert_no_open_connections(source) -> None:
    """No connection of the source's pools still holds a socket (a connection cut off by a deadline is discarded)."""
    session = source._session
    if session is None:
        return
    for adapter in session.adapters.values():
        manager = adapter.poolmanager
        for key in list(manager.pools.keys()):
            for conn in list(manager.pools[key].pool.queue):
                assert conn is None or conn.sock is None, (
                    "a connection with an open socket went back to the pool"
                )


def watchdog_threads() -> list[str]:
    """Names of the deadline watchdog threads still alive."""
    return [t.name for t in threading.enumerate() if t.name.startswith("ometiff-deadline")]


def silent_listener() -> tuple[socket.socket, int]:
    """H20: a socket that listens but never accepts (the kernel completes the handshake, nobody answers)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock, sock.getsockname()[1]


def make_self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A throw-away certificate for 127.0.0.1 made with the openssl CLI."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
            "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


# --- leak checks -----------------------------------------------------------------------------------------------------


def exception_texts(exc: BaseException) -> list[str]:
    """Every text a user or a log could see of ``exc``: str, repr, formatted traceback, cause and context, and the
    locals of every library frame (as IPython's verbose mode shows them)."""
    texts = [
        str(exc),
        repr(exc),
        "".join(traceback.format_exception(exc)),
        repr(exc.__cause__),
        repr(exc.__context__),
        str(getattr(exc, "url", "")),
        str(getattr(exc, "hint", "")),
    ]
    te = traceback.TracebackException.from_exception(exc, capture_locals=True)
    for frame in te.stack:
        if "/tests/" not in frame.filename:  # the test's own locals hold the raw URL on purpose
            texts.append(repr(frame.locals))
    return texts


def assert_no_secret(exc: BaseException | None, log_text: str = "", secret: str = CANARY) -> None:
    texts = ([*exception_texts(exc)] if exc is not None else []) + [log_text]
    for text in texts:
        assert secret not in text, f"secret leaked into: {text[:2000]}"
        assert secret.lower() not in text.lower()


def enable_debug_logging(caplog) -> None:
    """DEBUG for every logger, urllib3's included."""
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "urllib3.connectionpool", "ometiff_helpers", "ometiff_helpers.io.http.source"):
        caplog.set_level(logging.DEBUG, logger=name)
