"""OME-XML -> frozen records, safely and incrementally (stdlib expat only).

Safety: a DOCTYPE or ENTITY declaration is refused before anything is expanded (a prolog check, then expat handlers
that raise); no external entity, DTD or network access; depth, element count and size are bounded; invalid XML or
UTF-8 raises ``OmeXmlError`` with line, column and a short sanitised excerpt.

This module takes the bytes (size limit, NUL end, encoding, UTF-8 validity, DTD refusal, expat errors) and holds the
entry points; the elements go to ``ome.handler.OmeHandler``, which holds one top-level part at a time (memory: 20 000
ROIs cost their records, not a tree).
"""

from __future__ import annotations

import codecs
import re
from typing import TYPE_CHECKING, Any
from xml.parsers import expat

from ometiff_helpers.digest import Sha256
from ometiff_helpers.errors import LimitExceeded, NotOmeTiff, OmeTiffError, OmeXmlError, UnsupportedOme
from ometiff_helpers.findings import FindingLog, Severity
from ometiff_helpers.frozen import record
from ometiff_helpers.ome.description import (
    NOT_OME_HINT,
    classify_description,
    decode_description,
    description_encoding,
    is_utf16,
    not_ome,
    preview,
    xml_payload,
)
from ometiff_helpers.ome.handler import KNOWN_VERSIONS, OmeHandler
from ometiff_helpers.ome.model import (
    Annotation,
    Channel,
    Colour,
    Image,
    OmeDocument,
    Pixels,
    Plane,
    PlaneRef,
    Roi,
    Shape,
    TiffData,
)
from ometiff_helpers.ome.safety import DTD_HINT, DTD_MESSAGE, DtdRefused, dtd_error, safe_expat_parser
from ometiff_helpers.ome.tables import physical_extent_um, tables
from ometiff_helpers.ome.units import Quantity
from ometiff_helpers.ome.xmlnode import SEP
from ometiff_helpers.progress import Progress

if TYPE_CHECKING:
    from ometiff_helpers.ome.model_containers import BinaryOnly, Plate
    from ometiff_helpers.progress import ProgressCallback

__all__ = [
    "KNOWN_VERSIONS",
    "Annotation",
    "BinaryOnly",
    "Channel",
    "Colour",
    "Image",
    "OmeDocument",
    "OmeXmlOptions",
    "OmeXmlParser",
    "Pixels",
    "Plane",
    "PlaneRef",
    "Plate",
    "Quantity",
    "Roi",
    "Shape",
    "TiffData",
    "check_xml_size",
    "classify_description",
    "decode_description",
    "description_encoding",
    "parse_ome_xml",
    "physical_extent_um",
    "require_images",
    "tables",
    "xml_payload",
]

MiB = 1024 * 1024


@record
class OmeXmlOptions:
    """Bounds of one parse."""

    max_bytes: int = 512 * MiB  # of XML (trailing NULs excluded)
    max_depth: int = 64
    max_elements: int = 5_000_000
    min_feed: int = MiB  # expat < 2.6 re-scans a huge token on every feed: give it large chunks


# --- the parser ------------------------------------------------------------------------------------------------------

_DTD_IN_PROLOG = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")


