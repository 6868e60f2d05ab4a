"""Network probes the viewer's success depends on, sent through the source's own session, URL and token.

A handful of small requests (at most ``ProbeOptions.max_requests``, short timeouts, bodies capped): a range that
straddles the end of the file, a CORS preflight for ``Range``, a HEAD, a GET without the token, and the offsets.json
at the sibling and at the portal's ``output_offsets/`` location. They are counted in ``ProbeResults`` (requests,
bytes), never in the main read's ledger. Every URL kept here is the redacted one; the token appears nowhere.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ometiff_helpers.diagnose.origin import DEFAULT_ORIGIN as DEFAULT_ORIGIN
from ometiff_helpers.diagnose.origin import check_origin as check_origin
from ometiff_helpers.errors import OmeTiffError, RedirectError
from ometiff_helpers.frozen import record
from ometiff_helpers.urls import SecretURL, is_secret_key, redact_text

if TYPE_CHECKING:  # the HTTP stack (requests, urllib3) is imported when a probe is sent, not for a local file
    from ometiff_helpers.io.http.source import HttpSource


def _broken_errors() -> tuple[type[BaseException], ...]:
    """What a probe's broken answer raises (urllib3 and requests errors, a reset socket); limits are not among them."""
    import requests
    import urllib3

    return (OSError, urllib3.exceptions.HTTPError, requests.RequestException)


#: response headers worth keeping (lower-case)
_KEEP = ("content-range", "content-length", "content-type", "accept-ranges", "access-control-allow-origin",
         "access-control-allow-headers", "access-control-allow-methods", "access-control-expose-headers",
         "access-control-allow-credentials", "location")  # fmt: skip
_SUFFIX = re.compile(r"(\.ome)?\.tiff?$|\.btf$", re.IGNORECASE)
PORTAL_PYRAMIDS = "ometiff-pyramids"
PORTAL_OFFSETS = "output_offsets"


@record
class ProbeOptions:
    """Bounds of the probes."""

    origin: str = DEFAULT_ORIGIN  # the viewer's page origin, for CORS
    timeout: float = 5.0  # connect and read, per request
    max_body: int = 64 * 1024  # bytes read from any body except offsets.json
    max_offsets_bytes: int = 16 * 1024 * 1024
    max_redirects: int = 3
    eof_block: int = 64 * 1024  # the straddling range: half before EOF, half after


@record
class ProbeResponse:
    """One probe request as seen: status (None when no answer), kept headers, bytes read, a redacted error."""

    label: str
    method: str
    url: str  # redacted
    status: int | None
    headers: Mapping[str, str] = field(default_factory=dict)
    nbytes: int = 0
    seconds: float = 0.0
    error: str = ""
    request_range: str = ""
    redirects: tuple[str, ...] = ()  # redacted hops

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "method": self.method,
            "url": self.url,
            "status": self.status,
            "headers": dict(self.headers),
            "nbytes": self.nbytes,
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "request_range": self.request_range,
            "redirects": list(self.redirects),
        }


@record
class OffsetsProbe:
    """An offsets.json location: ``outcome`` is valid, missing, wrong, error or skipped; ``detail`` says why."""

    location: str  # "sibling" | "output_offsets"
    url: str  # redacted ("" when skipped)
    outcome: str
    detail: str
    status: int | None = None
    count: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "url": self.url,
            "outcome": self.outcome,
            "detail": self.detail,
            "status": self.status,
            "count": self.count,
        }


@record
class ProbeResults:
    origin: str
    range_eof: ProbeResponse | None = None
    preflight: ProbeResponse | None = None
    head: ProbeResponse | None = None
    without_token: ProbeResponse | None = None  # None when the URL has no token
    offsets: tuple[OffsetsProbe, ...] = ()
    requests: int = 0
    bytes: int = 0
    seconds: float = 0.0
    file_size: int = 0

    def as_dict(self) -> dict[str, Any]:
        def opt(p: ProbeResponse | None) -> dict[str, Any] | None:
            return None if p is None else p.as_dict()

        return {
            "origin": self.origin,
            "range_eof": opt(self.range_eof),
            "preflight": opt(self.preflight),
            "head": opt(self.head),
            "without_token": opt(self.without_token),
            "offsets": [o.as_dict() for o in self.offsets],
            "requests": self.requests,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
        }


# --- URLs -----------------------------------------------------------------------------------------------------------


def offsets_name(path_name: str) -> str:
    """``X.ome.tif`` -> ``X.offsets.json`` (generate_tiff_offsets' and Avivator's naming)."""
    return _SUFFIX.sub("", path_name) + ".offsets.json"


def sibling_offsets_url(url: SecretURL) -> SecretURL:
    return url.with_path_name(offsets_name(url.path_name))


