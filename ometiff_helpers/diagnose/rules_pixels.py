"""Rules that need pixels: one ``check_*`` per problem over a ``PixelPreview`` (the lowest level, as Viv reads it).

Pure functions of the preview's numbers (no numpy here): the statistics and the evidence are computed by
``pixels.preview``. ``docs/checks.md`` explains every code and its remedy.
"""

from __future__ import annotations

from collections.abc import Callable

from ometiff_helpers.diagnose.check_input import finding, listing
from ometiff_helpers.findings import Finding, Severity
from ometiff_helpers.pixels.model import PixelPreview

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO  # noqa: E741

#: fraction of a channel's pixels at the type's maximum from which it counts as saturated
SATURATED_FRACTION = 0.01
#: lowest-level / upper-tile correlation below which the two levels disagree
LEVEL_CORRELATION_MIN = 0.2
_JPEG = {"JPEG", "JPEG_LOSSY", "ALT_JPEG"}


def _fmt(v: float) -> str:
    """A value as the messages show it."""
    return f"{v:g}" if isinstance(v, float) else str(v)


def check_empty_channel(p: PixelPreview) -> list[Finding]:
    """PIXELS_EMPTY_CHANNEL: an OME channel whose lowest level holds one value only (all 0, or constant) while another
    channel has data (a whole image of one value is a test pattern, not a lost channel)."""
    if not p.is_ome or p.photometric in (2, 6) or not any(c.min != c.max for c in p.channels):
        return []
    out = []
    for c in p.channels:
        if c.count and c.min == c.max:
            what = "every pixel is 0" if c.max == 0 else f"every pixel is {_fmt(c.max)}"
            out.append(
                finding(
                    "PIXELS_EMPTY_CHANNEL",
                    W,
                    f"Channel {c.index} ({c.name}) is empty at the lowest level ({c.ifd_path}): {what}, so the "
                    "viewer shows it black and its contrast slider has no range.",
                    "Check the acquisition or the conversion of this channel; if only the pyramid levels are empty, "
                    "rebuild them (bioformats2raw + raw2ometiff).",
                    c.ifd_path,
                )
            )
    return out


def check_saturation(p: PixelPreview) -> list[Finding]:
    """PIXELS_SATURATED: many pixels of a 16/32-bit OME channel at the type's maximum (clipped at acquisition or by a
    conversion). 8-bit data is left alone: 255 is an ordinary value of rendered and photographic images."""
    if not p.is_ome:
        return []
    out = []
    for c in p.channels:
        if (
            c.type_bits >= 16
            and c.dtype.startswith("uint")
            and c.fraction_type_max >= SATURATED_FRACTION
            and c.min != c.max
        ):
            out.append(
                finding(
                    "PIXELS_SATURATED",
                    W,
                    f"Channel {c.index} ({c.name}): {c.fraction_type_max:.1%} of the lowest level's pixels are at "
                    f"the {c.dtype} maximum ({2**c.type_bits - 1 if c.dtype.startswith('u') else 2 ** (c.type_bits - 1) - 1}): "
                    "the data is clipped.",
                    "Re-acquire with a shorter exposure or lower gain, or convert without rescaling to a smaller type.",
                    c.ifd_path,
                )
            )
    return out


def check_dynamic_range(p: PixelPreview) -> list[Finding]:
    """PIXELS_DYNAMIC_RANGE / SIGNIFICANT_BITS_WRONG: data using far fewer bits than its type, or SignificantBits
    disagreeing with the largest value."""
    if not p.is_ome:
        return []
    out = []
    sig = p.significant_bits
    for c in p.channels:
        if not c.dtype.startswith("uint") or c.type_bits < 16 or c.min == c.max or c.bits_used == 0:
            continue
        if sig is not None and 0 < sig < c.bits_used:
            out.append(
                finding(
                    "SIGNIFICANT_BITS_WRONG",
                    W,
                    f"Channel {c.index} ({c.name}): SignificantBits is {sig} but the largest value is {_fmt(c.max)} "
                    f"({c.bits_used} bits).",
                    "Write the true SignificantBits (or leave it out) when converting.",
                    c.ifd_path,
                )
            )
        elif c.bits_used <= c.type_bits - 4 and (sig is None or sig >= c.type_bits):
            size = "8 bits" if c.bits_used <= 8 else f"{c.bits_used} bits"
            out.append(
                finding(
                    "PIXELS_DYNAMIC_RANGE",
                    I,
                    f"Channel {c.index} ({c.name}): the values fit in {size} (max {_fmt(c.max)}) of the {c.dtype} type"
                    + (f"; SignificantBits says {sig}" if sig is not None else "; SignificantBits is not set")
                    + ". A display range from the type (0 to "
                    f"{2**c.type_bits - 1}) shows it black; the viewer's default contrast limits "
                    f"({_fmt(c.contrast_limits[0])} to {_fmt(c.contrast_limits[1])}) do not.",
                    f"Set SignificantBits to {c.bits_used} (Bio-Formats writes it from the camera's bit depth), or "
                    "store 8-bit data as uint8.",
                    c.ifd_path,
                )
            )
    return out


