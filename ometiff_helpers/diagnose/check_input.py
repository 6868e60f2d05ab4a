"""What every check rule reads: one frozen view of a report (TIFF, OME-XML, probe results, viewer estimate).

Rules are pure functions of a ``CheckInput``; this module derives the views they share (pyramid levels, the first
Image's Pixels, the plane index the viewer computes from DimensionOrder) so that no rule re-derives them. The pyramid
functions are also what ``report.Report.levels()`` shows, so the Summary and the findings agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from ometiff_helpers.diagnose.viewer import NEWEST, ViewerVersion
from ometiff_helpers.findings import Finding, Severity
from ometiff_helpers.ome.model import Image, OmeDocument, Pixels
from ometiff_helpers.tiff.model import IFD, TiffStructure

if TYPE_CHECKING:
    from ometiff_helpers.diagnose.probes import ProbeResults
    from ometiff_helpers.diagnose.viewer_cost import ViewerEstimate

#: the OME pixel types and dimension orders (Viv's schema accepts exactly these)
OME_TYPES = ("int8", "int16", "int32", "uint8", "uint16", "uint32", "float", "double", "bit", "complex",
             "double-complex")  # fmt: skip
DIMENSION_ORDERS = ("XYZCT", "XYZTC", "XYCTZ", "XYCZT", "XYTCZ", "XYTZC")


class ReportLike(Protocol):
    """The parts of ``report.Report`` the checks read (checks must not import report: it imports them)."""

    display_name: str
    tiff: TiffStructure
    ome: OmeDocument | None
    ome_error: str | None
    ome_error_kind: str | None
    extra: dict[str, Any]

    @property
    def source_info(self) -> Any: ...

    @property
    def ledger(self) -> Any: ...


@dataclass(frozen=True)
class CheckInput:
    """Everything a rule may look at. ``probes`` is None when no network probe ran (local file, ``probes=False``)."""

    tiff: TiffStructure
    ome: OmeDocument | None = None
    ome_error: str | None = None
    ome_error_kind: str | None = None
    display_name: str = ""
    kind: str = "file"  # "http" | "file" | "bytes"
    statuses: tuple[int, ...] = ()  # HTTP statuses of the main read's requests (from its ledger)
    probes: ProbeResults | None = None
    estimate: ViewerEstimate | None = None
    viewer: ViewerVersion = NEWEST  # the Viv release the verdict is about

    @classmethod
    def from_report(
        cls,
        report: ReportLike,
        *,
        probes: ProbeResults | None = None,
        estimate: ViewerEstimate | None = None,
        viewer: ViewerVersion = NEWEST,
    ) -> CheckInput:
        records = getattr(report.ledger, "records", ()) or ()
        return cls(
            tiff=report.tiff,
            ome=report.ome,
            ome_error=report.ome_error,
            ome_error_kind=report.ome_error_kind,
            display_name=report.display_name,
            kind=getattr(report.source_info, "kind", "file"),
            statuses=tuple(int(r.status) for r in records),
            probes=probes,
            estimate=estimate,
            viewer=viewer,
        )

    # --- OME views ---------------------------------------------------------------------------------------------------

    @property
    def image(self) -> Image | None:
        return self.ome.images[0] if self.ome is not None and self.ome.images else None

    @property
    def pixels(self) -> Pixels | None:
        image = self.image
        return image.pixels if image is not None else None

    @property
    def ifd0(self) -> IFD | None:
        return self.tiff.ifds[0] if self.tiff.ifds else None

    @property
    def url_name(self) -> str:
        """The last path segment of the (redacted) URL or file name, without query."""
        path = urlsplit(self.display_name).path if self.kind == "http" else self.display_name
        return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]

    # --- pyramid -----------------------------------------------------------------------------------------------------

    @property
    def pyramid_kind(self) -> str:
        """See ``pyramid_kind``."""
        return pyramid_kind(self.tiff, self.ome)

    @property
    def levels(self) -> tuple[IFD, ...]:
        """See ``pyramid_levels``."""
        return pyramid_levels(self.tiff, self.ome)

    @property
    def legacy_image_levels(self) -> tuple[IFD, ...]:
        """See ``legacy_image_levels``."""
        return legacy_image_levels(self.tiff, self.ome)

    def plane_index(self, z: int, c: int, t: int) -> int | None:
        """The IFD index Viv computes for (z, c, t) from DimensionOrder alone (it ignores TiffData)."""
        px = self.pixels
        if px is None:
            return None
        return dimension_order_index(px.dimension_order or "XYZCT", z, c, t, px.size_z or 1,
                                     px.effective_size_c, px.size_t or 1)  # fmt: skip


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


def dimension_order_index(order: str, z: int, c: int, t: int, size_z: int, size_c: int, size_t: int) -> int:
    """Plane index for (z, c, t): the first letter after XY varies fastest (the OME-TIFF spec's rule)."""
    sizes = {"Z": size_z, "C": size_c, "T": size_t}
    coords = {"Z": z, "C": c, "T": t}
    index, stride = 0, 1
    for axis in order.upper()[2:5] if len(order) == 5 else "ZCT":
        index += coords[axis] * stride
        stride *= max(1, sizes[axis])
    return index


def finding(code: str, severity: Severity, message: str, remedy: str = "", where: str = "") -> Finding:
    """A Finding (shorthand used by the rule modules)."""
    return Finding(code, severity, message, remedy, where)


def listing(items: list[str], limit: int = 3) -> str:
    """'a, b, c and 4 more'."""
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
