"""Consistency of a whole OME-XML document: references to IDs defined nowhere, IDs used twice, TiffData outside the
image's planes."""

from __future__ import annotations

from collections import Counter

from ometiff_helpers.findings import FindingLog, Severity
from ometiff_helpers.ome.model import Image

CHECKED_REFS = frozenset(
    {
        "AnnotationRef",
        "ROIRef",
        "ImageRef",
        "InstrumentRef",
        "DatasetRef",
        "ExperimenterRef",
        "ObjectiveSettings",
    }
)


def check_tiffdata(image: Image, log: FindingLog) -> None:
    """X18: TiffData that starts outside SizeZ x SizeC x SizeT (a PlaneCount running past the last plane is found by
    ``ometiff.plane_mapping``, which knows the plane order)."""
    p = image.pixels
    if p is None or not p.tiffdata:
        return
    where = image.id or f"Image #{image.index}"
    for td in p.tiffdata:
        first = (td.first_z, td.first_c, td.first_t)
        sizes = (p.size_z or 1, p.effective_size_c, p.size_t or 1)
        if any(f >= s for f, s in zip(first, sizes, strict=True)):
            log.add(
                "OME_TIFFDATA_RANGE",
                Severity.WARNING,
                f"TiffData #{td.index} starts at plane Z={td.first_z} C={td.first_c} T={td.first_t}, outside the "
                f"image's SizeZ={sizes[0]} SizeC={sizes[1]} SizeT={sizes[2]}.",
                remedy="The plane mapping is wrong: re-export the metadata.",
                where=where,
                key=f"{where}-first",
            )


def check_references(refs: dict[str, list[str]], ids: dict[str, str], log: FindingLog) -> None:
    """OME_DANGLING_REF per kind of reference (``refs``: ref element -> the IDs its elements point to) to an ID not in
    ``ids`` (only the kinds in ``CHECKED_REFS``)."""
    dangling: dict[str, list[str]] = {}
    for ref, pointed in refs.items():
        missing = [target for target in pointed if target not in ids] if ref in CHECKED_REFS else []
        if missing:
            dangling[ref] = missing
    for ref, targets in dangling.items():
        shown = ", ".join(sorted(set(targets))[:5])
        log.add(
            "OME_DANGLING_REF",
            Severity.WARNING,
            f"{len(targets)} {ref} element(s) point to IDs defined nowhere in the OME-XML: {shown}.",
            remedy="Fix the references or add the missing objects; readers may fail or drop them.",
            key=ref,
        )


def check_duplicate_ids(dup_ids: Counter[str], log: FindingLog) -> None:
    """OME_DUPLICATE_ID when an ID is defined by more than one element (``dup_ids``: ID -> extra definitions)."""
    if dup_ids:
        shown = ", ".join(list(dup_ids)[:5])
        log.add(
            "OME_DUPLICATE_ID",
            Severity.WARNING,
            f"{len(dup_ids)} ID(s) are used by more than one element: {shown}.",
            remedy="IDs must be unique in an OME-XML document; references to them are ambiguous.",
        )
