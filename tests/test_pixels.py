"""The pixel preview: decoded pixels equal tifffile's, Viv's statistics, pixel checks firing on generated defects and
on no clean corpus file, bounded bytes, the CLI's --preview / --json / --no-pixels."""

from __future__ import annotations

import json
import logging
import struct
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

from ometiff_helpers.__main__ import main
from ometiff_helpers.diagnose.rules_pixels import run_pixel_checks
from ometiff_helpers.errors import OmeTiffError
from ometiff_helpers.io.local import FileSource
from ometiff_helpers.pixels.model import PixelOptions
from ometiff_helpers.report import inspect, inspect_source, run_pixels
from ometiff_helpers.tiff.read import read_tiff

PIXEL_CODES = {
    "PIXELS_EMPTY_CHANNEL", "PIXELS_SATURATED", "PIXELS_DYNAMIC_RANGE", "SIGNIFICANT_BITS_WRONG", "PIXELS_NONFINITE",
    "PIXELS_LEVEL_MISMATCH", "PIXELS_MISSING_TILES", "PIXELS_TILE_DECODE", "PIXELS_JPEG_YCBCR",
}  # fmt: skip
TIFF_SUFFIXES = (".tif", ".tiff", ".btf", ".svs")


def blobs(shape: tuple[int, int], seed: int, dtype: str = "uint16", peak: float = 30000) -> np.ndarray:
    """Smooth gaussian blobs (structure survives downsampling, unlike noise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    img = np.zeros(shape)
    for _ in range(12):
        cy, cx = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        r = rng.uniform(0.04, 0.12) * shape[1]
        img += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    img = img / img.max() * peak
    return img.astype(dtype)


def preview_of(path: Path, **options):
    """inspect_source + run_pixels on a local file (no probes, no metadata checks)."""
    with FileSource(str(path)) as src:
        rep = inspect_source(src, probes=False, checks=False)
        run_pixels(rep, src, PixelOptions(**options) if options else None)
    return rep


def tifffile_level(path: Path, ifd_path: str, structure) -> np.ndarray:
    """tifffile's TiffPage.asarray of the IFD at ``ifd_path`` (channels last)."""
    ifd = next(i for i in structure.all_ifds() if i.path == ifd_path)
    with warnings.catch_warnings(), tifffile.TiffFile(path) as tf:
        warnings.simplefilter("ignore")
        tf.filehandle.seek(ifd.offset)
        page = tifffile.TiffPage(tf, index=0)
        arr = page.asarray()
        if arr.ndim == 3 and page.planarconfig == 2:
            arr = np.moveaxis(arr, 0, -1)
        return arr


def assert_equal_to_tifffile(path: Path, rep) -> int:
    p = rep.pixels
    assert p is not None and p.arrays, (path, p.notices if p else rep.extra.get("pixels"))
    for c, arr in zip(p.channels, p.arrays, strict=True):
        ref = tifffile_level(path, c.ifd_path, rep.tiff)
        if ref.ndim == 3:
            ref = ref[..., c.index % ref.shape[-1]]
        assert arr.shape == ref.shape, (path, c.ifd_path)
        assert np.array_equal(arr, ref, equal_nan=arr.dtype.kind == "f"), (path, c.index)
    return len(p.arrays)


# --- generated files: every codec, both byte orders, classic and BigTIFF, tiled and striped ------------------------

GRAY16 = blobs((300, 260), 1)
GRAY8 = blobs((300, 260), 2, "uint8", 250)
RGB8 = np.stack([blobs((300, 260), s, "uint8", 250) for s in (3, 4, 5)], axis=-1)
FLOAT32 = blobs((300, 260), 6, "float32", 1.5)

CODEC_CASES = [
    ("none", GRAY16, {}),
    ("lzw", GRAY16, {"predictor": 2}),
    ("lzw", FLOAT32, {"predictor": 3}),
    ("zlib", GRAY16, {"predictor": 2}),
    ("adobe_deflate", GRAY8, {}),
    ("deflate", GRAY16, {}),
    ("packbits", GRAY8, {}),
    ("zstd", GRAY16, {}),
    ("jpeg", GRAY8, {}),
    ("jpeg", RGB8, {}),
    ("jpeg2000", GRAY16, {}),
    ("webp", RGB8, {}),
    ("lerc", FLOAT32, {}),
    ("zlib", np.moveaxis(RGB8, -1, 0).copy(), {"planarconfig": "separate"}),
]


