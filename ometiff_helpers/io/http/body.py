"""Bounded reads of response bodies that are not file bytes: THE one capped reader (error pages, probe answers,
small documents) and the printable, secret-free preview of what such a body says."""

from __future__ import annotations

import logging
import re
import time

import requests

from ometiff_helpers.urls import redact_text

__all__ = ["ERROR_BODY_READ", "error_snippet", "parse_length", "read_capped", "sanitize_snippet"]

log = logging.getLogger(__name__)

#: bytes of an error answer read for its message
ERROR_BODY_READ = 4 * 1024
_ERROR_SNIPPET = 200


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


def error_snippet(response: requests.Response, deadline_at: float, limit: int = ERROR_BODY_READ) -> str:
    """What an error answer's body says: at most ``limit`` bytes read, sanitised; "" when it cannot be read."""
    data = bytearray()
    try:
        read_capped(response, limit, deadline_at, data)
    except Exception:  # the body only decorates a message that is raised anyway; its absence is no failure
        log.debug("could not read the error body")
    return sanitize_snippet(bytes(data))


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


def parse_length(value: str | None) -> int | None:
    """A Content-Length header's value; None when absent or not a plain decimal number (``"12, 12"``, ``"²"``)."""
    m = re.fullmatch(r"\s*([0-9]+)\s*", value or "")
    return int(m.group(1)) if m else None
