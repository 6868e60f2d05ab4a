"""Where the TIFF structure and the OME-XML meet: pyramid levels, the plane index and the TiffData plane mapping.

- ``pyramid_levels`` / ``pyramid_kind`` / ``legacy_image_levels``: the first plane's resolution levels (SubIFDs,
  reduced IFDs in the main chain, or Bio-Formats 5.9's one OME Image per level). The Summary, the checks and the
  viewer-cost estimate all read these, so they agree.
- ``plane_order`` / ``plane_index``: THE plane index, the IFD a viewer computes for (z, c, t) from DimensionOrder
  alone (the first letter after XY varies fastest). A DimensionOrder that is not one of the six OME orders has no
  plane index (``None``), never a ``KeyError``.
- ``plane_mapping``: what the TiffData elements say, (z, c, t) -> (file, IFD), as runs of consecutive planes. Its
  cost grows with the number of TiffData elements, never with the number of planes; ``PlaneMapping.refs(limit)``
  materialises at most ``limit`` planes for tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ometiff_helpers.findings import Finding, Severity
from ometiff_helpers.frozen import record
from ometiff_helpers.ome.model import Image, OmeDocument, Pixels, PlaneRef
from ometiff_helpers.tiff.model import IFD, TiffStructure

__all__ = [
    "DIMENSION_ORDERS",
    "MAPPING_COLUMNS",
    "MAPPING_ROWS_SHOWN",
    "PlaneMapping",
    "PlaneOrder",
    "PlaneRun",
    "legacy_image_levels",
    "mapping_rows",
    "plane_index",
    "plane_mapping",
    "plane_order",
    "pyramid_how",
    "pyramid_kind",
    "pyramid_levels",
]

#: the six OME dimension orders (Viv's schema accepts exactly these)
DIMENSION_ORDERS = ("XYZCT", "XYZTC", "XYCTZ", "XYCZT", "XYTCZ", "XYTZC")
#: rows of the plane mapping a table lists; the checks work per TiffData run and see every plane
MAPPING_ROWS_SHOWN = 10_000
#: columns of the plane mapping table
MAPPING_COLUMNS = ("Image ID", "Z", "C", "T", "IFD", "File name", "UUID", "TiffData #")


# --- pyramid -----------------------------------------------------------------------------------------------------------


def pyramid_levels(tiff: TiffStructure, ome: OmeDocument | None) -> tuple[IFD, ...]:
    """The first plane's resolution levels: IFD 0 and its SubIFDs, or the legacy levels in the main chain."""
    if not tiff.ifds:
        return ()
    ifd0 = tiff.ifds[0]
    if ifd0.subifds:
        return (ifd0, *ifd0.subifds)
    reduced = [ifd0]
    for ifd in tiff.ifds[1:]:
        if not ifd.is_reduced:
            break
        reduced.append(ifd)
    if len(reduced) > 1:
        return tuple(reduced)
    return legacy_image_levels(tiff, ome) or (ifd0,)


def pyramid_kind(tiff: TiffStructure, ome: OmeDocument | None) -> str:
    """ "subifds", "legacy" (reduced IFDs or extra Images in the main chain) or "none"."""
    if not tiff.ifds:
        return "none"
    if tiff.ifds[0].subifds:
        return "subifds"
    return "legacy" if len(pyramid_levels(tiff, ome)) > 1 else "none"


def pyramid_how(tiff: TiffStructure, ome: OmeDocument | None) -> str:
    """How the pyramid is stored, in words for the Summary."""
    kind = pyramid_kind(tiff, ome)
    if kind == "subifds":
        return "SubIFDs"
    if kind == "none":
        return "no pyramid"
    reduced = pyramid_levels(tiff, ome)[1].is_reduced
    return "legacy: reduced IFDs in the main chain" if reduced else "legacy: one OME Image per level"