@pytest.mark.parametrize(
    ("codec", "data", "extra"), CODEC_CASES, ids=lambda v: v if isinstance(v, str) else ""
)
@pytest.mark.parametrize("byteorder", ["<", ">"])
@pytest.mark.parametrize("tiled", [True, False])
def test_codecs_equal_tifffile(
    tmp_path: Path, codec: str, data: np.ndarray, extra: dict, byteorder: str, tiled: bool
) -> None:
    if byteorder == ">" and codec == "lerc":
        byteorder = "<"  # LERC data has its own byte order; tifffile writes it in little-endian TIFFs only
    path = tmp_path / f"{codec}.tif"
    kwargs = {"tile": (64, 64)} if tiled else {"rowsperstrip": 37}
    photometric = "rgb" if data.ndim == 3 else "minisblack"
    tifffile.imwrite(path, data, byteorder=byteorder, compression=None if codec == "none" else codec,
                     photometric=photometric, bigtiff=tiled and byteorder == "<", **kwargs, **extra)  # fmt: skip
    rep = preview_of(path)
    assert rep.tiff.bigtiff == (tiled and byteorder == "<")  # BigTIFF little-endian, classic otherwise
    assert rep.tiff.byteorder == byteorder
    assert assert_equal_to_tifffile(path, rep) == (3 if data.ndim == 3 else 1)
    assert not {f.code for f in rep.findings} & PIXEL_CODES


def write_pyramid(path: Path, channels: list[np.ndarray], levels: int = 3, *, bigtiff: bool = False,
                  override=None, tile: int = 64, compression: str = "zlib", dtype_meta: dict | None = None) -> None:  # fmt: skip
    """An OME-TIFF pyramid in SubIFDs: one IFD per channel, ``levels - 1`` SubIFDs each. ``override(c, level, arr)``
    may replace a level's pixels (defects)."""
    stack = np.stack(channels)
    with tifffile.TiffWriter(path, bigtiff=bigtiff, ome=True) as tw:
        tw.write(stack, subifds=levels - 1, tile=(tile, tile), compression=compression,
                 metadata={"axes": "CYX", **(dtype_meta or {})})  # fmt: skip
        for level in range(1, levels):
            f = 2**level
            down = [
                (override(c, level, ch[::f, ::f]) if override else ch[::f, ::f])
                for c, ch in enumerate(channels)
            ]
            tw.write(np.stack(down), subfiletype=1, tile=(tile, tile), compression=compression)


def test_pyramid_equals_tifffile_and_reads_in_one_round(tmp_path: Path) -> None:
    path = tmp_path / "pyr.ome.tif"
    write_pyramid(path, [blobs((512, 512), s) for s in range(4)], bigtiff=True)
    rep = preview_of(path)
    p = rep.pixels
    assert p.level == 2 and p.level_count == 3 and (p.width, p.height) == (128, 128)
    assert assert_equal_to_tifffile(path, rep) == 4
    assert (
        p.rounds == 1 and p.tiles_read == 4 * 4 + 4
    )  # 4 tiles of the lowest level + one tile above, per channel
    assert [c.correlation is not None and c.correlation > 0.9 for c in p.comparisons] == [True] * 4
    assert not {f.code for f in rep.findings} & PIXEL_CODES
    data = rep.to_dict()["pixels"]
    assert data["level"] == 2 and data["bytes_read"] == p.bytes_read > 0
    assert set(data["channels"][0]) >= {"name", "dtype", "min", "max", "mean", "contrast_limits", "fraction_zero",
                                        "fraction_type_max"}  # fmt: skip


def test_budget_skips_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "pyr.ome.tif"
    write_pyramid(path, [blobs((512, 512), s) for s in range(2)], compression="none")
    rep = preview_of(path, max_bytes=40_000)
    p = rep.pixels
    assert p.bytes_read <= 40_000
    assert any("over the remaining preview budget" in n for n in p.notices)
    assert len(p.arrays) == 1  # the first channel's lowest level (32 KiB) fits, the second does not


