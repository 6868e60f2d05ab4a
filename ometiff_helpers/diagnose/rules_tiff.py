"""Rules on the TIFF container: codecs, pyramid, tiles, level consistency, legacy layout, JPEG colour, eager arrays."""

from __future__ import annotations

from collections import defaultdict

from ometiff_helpers.diagnose.check_input import CheckInput, finding, listing
from ometiff_helpers.diagnose.viewer import levels_from_ifd_numbers_text
from ometiff_helpers.findings import Finding, Severity
from ometiff_helpers.tiff.codes import Compression, Photometric, compression_name

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO  # noqa: E741

#: what geotiff.js 2.x (Viv) decodes
VIEWER_CODECS = frozenset({1, 5, 7, 8, 32946, 32773, 34887, 50001})
#: Viv refuses a single-level image larger than this on a side (WebGL texture size)
TEXTURE_LIMIT = 4096
#: Vitessce wants the smallest level at most this large on a side
LOWEST_LEVEL_LIMIT = 2048
#: eager offset-array bytes before the first tile: info from, warning from
EAGER_INFO_BYTES = 1024 * 1024
EAGER_WARNING_BYTES = 8 * 1024 * 1024

_RECONVERT = "re-convert with bioformats2raw + raw2ometiff (default options, not --legacy)"


def _codec(code: int) -> str:
    return f"{code} ({compression_name(code)})"


def check_codec(inp: CheckInput) -> list[Finding]:
    """CODEC_UNSUPPORTED: a compression the viewer cannot decode in any IFD or SubIFD (levels can differ)."""
    bad: dict[int, list[str]] = defaultdict(list)
    for ifd in inp.tiff.all_ifds():
        if ifd.compression not in VIEWER_CODECS:
            bad[ifd.compression].append(ifd.path)
    out = []
    for code, paths in bad.items():
        jp2k = code in (Compression.APERIO_JP2000_YCBC, Compression.APERIO_JP2000_RGB, Compression.JPEG2000,
                        Compression.JPEG_2000_LOSSY)  # fmt: skip
        hint = " (JPEG-2000)" if jp2k else ""
        out.append(
            finding(
                "CODEC_UNSUPPORTED",
                E,
                f"{len(paths)} IFD(s) use compression {_codec(code)}{hint}, which the viewer (geotiff.js) cannot "
                f"decode: {listing(paths)}. Expected one of none, LZW, JPEG, Deflate, PackBits, LERC or WebP.",
                "Re-convert with `raw2ometiff --compression LZW` (or zlib / JPEG); avoid JPEG-2000, ZSTD and old JPEG.",
                paths[0],
            )
        )
    return out


def check_pyramid(inp: CheckInput) -> list[Finding]:
    """NO_PYRAMID / LOWEST_LEVEL_TOO_LARGE: the smallest level must fit the viewer's texture limits."""
    levels = inp.levels
    if not levels:
        return []
    base, low = levels[0], levels[-1]
    bw, bh = base.width or 0, base.height or 0
    if len(levels) == 1:
        if max(bw, bh) > TEXTURE_LIMIT:
            return [finding(
                "NO_PYRAMID", E,
                f"IFD 0 is {bw}x{bh} px with no pyramid (no SubIFDs, no reduced-resolution IFDs): the viewer "
                f"cannot show a single level larger than {TEXTURE_LIMIT} px on a side.",
                f"Add a pyramid: {_RECONVERT}.", base.path)]  # fmt: skip
        if max(bw, bh) > LOWEST_LEVEL_LIMIT:
            return [finding(
                "NO_PYRAMID", W,
                f"IFD 0 is {bw}x{bh} px with no pyramid: more than {LOWEST_LEVEL_LIMIT} px on a side, so "
                "Vitessce refuses it and Viv loads it whole (slow).",
                f"Add a pyramid: {_RECONVERT}.", base.path)]  # fmt: skip
        return []
    lw, lh = low.width or 0, low.height or 0
    side = max(lw, lh)
    if side <= LOWEST_LEVEL_LIMIT:
        return []
    severity = E if side > TEXTURE_LIMIT else W
    return [finding(
        "LOWEST_LEVEL_TOO_LARGE", severity,
        f"the smallest pyramid level ({low.path}) is {lw}x{lh} px, larger than {LOWEST_LEVEL_LIMIT} px on a "
        f"side (found {len(levels)} levels); the viewer needs a level that fits "
        + ("its texture limit (4096 px)." if severity is E else "Vitessce's limit to show the whole image."),
        "Write more pyramid levels (raw2ometiff writes levels down to the tile size by default; "
        "bioformats2raw --resolutions N).", low.path)]  # fmt: skip


