"""Record facts: what describes a file, one ``key: value`` per line (its fingerprint first), and what a change
between two sets of facts is called (file replaced, pyramid level added/removed, channel renamed, OME-XML changed).

A record's facts cell shows `RecordFacts.from_report(report)` for the report its tables show; `recheck` parses the
text back (`parse_facts`) and names the changes (`classify`).
"""

from __future__ import annotations

import enum
import hashlib
import os
from collections.abc import Mapping
from typing import Any

from ometiff_helpers.frozen import record
from ometiff_helpers.urls import redact_text

__all__ = ["Change", "ChangeKind", "RecordFacts", "classify", "parse_facts", "record_facts"]


@record
class RecordFacts:
    """What describes the file, one ``key: value`` per line: the fingerprint first, then the facts changes show in.

    Displayed by the record's facts cell (``_repr_pretty_``), parsed back by `parse_facts` when rechecking.
    """

    fingerprint: str
    size: int
    etag: str | None
    last_modified: str | None
    first_ifd_offset: int
    ifds: str  # "top+sub"
    levels: tuple[str, ...]  # "WxH" per pyramid level
    images: int | None
    channels: tuple[str, ...]
    pixels: str | None
    xml_bytes: int | None
    xml_sha256: str | None
    ome: str  # "OME-TIFF (schema ...)" or why not

    def lines(self) -> list[str]:
        """The facts as ``key: value`` lines, the fingerprint first."""
        out = [
            f"fingerprint: {self.fingerprint}",
            f"size: {self.size:,} bytes",
            f"etag: {self.etag or '(none)'}",
            f"last-modified: {self.last_modified or '(none)'}",
            f"first IFD offset: {self.first_ifd_offset:,}",
            f"IFDs: {self.ifds}",
            f"levels: {len(self.levels)}: {', '.join(self.levels)}",
            f"OME: {self.ome}",
        ]
        if self.images is not None:
            out.append(f"images: {self.images}")
        if self.pixels is not None:
            out.append(f"pixels: {self.pixels}")
        out.append(f"channels: {len(self.channels)}: {', '.join(self.channels)}")
        if self.xml_sha256 is not None:
            out.append(f"OME-XML: {self.xml_bytes:,} bytes, sha256 {self.xml_sha256}")
        return out

    def text(self) -> str:
        """The lines, joined and redacted."""
        return redact_text("\n".join(self.lines()))

    def __str__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython's display: the text."""
        printer.text(self.text())

    @classmethod
    def from_report(cls, report: Any) -> RecordFacts:
        """The facts of an `inspect` report."""
        t = report.tiff
        info = report.source_info
        pixels = report.ome.images[0].pixels if report.ome is not None and report.ome.images else None
        channels = tuple(ch.name or ch.id or f"#{ch.index}" for ch in pixels.channels) if pixels else ()
        xml = report.xml_bytes  # as stored: the same bytes the fingerprint hashes
        sub = len(t.all_ifds()) - len(t.ifds)
        return cls(
            fingerprint=report.fingerprint(),
            size=t.size,
            etag=info.etag,
            last_modified=info.last_modified,
            first_ifd_offset=t.first_ifd_offset,
            ifds=f"{len(t.ifds)}+{sub}",
            levels=tuple(f"{lv.width}x{lv.height}" for lv in report.levels()),
            images=len(report.ome.images) if report.ome is not None else None,
            channels=channels,
            pixels=(
                f"X {pixels.size_x} Y {pixels.size_y} Z {pixels.size_z} C {pixels.size_c} T {pixels.size_t}"
                f" {pixels.type} {pixels.dimension_order}"
                if pixels is not None
                else None
            ),
            xml_bytes=len(xml) if xml is not None else None,
            xml_sha256=hashlib.sha256(xml).hexdigest()[:16] if xml is not None else None,
            ome=(
                f"OME-TIFF (schema {report.ome.schema_version})"
                if report.ome is not None
                else f"none ({report.ome_error_kind})"
            ),
        )


def record_facts(url: str, *, token: str | None = None) -> RecordFacts:
    """Read ``url`` (token from ``OMETIFF_TOKEN`` unless given) and return its `RecordFacts` (no probes, no checks)."""
    from ometiff_helpers.report import inspect

    token = token or os.environ.get("OMETIFF_TOKEN") or None
    report = inspect(url, token=token, probes=False, checks=False)
    return RecordFacts.from_report(report)


