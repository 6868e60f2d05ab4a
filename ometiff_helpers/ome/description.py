"""What an ImageDescription is before it is parsed: its kind (OME-XML, ImageJ, JSON, ...), its encoding (UTF-16 by
its byte-order mark or NUL bytes, the XML declaration, else UTF-8), and its text decoded once with that encoding."""

from __future__ import annotations

import re

from ometiff_helpers.errors import NotOmeTiff
from ometiff_helpers.urls import redact_text

__all__ = [
    "KIND_WORDS",
    "NOT_OME_HINT",
    "classify_description",
    "decode_description",
    "description_encoding",
    "is_utf16",
    "not_ome",
    "preview",
    "xml_payload",
]

_PRINTABLE = re.compile(r"[^\x20-\x7e]")


def preview(data: bytes, limit: int = 80) -> str:
    """A short printable excerpt of ``data`` for a message (non-ASCII as ``?``, secrets redacted)."""
    text = data[: limit * 4].decode("utf-8", "replace")
    text = _PRINTABLE.sub("?", text.replace("\r", " ").replace("\n", " ").replace("\t", " "))
    text = text[:limit] + ("..." if len(text) > limit else "")
    return redact_text(text)


def classify_description(head: bytes) -> str:
    """What a non-OME ImageDescription looks like: ``xml``, ``empty``, ``imagej``, ``json``, ``aperio``, ``tifffile``,
    ``text``. ``xml`` means "hand it to the parser" (its root then decides)."""
    if is_utf16(head):
        return "xml"  # UTF-16
    s = head.split(b"\x00", 1)[0].lstrip(b"\xef\xbb\xbf").lstrip()
    if s.startswith(b"<"):
        return "xml"
    if not s:
        return "empty"
    if s.startswith(b"ImageJ="):
        return "imagej"
    if s.startswith((b"{", b"[")):
        return "json"
    if s.startswith(b"Aperio"):
        return "aperio"
    if s.startswith(b"shape=("):
        return "tifffile"
    return "text"


_UTF16_STARTS = (b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<")
_ENCODING_DECL = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def is_utf16(head: bytes) -> bool:
    """True when the XML starts as UTF-16 does (a byte-order mark, or ``<`` next to a NUL byte)."""
    return head.startswith(_UTF16_STARTS)


def description_encoding(head: bytes) -> str:
    """The encoding of XML starting with ``head``, as the parser reads it: UTF-16 (by its BOM or NUL bytes), the
    XML declaration's ``encoding``, else UTF-8. Upper case, as written (``"ISO-8859-1"``, ``"UTF-8"``)."""
    if is_utf16(head):
        return "UTF-16"
    m = _ENCODING_DECL.match(head.removeprefix(b"\xef\xbb\xbf"))
    return m.group(1).decode("ascii").upper() if m else "UTF-8"


def xml_payload(raw: bytes) -> bytes:
    """The XML of an ImageDescription: without the terminating NUL bytes (in UTF-16, whole NUL characters)."""
    if not is_utf16(raw):
        return raw.rstrip(b"\x00")
    end = len(raw) - len(raw) % 2
    while end >= 2 and raw[end - 2 : end] == b"\x00\x00":
        end -= 2
    return raw[:end]


def decode_description(raw: bytes) -> str:
    """The text of an ImageDescription, decoded once with the encoding the parser uses (undecodable bytes become
    U+FFFD; an encoding Python does not know reads as UTF-8)."""
    data = xml_payload(raw)
    encoding = description_encoding(data[:4096])
    if encoding == "UTF-16":  # without a byte-order mark, the side of the NUL bytes tells the byte order
        codec = "utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-16-le"
        codec = "utf-16-be" if data.startswith(b"\x00<") else codec
        return data.decode(codec, errors="replace")
    try:
        return data.decode(encoding, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


KIND_WORDS = {
    "empty": "an empty ImageDescription",
    "imagej": "an ImageJ description (ImageJ hyperstack, not OME-TIFF)",
    "json": "a JSON description (tifffile or another writer), not OME-XML",
    "aperio": "an Aperio SVS description, not OME-XML",
    "tifffile": "a tifffile shape description, not OME-XML",
    "text": "plain text, not OME-XML",
}
NOT_OME_HINT = (
    "The portal's viewer needs an OME-TIFF: convert the file with bioformats2raw + raw2ometiff or "
    "Bio-Formats' bfconvert."
)


def not_ome(kind: str, head: bytes) -> NotOmeTiff:
    """The ``NotOmeTiff`` for a description of ``kind`` (see ``classify_description``), with an excerpt."""
    words = KIND_WORDS.get(kind, kind)
    return NotOmeTiff(
        f"IFD 0's ImageDescription is {words}: {preview(head)!r}.", kind=kind, hint=NOT_OME_HINT
    )