def legacy_image_levels(tiff: TiffStructure, ome: OmeDocument | None) -> tuple[IFD, ...]:
    """Bio-Formats 5.9 layout: one OME Image per resolution, each the next ``planes`` IFDs of the chain."""
    if ome is None or len(ome.images) < 2 or ome.images[0].pixels is None:
        return ()
    planes = ome.images[0].pixels.plane_total
    out: list[IFD] = []
    prev_w = None
    for k, img in enumerate(ome.images):
        px = img.pixels
        index = k * planes
        if px is None or index >= len(tiff.ifds) or px.plane_total != planes:
            break
        if prev_w is not None and (not px.size_x or px.size_x >= prev_w):
            break
        prev_w = px.size_x
        out.append(tiff.ifds[index])
    return tuple(out) if len(out) > 1 else ()


# --- the plane index ---------------------------------------------------------------------------------------------------


@record
class PlaneOrder:
    """The order of the planes: ``axes`` fastest first (e.g. "ZCT" for XYZCT) and the size of each (Z, C, T)."""

    axes: str
    size_z: int
    size_c: int
    size_t: int

    @property
    def total(self) -> int:
        """SizeZ x SizeC x SizeT."""
        return self.size_z * self.size_c * self.size_t

    def _sizes(self) -> dict[str, int]:
        return {"Z": self.size_z, "C": self.size_c, "T": self.size_t}

    def index(self, z: int, c: int, t: int) -> int:
        """The plane index of (z, c, t): the first axis varies fastest."""
        sizes, pos = self._sizes(), {"Z": z, "C": c, "T": t}
        index, stride = 0, 1
        for axis in self.axes:
            index += pos[axis] * stride
            stride *= sizes[axis]
        return index

    def coords(self, index: int) -> tuple[int, int, int]:
        """(z, c, t) of a plane index (the inverse of ``index`` inside the image)."""
        sizes, pos = self._sizes(), {}
        for axis in self.axes:
            pos[axis] = index % sizes[axis]
            index //= sizes[axis]
        return pos["Z"], pos["C"], pos["T"]


def plane_order(pixels: Pixels) -> PlaneOrder | None:
    """The plane order of ``pixels`` (a missing DimensionOrder reads as XYZCT); None when it is not an OME order."""
    order = (pixels.dimension_order or "XYZCT").upper()
    if order not in DIMENSION_ORDERS:
        return None
    return PlaneOrder(
        order[2:], max(1, pixels.size_z or 1), max(1, pixels.effective_size_c), max(1, pixels.size_t or 1)
    )


def plane_index(pixels: Pixels, z: int, c: int, t: int) -> int | None:
    """The IFD a viewer computes for (z, c, t) from DimensionOrder alone (it ignores TiffData); None when the
    DimensionOrder is not one of the six OME orders."""
    order = plane_order(pixels)
    return None if order is None else order.index(z, c, t)


# --- the TiffData plane mapping ----------------------------------------------------------------------------------------


@record
class PlaneRun:
    """The planes one TiffData maps: ``count`` planes from plane index ``start`` on, to IFDs ``ifd`` onwards."""

    tiffdata_index: int
    start: int
    count: int
    ifd: int
    file_name: str | None
    uuid: str | None

    @property
    def follows_order(self) -> bool:
        """True when every plane of the run sits in the IFD DimensionOrder gives it (this file only)."""
        return self.file_name is not None or self.ifd == self.start


@record
class PlaneMapping:
    """(z, c, t) -> (file, IFD) as the TiffData elements say, kept as runs (cost: one per TiffData, not per plane)."""

    image_id: str | None
    order: PlaneOrder | None  # None: DimensionOrder is not an OME order, nothing could be mapped
    runs: tuple[PlaneRun, ...] = ()
    findings: tuple[Finding, ...] = ()

    @property
    def mapped(self) -> int:
        """Planes the runs map (a plane mapped twice counts twice)."""
        return sum(r.count for r in self.runs)

    def covered(self) -> int:
        """Distinct planes the runs map (overlapping runs merged)."""
        total, end = 0, 0
        for start, stop in sorted((r.start, r.start + r.count) for r in self.runs if r.count):
            if stop > end:
                total += stop - max(start, end)
                end = stop
        return total

    def refs(self, limit: int | None = None) -> Iterator[PlaneRef]:
        """The mapped planes one by one, in TiffData order; at most ``limit`` of them."""
        if self.order is None:
            return
        left = self.mapped if limit is None else limit
        for run in self.runs:
            for k in range(min(run.count, left)):
                z, c, t = self.order.coords(run.start + k)
                yield PlaneRef(z, c, t, run.ifd + k, run.file_name, run.uuid, run.tiffdata_index)
            left -= min(run.count, left)
            if left <= 0:
                return


