"""Findings about the directory structure that do not stop a read: duplicate or unsorted tags, odd IFD offsets, an
offsets.json that disagrees with the chain."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ometiff_helpers.findings import FindingLog, Severity
from ometiff_helpers.tiff.nodes import IfdNode


def add_finding(
    log: FindingLog,
    code: str,
    msg: str,
    remedy: str,
    where: str,
    sev: Severity = Severity.WARNING,
    *,
    count: int = 1,
    plural: str = "",
) -> None:
    """Record a finding; those of one code on one kind of directory (IFD, SubIFD) merge into one."""
    scope = "SubIFD" if "SubIFD" in where else "IFD"
    log.add(code, sev, msg, remedy=remedy, where=where, key=scope, count=count, plural=plural, scope=scope)


def check_entries(log: FindingLog, node: IfdNode) -> None:
    """TAG_DUPLICATE and TAGS_UNSORTED for a node just parsed."""
    codes = [e.code for e in node.entries]
    if len(node.first_index) != len(codes):
        seen = Counter(codes)
        dups = sorted(c for c, n in seen.items() if n > 1)
        add_finding(
            log,
            "TAG_DUPLICATE",
            f"{node.path} has {len(dups):,} tag(s) more than once ("
            + ", ".join(str(c) for c in dups[:5])
            + (", ..." if len(dups) > 5 else "")
            + "); the first of each is used.",
            "Rewrite the file with a current writer.",
            node.path,
        )
    if codes != sorted(codes):
        add_finding(
            log,
            "TAGS_UNSORTED",
            f"{node.path} at offset {node.offset:,}: tags are not in ascending order (TIFF requires it).",
            "Most readers cope; rewrite the file with a current writer to be safe.",
            node.path,
            Severity.INFO,
        )


def check_sidecar(log: FindingLog, sidecar: Sequence[int] | None, chain: Sequence[IfdNode]) -> None:
    """OFFSETS_MISMATCH when an offsets.json lists other IFDs than the chain read from the file."""
    if sidecar is None:
        return
    real = [n.offset for n in chain if n.parsed]
    if list(sidecar) != real:
        diff = next((i for i, (a, b) in enumerate(zip(sidecar, real, strict=False)) if a != b), None)
        at = min(len(sidecar), len(real)) if diff is None else diff
        add_finding(
            log,
            "OFFSETS_MISMATCH",
            f"the offsets file lists {len(sidecar):,} IFDs but the chain has {len(real):,}; they differ "
            f"from IFD {at}. The chain read from the file is used.",
            "Regenerate the offsets.json for this file.",
            f"IFD {at}",
        )


def check_odd_offsets(log: FindingLog, odd: Sequence[str]) -> None:
    """IFD_OFFSET_ODD for IFDs at odd offsets (``odd``: "IFD 3 at 1,235" descriptions, in reading order)."""
    if odd:
        add_finding(
            log,
            "IFD_OFFSET_ODD",
            f"{len(odd):,} IFD(s) start at an odd offset (TIFF requires word alignment): "
            + ", ".join(odd[:5])
            + (" ..." if len(odd) > 5 else "")
            + ".",
            "Most readers cope; rewrite the file with a current writer to be safe.",
            odd[0].split(" at ")[0],
            Severity.INFO,
        )
