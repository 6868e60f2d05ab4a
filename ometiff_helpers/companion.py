"""A multi-file OME-TIFF set opened through its companion file (``X.companion.ome``), as Viv >= 0.16 opens it.

The companion holds the OME-XML; each TiffData names a member file (``UUID@FileName``) and an IFD in it. Each name is
resolved relative to the companion URL with the same query (token); every member's TIFF structure is read and checked
against the planes the XML puts in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ometiff_helpers.diagnose.rules_tiff import VIEWER_CODECS
from ometiff_helpers.diagnose.viewer import NEWEST, ViewerVersion
from ometiff_helpers.errors import OmeTiffError
from ometiff_helpers.findings import Finding, Severity
from ometiff_helpers.frozen import record
from ometiff_helpers.io.open import read_small_file
from ometiff_helpers.ome.parser import OmeDocument, parse_ome_xml
from ometiff_helpers.report import inspect
from ometiff_helpers.urls import SecretURL

#: a companion OME-XML larger than this is refused (the XML of a 10,000-file set is well under it)
MAX_COMPANION_BYTES = 64 * 1024 * 1024
#: member files read at most (each costs a few requests)
MAX_MEMBERS = 2000
E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO  # noqa: E741


@record
class MemberFile:
    """One file of the set, as read."""

    file_name: str
    display_name: str  # redacted URL or path
    ifds: int | None = None
    width: int | None = None
    height: int | None = None
    compression: int | None = None
    error: str | None = None


@dataclass
class CompanionReport:
    """The set: the companion's OME-XML, each member's structure, and the set's findings."""

    display_name: str
    ome: OmeDocument
    files: list[MemberFile]
    findings: list[Finding] = field(default_factory=list)
    viewer: ViewerVersion = NEWEST

    @property
    def errors(self) -> list[Finding]:
        """The error-level findings (the viewer will not render the set)."""
        return [f for f in self.findings if f.severity is Severity.ERROR]

    def verdict(self) -> str:
        """One line: what the viewer will make of the set."""
        if self.errors:
            return f"will not render: {len(self.errors)} error(s), first {self.errors[0].code}"
        warnings = sum(f.severity is Severity.WARNING for f in self.findings)
        return f"renders, with {warnings} warning(s)" if warnings else "no problems found"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: the set's files, findings and verdict (names redacted)."""
        return {
            "source": self.display_name,
            "kind": "companion",
            "images": len(self.ome.images),
            "files": [m.__dict__ for m in self.files],
            "findings": [f.as_dict() for f in self.findings],
            "verdict": self.verdict(),
        }


def is_companion(target: str) -> bool:
    """Whether ``target`` (URL or path) names a companion file: its path ends in ``.companion.ome``."""
    path = urlsplit(target).path if "://" in target else target
    return path.endswith(".companion.ome")


def member_location(companion: str, file_name: str) -> str:
    """``file_name`` resolved relative to the companion's URL (same query: the token) or path."""
    if "://" not in companion:
        return str(Path(companion).parent / file_name)
    parts = urlsplit(companion)
    base = parts.path.rsplit("/", 1)[0]
    return urlunsplit((parts.scheme, parts.netloc, f"{base}/{file_name}", parts.query, ""))


def _name(location: str) -> str:
    """``location`` for messages: a URL with its token redacted, a path as is."""
    return SecretURL(location).redacted if "://" in location else location


def inspect_companion(
    target: str, *, token: str | None = None, viewer: ViewerVersion = NEWEST
) -> CompanionReport:
    """Read the companion's OME-XML and every member file; OmeTiffError when the companion itself is unusable."""
    xml = read_small_file(target, limit=MAX_COMPANION_BYTES, token=token, what="companion OME-XML")
    ome = parse_ome_xml(xml)
    names: list[str] = []
    for image in ome.images:
        for td in image.pixels.tiffdata if image.pixels is not None else ():
            if td.file_name and td.file_name not in names:
                names.append(td.file_name)
    findings: list[Finding] = []
    if not names:
        findings.append(Finding("MULTI_FILE", E, "the companion's TiffData name no files (no UUID@FileName).",
                                "Write the companion with Bio-Formats (bfconvert) or fix its TiffData.", "OME"))  # fmt: skip
    if len(names) > MAX_MEMBERS:
        raise OmeTiffError(
            f"{_name(target)} names {len(names):,} files, more than the {MAX_MEMBERS:,} this tool reads",
            hint="Inspect a few of its files directly.",
        )
    members = [_read_member(target, name, token) for name in names]
    findings += _check_members(ome, {m.file_name: m for m in members}, viewer)
    findings.sort(key=lambda f: f.severity.rank)
    return CompanionReport(_name(target), ome, members, findings, viewer)


