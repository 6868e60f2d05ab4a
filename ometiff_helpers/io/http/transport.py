"""The HTTP transport: one keep-alive session that never follows redirects itself, THE one `send` (used by range
reads and by the diagnostics' probes, so that REQUESTS_CA_BUNDLE, proxies and the exact URL bytes apply to both),
THE one redirect follower, the deadline watchdog, and connection errors in plain words.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.retry import Retry

from ometiff_helpers.errors import ConnectionFailed, OmeTiffError, RedirectError
from ometiff_helpers.io.base import HttpOptions
from ometiff_helpers.io.http.retry import Retryable, exc_kind
from ometiff_helpers.urls import SecretURL

__all__ = [
    "REDIRECT_STATUSES",
    "NoRedirectSession",
    "Watch",
    "new_session",
    "redirect_hop",
    "send",
    "watching",
]

REDIRECT_STATUSES = (301, 302, 303, 307, 308)


class NoRedirectSession(requests.Session):
    """A session that never resolves redirects itself. Even with ``allow_redirects=False``, `requests.Session.send`
    walks one step of `resolve_redirects` to fill ``Response.next``, and that step reads the 3xx's whole body
    (decoded, unbounded) and parses its Location (a raw ValueError). `redirect_hop` follows redirects instead."""

    def resolve_redirects(self, *args: object, **kwargs: object) -> Iterator[Any]:
        """Never follow: the caller does, with `redirect_hop`."""
        return iter(())


# --- the deadline watchdog ------------------------------------------------------------------------------------------
# A socket read timeout bounds one read, not a response: a server that sends its status line and headers one byte at
# a time keeps every read short while http.client waits hours for the blank line. Each range request therefore arms a
# timer at its deadline; the connection it uses registers itself (thread-local, from inside urllib3) and the timer
# shuts that socket down, so the blocked read returns at once.

_watched = threading.local()


def _shut(sock: socket.socket | None) -> None:
    """Shut a socket down (not closed: its owner closes it), ignoring one already closed."""
    if sock is None:
        return
    # the plain socket's shutdown, also under TLS: SSLSocket.shutdown would unwrap it under the reader's feet
    with contextlib.suppress(OSError):  # already closed
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Watch:
    """The deadline of one range request: `fire` (the timer) cuts the connection attached by the request's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn: HTTPConnection | None = None
        # the connection's socket as last seen: http.client drops ``conn.sock`` when a response says
        # "Connection: close", while the response still reads from it
        self._sock: socket.socket | None = None
        self._fired = threading.Event()

    @property
    def fired(self) -> bool:
        """The watch fired: its connection was cut, and any later one is cut on attach."""
        return self._fired.is_set()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a retry's backoff), or less if the watch fires meanwhile."""
        self._fired.wait(max(0.0, seconds))

    def attach(self, conn: HTTPConnection) -> None:
        """Register the connection the request now uses (cut at once if the watch already fired)."""
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
        """Cut the attached connection now and any connection attached later."""
        with self._lock:
            self._fired.set()
            if self._conn is not None:
                _shut(self._conn.sock or self._sock)


@contextlib.contextmanager
def watching(watch: Watch, deadline_at: float) -> Iterator[Watch]:
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
    """Register ``conn`` with the watch of the request this thread is sending, if any."""
    watch: Watch | None = getattr(_watched, "watch", None)
    if watch is not None:
        watch.attach(conn)


class _WatchedHTTPConnection(HTTPConnection):
    """An HTTP connection that registers with the current request's watch."""

    def connect(self) -> None:
        """Connect, registered with the request's watch before and after."""
        _attach_current(self)  # while connecting (the socket appears midway)
        super().connect()
        _attach_current(self)  # a deadline that passed while connecting cuts the new socket now

    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Send the request, registered with the request's watch."""
        _attach_current(self)  # a kept-alive connection is not connected again
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    """An HTTPS connection that registers with the current request's watch."""

    def connect(self) -> None:
        """Connect, registered with the request's watch before and after."""
        _attach_current(self)
        super().connect()
        _attach_current(self)

    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Send the request, registered with the request's watch."""
        _attach_current(self)
        super().request(*args, **kwargs)


class _WatchedHTTPConnectionPool(HTTPConnectionPool):
    """A pool of watched HTTP connections."""

    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    """A pool of watched HTTPS connections."""

    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = MappingProxyType({"http": _WatchedHTTPConnectionPool, "https": _WatchedHTTPSConnectionPool})