def plane_mapping(image: Image) -> PlaneMapping:
    """The TiffData of ``image`` as runs of planes, following the spec's defaults.

    IFD defaults to 0, FirstZ/C/T to 0; PlaneCount to 1 when IFD is given, otherwise to every plane. Planes are
    consecutive in DimensionOrder from (FirstZ, FirstC, FirstT) and in IFDs from IFD. Planes past the image's
    SizeZ x SizeC x SizeT are dropped, and a finding says so. No TiffData: no runs (the viewer's ``plane_index``).
    """
    pixels = image.pixels
    if pixels is None:
        return PlaneMapping(image.id, None)
    where = image.id or f"Image #{image.index}"
    order = plane_order(pixels)
    if order is None:
        found = ()
        if pixels.tiffdata:
            found = (
                Finding(
                    "OME_BAD_VALUE",
                    Severity.WARNING,
                    f"DimensionOrder {pixels.dimension_order!r} is not one of {', '.join(DIMENSION_ORDERS)}; the "
                    f"{len(pixels.tiffdata):,} TiffData element(s) cannot be placed on planes, so the plane mapping "
                    "was skipped.",
                    "Write one of the six OME dimension orders.",
                    where,
                ),
            )
        return PlaneMapping(image.id, None, (), found)
    total = order.total
    runs: list[PlaneRun] = []
    past_end: list[tuple[int, int, int]] = []  # (TiffData #, PlaneCount, start) of runs cut at the last plane
    for td in pixels.tiffdata:
        start = order.index(td.first_z, td.first_c, td.first_t)
        wanted = td.plane_count if td.plane_count is not None else total - start
        count = max(0, min(wanted, total - start))
        inside = td.first_z < order.size_z and td.first_c < order.size_c and td.first_t < order.size_t
        if inside and td.plane_count is not None and count < td.plane_count:
            past_end.append((td.index, td.plane_count, start))
        runs.append(PlaneRun(td.index, start, count, td.ifd, td.file_name, td.uuid))
    findings: list[Finding] = []
    if past_end:
        index, plane_count, start = past_end[0]
        past = f" from plane {start:,} on" if start else ""
        more = f" ({len(past_end) - 1:,} more TiffData like it)" if len(past_end) > 1 else ""
        findings.append(
            Finding(
                "OME_TIFFDATA_RANGE",
                Severity.WARNING,
                f"TiffData #{index} claims PlaneCount={plane_count:,}{past} but the image has only {total:,} "
                f"planes; the planes past the end are ignored{more}.",
                "The plane mapping is wrong: re-export the metadata.",
                where,
            )
        )
    return PlaneMapping(image.id, order, tuple(runs), tuple(findings))


def mapping_rows(doc: OmeDocument, *, limit: int = MAPPING_ROWS_SHOWN) -> list[dict[str, Any]]:
    """The plane mapping of every Image as table rows (``MAPPING_COLUMNS``), at most ``limit`` rows in all."""
    rows: list[dict[str, Any]] = []
    for image in doc.images:
        for ref in plane_mapping(image).refs(limit - len(rows)):
            values = (image.id, ref.z, ref.c, ref.t, ref.ifd, ref.file_name, ref.uuid, ref.tiffdata_index)
            rows.append(dict(zip(MAPPING_COLUMNS, values, strict=True)))
        if len(rows) >= limit:
            break
    return rows