def check_pyramid_halving(inp: CheckInput) -> list[Finding]:
    """PYRAMID_NOT_HALVING: Viv assumes level k is ``size >> k`` and never reads the level sizes."""
    levels = inp.levels
    if len(levels) < 2:
        return []
    bw, bh = levels[0].width or 0, levels[0].height or 0
    off_by_one: list[str] = []
    wrong: list[str] = []
    for k, ifd in enumerate(levels[1:], start=1):
        w, h = ifd.width or 0, ifd.height or 0
        ew, eh = bw >> k, bh >> k
        if (w, h) == (ew, eh):
            continue
        text = f"{ifd.path}: {w}x{h}, expected {ew}x{eh} (size >> {k})"
        (off_by_one if abs(w - ew) <= 1 and abs(h - eh) <= 1 else wrong).append(text)
    out = []
    if wrong:
        out.append(finding(
            "PYRAMID_NOT_HALVING", W,
            f"pyramid levels do not halve: {listing(wrong)}. The viewer places tiles as if each level were "
            "half the previous one, so tiles shift or misalign when zooming.",
            f"{_RECONVERT}, which writes levels of exactly half the size.", wrong[0].split(":")[0]))  # fmt: skip
    elif off_by_one:
        out.append(finding(
            "PYRAMID_NOT_HALVING", I,
            f"pyramid levels are rounded up instead of down: {listing(off_by_one)}. The viewer assumes "
            "size >> k; the edge tiles may be off by one pixel.",
            f"Harmless in most cases; {_RECONVERT} rounds the way the viewer expects.",
            off_by_one[0].split(":")[0]))  # fmt: skip
    return out


def _pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _prev_pow2(n: int) -> int:
    """The largest power of two <= n (Viv's tile size from a tile or strip size)."""
    return 1 << (max(1, n).bit_length() - 1)


def check_tile_geometry(inp: CheckInput) -> list[Finding]:
    """TILE_GEOMETRY: square power-of-two tiles, multiples of 16, the same size at every level; tiles, not strips."""
    levels = inp.levels
    if not levels:
        return []
    out: list[Finding] = []
    base = levels[0]
    if not base.is_tiled and max(base.width or 0, base.height or 0) > LOWEST_LEVEL_LIMIT:
        out.append(
            finding(
                "TILE_GEOMETRY",
                W,
                f"{base.path} is stored in strips, not tiles ({base.width}x{base.height} px): the viewer must read "
                "whole rows of the image to show any part of it, which is slow at this size.",
                "Write tiles: raw2ometiff writes 512x512 or 1024x1024 tiles (--tile_width/--tile_height).",
                base.path,
            )
        )
    if not base.is_tiled and len(levels) > 1:
        rows = min(base.rows_per_strip or base.height or 1, base.height or 1)
        size = _prev_pow2(min(base.width or 1, rows))
        out.append(finding(
            "TILE_GEOMETRY", W,
            f"a {len(levels)}-level pyramid stored in strips of {rows} row(s), not tiles: Viv takes the strip as its "
            f"tile, so its tile size is {size} px (the largest power of two within {base.width}x{rows}) and it "
            f"requests {size}x{size} px tiles" + (", one request per pixel." if size == 1 else "."),
            "Write tiles: raw2ometiff writes 512x512 or 1024x1024 tiles (--tile_width/--tile_height).",
            base.path))  # fmt: skip
    shapes: dict[tuple[int | None, int | None], list[str]] = defaultdict(list)
    for ifd in levels:
        if ifd.is_tiled:
            shapes[(ifd.tile_width, ifd.tile_height)].append(ifd.path)
    for (tw, th), paths in shapes.items():
        where = paths[0]
        if tw != th:
            out.append(finding(
                "TILE_GEOMETRY", W,
                f"tiles are not square in {listing(paths)}: TileWidth {tw} != TileLength {th}. The viewer uses "
                "one tile size for both axes, so tiles are misplaced.",
                "Re-convert with square tiles (raw2ometiff --tile_width 512 --tile_height 512).", where))  # fmt: skip
        bad = [n for n in (tw, th) if n is None or n % 16 != 0]
        if bad:
            out.append(finding(
                "TILE_GEOMETRY", E,
                f"tile size {tw}x{th} in {listing(paths)} is not a multiple of 16, which TIFF requires; "
                "geotiff.js may fail to read the tiles.",
                "Re-convert with tiles of 256, 512 or 1024 px.", where))  # fmt: skip
        elif not (_pow2(tw or 0) and _pow2(th or 0)):
            out.append(finding(
                "TILE_GEOMETRY", W,
                f"tile size {tw}x{th} in {listing(paths)} is not a power of two; the viewer's tile grid "
                "assumes powers of two (256, 512, 1024) and may misalign tiles between levels.",
                "Re-convert with tiles of 256, 512 or 1024 px.", where))  # fmt: skip
    if len(shapes) > 1:
        sizes = [f"{tw}x{th} ({listing(p, 2)})" for (tw, th), p in shapes.items()]
        out.append(finding(
            "TILE_GEOMETRY", W,
            f"tile size differs between pyramid levels: {'; '.join(sizes)}. The viewer reads the tile size of "
            "the full-resolution level only and uses it for every level.",
            "Re-convert with one tile size for all levels.", levels[0].path))  # fmt: skip
    return out