def portal_offsets_url(url: SecretURL) -> SecretURL | None:
    """``.../ometiff-pyramids/A/X.ome.tif?q`` -> ``.../output_offsets/A/X.offsets.json?q``; None if no such folder."""
    parts = urlsplit(url.reveal())
    segments = parts.path.split("/")
    if PORTAL_PYRAMIDS not in segments[:-1]:
        return None
    i = len(segments) - 1 - segments[::-1].index(PORTAL_PYRAMIDS)
    segments[i] = PORTAL_OFFSETS
    segments[-1] = offsets_name(url.path_name)
    return SecretURL(
        urlunsplit((parts.scheme, parts.netloc, "/".join(segments), parts.query, parts.fragment))
    )


def without_secrets(url: SecretURL) -> SecretURL | None:
    """The URL with its secret query parameters removed; None when it has none."""
    parts = urlsplit(url.reveal())
    pairs = [p for p in parts.query.split("&") if p]
    kept = [p for p in pairs if not is_secret_key(p.split("=", 1)[0])]
    if len(kept) == len(pairs):
        return None
    return SecretURL(urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(kept), parts.fragment)))


# --- requests -------------------------------------------------------------------------------------------------------


class _Prober:
    def __init__(self, source: HttpSource, options: ProbeOptions) -> None:
        self.source = source
        self.opt = options
        self.requests = 0
        self.bytes = 0
        self.t0 = time.monotonic()

    @property
    def _hard_limit(self) -> float:
        """Seconds after which one probe is cut, whatever arrived: past the body cap (2 x timeout)."""
        return 3 * self.opt.timeout

    def send(
        self, label: str, method: str, url: SecretURL, headers: Mapping[str, str] | None = None,
        *, max_body: int | None = None,
    ) -> tuple[ProbeResponse, bytes]:  # fmt: skip
        """One request (following a few redirects), body read up to ``max_body`` bytes, then closed.

        A body stops at twice the probe timeout (``read_capped``); a server that trickles its status line and
        headers, which no read timeout catches, is cut off by the source's watchdog a little later."""
        with self.source.watchdog(self._hard_limit) as watch:
            return self._send(label, method, url, headers, max_body, watch)

    def _send(
        self, label: str, method: str, url: SecretURL, headers: Mapping[str, str] | None,
        max_body: int | None, watch: Any,
    ) -> tuple[ProbeResponse, bytes]:  # fmt: skip
        from ometiff_helpers.io.http.body import read_capped
        from ometiff_helpers.io.http.retry import Retryable
        from ometiff_helpers.io.http.transport import redirect_hop, send

        broken = _broken_errors()
        limit = self.opt.max_body if max_body is None else max_body
        hops: list[str] = []
        visited = [url]
        t0 = time.monotonic()
        current = url
        while True:
            send_headers = {"Accept-Encoding": "identity", **(headers or {})}
            if current.origin == self.source.url.origin:
                send_headers.update(self.source.options.headers)
            self.requests += 1
            try:  # the source's own send: same session, exact URL bytes, CA bundle and proxies from the environment
                response = send(
                    self.source.session, method, current, send_headers, (self.opt.timeout, self.opt.timeout)
                )
            except (OmeTiffError, Retryable) as exc:
                why = f"within {self._hard_limit:g} s" if watch.fired else f"({redact_text(str(exc))})"
                return ProbeResponse(label, method, url.redacted, None, seconds=time.monotonic() - t0,
                                     error=f"no answer {why}", redirects=tuple(hops)), b""  # fmt: skip
            body = bytearray()
            try:
                target = redirect_hop(
                    response, current, visited, start=url, max_redirects=self.opt.max_redirects,
                    cross_host=self.source.options.follow_cross_host_redirects,
                )  # fmt: skip
                if target is not None:
                    hops.append(target.redacted)
                    visited.append(target)
                    current = target
                    continue
                if method != "HEAD":  # at most limit + 1 bytes (one more tells that there was more)
                    read_capped(response, limit + 1, t0 + 2 * self.opt.timeout, body)
                kept = {k: redact_text(v) for k in _KEEP if (v := response.headers.get(k)) is not None}
                if "location" in kept:
                    kept["location"] = SecretURL(kept["location"]).redacted
                return ProbeResponse(
                    label, method, url.redacted, response.status_code, kept, len(body), time.monotonic() - t0,
                    "" if len(body) <= limit else f"body longer than {limit:,} bytes (not read further)",
                    send_headers.get("Range", ""), tuple(hops),
                ), bytes(body)  # fmt: skip
            except RedirectError as exc:  # the 3xx is the answer: say why it was not followed
                return ProbeResponse(label, method, url.redacted, response.status_code,
                                     seconds=time.monotonic() - t0, error=redact_text(str(exc)),
                                     redirects=tuple(hops)), b""  # fmt: skip
            except broken as exc:  # reset, timeout mid-body: the answer is broken
                return ProbeResponse(label, method, url.redacted, response.status_code,
                                     seconds=time.monotonic() - t0,
                                     error=f"broken response ({type(exc).__name__})"), b""  # fmt: skip
            finally:
                self.bytes += len(body)
                response.close()


