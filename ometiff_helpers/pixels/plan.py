"""Which IFDs and tiles the preview reads: the lowest pyramid level of each channel Viv shows first, and one tile
of the level above, chosen as Viv's OME-TIFF loader indexes planes and levels (no I/O here)."""

from __future__ import annotations

from ometiff_helpers.frozen import record
from ometiff_helpers.ome.model import OmeDocument
from ometiff_helpers.ometiff import plane_index, pyramid_levels
from ometiff_helpers.pixels.model import TileRef
from ometiff_helpers.tiff.codes import PlanarConfig, TagCode
from ometiff_helpers.tiff.model import IFD, Tag, TiffStructure

#: Avivator's default channel colours when the OME Channel has no Color
_PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 0, 255), (0, 255, 0), (255, 0, 255), (255, 255, 0), (255, 128, 0), (0, 255, 255), (255, 255, 255),
    (255, 0, 0),
)  # fmt: skip
_RGB = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255))


@record
class ChannelTarget:
    """One channel to preview: its levels (full resolution first) and, for interleaved samples, which sample."""

    channel: int
    name: str
    colour: tuple[int, int, int]
    chain: tuple[IFD, ...]
    sample: int = 0

    @property
    def lower(self) -> IFD:
        """The lowest level."""
        return self.chain[-1]

    @property
    def upper(self) -> IFD | None:
        """The level above the lowest (None without a pyramid)."""
        return self.chain[-2] if len(self.chain) > 1 else None


def channel_targets(
    tiff: TiffStructure, ome: OmeDocument | None, max_channels: int
) -> tuple[list[ChannelTarget], list[str]]:
    """The channels Avivator shows first (z and t at their middle, as Avivator selects) with their level chains."""
    notices: list[str] = []
    if not tiff.ifds:
        return [], ["The file has no IFD: nothing to preview."]
    pixels = ome.images[0].pixels if ome is not None and ome.images else None
    targets: list[ChannelTarget] = []
    if pixels is None:
        ifd0 = tiff.ifds[0]
        chain = pyramid_levels(tiff, None)
        spp = ifd0.samples_per_pixel
        for s in range(min(spp, max_channels)):
            colour = (
                _RGB[s] if spp in (3, 4) else (_PALETTE[s % len(_PALETTE)] if spp > 1 else (255, 255, 255))
            )
            targets.append(ChannelTarget(s, f"sample {s}", colour, chain, s))
        return targets, notices
    size_z, size_t = pixels.size_z or 1, pixels.size_t or 1
    size_c = pixels.effective_size_c
    planes = size_z * size_c * size_t
    order = pixels.dimension_order or "XYZCT"
    z, t = size_z // 2, size_t // 2
    ifd0 = tiff.ifds[0]
    channels = list(pixels.channels)
    shown = min(size_c, max_channels)
    if size_c > shown:
        notices.append(
            f"{size_c} channels: the first {shown} are previewed (the viewer shows at most {shown} at first)."
        )
    for c in range(shown):
        index = plane_index(pixels, z, c, t)
        if index is None:
            notices.append(f"DimensionOrder {order!r} is not an OME order: no plane to preview.")
            break
        if index >= len(tiff.ifds):
            notices.append(
                f"channel {c}: its plane is IFD {index}, past the {len(tiff.ifds)} IFDs of the file."
            )
            continue
        base = tiff.ifds[index]
        if ifd0.subifds:
            chain: tuple[IFD, ...] = (base, *base.subifds)
        else:
            chain = _legacy_chain(tiff, ome, index, planes, base)
        spp = base.samples_per_pixel
        ch = channels[c] if c < len(channels) else None
        name = (ch.name or ch.id or f"channel {c}") if ch is not None else f"channel {c}"
        if spp in (3, 4) and base.planar_configuration in (PlanarConfig.CONTIG, PlanarConfig.SEPARATE):
            for s in range(3):
                targets.append(ChannelTarget(len(targets), f"{name} {'RGB'[s]}", _RGB[s], chain, s))
            continue
        if ch is not None and ch.colour is not None and not ch.colour_defaulted:
            colour = ch.colour.rgba[:3]
        else:
            colour = (255, 255, 255) if size_c == 1 else _PALETTE[c % len(_PALETTE)]
        targets.append(ChannelTarget(len(targets), name, (colour[0], colour[1], colour[2]), chain, 0))
    return targets, notices


def _legacy_chain(
    tiff: TiffStructure, ome: OmeDocument | None, index: int, planes: int, base: IFD
) -> tuple[IFD, ...]:
    """Viv without SubIFDs: level L of plane p is IFD p + L × planes, one OME Image per level."""
    images = len(ome.images) if ome is not None else 1
    chain = [base]
    for level in range(1, images):
        k = index + level * planes
        if k >= len(tiff.ifds):
            break
        ifd = tiff.ifds[k]
        if not ifd.width or not chain[-1].width or ifd.width >= chain[-1].width:
            break
        chain.append(ifd)
    return tuple(chain)


def offsets_tags(ifd: IFD) -> tuple[Tag | None, Tag | None]:
    """The TileOffsets/TileByteCounts (or Strip...) tags of ``ifd``."""
    if ifd.is_tiled:
        return ifd.tag(TagCode.TILE_OFFSETS), ifd.tag(TagCode.TILE_BYTE_COUNTS)
    return ifd.tag(TagCode.STRIP_OFFSETS), ifd.tag(TagCode.STRIP_BYTE_COUNTS)


def make_tile(ifd: IFD, index: int, offset: int, nbytes: int, origin: tuple[int, int, int | None]) -> TileRef:
    """A TileRef for tile ``index`` of ``ifd``."""
    y, x, sample = origin
    return TileRef(ifd.path, index, int(offset), int(nbytes), y, x, sample)