def check_level_consistency(inp: CheckInput) -> list[Finding]:
    """LEVEL_INCONSISTENT: compression, photometric and sample layout must be the same at every level."""
    levels = inp.levels
    if len(levels) < 2:
        return []
    base = levels[0]
    out = []
    props = {
        "compression": lambda i: _codec(i.compression),
        "photometric": lambda i: str(i.photometric),
        "bits per sample": lambda i: str(i.bits_per_sample),
        "sample format": lambda i: str(i.sample_format),
        "samples per pixel": lambda i: str(i.samples_per_pixel),
        "planar configuration": lambda i: str(i.planar_configuration),
    }
    for name, get in props.items():
        expected = get(base)
        diff = [f"{i.path}: {get(i)}" for i in levels[1:] if get(i) != expected]
        if diff:
            sev = E if name in ("bits per sample", "sample format", "samples per pixel") else W
            out.append(finding(
                "LEVEL_INCONSISTENT", sev,
                f"{name} differs between pyramid levels: {base.path} has {expected}, but {listing(diff)}. The "
                "viewer decodes every level with the settings of the full-resolution level.",
                f"{_RECONVERT} so that every level is written the same way.", diff[0].split(":")[0]))  # fmt: skip
    return out


def check_legacy_pyramid(inp: CheckInput) -> list[Finding]:
    """LEGACY_PYRAMID: resolution levels in the main IFD chain (Bio-Formats 5.9 / raw2ometiff --legacy)."""
    if inp.pyramid_kind != "legacy":
        return []
    levels = inp.levels
    how = ("reduced-resolution IFDs (NewSubfileType 1) follow IFD 0 in the main chain"
           if levels[1].is_reduced else "each resolution is a separate OME Image in the main chain")  # fmt: skip
    px = inp.pixels
    if not levels[1].is_reduced and inp.viewer.levels_from_ifd_numbers and px is not None:
        return [finding(
            "LEGACY_PYRAMID", E,
            f"legacy pyramid layout: {how} ({len(levels)} levels: "
            f"{listing([f'{i.path} {i.width}x{i.height}' for i in levels])}). "
            f"{levels_from_ifd_numbers_text(inp.viewer, px.plane_total)}.",
            f"{_RECONVERT}: levels go to SubIFDs.", levels[1].path)]  # fmt: skip
    return [finding(
        "LEGACY_PYRAMID", W,
        f"legacy pyramid layout: {how} ({len(levels)} levels: "
        f"{listing([f'{i.path} {i.width}x{i.height}' for i in levels])}). Viv reads it only through its slow "
        "legacy path (it walks the IFD chain to reach each level); other viewers treat the levels as images.",
        f"{_RECONVERT}: levels go to SubIFDs.", levels[1].path)]  # fmt: skip