def parse_facts(text: str) -> dict[str, str]:
    """``key: value`` lines -> dict (the inverse of `RecordFacts.lines`, tolerant of anything else)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key and key not in out:
            out[key.strip()] = value.strip()
    return out


class ChangeKind(enum.Enum):
    """What a recheck found changed, most fundamental first."""

    FILE_REPLACED = "file replaced"
    LEVELS = "pyramid levels changed"
    IFDS = "IFD count changed"
    CHANNELS_RENAMED = "channel renamed"
    CHANNELS = "channels changed"
    PIXELS = "dimensions changed"
    XML = "OME-XML changed"
    OME = "OME metadata changed"
    OUTPUTS = "outputs changed"


@record
class Change:
    """One named change in the file and its detail (``'Ki-67' -> 'Ki-68'``)."""

    kind: ChangeKind
    detail: str

    def __str__(self) -> str:
        """``kind: detail``."""
        return f"{self.kind.value}: {self.detail}" if self.detail else self.kind.value


def _split_list(value: str) -> tuple[int | None, list[str]]:
    """``"3: a, b, c"`` -> ``(3, ["a", "b", "c"])``."""
    count, sep, rest = value.partition(": ")
    if not sep:
        return None, []
    try:
        n = int(count)
    except ValueError:
        return None, []
    return n, ([x.strip() for x in rest.split(", ")] if rest else [])


def classify(old_facts: Mapping[str, str], new_facts: Mapping[str, str]) -> list[Change]:
    """The headline: what changed in the file, from the record facts of the record and of the rerun."""
    changes: list[Change] = []
    replaced = []
    if old_facts.get("size") != new_facts.get("size"):
        replaced.append(f"size {old_facts.get('size')} -> {new_facts.get('size')}")
    for key, label in (("etag", "ETag"), ("last-modified", "Last-Modified")):
        if old_facts.get(key) != new_facts.get(key):
            replaced.append(f"{label} {old_facts.get(key)} -> {new_facts.get(key)}")
    if old_facts.get("first IFD offset") != new_facts.get("first IFD offset"):
        replaced.append(
            f"first IFD at {old_facts.get('first IFD offset')} -> {new_facts.get('first IFD offset')}"
        )
    if replaced:
        changes.append(Change(ChangeKind.FILE_REPLACED, "; ".join(replaced)))
    n_old, levels_old = _split_list(old_facts.get("levels", ""))
    n_new, levels_new = _split_list(new_facts.get("levels", ""))
    if levels_old != levels_new:
        if n_old is not None and n_new is not None and n_old != n_new:
            verb = "removed" if n_new < n_old else "added"
            gone = [
                lv
                for lv in (levels_old if n_new < n_old else levels_new)
                if lv not in (levels_new if n_new < n_old else levels_old)
            ]
            which = f" ({', '.join(gone)})" if gone else ""
            changes.append(Change(ChangeKind.LEVELS, f"level {verb}{which}: {n_old} -> {n_new} levels"))
        else:
            changes.append(Change(ChangeKind.LEVELS, f"{', '.join(levels_old)} -> {', '.join(levels_new)}"))
    if old_facts.get("IFDs") != new_facts.get("IFDs"):
        changes.append(
            Change(ChangeKind.IFDS, f"{old_facts.get('IFDs')} -> {new_facts.get('IFDs')} (top+SubIFDs)")
        )
    c_old, ch_old = _split_list(old_facts.get("channels", ""))
    c_new, ch_new = _split_list(new_facts.get("channels", ""))
    if ch_old != ch_new:
        if c_old == c_new and len(ch_old) == len(ch_new):
            renamed = [f"{a!r} -> {b!r}" for a, b in zip(ch_old, ch_new, strict=True) if a != b]
            changes.append(Change(ChangeKind.CHANNELS_RENAMED, ", ".join(renamed)))
        else:
            changes.append(Change(ChangeKind.CHANNELS, f"{c_old} -> {c_new}: {', '.join(ch_new)}"))
    if old_facts.get("pixels") != new_facts.get("pixels"):
        changes.append(Change(ChangeKind.PIXELS, f"{old_facts.get('pixels')} -> {new_facts.get('pixels')}"))
    if old_facts.get("OME-XML") != new_facts.get("OME-XML"):
        changes.append(Change(ChangeKind.XML, f"{old_facts.get('OME-XML')} -> {new_facts.get('OME-XML')}"))
    if old_facts.get("OME") != new_facts.get("OME") or old_facts.get("images") != new_facts.get("images"):
        changes.append(Change(ChangeKind.OME, f"{old_facts.get('OME')} -> {new_facts.get('OME')}"))
    return changes