# --- the corpus -------------------------------------------------------------------------------------------------------


def corpus_tiffs(corpus_dir: Path) -> list[Path]:
    return sorted(p for p in corpus_dir.rglob("*") if p.suffix.lower() in TIFF_SUFFIXES)


def test_corpus_pixels_equal_tifffile_and_no_pixel_check_fires(corpus_dir: Path) -> None:
    logging.getLogger("tifffile").setLevel(logging.CRITICAL)
    compared, unread = 0, []
    for path in corpus_tiffs(corpus_dir):
        try:
            rep = preview_of(path)
        except OmeTiffError:  # files the metadata reader refuses are tested elsewhere
            continue
        assert not {f.code for f in rep.findings} & PIXEL_CODES, (path, [f.message for f in rep.findings])
        if rep.pixels is None or not rep.pixels.arrays:
            unread.append(path.name)
            assert rep.pixels is not None and rep.pixels.notices, path  # always says why
            continue
        compared += assert_equal_to_tifffile(path, rep) and 1
    assert compared >= 70
    assert len(unread) <= 10, unread  # 1-bit, OJPEG, empty images, YCbCr without JPEG


# --- pixel checks on generated defects ---------------------------------------------------------------------------


def codes_of(path: Path) -> set[str]:
    return {f.code for f in preview_of(path).findings}


# uncompressed tiles above the lowest level are read as a band of rows (16 of 64 here), compressed ones whole
LEVEL_CASES = pytest.mark.parametrize("compression", ["zlib", "none"])


@LEVEL_CASES
def test_blank_level_fires(tmp_path: Path, compression: str) -> None:
    path = tmp_path / "blank.ome.tif"
    write_pyramid(path, [blobs((512, 512), s) for s in range(2)], compression=compression,
                  override=lambda c, level, a: np.zeros_like(a) if (c, level) == (0, 1) else a)  # fmt: skip
    rep = preview_of(path)
    assert [f.where for f in rep.findings if f.code == "PIXELS_LEVEL_MISMATCH"] == ["IFD 0 / SubIFD 1"]
    constant = [(c.upper_constant, c.lower_constant) for c in rep.pixels.comparisons]
    assert constant == [(True, False), (False, False)]
    # level 1 (256 px, 64 px tiles): its centre tile starts at row 128; uncompressed, only its rows 24 to 39 are read
    band = (152, 168) if compression == "none" else None
    assert [c.upper_rows for c in rep.pixels.comparisons] == [band, band]
    message = next(f.message for f in rep.findings if f.code == "PIXELS_LEVEL_MISMATCH")
    assert ("tile 10 of IFD 0 / SubIFD 0 (rows 152 to 167)" in message) == (compression == "none")
    assert rep.to_dict()["pixels"]["level_comparisons"][0]["upper_rows"] == (list(band) if band else None)


@LEVEL_CASES
def test_blank_lowest_level_fires(tmp_path: Path, compression: str) -> None:
    path = tmp_path / "blank-lowest.ome.tif"
    write_pyramid(path, [blobs((512, 512), s) for s in range(2)], compression=compression,
                  override=lambda c, level, a: np.full_like(a, 7) if (c, level) == (1, 2) else a)  # fmt: skip
    rep = preview_of(path)
    assert [f.where for f in rep.findings if f.code == "PIXELS_LEVEL_MISMATCH"] == ["IFD 1 / SubIFD 1"]


@LEVEL_CASES
def test_swapped_level_fires(tmp_path: Path, compression: str) -> None:
    chans = [blobs((512, 512), s) for s in range(3)]
    path = tmp_path / "swap.ome.tif"
    write_pyramid(path, chans, compression=compression,
                  override=lambda c, level, a: chans[1][::4, ::4] if (c, level) == (0, 2) else a)  # fmt: skip
    findings = [f for f in preview_of(path).findings if f.code == "PIXELS_LEVEL_MISMATCH"]
    assert len(findings) == 1 and "Channel 0" in findings[0].message and "channel 1" in findings[0].message


