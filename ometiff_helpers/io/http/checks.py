"""What a 206 or 416 answer to a range request must say: pure checks of its headers, in plain words."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ometiff_helpers.errors import CorruptTiff, NotATiff, OmeTiffError
from ometiff_helpers.frozen import record
from ometiff_helpers.io.base import Range
from ometiff_helpers.io.http.body import parse_length

__all__ = ["RangeAnswer", "check_content_range", "unsatisfiable_error", "validators_changed"]

_CONTENT_RANGE_RE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)
_CONTENT_RANGE_416_RE = re.compile(r"^\s*bytes\s+\*/(\d+)\s*$", re.IGNORECASE)

_MULTIPART_HINT = (
    "The server (or a proxy or CDN in front of it) wraps single byte ranges in multipart/byteranges, which "
    "range readers such as the viewer's do not unpack. Serve the file from S3, GCS, nginx or Apache directly, or "
    "ask the administrators to answer one range with a plain 206 and a Content-Range header."
)


@record
class RangeAnswer:
    """A 206's headers judged against the request: body bytes to read and the file size, or what is wrong."""

    expected: int = 0
    total: int | None = None
    problem: str = ""
    hint: str | None = None


def check_content_range(headers: Mapping[str, str], span: Range, size: int | None) -> RangeAnswer:
    """Judge a 206 answer to ``span`` of a file of ``size`` bytes (None when not yet known)."""
    start, end = span
    value = headers.get("Content-Range")
    length_s = headers.get("Content-Length")
    length = parse_length(length_s)
    ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if ctype == "multipart/byteranges":
        return RangeAnswer(
            problem=f"a multipart/byteranges answer to the single range bytes={start}-{end - 1} (the file's bytes "
            "come wrapped in MIME parts, not as the body)",
            hint=_MULTIPART_HINT,
        )
    if value is None:
        # usable only if the size is already known and the length matches the request
        want = (min(end, size) - start) if size is not None else None
        if want is None or length is None or length != want:
            return RangeAnswer(problem="206 response without Content-Range")
        return RangeAnswer(expected=want, total=size)
    m = _CONTENT_RANGE_RE.match(value)
    if not m:
        return RangeAnswer(problem=f"unreadable Content-Range {value!r}")
    a, b, total_s = int(m.group(1)), int(m.group(2)), m.group(3)
    total = int(total_s) if total_s != "*" else size
    if total is None:
        return RangeAnswer(
            problem="Content-Range without the file size (bytes a-b/*); the size is needed to check offsets"
        )
    if a != start or b < a or b + 1 != min(end, total):
        return RangeAnswer(
            problem=f"Content-Range mismatch: asked for bytes {start}-{end - 1}, got {value.strip()}"
        )
    if size is not None and total != size:
        return RangeAnswer(problem=f"file changed during read: size was {size:,}, now {total:,}")
    expected = b + 1 - a
    if length_s is not None and length != expected:
        return RangeAnswer(
            total=total,
            problem=f"Content-Length {length_s.strip()} disagrees with Content-Range {value.strip()}",
        )
    return RangeAnswer(expected=expected, total=total)


def validators_changed(headers: Mapping[str, str], etag: str | None, last_modified: str | None) -> bool:
    """The answer's ETag (or, without one, Last-Modified) differs from the one the first read saw."""
    new_etag, modified = headers.get("ETag"), headers.get("Last-Modified")
    return (etag is not None and new_etag is not None and new_etag != etag) or (
        etag is None and last_modified is not None and modified is not None and modified != last_modified
    )


def unsatisfiable_error(content_range: str | None, span: Range, first: bool, where: str) -> OmeTiffError:
    """The error for a 416 answer to ``span``: a file too short to be a TIFF, or a read past its end."""
    m = _CONTENT_RANGE_416_RE.match(content_range or "")
    total = int(m.group(1)) if m else None
    if (total is None and first) or (total is not None and total < 8):
        n = "an unknown size" if total is None else f"{total} bytes"
        return NotATiff(
            f"file too short: the server says {where} has {n} (HTTP 416 for bytes {span[0]}-{span[1] - 1}); "
            "a TIFF needs at least 8 bytes",
            kind="empty" if total == 0 else "too-short",
        )
    return CorruptTiff(
        f"file is {total if total is not None else 'an unknown number of'} bytes, too small: bytes "
        f"{span[0]:,}-{span[1] - 1:,} are past its end (HTTP 416 from {where})",
        offset=span[0],
    )