class _WatchedAdapter(HTTPAdapter):
    """An adapter whose connections register with the deadline watch of the request using them."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """The pool manager, with watched connection pools."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_WATCHED_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """A proxy manager, with watched connection pools too."""
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = dict(_WATCHED_POOLS)
        return manager


def new_session(options: HttpOptions) -> requests.Session:
    """A keep-alive session with watched connections, no retries or redirects of its own, identity encoding."""
    session = NoRedirectSession()
    adapter = _WatchedAdapter(
        pool_connections=4,
        pool_maxsize=max(16, options.max_concurrency),
        max_retries=Retry(total=0, connect=0, read=0, redirect=0, status=0, other=0, raise_on_status=False),
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["Accept-Encoding"] = "identity"
    session.headers["User-Agent"] = options.user_agent
    return session


def send(
    session: requests.Session,
    method: str,
    url: SecretURL,
    headers: Mapping[str, str],
    timeout: tuple[float, float],
) -> requests.Response:
    """One request, streamed, redirects not followed; the URL goes out byte for byte, with the environment's
    CA bundle (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE), proxies and client certificate. Raises `Retryable` for a
    timeout or a broken connection, an `OmeTiffError` for what no retry fixes."""
    failure: OmeTiffError | Retryable | None = None
    response: requests.Response | None = None
    try:
        prepared = session.prepare_request(requests.Request(method, url.reveal(), headers=dict(headers)))
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
        failure = Retryable("timeout", f"connecting to {url.host} timed out")
    except requests.exceptions.ReadTimeout:
        failure = Retryable("timeout", f"{url.host} sent no response in time")
    except requests.exceptions.ConnectionError as exc:
        failure = _classify_connection_error(exc, url)
    except requests.exceptions.InvalidURL:
        failure = ConnectionFailed(f"not a valid URL: {url.redacted}", url=url.redacted)
    except requests.exceptions.RequestException as exc:
        failure = ConnectionFailed(f"request to {url.host} failed: {type(exc).__name__}", url=url.redacted)
    if failure is not None:
        raise failure
    assert response is not None
    return response


def redirect_hop(
    response: requests.Response,
    current: SecretURL,
    visited: list[SecretURL],
    *,
    start: SecretURL,
    max_redirects: int,
    cross_host: bool = True,
) -> SecretURL | None:
    """Where ``response`` (to a request for ``current``) redirects to, or None when it is no redirect. Refuses
    (`RedirectError`) a Location that is no URL, a non-HTTP target, https -> http, another host unless
    ``cross_host``, a loop over ``visited`` (the URLs asked so far, ``start`` first), more than ``max_redirects``
    hops."""
    if response.status_code not in REDIRECT_STATUSES or not response.headers.get("Location"):
        return None
    # the raw Location (it may hold a secret) is kept in no local: verbose tracebacks print them
    target = _location(current, response.headers["Location"])
    hop = f"from {current.redacted} to {target.redacted}"
    if not target.is_http:
        raise RedirectError(f"refused a redirect to a non-HTTP URL ({hop})", url=current.redacted)
    if current.scheme == "https" and target.scheme == "http":
        raise RedirectError(f"refused a redirect from https to plain http ({hop})", url=current.redacted)
    if target.origin != current.origin and not cross_host:
        raise RedirectError(f"refused a redirect to another host ({hop})", url=current.redacted)
    if target in visited:
        raise RedirectError(f"redirect loop ({hop} was already visited)", url=start.redacted)
    if len(visited) > max_redirects:
        raise RedirectError(
            f"too many redirects (more than {max_redirects}) starting at {start.redacted}", url=start.redacted
        )
    return target


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
    """Why a TLS handshake failed, in plain words."""
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return "certificate verification failed (self-signed or unknown certificate authority)"
    if "hostname" in text.lower():
        return "the certificate does not match the host name"
    return "the secure connection could not be set up"


def _classify_connection_error(exc: BaseException, url: SecretURL) -> OmeTiffError | Retryable:
    """A connection failure: final (DNS, refused) or worth a retry (timeout, reset)."""
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
        return Retryable("timeout", f"{host} did not answer in time")
    return Retryable("reset", f"connection to {host} broken ({exc_kind(exc)})")