def run_probes(
    source: HttpSource, ifd_offsets: Sequence[int], *, options: ProbeOptions | None = None
) -> ProbeResults:
    """Probe the server behind ``source`` (open) for what the viewer needs; ``ifd_offsets``: the top-level IFDs."""
    opt = options or ProbeOptions()
    p = _Prober(source, opt)
    url = source.url
    size = source.size
    start = max(0, size - opt.eof_block // 2)
    end = size + opt.eof_block // 2 - 1  # inclusive, past EOF on purpose
    origin = {"Origin": opt.origin}
    range_eof, _ = p.send("range past end of file", "GET", url, {**origin, "Range": f"bytes={start}-{end}"})
    preflight, _ = p.send("CORS preflight", "OPTIONS", url, {
        **origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "range"})  # fmt: skip
    head, _ = p.send("HEAD", "HEAD", url)
    bare = without_secrets(url)
    without_token = (
        p.send("GET without the token", "GET", bare, {"Range": "bytes=0-0"}, max_body=16)[0] if bare else None
    )
    offsets = [_probe_offsets(p, "sibling", sibling_offsets_url(url), ifd_offsets, opt)]
    portal = portal_offsets_url(url)
    if portal is None:
        offsets.append(OffsetsProbe("output_offsets", "", "skipped",
                                    f"the URL has no {PORTAL_PYRAMIDS}/ folder, so there is no {PORTAL_OFFSETS}/ location"))  # fmt: skip
    else:
        offsets.append(_probe_offsets(p, "output_offsets", portal, ifd_offsets, opt))
    return ProbeResults(
        origin=opt.origin, range_eof=range_eof, preflight=preflight, head=head, without_token=without_token,
        offsets=tuple(offsets), requests=p.requests, bytes=p.bytes, seconds=time.monotonic() - p.t0, file_size=size,
    )  # fmt: skip


def _probe_offsets(
    p: _Prober, location: str, url: SecretURL, ifd_offsets: Sequence[int], opt: ProbeOptions
) -> OffsetsProbe:
    limit = min(opt.max_offsets_bytes, max(64 * 1024, 24 * len(ifd_offsets) + 4096))
    resp, body = p.send(f"offsets.json ({location})", "GET", url, max_body=limit)
    if resp.status is None:
        return OffsetsProbe(location, url.redacted, "error", resp.error)
    if resp.status in (401, 403, 404, 410):
        return OffsetsProbe(location, url.redacted, "missing", f"HTTP {resp.status}", resp.status)
    if resp.status not in (200, 206):
        return OffsetsProbe(location, url.redacted, "error", f"HTTP {resp.status}", resp.status)
    if len(body) > limit:
        return OffsetsProbe(location, url.redacted, "wrong",
                            f"larger than {limit:,} bytes, far more than {len(ifd_offsets):,} offsets need", resp.status)  # fmt: skip
    verdict = compare_offsets(body, ifd_offsets)
    outcome = "valid" if verdict is None else "wrong"
    count = _count(body)
    return OffsetsProbe(location, url.redacted, outcome, verdict or f"{len(ifd_offsets):,} offsets, all equal to "
                        "the IFD offsets", resp.status, count)  # fmt: skip


def _count(body: bytes) -> int | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return len(data) if isinstance(data, list) else None


def compare_offsets(body: bytes, ifd_offsets: Sequence[int]) -> str | None:
    """None when ``body`` is a JSON list equal to ``ifd_offsets``; else what is wrong, in plain words."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        head = redact_text(body[:40].decode("utf-8", "replace").strip())  # an error page may echo the token
        return f"not JSON (starts with {head!r})"
    if not isinstance(data, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in data):
        return f"not a JSON list of integers (found {type(data).__name__})"
    if len(data) != len(ifd_offsets):
        return f"{len(data):,} offsets, but the file has {len(ifd_offsets):,} top-level IFDs"
    bad = [i for i, (a, b) in enumerate(zip(data, ifd_offsets, strict=True)) if a != b]
    if bad:
        i = bad[0]
        return (f"{len(bad):,} offsets differ from the real IFD offsets, first at index {i}: "
                f"{data[i]:,} listed, IFD {i} is at {ifd_offsets[i]:,}")  # fmt: skip
    return None