@LEVEL_CASES
def test_corrupt_level_fires(tmp_path: Path, compression: str) -> None:
    """A level of garbage (here: noise) does not correlate with the level above."""
    chans = [blobs((512, 512), s) for s in range(2)]
    other = np.random.default_rng(9).integers(0, 30000, (256, 256), dtype=np.uint16)
    path = tmp_path / "noise.ome.tif"
    write_pyramid(path, chans, compression=compression,
                  override=lambda c, level, a: other if (c, level) == (1, 1) else a)  # fmt: skip
    rep = preview_of(path)
    assert [f.where for f in rep.findings if f.code == "PIXELS_LEVEL_MISMATCH"] == ["IFD 1 / SubIFD 1"]


def test_empty_channel_fires(tmp_path: Path) -> None:
    path = tmp_path / "empty.ome.tif"
    write_pyramid(path, [blobs((256, 256), 0), np.zeros((256, 256), np.uint16), blobs((256, 256), 2)])
    assert "PIXELS_EMPTY_CHANNEL" in codes_of(path)


def test_twelve_bit_in_uint16_fires(tmp_path: Path) -> None:
    path = tmp_path / "12bit.ome.tif"
    write_pyramid(path, [blobs((256, 256), s, peak=4000) for s in range(2)])
    assert "PIXELS_DYNAMIC_RANGE" in codes_of(path)


def test_significant_bits_disagreeing_fires(tmp_path: Path) -> None:
    path = tmp_path / "sigbits.ome.tif"
    write_pyramid(
        path, [blobs((256, 256), s, peak=60000) for s in range(2)], dtype_meta={"SignificantBits": 12}
    )
    assert "SIGNIFICANT_BITS_WRONG" in codes_of(path)


def test_saturation_fires(tmp_path: Path) -> None:
    path = tmp_path / "sat.ome.tif"
    write_pyramid(path, [np.minimum(blobs((256, 256), s, peak=90000.0, dtype="float64"), 65535).astype("uint16")
                         for s in range(2)])  # fmt: skip
    assert "PIXELS_SATURATED" in codes_of(path)


def test_nan_floats_fire(tmp_path: Path) -> None:
    data = blobs((256, 256), 1, "float32", 2.0)
    data[10:40, 10:40] = np.nan
    path = tmp_path / "nan.ome.tif"
    write_pyramid(path, [data, blobs((256, 256), 2, "float32", 2.0)])
    assert "PIXELS_NONFINITE" in codes_of(path)


def test_sparse_tiles_fire(tmp_path: Path) -> None:
    path = tmp_path / "sparse.ome.tif"
    tifffile.imwrite(path, blobs((256, 256), 1), tile=(64, 64), compression="zlib", ome=True)
    with FileSource(str(path)) as src:
        structure = read_tiff(src)
    counts = structure.ifds[0].tag(325)
    fmt = "<" + ("Q" if structure.bigtiff else ("I" if counts.type == 4 else "H"))
    raw = bytearray(path.read_bytes())
    struct.pack_into(fmt, raw, counts.value_offset + 3 * struct.calcsize(fmt), 0)  # tile 3: byte count 0
    offsets = structure.ifds[0].tag(324)
    struct.pack_into(
        fmt, raw, offsets.value_offset + 5 * struct.calcsize(fmt), len(raw) + 100
    )  # tile 5: past EOF
    path.write_bytes(bytes(raw))
    rep = preview_of(path)
    missing = [f for f in rep.findings if f.code == "PIXELS_MISSING_TILES"]
    assert missing and "2 tile(s)" in missing[0].message
    assert rep.pixels.arrays  # the other tiles are still shown