def _read_member(companion: str, file_name: str, token: str | None) -> MemberFile:
    """One member's structure (IFD count, IFD 0 size and codec), or why it cannot be read."""
    location = member_location(companion, file_name)
    try:
        report = inspect(location, token=token, probes=False, checks=False)
    except OmeTiffError as exc:
        return MemberFile(file_name, _name(location), error=str(exc))
    ifd0 = report.tiff.ifds[0] if report.tiff.ifds else None
    return MemberFile(
        file_name,
        report.display_name,
        ifds=len(report.tiff.ifds),
        width=ifd0.width if ifd0 else None,
        height=ifd0.height if ifd0 else None,
        compression=ifd0.compression if ifd0 else None,
    )


def _check_members(ome: OmeDocument, members: dict[str, MemberFile], viewer: ViewerVersion) -> list[Finding]:
    """Each plane's file readable, its IFD present, the file's size and codec what the viewer needs."""
    out: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for m in members.values():
        if m.error is not None:
            out.append(Finding("MULTI_FILE", E, f"member file {m.file_name!r} ({m.display_name}) cannot be read: "
                               f"{m.error}", "Put every file of the set beside the companion file.", m.file_name))  # fmt: skip
        elif m.compression is not None and m.compression not in VIEWER_CODECS:
            out.append(Finding("CODEC_UNSUPPORTED", E, f"member file {m.file_name!r} uses compression "
                               f"{m.compression}, which geotiff.js cannot decode.",
                               "Re-convert with LZW, Deflate or JPEG.", m.file_name))  # fmt: skip
    for image in ome.images:
        px = image.pixels
        if px is None:
            continue
        for td in px.tiffdata:
            m = members.get(td.file_name or "")
            if m is None or m.ifds is None:
                continue
            if td.ifd + (td.plane_count or 1) > m.ifds and ("plane", m.file_name) not in seen:
                seen.add(("plane", m.file_name))
                out.append(Finding("PLANE_COUNT", E, f"TiffData #{td.index} of {image.id} points at IFD {td.ifd} of "
                                   f"{m.file_name!r}, which has {m.ifds} IFD(s).",
                                   "Fix the companion's TiffData, or restore the missing planes.", m.file_name))  # fmt: skip
            if (m.width, m.height) != (px.size_x, px.size_y) and ("size", m.file_name) not in seen:
                seen.add(("size", m.file_name))
                out.append(Finding("SIZE_MISMATCH", E, f"{m.file_name!r} is {m.width}x{m.height} px but {image.id} "
                                   f"says SizeX x SizeY = {px.size_x}x{px.size_y}.",
                                   "Fix SizeX/SizeY in the companion.", m.file_name))  # fmt: skip
    if viewer < ViewerVersion(0, 16, 0):
        out.append(Finding("MULTI_FILE", E, f"{viewer} cannot open a multi-file set (loadOmeTiff reads a "
                           "'.companion.ome' URL from Viv 0.16.0 on).", "Combine the files into one OME-TIFF "
                           "(bfconvert), or use a newer viewer.", "companion"))  # fmt: skip
    else:
        out.append(Finding("MULTI_FILE", I, f"a multi-file set of {len(members)} file(s): {viewer} opens it through "
                           "the companion URL (Avivator: a URL containing '.companion.ome'); Viv resolves the files "
                           "relative to that URL without its query, so a token in the query does not reach them.",
                           "Open the companion URL, not a member file; serve the files without a query token.",
                           "companion"))  # fmt: skip
    return out