class OmeXmlParser:
    """Feed OME-XML bytes as they arrive (``feed``), then ``close()`` for the ``OmeDocument``.

    ``on_progress(Progress("xml", done, total))`` is called after each chunk with the bytes received so far.
    Trailing NUL bytes (and anything after the first NUL) are ignored, as in a TIFF ASCII tag.
    """

    def __init__(
        self,
        total: int | None = None,
        on_progress: ProgressCallback | None = None,
        *,
        options: OmeXmlOptions | None = None,
    ) -> None:
        self.options = options or OmeXmlOptions()
        self.total = total
        self._on_progress = on_progress
        if total is not None:
            self._check_size(total, known=True)
        self._received = 0  # every byte given to feed()
        self._xml_bytes = 0  # bytes before the first NUL
        self._sha = Sha256()
        self._head = b""  # first bytes, kept for sniffing and for excerpts
        self._started = False
        self._ended = False  # a NUL was seen: the XML string is over
        self._trailing_data = False
        self._pending: list[bytes] = []
        self._pending_len = 0
        self._last_chunk = b""
        self._last_chunk_start = 0
        self._utf8: codecs.IncrementalDecoder | None = None
        self._newlines = 0
        self._last_newline = -1
        self._failed: OmeTiffError | None = None
        self._closed = False
        self._doc: OmeDocument | None = None
        self._utf16 = False
        self._nul_tail = b""  # UTF-16 only: trailing NUL bytes held back (see ``_accept``)
        self._lead = b""  # a first byte alone, held until the next tells whether the text is UTF-16
        self._encoding = "UTF-8"

        self._log = FindingLog()
        p = safe_expat_parser(namespace_separator=SEP)
        p.namespace_prefixes = True
        self._prev_tail = b""  # the last bytes parsed before ``_last_chunk`` (a tag may begin there)
        self._raw_at: int | None = None  # where the open raw capture (an XMLAnnotation's Value) starts
        self._raw_kept: list[bytes] = []  # its bytes in chunks already parsed
        self._raw_missing = False
        self._handler = OmeHandler(
            self._log, p, self, max_elements=self.options.max_elements, max_depth=self.options.max_depth
        )
        p.StartElementHandler = self._handler.start
        p.EndElementHandler = self._handler.end
        p.CharacterDataHandler = self._handler.chars
        self._parser = p

    # --- feeding ---------------------------------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        """Parse the next chunk (any size; small chunks are gathered to ``min_feed`` bytes before expat sees them)."""
        if self._failed is not None:
            raise self._failed
        if self._closed:
            raise OmeXmlError("feed() after close(): the OME-XML parser is finished.")
        chunk = bytes(chunk)
        self._received += len(chunk)
        try:
            self._accept(chunk)
        except OmeTiffError as exc:
            self._failed = exc
            raise
        self._progress()

    @property
    def head_done(self) -> bool:
        """True once the parts before the first ROI or StructuredAnnotations (the Images) are built."""
        return self._handler.head_done

    @property
    def fed(self) -> int:
        """Bytes given to ``feed`` so far."""
        return self._received

    @property
    def parsed(self) -> int:
        """Bytes expat has been given so far (the rest waits to make a large enough chunk)."""
        return self._last_chunk_start + len(self._last_chunk)

    def snapshot(self) -> OmeDocument:
        """The document as parsed so far (see ``OmeHandler.snapshot``); ``close()`` gives the whole one."""
        if self._doc is not None:
            return self._doc
        if self._failed is not None:
            raise self._failed
        return self._handler.snapshot(xml_bytes=self._xml_bytes, encoding=self._encoding)

    def close(self) -> OmeDocument:
        """Finish parsing and return the document (raises if the XML is incomplete or unsafe)."""
        if self._doc is not None:
            return self._doc
        if self._failed is not None:
            raise self._failed
        try:
            if self._lead:  # the whole text was one byte
                lead, self._lead = self._lead, b""
                self._take(lead.split(b"\x00", 1)[0])
            if self._utf16 and self._xml_bytes % 2:
                self._take(self._nul_tail[:1])  # the NUL that completes the last UTF-16 character
            if not self._started:
                self._start_document(final=True)
            self._flush(final=True)
            if self._utf8 is not None:
                try:
                    self._utf8.decode(b"", final=True)
                except UnicodeDecodeError:
                    raise self._utf8_error(
                        self._xml_bytes, "the OME-XML ends inside a UTF-8 character"
                    ) from None
            self._doc = self._handler.finish(
                trailing_data=self._trailing_data,
                xml_bytes=self._xml_bytes,
                sha256=self._sha.hexdigest(),
                encoding=self._encoding,
            )
        except OmeTiffError as exc:
            self._failed = exc
            raise
        finally:
            self._closed = True
        self._progress()
        return self._doc

    def _check_size(self, nbytes: int, *, known: bool) -> None:
        """`check_xml_size` against this parser's options."""
        check_xml_size(nbytes, self.options, known=known)

    def _progress(self) -> None:
        if self._on_progress is not None:
            self._on_progress(Progress("xml", self._received, self.total))

    def _accept(self, chunk: bytes) -> None:
        if self._ended:
            if chunk.strip(b"\x00"):
                self._trailing_data = True
            return
        if not self._started and not self._head and not self._utf16:
            chunk = self._lead + chunk
            if len(chunk) < 2:  # one byte cannot tell UTF-16 (a BOM, or "<" beside a NUL) from the rest
                self._lead = chunk
                return
            self._lead = b""
            if is_utf16(chunk):
                self._utf16 = True  # NUL bytes are part of every character: no NUL-terminated string here
        if self._utf16:
            # a TIFF ASCII tag ends in one NUL byte, which would leave UTF-16 half a character: NULs at the end of
            # what arrived so far are held back until more text follows (``close`` keeps what completes a character)
            chunk = self._nul_tail + chunk
            body = chunk.rstrip(b"\x00")
            self._nul_tail = chunk[len(body) :]
            chunk = body
        else:
            cut = chunk.find(b"\x00")
            if cut >= 0:
                if chunk[cut:].strip(b"\x00"):
                    self._trailing_data = True
                chunk = chunk[:cut]
                self._ended = True
        self._take(chunk)

    def _take(self, chunk: bytes) -> None:
        """Count, hash and queue XML bytes (the first 4 KiB are gathered to sniff the document)."""
        if not chunk:
            return
        self._xml_bytes += len(chunk)
        self._check_size(self._xml_bytes, known=False)
        self._sha.update(chunk)
        if not self._started:
            self._head += chunk
            if len(self._head) < 4096 and not self._ended:
                return
            self._start_document(final=False)
            return
        self._validate_utf8(chunk)
        self._queue(chunk)

    def _start_document(self, final: bool) -> None:
        """First bytes: sniff (X2), detect the encoding (X6), refuse a DTD in the prolog (X8/X9)."""
        self._started = True
        head = self._head
        if not head:
            raise not_ome("empty", head)
        kind = classify_description(head)
        if kind != "xml":
            raise not_ome(kind, head)
        self._encoding = description_encoding(head)
        if not self._utf16:
            if self._encoding.replace("-", "").replace("_", "") in ("UTF8",):
                self._utf8 = codecs.getincrementaldecoder("utf-8")("strict")
            first = _FIRST_ELEMENT.search(head)
            prolog = head if first is None else head[: first.start()]
            if _DTD_IN_PROLOG.search(prolog):
                raise OmeXmlError(DTD_MESSAGE, line=1 + prolog.count(b"\n"), column=None, hint=DTD_HINT)
        if self._utf16:
            self._log.add(
                "OME_ENCODING_NOT_UTF8",
                Severity.ERROR,
                "The OME-XML is encoded as UTF-16; the OME-TIFF specification requires UTF-8, and the viewer "
                "(geotiff.js) reads the ImageDescription as 8-bit text, so it cannot parse this XML.",
                remedy="Re-write the ImageDescription as UTF-8 (re-export the file, or rewrite the tag with tifffile).",
            )
        elif self._encoding not in ("UTF-8", "UTF8"):
            self._log.add(
                "OME_ENCODING_NOT_UTF8",
                Severity.WARNING,
                f"The OME-XML is encoded as {self._encoding}; the OME-TIFF specification requires UTF-8.",
                remedy="Re-write the ImageDescription as UTF-8; some readers will show garbled text.",
            )
        self._head = head[:4096]
        self._handler.head = self._head
        self._validate_utf8(head)
        self._queue(head)

    def _validate_utf8(self, chunk: bytes) -> None:
        if self._utf8 is None:
            return
        start = self._xml_bytes - len(chunk)
        step = 256 * 1024  # decode in slices: the decoded text is dropped at once, memory stays small
        for i in range(0, len(chunk), step):
            try:
                self._utf8.decode(chunk[i : i + step])
            except UnicodeDecodeError as exc:
                at = i + exc.start
                raise self._utf8_error(
                    start + at, f"invalid UTF-8 at byte {start + at:,}", chunk, at
                ) from None
        n = chunk.count(b"\n")
        if n:
            self._newlines += n
            self._last_newline = start + chunk.rfind(b"\n")

    def _utf8_error(self, pos: int, what: str, chunk: bytes = b"", at: int = 0) -> OmeXmlError:
        line = self._newlines + 1 + chunk[:at].count(b"\n")
        nl = chunk.rfind(b"\n", 0, at)
        col = (at - nl) if nl >= 0 else (pos - self._last_newline)
        excerpt = preview(chunk[max(0, at - 30) : at + 30], 60) if chunk else ""
        return OmeXmlError(
            f"{what} (line {line}, column {col})" + (f" near {excerpt!r}" if excerpt else "") + ".",
            line=line,
            column=col,
            hint="Re-write the ImageDescription as UTF-8 (OME-TIFF requires it).",
        )

    def _queue(self, chunk: bytes) -> None:
        self._pending.append(chunk)
        self._pending_len += len(chunk)
        if self._pending_len >= self.options.min_feed:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        data = b"".join(self._pending) if len(self._pending) != 1 else self._pending[0]
        self._pending = []
        self._pending_len = 0
        if self._raw_at is not None:  # a capture is open: keep its part of the chunk parsed last
            self._raw_kept.append(self._last_chunk[max(0, self._raw_at - self._last_chunk_start) :])
        tail = self._last_chunk[-_RAW_LEAD:]
        self._prev_tail = tail if len(tail) == _RAW_LEAD else (self._prev_tail + tail)[-_RAW_LEAD:]
        self._last_chunk_start += len(self._last_chunk)
        self._last_chunk = data
        try:
            self._parser.Parse(data, final)
        except DtdRefused:
            raise dtd_error(self._parser) from None
        except expat.ExpatError as exc:
            raise self._expat_error(exc, final) from None
        except RecursionError:  # pragma: no cover - depth is bounded before this can happen
            raise LimitExceeded(
                "the OME-XML is nested too deeply", name="max_depth", value=-1, limit=self.options.max_depth
            ) from None

    # --- the document's own text (``OmeHandler``: an XMLAnnotation's Value) ---------------------------------------

    def raw_begin(self, at: int) -> None:
        """Start keeping the document's bytes from offset ``at`` (a start tag's ``<``, in this chunk or at the end of
        the one before)."""
        start = self._last_chunk_start
        self._raw_at = at
        self._raw_missing = at < start - len(self._prev_tail)  # a start tag longer than the lead kept
        self._raw_kept = (
            [self._prev_tail[max(0, len(self._prev_tail) - (start - at)) :]] if at < start else []
        )

    def raw_end(self, at: int) -> str | None:
        """The content of the element whose start tag begins where ``raw_begin`` was called and whose end tag begins
        at ``at``, as written (None when its start tag began too long before the chunk parsed)."""
        begin, self._raw_at = self._raw_at, None
        kept, self._raw_kept = self._raw_kept, []
        if begin is None or self._raw_missing:
            return None
        start = self._last_chunk_start
        data = b"".join([*kept, self._last_chunk[max(0, begin - start) : max(0, at - start)]])[: at - begin]
        return _element_content(data.decode(self._codec(), errors="replace"))

    def _codec(self) -> str:
        """The Python codec of the document's bytes (UTF-16 with its byte order)."""
        if self._utf16:
            return "utf-16-be" if self._head.startswith((b"\xfe\xff", b"\x00<")) else "utf-16-le"
        try:
            return codecs.lookup(self._encoding).name
        except LookupError:
            return "utf-8"

    def _expat_error(self, exc: expat.ExpatError, final: bool) -> OmeXmlError:
        line, col = exc.lineno, exc.offset + 1
        reason = expat.ErrorString(exc.code) or "syntax error"
        if (
            final
            and exc.code in (expat.errors.codes[expat.errors.XML_ERROR_NO_ELEMENTS],)
            and self._handler.root_seen
        ):
            reason = "the XML ends before its root element is closed (truncated ImageDescription?)"
        elif final and exc.code == expat.errors.codes[expat.errors.XML_ERROR_UNCLOSED_TOKEN]:
            reason = "the XML ends in the middle of a tag (truncated ImageDescription?)"
        at = self._parser.ErrorByteIndex - self._last_chunk_start
        excerpt = ""
        if 0 <= at <= len(self._last_chunk):
            excerpt = preview(self._last_chunk[max(0, at - 40) : at + 40], 80)
        if self._utf16:
            excerpt = ""  # byte offsets of a UTF-16 text make a garbled excerpt
        msg = f"the OME-XML is not well-formed: {reason} at line {line}, column {col}"
        if excerpt:
            msg += f", near {excerpt!r}"
        hint = "The file's metadata is damaged: re-export it, or ask the data provider for a valid OME-TIFF."
        if self._utf16:
            msg += "; the ImageDescription is UTF-16 text, which the viewer cannot read either"
            hint = "Re-write the ImageDescription as UTF-8 (OME-TIFF requires it), e.g. by re-exporting the file."
        return OmeXmlError(msg + ".", line=line, column=col, hint=hint)