def test_corrupt_tile_fires(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.ome.tif"
    tifffile.imwrite(path, blobs((128, 128), 1), tile=(64, 64), compression="zlib", ome=True)
    with FileSource(str(path)) as src:
        structure = read_tiff(src)
    offsets = structure.ifds[0].tag(324)
    raw = bytearray(path.read_bytes())
    start = offsets.value[1]
    raw[start : start + 16] = b"\xff" * 16
    path.write_bytes(bytes(raw))
    assert "PIXELS_TILE_DECODE" in codes_of(path)


def test_ycbcr_labelled_rgb_fires(tmp_path: Path) -> None:
    import imagecodecs

    base = blobs((128, 128), 1, "float64", 240)
    rgb = np.stack([base, base * 0.9, base * 0.8], axis=-1).astype("uint8")  # a tinted grey picture
    path = tmp_path / "ycbcr.tif"
    tifffile.imwrite(
        path, rgb, photometric="rgb", compression="jpeg", compressionargs={"outcolorspace": "rgb"}
    )
    clean = codes_of(path)
    with FileSource(str(path)) as src:
        structure = read_tiff(src)
    offsets, counts = structure.ifds[0].tag(273), structure.ifds[0].tag(279)
    raw = bytearray(path.read_bytes())
    # replace the strip by the same picture JPEG-encoded as YCbCr without a JFIF marker, keeping the RGB label
    body = imagecodecs.jpeg8_encode(rgb, level=95, outcolorspace="YCBCR")
    if body[6:10] == b"JFIF":  # drop the APP0 segment: tifffile and libtiff write none
        seg = struct.unpack(">H", body[4:6])[0]
        body = body[:2] + body[4 + seg :]
    start = len(raw)
    raw += body
    struct.pack_into("<I", raw, offsets.entry_offset + 8, start)
    struct.pack_into("<I", raw, counts.entry_offset + 8, len(body))
    path.write_bytes(bytes(raw))
    assert "PIXELS_JPEG_YCBCR" not in clean
    assert "PIXELS_JPEG_YCBCR" in codes_of(path)


# --- bounds, secrets, CLI ---------------------------------------------------------------------------------------------


def test_no_pyramid_large_level_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "flat.ome.tif"
    tifffile.imwrite(path, np.zeros((2048, 2048), np.uint16), tile=(256, 256), ome=True)
    rep = preview_of(path, max_pixels=1024 * 1024)
    assert not rep.pixels.arrays and "limit" in rep.pixels.notices[0]
    assert rep.pixels.bytes_read == 0


def test_cli_preview_json_and_no_pixels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "pyr.ome.tif"
    write_pyramid(path, [blobs((256, 256), s) for s in range(3)])
    png = tmp_path / "preview.png"
    assert main([str(path), "--json", "--preview", str(png)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["pixels"]["level"] == 2 and len(data["pixels"]["channels"]) == 3
    import imagecodecs

    pic = imagecodecs.png_decode(png.read_bytes())
    assert pic.shape == (64, 4 * 64 + 3 * 4, 3) and pic.max() > 0
    assert main([str(path), "--json", "--no-pixels"]) == 0
    assert "pixels" not in json.loads(capsys.readouterr().out)
    assert main([str(path), "--no-pixels", "--preview", str(png)]) == 2


def test_http_preview_keeps_the_token_secret(range_server, tmp_path: Path, canary: str) -> None:
    path = tmp_path / "pyr.ome.tif"
    write_pyramid(path, [blobs((256, 256), s) for s in range(2)])
    server = range_server({"pyr.ome.tif": path})
    rep = inspect(server.url("pyr.ome.tif") + f"?token={canary}", pixels=True, probes=False)
    assert rep.pixels is not None and rep.pixels.arrays and rep.pixels.rounds == 1
    assert canary not in rep.to_json()
    assert run_pixel_checks(rep.pixels) == [f for f in rep.findings if f.code in PIXEL_CODES]


def test_no_pixel_check_fires_on_the_benchmark_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_files
    import bench_reader

    for spec in bench_reader.file_specs("tiny", 20):
        path = bench_files.write_file(spec, tmp_path / spec.name)
        rep = preview_of(path)
        assert rep.pixels is not None and rep.pixels.arrays, spec.name
        assert not {f.code for f in rep.findings} & PIXEL_CODES, (
            spec.name,
            [f.message for f in rep.findings],
        )


def test_pixels_extra_missing_is_said_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    path = tmp_path / "pyr.ome.tif"
    write_pyramid(path, [blobs((128, 128), 0)], levels=2)
    monkeypatch.setitem(sys.modules, "ometiff_helpers.pixels.preview", None)  # as if imagecodecs were absent
    rep = inspect(str(path), pixels=True, probes=False)
    assert rep.pixels is None and "pixels extra" in rep.extra["pixels"]["skipped"]


def test_unloaded_tile_offsets_are_fetched_in_the_same_round(range_server, tmp_path: Path) -> None:
    """TileOffsets longer than the reader loads eagerly: the needed entries come in round 1 (beside the tiles
    already known), the remaining tiles in round 2; the pixels still equal tifffile's."""
    path = tmp_path / "many-tiles.ome.tif"
    write_pyramid(path, [blobs((1024, 1024), s) for s in range(2)], levels=2, tile=32)  # 256 + 1024 tiles
    server = range_server({"many-tiles.ome.tif": path})
    rep = inspect(server.url("many-tiles.ome.tif"), pixels=True, probes=False)
    lowest = next(i for i in rep.tiff.all_ifds() if i.path == rep.pixels.channels[0].ifd_path)
    assert lowest.tag(324).value is None  # not loaded with the IFDs
    assert rep.pixels.rounds == 2 and rep.pixels.tiles_read == 2 * (256 + 1)
    assert [c.correlation > 0.9 for c in rep.pixels.comparisons] == [True, True]
    assert assert_equal_to_tifffile(path, rep) == 2


def test_a_decompression_bomb_tile_fails_alone(tmp_path: Path) -> None:
    """A Deflate tile that inflates far beyond its tile's size is a decode problem, not a memory blow-up."""
    import zlib

    path = tmp_path / "bomb.ome.tif"
    tifffile.imwrite(path, blobs((128, 128), 1), tile=(64, 64), compression="zlib", ome=True)
    with FileSource(str(path)) as src:
        structure = read_tiff(src)
    offsets, counts = structure.ifds[0].tag(324), structure.ifds[0].tag(325)
    bomb = zlib.compress(b"\0" * (256 * 1024 * 1024), 9)  # 256 MiB of zeros in about 256 KiB
    raw = bytearray(path.read_bytes())
    fmt = "<I" if counts.type == 4 else "<H"
    struct.pack_into("<I", raw, offsets.value_offset, len(raw))
    struct.pack_into(fmt, raw, counts.value_offset, len(bomb))
    path.write_bytes(bytes(raw) + bomb)
    rep = preview_of(path)
    broken = [p for p in rep.pixels.tile_problems if p.kind == "decode"]
    assert [p.index for p in broken] == [0]
    assert "PIXELS_TILE_DECODE" in {f.code for f in rep.findings}


def test_uncompressed_tiles_are_read_down_to_the_last_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_files
    import bench_reader

    spec = bench_reader.file_specs("tiny", 20)[
        0
    ]  # 1024 px, 8 SubIFD levels, 512 px uncompressed uint16 tiles
    rep = preview_of(bench_files.write_file(spec, tmp_path / spec.name))
    p = rep.pixels
    assert (p.width, p.height) == (4, 4) and p.tiles_read == 8
    # at most 4 rows of each lowest-level tile and 8 of each tile above (less when the IFD read already cached some),
    # where whole tiles would be 8 x 512 KiB
    assert 0 < p.bytes_read <= 4 * (4 + 8) * 512 * 2


def test_request_plan_of_the_full_size_pyramid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's 36-IFD pyramid (49152 x 65536 px, 4 channels x 9 levels, 512 px uncompressed uint16 tiles): the
    preview adds one round of 8 requests, per channel the lowest level (192 x 256 px: 256 rows of its 512 px wide
    tile, 256 KiB) and a band of 16 rows of the level above (16 KiB, where the whole tile is 512 KiB), as the
    reader's ledger counts them."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_files
    import bench_reader

    spec = next(s for s in bench_reader.file_specs("full", 20) if s.layout == "tail")
    with FileSource(str(bench_files.write_file(spec, tmp_path / spec.name))) as src:
        rep = inspect_source(src, probes=False, checks=False)
        before = src.ledger.count
        run_pixels(rep, src)
        sizes = sorted(r.nbytes for r in src.ledger.records[before:])
    p = rep.pixels
    assert (p.level, p.width, p.height, p.tiles_read) == (8, 192, 256, 8)
    assert (p.rounds, p.requests) == (1, 8)
    assert sizes == [16 * 1024] * 4 + [256 * 1024] * 4
    assert p.bytes_read == 4 * (256 + 16) * 1024  # 1.06 MiB; whole tiles above would add 2 MiB
    assert len(p.comparisons) == 4 and not p.notices


# --- the level comparison against its plain definition -----------------------------------------------------------


def _plain_corr(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson's r over the finite pairs, None when a side is constant or under 16 pairs (np.corrcoef on copies)."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if a.size < 16 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def _plain_constant(a: np.ndarray) -> bool:
    fin = a[np.isfinite(a)]
    return fin.size == 0 or float(np.ptp(fin)) == 0.0


def plain_compare(targets, levels) -> list[tuple]:
    """The comparison as defined, every channel against every other channel's upper tile, each block mean computed
    afresh: (channel, correlation, lower constant, upper constant, best channel, best correlation, upper rows)."""
    out = []
    for t in targets:
        if t.upper is None or t.upper.offset not in levels or t.lower.offset not in levels:
            continue
        up, low = levels[t.upper.offset], levels[t.lower.offset]
        if up.pixels is None or low.pixels is None or not up.tiles or not low.tiles:
            continue
        fx, fy = up.layout.width / low.layout.width, up.layout.height / low.layout.height
        f = round(fx)
        if f < 1 or abs(fx - f) > 0.2 * f:
            continue
        tile = up.pixels[:, :, t.sample].astype(np.float64)
        hb, wb = tile.shape[0] // f, tile.shape[1] // f
        if hb < 4 or wb < 4:
            continue
        block = tile[: hb * f, : wb * f].reshape(hb, f, wb, f).mean(axis=(1, 3))
        ly, lx = round(up.origin[0] / fy), round(up.origin[1] / fx)
        own = low.pixels[ly : ly + hb, lx : lx + wb, t.sample].astype(np.float64)
        h, w = min(own.shape[0], hb), min(own.shape[1], wb)
        if h < 4 or w < 4:
            continue
        r = _plain_corr(block[:h, :w], own[:h, :w])
        best, best_r = None, None
        for o in targets:
            if o.channel == t.channel or o.upper is None or o.upper.offset not in levels:
                continue
            other = levels[o.upper.offset]
            if (
                other.pixels is None
                or other.origin != up.origin
                or other.pixels.shape[:2] != up.pixels.shape[:2]
            ):
                continue
            otile = other.pixels[: hb * f, : wb * f, o.sample].astype(np.float64)
            ro = _plain_corr(otile.reshape(hb, f, wb, f).mean(axis=(1, 3))[:h, :w], own[:h, :w])
            if (
                ro is not None
                and ro > 0.8
                and (r is None or ro > r + 0.3)
                and (best_r is None or ro > best_r)
            ):
                best, best_r = o.channel, ro
        rows = (up.origin[0], up.origin[0] + h * f) if up.band else None
        out.append(
            (t.channel, r, _plain_constant(own[:h, :w]), _plain_constant(block[:h, :w]), best, best_r, rows)
        )
    return out


def _comparison_cases(tmp_path: Path) -> list[Path]:
    """Files whose levels agree, and the defects the comparison is there to catch, compressed and not."""
    chans = [blobs((512, 512), s) for s in range(3)]
    noise = np.random.default_rng(9).integers(0, 30000, (256, 256), dtype=np.uint16)
    nan = blobs((256, 256), 1, "float32", 2.0)
    nan[10:40, 10:40] = np.nan
    defects = {
        "clean": None,
        "blank": lambda c, level, a: np.zeros_like(a) if (c, level) == (0, 1) else a,
        "blank-lowest": lambda c, level, a: np.full_like(a, 7) if (c, level) == (1, 2) else a,
        "swapped": lambda c, level, a: chans[1][::4, ::4] if (c, level) == (0, 2) else a,
        "noise": lambda c, level, a: noise if (c, level) == (1, 1) else a,
    }
    paths = []
    for compression in ("zlib", "none"):
        for name, override in defects.items():
            paths.append(tmp_path / f"{name}-{compression}.ome.tif")
            write_pyramid(paths[-1], chans, compression=compression, override=override)
    paths.append(tmp_path / "nan.ome.tif")
    write_pyramid(paths[-1], [nan, blobs((256, 256), 2, "float32", 2.0)])
    return paths


def test_level_comparison_equals_its_plain_definition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The preview's comparison (block means once per channel, other channels only when the levels disagree) gives
    the values of the plain definition on clean and defective files, on the demo too."""
    from ometiff_helpers.demo import demo_path
    from ometiff_helpers.pixels import preview as preview_module

    seen: list[tuple[list, list]] = []
    real = preview_module._compare

    def both(targets, levels, stats):
        got = real(targets, levels, stats)
        seen.append((got, plain_compare(targets, levels)))
        return got

    monkeypatch.setattr(preview_module, "_compare", both)
    best_found = 0
    for path in [*_comparison_cases(tmp_path), demo_path()]:
        seen.clear()
        preview_of(path)
        assert len(seen) == 1
        got, plain = seen[0]
        assert len(got) == len(plain) >= 2, path
        for g, p in zip(got, plain, strict=True):
            fields = (g.channel, g.correlation, g.lower_constant, g.upper_constant, g.best_channel,
                      g.best_correlation, g.upper_rows)  # fmt: skip
            same = [a == b if not isinstance(a, float) else isinstance(b, float) and abs(a - b) <= 1e-9
                    for a, b in zip(fields, p, strict=True)]  # fmt: skip
            assert all(same), (path.name, fields, p)
        best_found += sum(g.best_channel is not None for g in got)
    assert best_found == 2  # the swapped level, compressed and not, is found built from channel 1


def _deflate_layout(compression: int = 8) -> Any:
    """A 64 x 64 uint16 Deflate tile's layout."""
    from ometiff_helpers.pixels.decode import Layout

    return Layout(
        width=64, height=64, tile_width=64, tile_height=64, tiled=True, samples=1, planar=1,
        dtype=np.dtype("<u2"), compression=compression, predictor=1, photometric=1, extra_samples=False,
        jpeg_tables=None,
    )  # fmt: skip


def _zlib_only(layout: Any, data: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
    """What ``decode_tile`` answered when zlib alone decoded Deflate: ("ok", array) or ("error", message)."""
    import imagecodecs

    from ometiff_helpers.pixels.decode import TileDecodeError, decode_tile

    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise imagecodecs.DelayedImportError("deflate")

    with monkeypatch.context() as m:
        m.setattr(imagecodecs, "deflate_decode", unavailable)
        try:
            return "ok", decode_tile(layout, data)
        except TileDecodeError as exc:
            return "error", str(exc)


@pytest.mark.parametrize("compression", [8, 32946])
def test_deflate_by_libdeflate_answers_as_zlib_alone(
    compression: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deflate tiles are inflated by libdeflate when it can and by zlib otherwise: on valid, short, trailing-junk,
    truncated, corrupted and oversized streams the array or the error is the one zlib alone gives."""
    import zlib

    import imagecodecs

    from ometiff_helpers.pixels.decode import TileDecodeError, decode_tile

    layout = _deflate_layout(compression)
    pixels = np.arange(64 * 64, dtype="<u2").reshape(64, 64) * 7
    good = zlib.compress(pixels.tobytes())
    corrupt = bytearray(good)
    corrupt[len(good) // 2] ^= 0xFF
    streams = {
        "valid": good,
        "with trailing bytes": good + b"junk",
        "half the rows": zlib.compress(pixels[:32].tobytes()),
        "truncated": good[: len(good) // 2],
        "corrupted": bytes(corrupt),
        "larger than the tile": zlib.compress(b"\0" * (64 * 64 * 2 * 4)),
        "bad checksum": good[:-1] + bytes([good[-1] ^ 1]),
    }
    used = []
    real = imagecodecs.deflate_decode

    def spy(*args: Any, **kwargs: Any) -> Any:
        used.append(True)
        return real(*args, **kwargs)

    monkeypatch.setattr(imagecodecs, "deflate_decode", spy)
    answers = {}
    for name, data in streams.items():
        expected = _zlib_only(layout, data, monkeypatch)
        try:
            got: tuple[str, Any] = ("ok", decode_tile(layout, data))
        except TileDecodeError as exc:
            got = ("error", str(exc))
        assert got[0] == expected[0], name
        if got[0] == "ok":
            np.testing.assert_array_equal(got[1], expected[1])
        else:
            assert got[1] == expected[1], name
        answers[name] = got[0]
    assert used  # libdeflate was tried
    assert answers["valid"] == answers["with trailing bytes"] == "ok"
    assert answers["truncated"] == answers["corrupted"] == answers["larger than the tile"] == "error"
    assert answers["bad checksum"] == "error"
