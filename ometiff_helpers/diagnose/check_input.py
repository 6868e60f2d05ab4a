"""What every check rule reads: one frozen view of a report (TIFF, OME-XML, probe results, viewer estimate).

Rules are pure functions of a ``CheckInput``; it offers the views they share (pyramid levels, the first Image's
Pixels, the plane index the viewer computes from DimensionOrder, the TiffData plane mapping), all from
``ometiff_helpers.ometiff``, which ``report.Report.levels()`` reads too, so the Summary and the findings agree.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from ometiff_helpers.diagnose.viewer import NEWEST, ViewerVersion
from ometiff_helpers.diagnose.viewer_cost import ViewerEstimate
from ometiff_helpers.findings import Finding, Severity
from ometiff_helpers.frozen import record
from ometiff_helpers.ome.model import Image, OmeDocument, Pixels
from ometiff_helpers.ometiff import (
    PlaneMapping,
    legacy_image_levels,
    plane_index,
    plane_mapping,
    pyramid_kind,
    pyramid_levels,
)
from ometiff_helpers.tiff.model import IFD, TiffStructure

if TYPE_CHECKING:  # the probes module is imported when a URL is probed, not for a local file
    from ometiff_helpers.diagnose.probes import ProbeResults

#: the OME pixel types (Viv's schema accepts exactly these)
OME_TYPES = ("int8", "int16", "int32", "uint8", "uint16", "uint32", "float", "double", "bit", "complex",
             "double-complex")  # fmt: skip


class ReportLike(Protocol):
    """The parts of ``report.Report`` a ``CheckInput`` is made of (checks must not import report: it imports them)."""

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


@record
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
        """The CheckInput of a report (its TIFF, OME, source kind and HTTP statuses) with these probes/estimate."""
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
        """The IFD index Viv computes for (z, c, t) from DimensionOrder alone (it ignores TiffData); None without
        Pixels or with a DimensionOrder that is not an OME order."""
        px = self.pixels
        return None if px is None else plane_index(px, z, c, t)

    @cached_property
    def mapping(self) -> PlaneMapping | None:
        """The first Image's TiffData plane mapping (runs of planes, see ``ometiff.plane_mapping``)."""
        image = self.image
        return None if image is None else plane_mapping(image)


def finding(code: str, severity: Severity, message: str, remedy: str = "", where: str = "") -> Finding:
    """A Finding (shorthand used by the rule modules)."""
    return Finding(code, severity, message, remedy, where)


def listing(items: list[str], limit: int = 3) -> str:
    """'a, b, c and 4 more'."""
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