def check_sample_format_count(inp: CheckInput) -> list[Finding]:
    """SAMPLES_MISMATCH: SampleFormat (or BitsPerSample) with fewer values than SamplesPerPixel."""
    bad = []
    for ifd in inp.levels:
        spp = ifd.samples_per_pixel
        for code, name in ((339, "SampleFormat"), (258, "BitsPerSample")):
            tag = ifd.tag(code)
            if spp > 1 and tag is not None and tag.count < spp:
                bad.append(f"{ifd.path}: {name} has {tag.count} value(s) for {spp} samples")
    if not bad:
        return []
    return [finding(
        "SAMPLES_MISMATCH", E,
        f"{listing(bad)}. geotiff.js reads the value of each sample by its index, finds none for sample 1 and "
        "stops with \"Unsupported data format/bitsPerSample\" (Bio-Formats writes RGB JPEG pyramids this way).",
        "Re-convert with one value per sample (tifffile, raw2ometiff and bfconvert of Bio-Formats 7 do), or store "
        "the channels one sample per IFD.", bad[0].split(":")[0])]  # fmt: skip


def check_jpeg_colour(inp: CheckInput) -> list[Finding]:
    """JPEG_COLOUR: JPEG tiles whose Photometric makes the colour space ambiguous (pink or odd colours)."""
    jpeg = [i for i in inp.tiff.all_ifds() if i.compression == Compression.JPEG and i.samples_per_pixel >= 3]
    if not jpeg:
        return []
    out = []
    rgb = [i.path for i in jpeg if i.photometric == Photometric.RGB]
    if rgb:
        out.append(finding(
            "JPEG_COLOUR", W,
            f"JPEG-compressed colour tiles are labelled Photometric RGB (2) in {listing(rgb)}. geotiff.js treats "
            "3-component JPEG data as YCbCr unless the stream says otherwise, so colours may come out pink or "
            "shifted; writers differ on what they store.",
            "Re-convert with Photometric YCbCr (6) for JPEG, or use a lossless codec (`--compression LZW`).",
            rgb[0]))  # fmt: skip
    kinds = {i.photometric for i in jpeg}
    if len(kinds) > 1:
        out.append(finding(
            "JPEG_COLOUR", W,
            f"JPEG levels disagree on Photometric ({', '.join(sorted(str(k) for k in kinds))}): "
            f"{listing([f'{i.path}: {i.photometric}' for i in jpeg])}; some levels will show other colours.",
            "Re-convert so that every level uses the same Photometric.", jpeg[0].path))  # fmt: skip
    return out


def check_eager_arrays(inp: CheckInput) -> list[Finding]:
    """EAGER_ARRAYS: geotiff.js 2.x reads every TileOffsets/TileByteCounts array of each IFD it opens."""
    est = inp.estimate
    if est is None or est.eager_array_bytes < EAGER_INFO_BYTES:
        return []
    sev = W if est.eager_array_bytes >= EAGER_WARNING_BYTES else I
    return [finding(
        "EAGER_ARRAYS", sev,
        f"before its first tile the viewer reads {est.eager_array_bytes:,} bytes of tile offset/byte-count "
        f"arrays from the {est.ifds_opened} IFD(s) it opens ({est.requests} requests, {est.bytes:,} bytes in "
        "all); geotiff.js 2.x loads these arrays whole.",
        "Use larger tiles (1024x1024 quarters the arrays) and an offsets.json; viewers on geotiff.js 3 read them lazily.",
        "IFD 0")]  # fmt: skip


RULES = (
    check_codec,
    check_pyramid,
    check_pyramid_halving,
    check_tile_geometry,
    check_level_consistency,
    check_legacy_pyramid,
    check_sample_format_count,
    check_jpeg_colour,
    check_eager_arrays,
)