def check_nonfinite(p: PixelPreview) -> list[Finding]:
    """PIXELS_NONFINITE: NaN or infinite values in floating-point data."""
    out = []
    for c in p.channels:
        if c.nonfinite:
            out.append(
                finding(
                    "PIXELS_NONFINITE",
                    W,
                    f"Channel {c.index} ({c.name}): {c.nonfinite:,} of {c.count:,} lowest-level pixels are NaN or "
                    "infinite; the viewer's mean and histogram become NaN and those pixels show as black.",
                    "Replace NaN/inf (e.g. with 0) before writing the OME-TIFF.",
                    c.ifd_path,
                )
            )
    return out


def check_level_mismatch(p: PixelPreview) -> list[Finding]:
    """PIXELS_LEVEL_MISMATCH: the lowest level disagrees with a downsampled tile of the level above (a blank or
    corrupt level, or a level built from another channel)."""
    out = []
    for cmp in p.comparisons:
        if cmp.best_channel is not None:
            why = (
                f"it matches channel {cmp.best_channel}'s level above (r = {cmp.best_correlation:.2f}) better than "
                f"its own (r = {'n/a' if cmp.correlation is None else f'{cmp.correlation:.2f}'}): a level was built "
                "from another channel"
            )
        elif cmp.upper_constant and not cmp.lower_constant:
            why = f"the tile of {cmp.upper_path} is blank (one value) while the lowest level is not"
        elif cmp.lower_constant and not cmp.upper_constant:
            why = f"the lowest level {cmp.lower_path} is blank (one value) over that region while the level above is not"
        elif cmp.correlation is not None and cmp.correlation < LEVEL_CORRELATION_MIN:
            why = f"they do not correlate (r = {cmp.correlation:.2f}): one of the levels is corrupt or of other data"
        else:
            continue
        out.append(
            finding(
                "PIXELS_LEVEL_MISMATCH",
                W,
                f"Channel {cmp.channel}: {cmp.upper_where}, averaged down, disagrees with "
                f"the same region of {cmp.lower_path}: {why}. Zooming in or out will change the picture.",
                "Rebuild the pyramid from the full-resolution data (bioformats2raw + raw2ometiff, or tifffile with "
                "subifds), one channel at a time.",
                cmp.lower_path,
            )
        )
    return out


def check_tiles(p: PixelPreview) -> list[Finding]:
    """PIXELS_MISSING_TILES / PIXELS_TILE_DECODE: tiles with byte count 0 or offsets past the end of the file, and
    tiles whose bytes do not decode."""
    out = []
    missing = [t for t in p.tile_problems if t.kind in ("empty", "outside")]
    broken = [t for t in p.tile_problems if t.kind in ("decode", "short")]
    if missing:
        out.append(
            finding(
                "PIXELS_MISSING_TILES",
                W,
                f"{len(missing)} tile(s) of the levels read have no data: "
                + listing([f"{t.ifd_path} tile {t.index} ({t.detail})" for t in missing])
                + ". The viewer shows holes or fails on them.",
                "Re-convert the file; a sparse or truncated file is damaged (check the upload finished).",
                missing[0].ifd_path,
            )
        )
    if broken:
        out.append(
            finding(
                "PIXELS_TILE_DECODE",
                E,
                f"{len(broken)} tile(s) do not decode: "
                + listing([f"{t.ifd_path} tile {t.index} ({t.detail})" for t in broken])
                + ". The viewer fails on them too.",
                "The compressed data is corrupt or not what Compression says; re-convert the file.",
                broken[0].ifd_path,
            )
        )
    return out


def check_jpeg_ycbcr(p: PixelPreview) -> list[Finding]:
    """PIXELS_JPEG_YCBCR: JPEG tiles labelled Photometric RGB whose decoded samples look like Y, Cb, Cr (the second
    and third samples flat around 128 while the first carries the picture)."""
    if p.compression not in _JPEG or p.photometric != 2 or len(p.channels) < 3:
        return []
    y, cb, cr = p.channels[0], p.channels[1], p.channels[2]
    if y.sd <= 4:
        return []
    flat = all(abs(c.mean - 128) < 16 and c.sd < 0.35 * y.sd for c in (cb, cr))
    if not flat:
        return []
    return [
        finding(
            "PIXELS_JPEG_YCBCR",
            W,
            f"The JPEG tiles are labelled RGB, but decoded as RGB the green and blue samples sit flat around 128 (means "
            f"{cb.mean:.0f}, {cr.mean:.0f}; spread {cb.sd:.1f}, {cr.sd:.1f} against {y.sd:.1f}): the data is YCbCr, so "
            "the image shows green/pink.",
            "Set Photometric to YCbCr (6) or re-encode the JPEG tiles as RGB; converters: write Photometric YCbCr "
            "with JPEG.",
            y.ifd_path,
        )
    ]


Rule = Callable[[PixelPreview], list[Finding]]

RULES: tuple[Rule, ...] = (
    check_empty_channel,
    check_saturation,
    check_dynamic_range,
    check_nonfinite,
    check_level_mismatch,
    check_tiles,
    check_jpeg_ycbcr,
)


def run_pixel_checks(p: PixelPreview) -> list[Finding]:
    """Every pixel rule, in order."""
    out: list[Finding] = []
    for rule in RULES:
        out.extend(rule(p))
    return out
