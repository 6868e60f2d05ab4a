"""The records of a pixel preview (frozen dataclasses, no numpy): options, tiles read, channel statistics, findings'
evidence. ``pixels.preview`` fills them; ``diagnose.rules_pixels`` and the CLI read them without needing numpy."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from ometiff_helpers.frozen import record

#: tile problems listed in the JSON (the rest are counted in ``tile_problems_omitted``; the finding counts them all)
TILE_PROBLEMS_LISTED = 50

#: default byte budget of the preview: compressed tile bytes fetched for the lowest level and one tile above
DEFAULT_MAX_BYTES = 4 * 1024 * 1024


@record
class PixelOptions:
    """Bounds of the preview: bytes fetched, channels read, pixels decoded per channel."""

    max_bytes: int = DEFAULT_MAX_BYTES  # compressed bytes of all tiles fetched (lowest level + upper tiles)
    max_channels: int = 6  # channels read, in order (Avivator shows at most 6 at first)
    max_pixels: int = 2048 * 2048  # decoded pixels per channel's lowest level (the statistics sort them)
    upper_tiles: bool = True  # also read one tile of the next level up (consistency check)
    compare_rows: int = 8  # lowest-level rows compared with an uncompressed band above
    max_array_bytes: int = 1024 * 1024  # bytes of unloaded TileOffsets/TileByteCounts entries fetched


@record
class TileRef:
    """One tile (or strip) to read: where it lies in the file and in its level."""

    ifd_path: str
    index: int  # position in TileOffsets / StripOffsets
    offset: int
    nbytes: int
    y: int  # top row in the level
    x: int  # left column in the level
    sample: int | None = None  # the sample plane (PlanarConfiguration 2), None when samples are interleaved


@record
class TileProblem:
    """A tile that could not be used: ``kind`` is "empty" (byte count 0), "outside" (past the end of the file),
    "decode" (the codec failed) or "short" (fewer bytes than the tile needs)."""

    ifd_path: str
    index: int
    kind: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"where": self.ifd_path, "tile": self.index, "kind": self.kind, "detail": self.detail}


@record
class ChannelStats:
    """One channel of the lowest level, as Viv's ``getChannelStats`` sees it, plus what the checks need."""

    index: int
    name: str
    ifd_path: str
    dtype: str  # numpy name: uint8, uint16, float32, ...
    count: int  # pixels
    min: float
    max: float
    mean: float
    sd: float
    contrast_limits: tuple[
        float, float
    ]  # Viv's default: the 0.05 % / 99.95 % quantiles of the non-zero pixels
    fraction_zero: float
    fraction_type_max: float  # at the type's maximum (integers only; 0 for floats)
    nonfinite: int  # NaN or infinite pixels (floats only)
    type_bits: int  # bits of the dtype
    bits_used: int  # bit length of the largest value (integers), 0 for floats
    colour: tuple[int, int, int]  # display colour (OME Color, else Avivator's palette)

    @property
    def domain(self) -> tuple[float, float]:
        """Viv's domain: [min, max]."""
        return self.min, self.max

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (what ``--json`` prints per channel)."""
        return {
            "index": self.index,
            "name": self.name,
            "where": self.ifd_path,
            "dtype": self.dtype,
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "contrast_limits": list(self.contrast_limits),
            "fraction_zero": self.fraction_zero,
            "fraction_type_max": self.fraction_type_max,
            "nonfinite": self.nonfinite,
            "bits_used": self.bits_used,
            "colour": "#{:02X}{:02X}{:02X}".format(*self.colour),
        }


@record
class LevelComparison:
    """One channel's lowest level against a block-averaged tile of the level above (same region).

    ``correlation`` is Pearson's r over the overlap (None when either side is constant); ``best_channel`` is the
    channel whose upper tile matches this lowest level best when that is not this channel (a level built from another
    channel), else None.
    """

    channel: int
    lower_path: str
    upper_path: str
    upper_tile: int
    correlation: float | None
    lower_constant: bool
    upper_constant: bool
    best_channel: int | None = None
    best_correlation: float | None = None
    upper_rows: tuple[int, int] | None = None  # the level rows compared when only a band of the tile was read

    @property
    def upper_where(self) -> str:
        """The part of the level above compared, in words: "tile 3 of IFD 0 / SubIFD 1 (rows 248 to 263)"."""
        rows = (
            "" if self.upper_rows is None else f" (rows {self.upper_rows[0]:,} to {self.upper_rows[1] - 1:,})"
        )
        return f"tile {self.upper_tile} of {self.upper_path}{rows}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "channel": self.channel,
            "lower": self.lower_path,
            "upper": self.upper_path,
            "upper_tile": self.upper_tile,
            "upper_rows": None if self.upper_rows is None else list(self.upper_rows),
            "correlation": self.correlation,
            "lower_constant": self.lower_constant,
            "upper_constant": self.upper_constant,
            "best_channel": self.best_channel,
        }


@record
class PixelPreview:
    """The lowest pyramid level's pixels of the channels the viewer shows first, their statistics and evidence.

    ``arrays`` holds one 2-D numpy array per channel (same order as ``channels``); it is empty when nothing could be
    decoded and never serialised. ``notices`` say what was skipped (budget, unsupported layout) in plain words.
    """

    level: int  # index of the level read (0 = full resolution)
    level_count: int
    width: int
    height: int
    compression: str
    photometric: int | None
    samples_per_pixel: int
    significant_bits: int | None  # OME Pixels SignificantBits, when given
    is_ome: bool = False  # channels come from OME-XML (not the samples of a plain TIFF)
    channels: tuple[ChannelStats, ...] = ()
    arrays: tuple[Any, ...] = field(default=(), repr=False, compare=False)
    comparisons: tuple[LevelComparison, ...] = ()
    tile_problems: tuple[TileProblem, ...] = ()
    notices: tuple[str, ...] = ()
    bytes_read: int = 0
    requests: int = 0
    rounds: int = 0
    tiles_read: int = 0

    def to_dict(self) -> dict[str, Any]:
        """What ``--json`` prints under ``pixels``."""
        return {
            "level": self.level,
            "level_count": self.level_count,
            "width": self.width,
            "height": self.height,
            "compression": self.compression,
            "bytes_read": self.bytes_read,
            "requests": self.requests,
            "rounds": self.rounds,
            "tiles_read": self.tiles_read,
            "channels": [c.as_dict() for c in self.channels],
            "level_comparisons": [c.as_dict() for c in self.comparisons],
            "tile_problems": [p.as_dict() for p in self.tile_problems[:TILE_PROBLEMS_LISTED]],
            "tile_problems_omitted": max(0, len(self.tile_problems) - TILE_PROBLEMS_LISTED),
            "notices": list(self.notices),
        }
