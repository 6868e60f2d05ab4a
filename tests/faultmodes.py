"""Fault modes of the test server, one method per misbehaviour, selected by the path: ``/<mode>/<file>?<params>``.

They reproduce the rows of bad-inputs.md (H1-H31) on loopback with real sockets; `faultserver.FaultHandler`
dispatches to them. Parameters (query): ``n`` (how many times a flaky mode fails), ``code`` (a status), ``ra`` (a
Retry-After value), ``to`` (a redirect target), ``size`` (a virtual body size), ``after`` (the first ``after``
requests of the URL behave normally).
"""

from __future__ import annotations

import socket
import struct
import time
from urllib.parse import parse_qs, quote, urlsplit

from ometiff_helpers.demo.server import RangeRequestHandler, parse_range_header

CANARY = "CANARY5ecret"
VIRTUAL_SIZE = 5 * 1024**3  # 5 GiB, generated on the fly, never allocated
SERVER_SEND_CAP = 64 * 1024 * 1024  # a fault handler never writes more than this, whatever the client does
_ZEROS = b"\0" * 65536


class PathFaults(RangeRequestHandler):
    """The fault modes (``mode_<name>(rest)``) and the helpers they share; ``owner`` is a `faultserver.FaultServer`."""

    _sent: int
    _status: int
    _note: str

    # --- helpers -------------------------------------------------------------------------------------------------

    @property
    def query(self) -> dict[str, list[str]]:
        """The request's query parameters."""
        return parse_qs(urlsplit(self.path).query, keep_blank_values=True)

    def param(self, name: str, default: str = "") -> str:
        """The first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else default

    def entry(self, name: str):
        """The served file ``name`` (KeyError when there is none)."""
        entry = self.owner._entry(name)
        if entry is None:
            raise KeyError(name)
        return entry

    def requested_span(self, size: int) -> tuple[int, int]:
        """The Range header as a half-open span of ``size`` (the whole of it when absent or malformed)."""
        span = parse_range_header(self.headers.get("Range", ""), size)
        return span if isinstance(span, tuple) else (0, size)

    def count(self, key: str) -> int:
        """How many times this key was hit before (thread-safe)."""
        with self.owner.counter_lock:
            n = self.owner.counters.get(key, 0)
            self.owner.counters[key] = n + 1
            return n

    def stream_virtual(self, total: int) -> None:
        """Write zeros until the client goes away, the total is reached or the cap is hit."""
        sent = 0
        limit = min(total, SERVER_SEND_CAP)
        while sent < limit and not self.owner.stopping.is_set():
            piece = _ZEROS[: min(len(_ZEROS), limit - sent)]
            self.write_body(piece)
            sent += len(piece)

    def hang_up(self, *, reset: bool) -> None:
        """End the connection in the middle of a body: a clean close (the client sees fewer bytes than promised) or
        a TCP RST (SO_LINGER 0)."""
        self.wfile.flush()
        self.close_connection = True
        if not reset:
            self.connection.shutdown(socket.SHUT_WR)
            return
        time.sleep(0.05)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    # --- H1, H2: status codes with bodies ------------------------------------------------------------------------

    def mode_status(self, rest: str) -> None:
        code = int(self.param("code", "403"))
        token = self.param("token")
        # S3-style error bodies echo parts of the request: the token must not reach our messages
        body = (
            f'<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message>'
            f"<RequestToken>{token}</RequestToken><Url>{self.path}</Url></Error>"
        ).encode()
        self.send_simple(code, body, "application/xml")

    # --- H3, H5: transient / persistent 5xx ------------------------------------------------------------------------

    def mode_flaky(self, rest: str) -> None:
        n = int(self.param("n", "2"))
        code = int(self.param("code", "503"))
        if self.count(f"flaky:{rest}:{self.param('key')}") < n:
            self.send_simple(code, b"temporarily unavailable\n")
            return
        self.serve_entry(self.entry(rest), False)

    # --- H4: Retry-After variants -----------------------------------------------------------------------------------

    def mode_retry_after(self, rest: str) -> None:
        code = int(self.param("code", "429"))
        n = int(self.param("n", "1000000"))
        if self.count(f"ra:{rest}:{self.param('key')}") < n:
            body = b"slow down\n"
            self.send_status(
                code, {"Retry-After": self.param("ra", "86400"), "Content-Length": str(len(body))}
            )
            self.end_headers()
            self.write_body(body)
            return
        self.serve_entry(self.entry(rest), False)

    # --- H6, H13, H16: Range ignored -------------------------------------------------------------------------------

    def mode_ignore_range(self, rest: str) -> None:
        """200 and the whole (virtual, multi-GB) body whatever the Range header says."""
        if rest.startswith("small/"):
            self.serve_entry(self.entry(rest[len("small/") :]), False, honour_range=False)
            return
        size = int(self.param("size", str(VIRTUAL_SIZE)))
        self.send_status(200, {"Content-Type": "image/tiff", "Content-Length": str(size)})
        self.end_headers()
        self.stream_virtual(size)

    def mode_chunked(self, rest: str) -> None:
        """H7 / H16: 200, Transfer-Encoding: chunked, no Content-Length, an endless body."""
        headers = {"Content-Type": "image/tiff", "Transfer-Encoding": "chunked"}
        if self.param("gzip"):
            headers["Content-Encoding"] = "gzip"
        self.send_status(200, headers)
        self.end_headers()
        sent = 0
        while sent < SERVER_SEND_CAP and not self.owner.stopping.is_set():
            self.wfile.write(b"%x\r\n%s\r\n" % (len(_ZEROS), _ZEROS))
            sent += len(_ZEROS)
            self._sent += len(_ZEROS)
        self.wfile.write(b"0\r\n\r\n")
        self.close_connection = True

    # --- H8-H10, H30: bad Content-Range ----------------------------------------------------------------------------

    def _send_206(
        self, entry, start: int, end: int, content_range: str | None, length: int | None = None
    ) -> None:
        data = entry.read(start, end)
        headers = {
            "Content-Type": "image/tiff",
            "ETag": entry.etag,
            "Content-Length": str(length or len(data)),
        }
        if content_range is not None:
            headers["Content-Range"] = content_range
        self.send_status(206, headers)
        self.end_headers()
        self.write_body(data)

    def mode_wrong_start(self, rest: str) -> None:
        entry = self.entry(rest)
        s, e = self.requested_span(entry.size)
        self._send_206(entry, s + 100, e + 100, f"bytes {s + 100}-{e + 99}/{entry.size}")

    def mode_no_content_range(self, rest: str) -> None:
        """206 without Content-Range; ``cl`` replaces the Content-Length header's text (e.g. ``"12, 12"``)."""
        entry = self.entry(rest)
        s, e = self.requested_span(entry.size)
        if self.param("cl"):
            data = entry.read(s, e)
            self.send_status(206, {"Content-Type": "image/tiff", "Content-Length": self.param("cl")})
            self.end_headers()
            self.write_body(data)
            self.close_connection = True
            return
        self._send_206(entry, s, e, None)

    def mode_star_total(self, rest: str) -> None:
        entry = self.entry(rest)
        s, e = self.requested_span(entry.size)
        self._send_206(entry, s, e, f"bytes {s}-{e - 1}/*")

    def mode_length_mismatch(self, rest: str) -> None:
        entry = self.entry(rest)
        s, e = self.requested_span(entry.size)
        data = entry.read(s, e)
        self.send_status(
            206, {"Content-Range": f"bytes {s}-{e - 1}/{entry.size}", "Content-Length": str(len(data) // 2)}
        )
        self.end_headers()
        self.write_body(data[: len(data) // 2])

    def mode_small_total(self, rest: str) -> None:
        """H30: Content-Range claims a total smaller than the real file."""
        entry = self.entry(rest)
        total = int(self.param("total", "1000"))
        s, e = self.requested_span(total)
        self._send_206(entry, s, e, f"bytes {s}-{e - 1}/{total}")

    # --- H11, H21: broken bodies -----------------------------------------------------------------------------------

    def mode_short(self, rest: str) -> None:
        """Content-Length promises the range; half of it arrives, then the connection closes (n times)."""
        entry = self.entry(rest)
        s, e = self.requested_span(entry.size)
        n = int(self.param("n", "1000000"))
        if self.count(f"short:{rest}:{self.param('key')}") >= n:
            self.serve_entry(entry, False)
            return
        data = entry.read(s, e)
        self.send_status(
            206, {"Content-Range": f"bytes {s}-{e - 1}/{entry.size}", "Content-Length": str(len(data))}
        )
        self.end_headers()
        self.write_body(data[: len(data) // 2])
        self.hang_up(reset=False)

    def mode_reset(self, rest: str) -> None:
        """Send 1000 body bytes, then a TCP RST (SO_LINGER 0) (n times, then behave)."""
        entry = self.entry(rest)
        s, e = self.requested_span(entry.size)
        n = int(self.param("n", "1000000"))
        if self.count(f"reset:{rest}:{self.param('key')}") >= n:
            self.serve_entry(entry, False)
            return
        self.send_status(
            206, {"Content-Range": f"bytes {s}-{e - 1}/{entry.size}", "Content-Length": str(e - s)}
        )
        self.end_headers()
        self.write_body(entry.read(s, min(e, s + 1000)))
        self.hang_up(reset=True)

    def mode_steps(self, rest: str) -> None:
        """One answer per request, in the order of ``plan`` (comma-separated), then normal service: ``cut206`` (206
        headers for the whole range, 1000 bytes, close), ``cut200`` (the whole file announced, 1000 bytes, close),
        ``whole200`` (the whole file, Range ignored), ``reset206`` (as cut206, but a TCP reset)."""
        entry = self.entry(rest)
        plan = [p for p in self.param("plan").split(",") if p]
        n = self.count(f"steps:{rest}:{self.param('key')}")
        step = plan[n] if n < len(plan) else "ok"
        if step == "whole200":
            self.serve_entry(entry, False, honour_range=False)
            return
        if step not in ("cut206", "cut200", "reset206"):
            self.serve_entry(entry, False)
            return
        s, e = (0, entry.size) if step == "cut200" else self.requested_span(entry.size)
        headers = {"ETag": entry.etag, "Content-Length": str(e - s)}
        if step != "cut200":
            headers["Content-Range"] = f"bytes {s}-{e - 1}/{entry.size}"
        self.send_status(200 if step == "cut200" else 206, headers)
        self.end_headers()
        self.write_body(entry.read(s, min(e, s + 1000)))
        self.hang_up(reset=step == "reset206")

    # --- H14 -------------------------------------------------------------------------------------------------------

    def mode_unsatisfiable(self, rest: str) -> None:
        total = self.param("total", "0")
        self.send_status(416, {"Content-Range": f"bytes */{total}", "Content-Length": "0"})
        self.end_headers()

    # --- H15, H16: content encodings -------------------------------------------------------------------------------

    def mode_gzip(self, rest: str) -> None:
        """206 whose body is gzip: 50 MB of zeros compressed to ~50 KB (a small bomb)."""
        body = self.owner.gzip_bomb()
        s, _ = self.requested_span(10**9)
        self.send_status(
            206,
            {
                "Content-Range": f"bytes {s}-{s + len(body) - 1}/1000000000",
                "Content-Length": str(len(body)),
                "Content-Encoding": "gzip",
            },
        )
        self.end_headers()
        self.write_body(body)

    # --- H17, H18: not a TIFF --------------------------------------------------------------------------------------

    def mode_html(self, rest: str) -> None:
        body = (
            "<!DOCTYPE html><html><head><title>Sign in</title></head><body><form action='/login?next="
            f"{quote(self.path)}'>Please sign in</form></body></html>"
        ).encode()
        ctype = self.param("ctype", "text/html; charset=utf-8")
        self.send_simple(200, body, ctype)

    def mode_json(self, rest: str) -> None:
        body = f'{{"error": "token expired", "token": "{self.param("token")}", "detail": "\\u0007bell"}}'.encode()
        self.send_simple(200, body, "application/json")

    # --- H19, H20: slow servers ------------------------------------------------------------------------------------

    def mode_slow(self, rest: str) -> None:
        """Headers at once, then one byte every ``every`` seconds."""
        entry = self.entry(rest)
        s, e = self.requested_span(entry.size)
        every = float(self.param("every", "0.5"))
        self.send_status(
            206, {"Content-Range": f"bytes {s}-{e - 1}/{entry.size}", "Content-Length": str(e - s)}
        )
        self.end_headers()
        for pos in range(s, e):
            if self.owner.stopping.wait(every):
                return
            self.write_body(entry.read(pos, pos + 1))
            self.wfile.flush()

    def mode_slow_head(self, rest: str) -> None:
        """The status line and headers one byte every ``every`` seconds (then the body at once); each header byte
        sent is counted under ``slow_head:bytes``."""
        entry = self.entry(rest)
        s, e = self.requested_span(entry.size)
        data = entry.read(s, e)
        head = (
            f"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {s}-{e - 1}/{entry.size}\r\n"
            f"Content-Length: {len(data)}\r\nX-Padding: {'.' * 200}\r\n\r\n"
        ).encode()
        every = float(self.param("every", "0.2"))
        self._status = 206
        self.close_connection = True
        for pos in range(len(head)):
            if self.owner.stopping.wait(every):
                return
            self.wfile.write(head[pos : pos + 1])
            self.wfile.flush()
            self.count("slow_head:bytes")
        self.write_body(data)

    def mode_silent(self, rest: str) -> None:
        """Read the request, never answer (until the server stops or 30 s pass)."""
        self.owner.stopping.wait(30)
        self.close_connection = True

    # --- H24-H27: redirects ----------------------------------------------------------------------------------------

    def _redirect(self, location: str, code: int = 302) -> None:
        self.send_status(code, {"Location": location, "Content-Length": "0"})
        self.end_headers()

    def mode_loop(self, rest: str) -> None:
        """H24: /loop/a -> /loop/b -> /loop/a ... (query kept)."""
        other = "b" if rest.endswith("/a") or rest == "a" else "a"
        query = self.path.partition("?")[2]
        self._redirect(f"/loop/{other}" + (f"?{query}" if query else ""))

    def mode_chain(self, rest: str) -> None:
        """/chain/<k>/<file>: k more hops, each to a new URL, then the file."""
        k_s, _, name = rest.partition("/")
        k = int(k_s)
        query = self.path.partition("?")[2]
        target = f"/chain/{k - 1}/{name}" if k > 1 else f"/{name}"
        self._redirect(target + (f"?{query}" if query else ""))

    def mode_redirect(self, rest: str) -> None:
        """302 to ``to`` (absolute or relative); ``{port}`` is replaced by this server's port."""
        self._redirect(
            self.param("to").replace("{port}", str(self.owner.port)), int(self.param("code", "302"))
        )

    def mode_fat_redirect(self, rest: str) -> None:
        """302 to the plain file, with a (virtual, multi-GB) body that a client must not read."""
        self.send_status(302, {"Location": f"/{rest}", "Content-Length": str(VIRTUAL_SIZE)})
        self.end_headers()
        self.stream_virtual(VIRTUAL_SIZE)

    def mode_drop_query(self, rest: str) -> None:
        """H26: redirect to the same file under /need_token/ without the query."""
        self._redirect(f"/need_token/{rest}")

    def mode_need_token(self, rest: str) -> None:
        if not self.param("token"):
            self.send_simple(
                403, b"<Error><Code>AccessDenied</Code><Message>no token</Message></Error>", "text/xml"
            )
            return
        self.serve_entry(self.entry(rest), False)

    def mode_presign(self, rest: str) -> None:
        """H27: 302 to another host name (localhost) with an S3-style signed query."""
        self._redirect(
            f"http://localhost:{self.owner.port}/signed/{rest}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Credential=AKIAEXAMPLE%2F20240101&X-Amz-Expires=3600&X-Amz-Signature=SIGNED{CANARY}"
        )

    def mode_signed(self, rest: str) -> None:
        """A GET-only signed endpoint: HEAD or a missing signature -> 403."""
        if self.command != "GET" or not self.param("X-Amz-Signature"):
            self.send_simple(403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>", "application/xml")
            return
        self.serve_entry(self.entry(rest), False)

    # --- H29: the file changes without If-Match support --------------------------------------------------------------

    def mode_no_if_match(self, rest: str) -> None:
        entry = self.entry(rest)
        del self.headers["If-Match"]
        self.serve_entry(entry, False)