_RAW_LEAD = 64 * 1024  # bytes of the previous chunk kept for a start tag that began there


def _element_content(text: str) -> str:
    """What follows the start tag at the beginning of ``text`` ("" for an empty-element tag ``<x/>``)."""
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == ">":
            return "" if text[i - 1] == "/" else text[i + 1 :]
    return ""


# --- entry points ----------------------------------------------------------------------------------------------------


def parse_ome_xml(data: bytes | str | None, *, options: OmeXmlOptions | None = None) -> OmeDocument:
    """Parse a whole OME-XML string (an ImageDescription or a ``.ome.xml`` file's content).

    ``None`` (IFD 0 has no ImageDescription) raises ``NotOmeTiff(kind="no-description")``.
    """
    if data is None:
        raise NotOmeTiff(
            "IFD 0 has no ImageDescription tag, so the file carries no OME-XML (a plain TIFF, not an OME-TIFF).",
            kind="no-description",
            hint=NOT_OME_HINT,
        )
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    parser = OmeXmlParser(total=len(raw), options=options)
    parser.feed(raw)  # one expat call for the body: linear time even for a huge token
    return parser.close()


def require_images(doc: OmeDocument) -> OmeDocument:
    """``doc`` itself, or ``UnsupportedOme`` when it is a BinaryOnly stub / has no Image (callers needing images)."""
    if doc.binary_only is not None:
        raise UnsupportedOme(
            "this OME-TIFF holds only a BinaryOnly stub; its metadata is in "
            f"{doc.binary_only.metadata_file or '(no MetadataFile given)'} (multi-file OME-TIFF).",
            kind="binary-only",
            hint="Open the companion metadata file instead.",
        )
    if not doc.images:
        raise UnsupportedOme("the OME-XML describes no Image.", kind="no-image")
    return doc


def check_xml_size(
    nbytes: int, options: OmeXmlOptions, *, where: str = "the OME-XML", known: bool = True
) -> None:
    """The one XML size limit: ``LimitExceeded`` when ``nbytes`` (the announced total, or with ``known=False`` the
    bytes received so far) passes ``OmeXmlOptions.max_bytes``."""
    limit = options.max_bytes
    if nbytes <= limit:
        return
    what = f"is {nbytes:,} bytes, more than" if known else "is larger than"
    then = "it was not read" if known else "parsing stopped"
    raise LimitExceeded(
        f"{where} {what} the limit of {limit:,} bytes this tool reads; {then}.",
        name="max_xml_bytes",
        value=nbytes,
        limit=limit,
        hint="Raise the limit (OmeXmlOptions.max_bytes, or ReadOptions.max_description_bytes for an "
        "ImageDescription) if you trust this file.",
    )


def __getattr__(name: str) -> Any:
    """``BinaryOnly`` and ``Plate``, from ``ome.model`` (which loads them on first use)."""
    if name in ("BinaryOnly", "Plate"):
        from ometiff_helpers.ome import model

        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
