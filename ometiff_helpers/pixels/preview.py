"""``preview(source, tiff, ome, options)``: read and decode the lowest pyramid level of the channels the viewer shows
first (and one tile of the level above, or a band of its rows), in one extra round when the tile offsets are loaded
(two when TileOffsets must be fetched first), within a byte budget; compute Viv's channel statistics and the checks'
evidence."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ometiff_helpers.errors import OmeTiffError
from ometiff_helpers.fmt import human_bytes
from ometiff_helpers.io.base import ByteSource
from ometiff_helpers.ome.model import OmeDocument
from ometiff_helpers.pixels.decode import (
    JPEG_TABLES,
    Layout,
    TileDecodeError,
    band_start,
    decode_tile,
    layout_of,
    needed_bytes,
    row_bytes,
    tile_origin,
)
from ometiff_helpers.pixels.model import (
    ChannelStats,
    LevelComparison,
    PixelOptions,
    PixelPreview,
    TileProblem,
    TileRef,
)
from ometiff_helpers.pixels.plan import ChannelTarget, channel_targets, make_tile, offsets_tags
from ometiff_helpers.pixels.stats import viv_channel_stats
from ometiff_helpers.tiff.codes import PlanarConfig
from ometiff_helpers.tiff.model import IFD, Tag, TiffStructure
from ometiff_helpers.tiff.parse import decode_value

Range = tuple[int, int]


@dataclass
class _Level:
    """One IFD being read: its layout, the tiles wanted, the assembled pixels."""

    ifd: IFD
    layout: Layout
    indices: list[int]
    upper: bool  # only one tile wanted (the level above the lowest)
    factor: int = 1  # an upper level's size over the lowest level's (2 for a halving pyramid)
    band: int = 0  # rows of an uncompressed upper tile read (a band of it; 0: the whole tile)
    offsets: tuple[int, ...] | None = None  # entries for ``indices``
    counts: tuple[int, ...] | None = None
    tiles: list[TileRef] = field(default_factory=list)
    pixels: Any = None  # (height, width, samples) for the lowest level; the tile for an upper level
    origin: tuple[int, int] = (0, 0)
    blobs: dict[int, bytes] = field(default_factory=dict)  # fetched tile bytes until decoded


def preview(
    source: ByteSource, tiff: TiffStructure, ome: OmeDocument | None, options: PixelOptions | None = None
) -> PixelPreview:
    """Read, decode and measure the lowest level; problems become notices and tile problems, never exceptions
    (except a network failure of the source itself, raised as the source's ``OmeTiffError``)."""
    opts = options or PixelOptions()
    before = source.ledger.as_dict()
    targets, notices = channel_targets(tiff, ome, opts.max_channels)
    problems: list[TileProblem] = []
    levels: dict[int, _Level] = {}
    usable: list[ChannelTarget] = []
    for t in targets:
        low = _level_for(tiff, t.lower, None, t.sample, opts, levels, notices)
        if low is None:
            continue
        usable.append(t)
        if opts.upper_tiles and t.upper is not None:
            _level_for(tiff, t.upper, low.layout, t.sample, opts, levels, notices)
    first = usable[0].lower if usable else (targets[0].lower if targets else None)
    chain_len = len(usable[0].chain) if usable else (len(targets[0].chain) if targets else 0)
    budget = [opts.max_bytes]
    _read(source, tiff, list(levels.values()), budget, opts, problems, notices)
    for lv in levels.values():
        _assemble(source, lv, problems)
    stats, arrays = [], []
    for t in usable:
        lv = levels[t.lower.offset]
        if lv.pixels is None or not lv.tiles:
            continue
        arr = lv.pixels[:, :, t.sample]
        stats.append(_stats(t, arr))
        arrays.append(arr)
    comparisons = _compare(usable, levels, stats)
    after = source.ledger.as_dict()
    return PixelPreview(
        level=max(chain_len - 1, 0),
        level_count=chain_len,
        width=(first.width or 0) if first is not None else 0,
        height=(first.height or 0) if first is not None else 0,
        compression=first.compression_name if first is not None else "",
        photometric=first.photometric if first is not None else None,
        samples_per_pixel=first.samples_per_pixel if first is not None else 1,
        significant_bits=_significant_bits(ome),
        is_ome=ome is not None and bool(ome.images) and ome.images[0].pixels is not None,
        channels=tuple(stats),
        arrays=tuple(arrays),
        comparisons=tuple(comparisons),
        tile_problems=tuple(problems),
        notices=tuple(notices),
        bytes_read=after["bytes"] - before["bytes"],
        requests=after["count"] - before["count"],
        rounds=after["rounds"] - before["rounds"],
        tiles_read=sum(len(lv.tiles) for lv in levels.values()),
    )


def _significant_bits(ome: OmeDocument | None) -> int | None:
    """The first Image's Pixels SignificantBits, or None."""
    if ome is None or not ome.images or ome.images[0].pixels is None:
        return None
    return ome.images[0].pixels.significant_bits


def _level_for(
    tiff: TiffStructure,
    ifd: IFD,
    lower: Layout | None,
    sample: int,
    opts: PixelOptions,
    levels: dict[int, _Level],
    notices: list[str],
) -> _Level | None:
    """Register the tiles of ``ifd`` to read: all of a lowest level; of the level above (``lower`` is then the
    lowest level's layout), the centre tile, of which only a band of rows when it is uncompressed."""
    upper = lower is not None
    try:
        jt = ifd.tag(JPEG_TABLES)
        layout = layout_of(
            ifd, tiff.byteorder, jt.value if jt is not None and isinstance(jt.value, bytes) else None
        )
    except OmeTiffError as exc:
        if not upper and not any(str(exc) in n for n in notices):
            notices.append(str(exc))
        return None
    if not upper and layout.width * layout.height > opts.max_pixels:
        msg = (
            f"{ifd.path}: the lowest level is {layout.width:,} × {layout.height:,} pixels, over the preview's "
            f"{opts.max_pixels:,}-pixel limit (no pyramid?): not read."
        )
        if msg not in notices:
            notices.append(msg)
        return None
    lv = levels.get(ifd.offset)
    if lv is None:
        lv = _Level(ifd, layout, [], upper)
        if lower is not None:
            lv.factor = max(1, round(layout.width / lower.width))
            lv.band = opts.compare_rows * lv.factor
        levels[ifd.offset] = lv
    if upper:
        centre = (layout.tiles_down // 2) * layout.tiles_across + layout.tiles_across // 2
        wanted = [centre]
    else:
        wanted = list(range(layout.tiles_per_plane))
    if layout.planar == PlanarConfig.SEPARATE:
        wanted = [i + sample * layout.tiles_per_plane for i in wanted]
    for i in wanted:
        if i not in lv.indices:
            lv.indices.append(i)
    return lv


def _array_ranges(tag: Tag | None, indices: list[int], tiff: TiffStructure) -> list[Range]:
    """Byte ranges of the entries of an unloaded offsets/byte-counts array that ``indices`` need."""
    if tag is None or tag.value is not None or tag.value_offset is None or tag.count == 0:
        return []
    size = tag.nbytes // tag.count
    lo, hi = min(indices), max(indices) + 1
    if hi > tag.count:
        return []
    return [(tag.value_offset + lo * size, tag.value_offset + hi * size)]


def _entries(
    tag: Tag | None, indices: list[int], data: bytes | None, tiff: TiffStructure
) -> tuple[int, ...] | None:
    """The array entries at ``indices``, from the loaded value or from the fetched slice ``data``."""
    if tag is None:
        return None
    if isinstance(tag.value, tuple):
        vals = tag.value
        return tuple(int(vals[i]) if i < len(vals) else 0 for i in indices)
    if data is None or tag.count == 0:
        return None
    lo = min(indices)
    n = max(indices) + 1 - lo
    decoded = decode_value(tiff.format, tag.type, n, data)
    if not isinstance(decoded, tuple):
        return None
    return tuple(int(decoded[i - lo]) for i in indices)


def _read(
    source: ByteSource,
    tiff: TiffStructure,
    levels: list[_Level],
    budget: list[int],
    opts: PixelOptions,
    problems: list[TileProblem],
    notices: list[str],
) -> None:
    """Fetch the offsets entries still missing together with the tiles already known (round 1), then the rest."""
    array_ranges: list[Range] = []
    slots: dict[
        tuple[int, int], int
    ] = {}  # (level id, 0 offsets / 1 counts / 2 tables) -> index in array_ranges
    array_bytes = 0
    for k, lv in enumerate(levels):
        off_tag, cnt_tag = offsets_tags(lv.ifd)
        for which, tag in ((0, off_tag), (1, cnt_tag)):
            for rng in _array_ranges(tag, lv.indices, tiff):
                array_bytes += rng[1] - rng[0]
                if array_bytes > opts.max_array_bytes or rng[1] > tiff.size:
                    notices.append(f"{lv.ifd.path}: its tile offsets are too large to fetch for the preview.")
                    continue
                slots[(k, which)] = len(array_ranges)
                array_ranges.append(rng)
        jt = lv.ifd.tag(JPEG_TABLES)
        if jt is not None and jt.value is None and jt.value_offset is not None and jt.nbytes < 65536:
            slots[(k, 2)] = len(array_ranges)
            array_ranges.append((jt.value_offset, jt.value_offset + jt.nbytes))
        lv.offsets = _entries(off_tag, lv.indices, None, tiff)
        lv.counts = _entries(cnt_tag, lv.indices, None, tiff)
    known = [lv for lv in levels if lv.offsets is not None and lv.counts is not None]
    tiles1 = _choose(known, tiff, budget, problems, notices)
    data = (
        source.fetch(array_ranges + [(t.offset, t.offset + t.nbytes) for _, t in tiles1])
        if (array_ranges or tiles1)
        else []
    )
    for (lv, tile), blob in zip(tiles1, data[len(array_ranges) :], strict=True):
        lv.tiles.append(tile)
        _store(lv, tile, blob)
    later = []
    for k, lv in enumerate(levels):
        off_tag, cnt_tag = offsets_tags(lv.ifd)
        if (k, 2) in slots:
            tables = data[slots[(k, 2)]]
            lv.layout = _with_tables(lv.layout, tables)
        if lv.offsets is None and (k, 0) in slots:
            lv.offsets = _entries(off_tag, lv.indices, data[slots[(k, 0)]], tiff)
        if lv.counts is None and (k, 1) in slots:
            lv.counts = _entries(cnt_tag, lv.indices, data[slots[(k, 1)]], tiff)
        if lv not in known and lv.offsets is not None and lv.counts is not None:
            later.append(lv)
    tiles2 = _choose(later, tiff, budget, problems, notices)
    if tiles2:
        blobs = source.fetch([(t.offset, t.offset + t.nbytes) for _, t in tiles2])
        for (lv, tile), blob in zip(tiles2, blobs, strict=True):
            lv.tiles.append(tile)
            _store(lv, tile, blob)


def _with_tables(layout: Layout, tables: bytes | None) -> Layout:
    """The layout with the JPEGTables fetched in round 1."""
    return replace(layout, jpeg_tables=tables) if tables else layout


def _choose(
    levels: list[_Level],
    tiff: TiffStructure,
    budget: list[int],
    problems: list[TileProblem],
    notices: list[str],
) -> list[tuple[_Level, TileRef]]:
    """The tiles to fetch, lowest levels first, within the remaining budget; sparse or outside tiles become problems."""
    chosen: list[tuple[_Level, TileRef]] = []
    for lv in sorted(levels, key=lambda lv: lv.upper):
        assert lv.offsets is not None and lv.counts is not None
        wanted: list[tuple[_Level, TileRef]] = []
        for i, off, cnt in zip(lv.indices, lv.offsets, lv.counts, strict=True):
            if off == 0 or cnt == 0:
                problems.append(TileProblem(lv.ifd.path, i, "empty", f"offset {off:,}, byte count {cnt:,}"))
                continue
            if off + cnt > tiff.size:
                problems.append(
                    TileProblem(
                        lv.ifd.path, i, "outside", f"{cnt:,} bytes at {off:,}, past the end ({tiff.size:,})"
                    )
                )
                continue
            origin = tile_origin(lv.layout, i)
            first = band_start(lv.layout, origin[0], lv.band, lv.factor) if lv.upper else None
            if first is None:
                lv.band = 0
                tile = make_tile(lv.ifd, i, off, needed_bytes(lv.layout, origin[0], cnt), origin)
            else:  # rows [first, first + band) of an uncompressed tile: one contiguous span
                skip = first * row_bytes(lv.layout)
                nbytes = max(0, min(cnt - skip, lv.band * row_bytes(lv.layout)))
                tile = make_tile(lv.ifd, i, off + skip, nbytes, (origin[0] + first, origin[1], origin[2]))
            wanted.append((lv, tile))
        need = sum(t.nbytes for _, t in wanted)
        if need > budget[0]:
            what = "one tile of the level above" if lv.upper else "the lowest level"
            notices.append(
                f"{lv.ifd.path}: {what} is {human_bytes(need)}, over the remaining preview budget of "
                f"{human_bytes(budget[0])}: not read."
            )
            continue
        budget[0] -= need
        chosen.extend(wanted)
    return chosen


def _store(lv: _Level, tile: TileRef, blob: bytes | None) -> None:
    """Keep a fetched tile's bytes until the level is decoded."""
    lv.blobs[tile.index] = blob or b""


def _decoded(lv: _Level, problems: list[TileProblem]) -> Iterator[tuple[TileRef, Any, slice]]:
    """Each fetched tile of the level decoded and clipped to the image, with its sample slice; a tile that fails
    to decode becomes a problem."""
    lay = replace(lv.layout, tile_height=lv.band) if lv.band else lv.layout
    for tile in lv.tiles:
        try:
            arr = decode_tile(lay, lv.blobs.get(tile.index, b""), tile.y)
        except TileDecodeError as exc:
            problems.append(TileProblem(lv.ifd.path, tile.index, "decode", str(exc)))
            continue
        rows = min(arr.shape[0], lay.height - tile.y)
        cols = min(arr.shape[1], lay.width - tile.x)
        s = slice(None) if tile.sample is None else slice(tile.sample, tile.sample + 1)
        yield tile, arr[:rows, :cols], s


def _assemble(source: ByteSource, lv: _Level, problems: list[TileProblem]) -> None:
    """Decode the fetched tiles into the level's array (missing tiles stay 0)."""
    lay = lv.layout
    native = lay.dtype.newbyteorder("=")
    if lv.upper:
        for tile, arr, s in _decoded(lv, problems):
            if lv.pixels is None:
                lv.pixels = np.zeros((arr.shape[0], arr.shape[1], lay.samples), native)
                lv.origin = (tile.y, tile.x)
            lv.pixels[:, :, s] = arr
        return
    buf = np.zeros((lay.height, lay.width, lay.samples), native)
    for tile, arr, s in _decoded(lv, problems):
        buf[tile.y : tile.y + arr.shape[0], tile.x : tile.x + arr.shape[1], s] = arr
    lv.pixels = buf
    lv.blobs = {}


def _stats(t: ChannelTarget, arr: Any) -> ChannelStats:
    """Viv's statistics of one channel plus the fractions and bit counts the checks read."""
    viv = viv_channel_stats(arr)
    dtype = arr.dtype
    n = int(arr.size)
    is_int = dtype.kind in "ui"
    type_max = np.iinfo(dtype).max if is_int else None
    lo, hi = viv["domain"]
    return ChannelStats(
        index=t.channel,
        name=t.name,
        ifd_path=t.lower.path,
        dtype=str(dtype.name),
        count=n,
        min=lo,
        max=hi,
        mean=viv["mean"],
        sd=viv["sd"],
        contrast_limits=viv["contrast_limits"],
        fraction_zero=float(np.count_nonzero(arr == 0) / n) if n else 0.0,
        fraction_type_max=float(np.count_nonzero(arr == type_max) / n) if n and type_max is not None else 0.0,
        nonfinite=0 if is_int else int(np.count_nonzero(~np.isfinite(arr))),
        type_bits=dtype.itemsize * 8,
        bits_used=int(hi).bit_length() if is_int and math.isfinite(hi) and hi > 0 else 0,
        colour=t.colour,
    )


#: largest block factor averaged by strided sums (f * f array additions); larger factors take numpy's mean over axes
_STRIDED_MAX_FACTOR = 8


def _corr(a: Any, b: Any) -> float | None:
    """Pearson's r over the finite pairs; None when either side is constant or there are too few pixels."""
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    ok = np.isfinite(a) & np.isfinite(b)
    if not ok.all():  # integer samples are always finite: no copy then
        a, b = a[ok], b[ok]
    if a.size < 16 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def _constant(a: Any) -> bool:
    """All finite values equal (or none finite)."""
    a = np.asarray(a, np.float64)
    fin = a[np.isfinite(a)]
    return fin.size == 0 or float(np.ptp(fin)) == 0.0


def _block_mean(plane: Any, f: int, hb: int, wb: int) -> Any:
    """The means of the ``f`` x ``f`` blocks of ``plane``'s top-left ``hb * f`` x ``wb * f`` pixels, as float64
    (equal to ``reshape(hb, f, wb, f).mean(axis=(1, 3))``, without converting the whole plane first)."""
    part = plane[: hb * f, : wb * f]
    if f > _STRIDED_MAX_FACTOR:
        return part.astype(np.float64).reshape(hb, f, wb, f).mean(axis=(1, 3))
    acc = np.zeros((hb, wb), np.float64)
    for i in range(f):
        for j in range(f):
            acc += part[i::f, j::f]
    return acc / (f * f)


def _region(level: _Level, window: tuple[slice, slice], sample: int) -> Any:
    """One sample of a lowest level over ``window`` (rows, columns), as float64."""
    return level.pixels[window[0], window[1], sample].astype(np.float64)


def _cannot_beat(r: float | None) -> bool:
    """Whether no other channel's upper tile can be reported as a better match than ``r`` (a correlation is at
    most 1, and a better match must exceed ``r`` by 0.3): the cross-channel comparisons are then skipped."""
    return r is not None and r + 0.3 >= 1.0


def _compare(
    targets: list[ChannelTarget], levels: dict[int, _Level], stats: list[ChannelStats]
) -> list[LevelComparison]:
    """Each channel's lowest level against its upper tile, block-averaged to the lowest level's scale; when the two
    disagree, also against the other channels' upper tiles (a level built from another channel)."""
    out: list[LevelComparison] = []
    lowers = {t.channel: levels[t.lower.offset] for t in targets if t.lower.offset in levels}
    blocks: dict[tuple[int, int, int, int, int], Any] = {}  # (level offset, sample, f, hb, wb) -> block means

    def block(level: _Level, sample: int, f: int, hb: int, wb: int) -> Any:
        """An upper tile's block means, computed once per channel and scale."""
        key = (level.ifd.offset, sample, f, hb, wb)
        if key not in blocks:
            blocks[key] = _block_mean(level.pixels[:, :, sample], f, hb, wb)
        return blocks[key]

    for t in targets:
        if t.upper is None or t.upper.offset not in levels or t.channel not in lowers:
            continue
        up, low = levels[t.upper.offset], lowers[t.channel]
        if up.pixels is None or low.pixels is None or not up.tiles or not low.tiles:
            continue
        fx = up.layout.width / low.layout.width
        fy = up.layout.height / low.layout.height
        f = round(fx)
        if f < 1 or abs(fx - f) > 0.2 * f:
            continue
        hb, wb = up.pixels.shape[0] // f, up.pixels.shape[1] // f
        if hb < 4 or wb < 4:
            continue
        ly, lx = round(up.origin[0] / fy), round(up.origin[1] / fx)
        own = _region(low, (slice(ly, ly + hb), slice(lx, lx + wb)), t.sample)
        h, w = min(own.shape[0], hb), min(own.shape[1], wb)
        if h < 4 or w < 4:
            continue
        own = own[:h, :w]
        ub = block(up, t.sample, f, hb, wb)[:h, :w]
        r = _corr(ub, own)
        best, best_r = None, None
        others = [] if _cannot_beat(r) else targets
        # the lowest level matching another channel's upper tile: a level built from that channel
        for o in others:
            if o.channel == t.channel or o.upper is None or o.upper.offset not in levels:
                continue
            other = levels[o.upper.offset]
            if (
                other.pixels is None
                or other.origin != up.origin
                or other.pixels.shape[:2] != up.pixels.shape[:2]
            ):
                continue
            ro = _corr(block(other, o.sample, f, hb, wb)[:h, :w], own)
            if (
                ro is not None
                and ro > 0.8
                and (r is None or ro > r + 0.3)
                and (best_r is None or ro > best_r)
            ):
                best, best_r = o.channel, ro
        out.append(
            LevelComparison(
                channel=t.channel,
                lower_path=t.lower.path,
                upper_path=t.upper.path,
                upper_tile=up.tiles[0].index,
                correlation=r,
                lower_constant=_constant(own),
                upper_constant=_constant(ub),
                best_channel=best,
                best_correlation=best_r,
                upper_rows=(up.origin[0], up.origin[0] + h * f) if up.band else None,
            )
        )
    return out
