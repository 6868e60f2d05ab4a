"""Choosing the byte source for a URL, a path or bytes, and reading a small side file (an offsets.json) whole."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ometiff_helpers.errors import ConnectionFailed, LimitExceeded
from ometiff_helpers.fmt import human_bytes
from ometiff_helpers.io.base import ByteSource, HttpOptions
from ometiff_helpers.io.local import BytesSource, FileSource
from ometiff_helpers.urls import SecretURL

__all__ = ["open_source", "read_small_file"]

_FIRST_READ = 64 * 1024


def open_source(
    url_or_path: str | Path | SecretURL | bytes,
    *,
    token: str | None = None,
    options: HttpOptions | None = None,
    expect: str = "tiff",
) -> ByteSource:
    """An `HttpSource` for http(s) URLs, a `FileSource` for paths (and file:// URLs), a `BytesSource` for bytes.
    ``expect``: what the file is ("tiff", or "json" for a side file); an HTTP first read refuses what does not fit.
    """
    if isinstance(url_or_path, (bytes, bytearray, memoryview)):
        return BytesSource(bytes(url_or_path), options=options)
    if isinstance(url_or_path, SecretURL):
        from ometiff_helpers.io.http.source import HttpSource  # requests and urllib3: only for a URL

        return HttpSource(url_or_path, token=token, options=options, expect=expect)
    if isinstance(url_or_path, Path):
        return FileSource(url_or_path, options=options)
    text = str(url_or_path).strip()
    lower = text.lower()
    if lower.startswith(("http://", "https://")):
        from ometiff_helpers.io.http.source import HttpSource

        return HttpSource(text, token=token, options=options, expect=expect)
    if lower.startswith("file://"):
        return FileSource(unquote(urlsplit(text).path), options=options)
    if re.match(r"^[a-z][a-z0-9+.\-]*://", lower):
        safe = SecretURL(text)
        raise ConnectionFailed(
            f"only http://, https:// and file paths can be read, not {safe.redacted}", url=safe.redacted
        )
    return FileSource(text, options=options)


def read_small_file(
    url_or_path: str | Path | SecretURL,
    *,
    limit: int,
    token: str | None = None,
    options: HttpOptions | None = None,
    what: str = "offsets.json",
) -> bytes:
    """The whole of a small JSON side file (an offsets.json), through the same transport as the image: the URL's
    token kept (or ``token`` added), redirects, retries and deadlines alike, an HTML page refused, at most
    ``limit`` bytes read (`LimitExceeded` beyond, said with the redacted name)."""
    with open_source(url_or_path, token=token, options=options, expect="json") as src:
        src.open(min(limit + 1, _FIRST_READ))
        if src.size > limit:
            raise LimitExceeded(
                f"{src.display_name} is {human_bytes(src.size)}, larger than the {human_bytes(limit)} an {what} "
                "may have: it is not one",
                name=f"{what} bytes",
                value=src.size,
                limit=limit,
                hint=f"Check the {what} location.",
            )
        return src.read(0, src.size)
