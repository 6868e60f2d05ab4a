"""THE answer to "what are these bytes?": a (Big)TIFF, or a web page, JSON, XML, another file format, text.

One function, `sniff_kind`, used by the HTTP source's first-read check (with the response's Content-Type) and by the
TIFF header parser (bytes only), so both name a non-TIFF the same way.
"""

from __future__ import annotations

__all__ = ["KIND_WORDS", "TIFF_SIGNATURES", "kind_words", "sniff_kind"]

#: the first four bytes of a classic TIFF and a BigTIFF, both byte orders
TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")

#: what a file that is not a TIFF looks like, by its first bytes (checked in order, after leading whitespace for text)
_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"\x1f\x8b", "gzip"),
    (b"%PDF", "pdf"),
    (b"BM", "bmp"),
    (b"\x00\x00\x00\x0cjP  ", "jpeg2000"),
    (b"\xff\x4f\xff\x51", "jpeg2000"),
    (b"\x89HDF\r\n\x1a\n", "hdf5"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"BZh", "bzip2"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"RIFF", "riff"),
    (b"8BPS", "psd"),
    (b"\x00\x00\x00\x0c\x4a\x58\x4c\x20", "jpegxl"),
    (b"\xff\x0a", "jpegxl"),
)

_HTML_TYPES = ("text/html", "application/xhtml+xml")

KIND_WORDS = {
    "tiff": "a TIFF",
    "html": "an HTML page (a login or error page?)",
    "xml": "an XML document",
    "json": "a JSON document (an error message from the server?)",
    "text": "plain text",
    "empty": "an empty file",
    "unknown": "unknown binary data",
}


def sniff_kind(data: bytes, content_type: str | None = None) -> str:
    """Name what ``data`` (the first bytes of a file or response) is: tiff, html, xml, json, png, jpeg, zip, gzip,
    pdf, ..., text, empty or unknown. Bytes that start like a TIFF are a TIFF whatever ``content_type`` claims;
    otherwise an HTML or JSON ``content_type`` (a response's Content-Type header) decides."""
    if not data:
        return "empty"
    if data.startswith(TIFF_SIGNATURES):
        return "tiff"
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype in _HTML_TYPES:
        return "html"
    if ctype.endswith(("/json", "+json")):
        return "json"
    for sig, kind in _BINARY_SIGNATURES:
        if data.startswith(sig):
            return kind
    head = data[:512].lstrip(b"\xef\xbb\xbf").lstrip()  # UTF-8 BOM, whitespace
    lower = head.lower()
    if lower.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in lower[:256]:
        return "html"
    if lower.startswith(b"<"):
        return "xml"
    if lower.startswith((b"{", b"[")):
        return "json"
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head[:64]):
        return "text"
    return "unknown"


def kind_words(kind: str) -> str:
    """A kind from `sniff_kind` in words for a message: ``"json"`` -> ``"a JSON document (...)"``."""
    return KIND_WORDS.get(kind, f"a {kind.upper()} file")
