"""Estimate what a geotiff.js 2.x viewer (Viv) fetches before its first tile: requests and bytes.

The model, from geotiff.js 2.1 and Viv's OME-TIFF loader:
- reads go through a block cache of 64 KiB blocks; each read fetches its missing blocks, one request per run of
  consecutive missing blocks, and reads happen one after another (each IFD parse awaits the previous one);
- the header read is the first 1 KiB; an IFD is read 1 KiB (4 KiB for BigTIFF) at its offset, then its entries if
  longer, then **every** out-of-line tag value (ImageDescription, TileOffsets, TileByteCounts, SubIFDs...);
- the first paint shows the first ``FIRST_PAINT_CHANNELS`` channels at z = 0, t = 0; each plane's IFD index comes
  from DimensionOrder; without an offsets.json geotiff.js reaches IFD ``i`` by parsing IFDs 0..i in turn;
- for each shown plane the viewer opens the lowest level (channel statistics) and the level that fits a
  ``VIEWPORT`` px view (the first tiles).
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from ometiff_helpers.frozen import record
from ometiff_helpers.ome.model import OmeDocument
from ometiff_helpers.ometiff import legacy_image_levels, plane_index, pyramid_kind, pyramid_levels
from ometiff_helpers.tiff.codes import TagCode
from ometiff_helpers.tiff.model import IFD, TiffStructure

BLOCK = 64 * 1024
HEADER_READ = 1024
FIRST_PAINT_CHANNELS = 6
VIEWPORT = 1024
_ARRAY_TAGS = frozenset(
    {TagCode.TILE_OFFSETS, TagCode.TILE_BYTE_COUNTS, TagCode.STRIP_OFFSETS, TagCode.STRIP_BYTE_COUNTS}
)


@record
class ViewerEstimate:
    """What geotiff.js 2.x needs before the first tile (metadata only; tile bytes are not counted)."""

    requests: int
    bytes: int
    eager_array_bytes: int  # TileOffsets/TileByteCounts (or strip arrays) read whole
    description_bytes: int  # IFD 0's ImageDescription (the OME-XML), parsed before anything shows
    ifds_opened: int
    chain_ifds_walked: int  # top-level IFDs parsed only to follow the chain
    planes_shown: int
    used_offsets: bool
    assumptions: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "bytes": self.bytes,
            "eager_array_bytes": self.eager_array_bytes,
            "description_bytes": self.description_bytes,
            "ifds_opened": self.ifds_opened,
            "chain_ifds_walked": self.chain_ifds_walked,
            "planes_shown": self.planes_shown,
            "used_offsets": self.used_offsets,
            "assumptions": list(self.assumptions),
        }


class _Blocks:
    """A geotiff.js BlockedSource: which 64 KiB blocks were fetched, and what fetching cost."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.have: set[int] = set()
        self.requests = 0
        self.bytes = 0

    def read(self, start: int, end: int) -> None:
        end = min(end, self.size)
        if end <= start:
            return
        missing = [b for b in range(start // BLOCK, (end - 1) // BLOCK + 1) if b not in self.have]
        run_start: int | None = None
        prev = -2
        for b in [*missing, -1]:
            if b != prev + 1 and run_start is not None:
                self.requests += 1
                self.bytes += min((prev + 1) * BLOCK, self.size) - run_start * BLOCK
                run_start = None
            if b >= 0 and run_start is None:
                run_start = b
            prev = b
        self.have.update(missing)


def _open_ifd(blocks: _Blocks, ifd: IFD, bigtiff: bool) -> int:
    """Read one IFD as geotiff.js 2.x does; returns the offset-array bytes it read."""
    first = 4048 if bigtiff else 1024
    blocks.read(ifd.offset, ifd.offset + first)
    if ifd.nbytes > first:
        blocks.read(ifd.offset, ifd.offset + ifd.nbytes)
    arrays = 0
    for tag in ifd.tags:
        if tag.value_offset is None or tag.nbytes <= 0:
            continue
        blocks.read(tag.value_offset, tag.value_offset + tag.nbytes)
        if tag.code in _ARRAY_TAGS:
            arrays += tag.nbytes
    return arrays


def _viewport_level(levels: list[IFD]) -> int:
    """The first level that fits the viewport (the last level when none does)."""
    for k, ifd in enumerate(levels):
        if max(ifd.width or 0, ifd.height or 0) <= VIEWPORT:
            return k
    return len(levels) - 1


def estimate_viewer_cost(
    tiff: TiffStructure, ome: OmeDocument | None, *, offsets_available: bool = False
) -> ViewerEstimate:
    """The requests and bytes a geotiff.js 2.x viewer needs before its first tile (see the module docstring)."""
    blocks = _Blocks(tiff.size)
    blocks.read(0, HEADER_READ)
    top = list(tiff.ifds)
    px = ome.images[0].pixels if ome is not None and ome.images else None
    n_channels = min(px.effective_size_c, FIRST_PAINT_CHANNELS) if px is not None else 1
    planes = [plane_index(px, 0, c, 0) or 0 for c in range(n_channels)] if px is not None else [0]
    planes = [p for p in planes if p < len(top)] or [0]
    kind = pyramid_kind(tiff, ome)
    all_levels = list(pyramid_levels(tiff, ome))
    legacy_levels = legacy_image_levels(tiff, ome)
    n_levels = len(all_levels) or 1
    plane_total = px.plane_total if px is not None else 1
    wanted: list[int] = []  # top-level IFD indices, in the order the viewer asks for them
    sub: list[IFD] = []
    for p in planes:
        wanted.append(p)
        if kind == "subifds":
            levels = [top[p], *top[p].subifds]
            for k in sorted({n_levels - 1, _viewport_level(all_levels)}):
                if 0 < k < len(levels):
                    sub.append(levels[k])
        elif kind == "legacy" and legacy_levels:
            for k in sorted({n_levels - 1, _viewport_level(all_levels)}):
                idx = k * plane_total + p
                if k > 0 and idx < len(top):
                    wanted.append(idx)
        # reduced IFDs after IFD 0 (legacy, NewSubfileType 1): the viewer sees one big image, opens nothing more
    opened: list[IFD] = []
    seen: set[int] = set()
    walked = 0
    arrays = 0
    targets = [0, *wanted]
    if offsets_available:
        order = targets
    else:
        order = list(range(max(targets) + 1))
        walked = len([i for i in order if i not in set(targets)])
    for i in order:
        if i not in seen:
            seen.add(i)
            opened.append(top[i])
    for ifd in opened + sub:
        arrays += _open_ifd(blocks, ifd, tiff.bigtiff)
    desc = tiff.image_description_length or 0
    assumptions = (
        f"geotiff.js 2.x BlockedSource, {BLOCK // 1024} KiB blocks, offset arrays read eagerly",
        f"first paint: {len(planes)} channel(s) at z=0, t=0; lowest level and the level fitting {VIEWPORT} px",
        "an offsets.json is used" if offsets_available else "no offsets.json: the IFD chain is walked",
    )
    return ViewerEstimate(
        requests=blocks.requests,
        bytes=blocks.bytes,
        eager_array_bytes=arrays,
        description_bytes=desc,
        ifds_opened=len(opened) + len(sub),
        chain_ifds_walked=walked,
        planes_shown=len(planes),
        used_offsets=offsets_available,
        assumptions=assumptions,
    )
