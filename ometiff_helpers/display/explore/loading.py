"""Loading the explorer's document: `load` (an OME-TIFF through `report.inspect`, or an ``.ome.xml`` file, by URL or
path) and `Explored`, what it returns (the XML's bytes, its tree index, the OME records parsed on first use).

The XML's bytes are reported as they arrive (``on_progress``: `progress.Progress` "xml" events); a URL's token stays
in its `urls.SecretURL` and messages show only the redacted form.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ometiff_helpers.display import plots
from ometiff_helpers.display.explore.xmltree import XmlTree
from ometiff_helpers.errors import NotOmeTiff, OmeTiffError, OmeXmlError
from ometiff_helpers.io.open import open_source
from ometiff_helpers.ome import parser as omexml
from ometiff_helpers.ome.parser import OmeDocument, OmeXmlOptions, check_xml_size
from ometiff_helpers.progress import Progress, ProgressCallback
from ometiff_helpers.urls import SecretURL, redact_text

__all__ = ["XML_SUFFIXES", "Explored", "load"]

XML_SUFFIXES = (".xml", ".ome", ".companion.ome")


@dataclass
class Explored:
    """One loaded OME-XML: its bytes, the tree index, and the OME records (parsed on first use)."""

    display_name: str  # redacted URL or file name
    kind: str  # "OME-TIFF" or "OME-XML file"
    xml: bytes
    tree: XmlTree
    _doc: OmeDocument | None = field(default=None, repr=False)
    _doc_error: str | None = field(default=None, repr=False)
    _doc_done: bool = field(default=False, repr=False)

    @property
    def doc(self) -> OmeDocument | None:
        """The OME records, or None when the XML is not OME (``doc_error`` says why)."""
        if not self._doc_done:
            self._doc_done = True
            try:
                self._doc = omexml.parse_ome_xml(self.xml)
            except OmeTiffError as exc:
                self._doc_error = redact_text(str(exc))
        return self._doc

    @property
    def doc_error(self) -> str | None:
        _ = self.doc
        return self._doc_error

    @cached_property
    def rows(self) -> dict[str, list[dict[str, Any]]]:
        """`omexml.tables` of the document (empty tables when it is not OME)."""
        doc = self.doc
        return omexml.tables(doc) if doc is not None else {}

    @property
    def stem(self) -> str:
        """The file name without ``.ome.tif`` / ``.ome.xml``: the prefix of exported files."""
        name = plots.short_name(self.display_name)
        stem = re.sub(r"(\.ome)?\.(tiff?|xml|btf|tf8|companion\.ome)$", "", name, flags=re.IGNORECASE)
        return re.sub(r"[^\w.\-]+", "_", stem) or "ome"


def _is_xml_name(name: str) -> bool:
    return name.lower().endswith(XML_SUFFIXES)


def load(
    location: SecretURL | str | Path,
    token: str | None = None,
    *,
    inspect: Callable[..., Any] | None = None,
    options: OmeXmlOptions | None = None,
    on_progress: ProgressCallback | None = None,
) -> Explored:
    """Load the OME-XML of an OME-TIFF (URL or path, read through `report.inspect` without checks) or of a
    ``.ome.xml`` / companion ``.ome`` file (URL or path), and index it. ``on_progress`` hears of the XML's bytes as
    they arrive (`progress.Progress` "xml" events, with the total when it is known).

    Raises `NotOmeTiff` when a TIFF carries no XML, and the reader's errors (redacted) otherwise.
    """
    opts = options or OmeXmlOptions()
    if isinstance(location, str):
        secret = SecretURL(location, token=token or None)
        location = secret if secret.is_http else Path(location)  # a token means nothing to a local path
    if isinstance(location, SecretURL):
        name, display = location.path_name, location.redacted
    else:
        location = Path(location)
        name, display = location.name, location.name
    if _is_xml_name(name):
        data = _read_xml(location, opts, on_progress)
        return Explored(display, "OME-XML file", data, XmlTree.parse(data, options=opts))
    if inspect is None:
        from ometiff_helpers.report import inspect as inspect_report

        inspect = inspect_report
    rep = inspect(
        location if isinstance(location, SecretURL) else str(location),
        checks=False,
        probes=False,
        on_progress=on_progress,
    )
    if rep.xml_bytes is None:
        raise NotOmeTiff(
            f"{display}: IFD 0 has no ImageDescription, so there is no OME-XML to explore.",
            kind="no-description",
            hint="Open the OME-TIFF (or its companion .ome.xml) that carries the metadata.",
        )
    data = rep.xml_bytes  # as stored (Latin-1, UTF-16, ...): what an export writes
    kind = omexml.classify_description(data[:4096])
    if rep.ome is None and kind != "xml":  # ImageJ, JSON, plain text: nothing to explore as XML
        raise NotOmeTiff(
            f"{display}: {rep.ome_error or 'IFD 0 carries no OME-XML'}",
            kind=rep.ome_error_kind or kind,
            hint="Open the OME-TIFF (or its companion .ome.xml) that carries the metadata.",
        )
    utf16 = omexml.description_encoding(data[:4096]) == "UTF-16"  # expat reads other encodings from the bytes
    tree = XmlTree.parse((rep.xml_text or "") if utf16 else data, options=opts)
    explored = Explored(display, "OME-TIFF", data, tree)
    explored._doc, explored._doc_done = rep.ome, True
    explored._doc_error = None if rep.ome is not None else rep.ome_error
    return explored


def _read_xml(
    location: SecretURL | Path, opts: OmeXmlOptions, on_progress: ProgressCallback | None = None
) -> bytes:
    """The whole file (within the XML size limit); a URL's rest after the first MiB is streamed, told as it comes."""
    tell = on_progress or (lambda _event: None)
    if isinstance(location, SecretURL):
        with open_source(location) as src:
            first = src.open(1 << 20)
            _check_size(src.size, opts, location.redacted)
            parts = [first[: src.size]]
            received = [len(parts[0])]
            tell(Progress("xml", received[0], src.size))
            if src.size > len(first):

                def take(chunk: bytes) -> None:
                    parts.append(chunk)
                    received[0] += len(chunk)
                    tell(Progress("xml", received[0], src.size))

                src.fetch([(len(first), src.size)], consumers={0: take})
            return b"".join(parts)
    try:
        size = location.stat().st_size
        _check_size(size, opts, location.name)
        data = location.read_bytes()
        tell(Progress("xml", len(data), len(data)))
        return data
    except OSError as exc:
        raise OmeXmlError(
            f"Cannot read the OME-XML file {location.name!r}: {exc.strerror or type(exc).__name__}.",
            hint="Check the path (relative paths start in the notebook's folder).",
        ) from None


def _check_size(size: int, opts: OmeXmlOptions, where: str) -> None:
    """The parser's one XML size limit, naming the file."""
    check_xml_size(size, opts, where=where)
