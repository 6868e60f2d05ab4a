"""JPEG, JPEG 2000, WebP, LERC and PNG tiles whose stream declares a larger image than the tile: refused from the stream's
header, before the codec allocates anything (a few hundred bytes can declare a 40,000 x 40,000 image)."""

from __future__ import annotations

import struct
import subprocess
import sys
import textwrap
import zlib
from dataclasses import replace
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile

from ometiff_helpers.errors import OmeTiffError
from ometiff_helpers.io.local import FileSource
from ometiff_helpers.pixels.decode import (
    MAX_TILE_BYTES,
    StreamTooLarge,
    check_stream_size,
    decode_tile,
    layout_of,
)
from ometiff_helpers.pixels.headers import j2k_size, jpeg_size, lerc_size, png_size, webp_size
from ometiff_helpers.report import inspect_source, run_pixels
from ometiff_helpers.tiff.codes import Compression
from ometiff_helpers.tiff.read import read_tiff

GREY = (np.arange(128 * 128, dtype=np.uint32).reshape(128, 128) % 4000).astype(np.uint16)
RGB = np.stack([GREY.astype(np.uint8), GREY.T.astype(np.uint8), (GREY // 16).astype(np.uint8)], axis=-1)


def j2k_declaring(stream: bytes, width: int, height: int) -> bytes:
    """``stream`` with its SIZ marker saying ``width`` x ``height`` (image and tile size)."""
    out = bytearray(stream)
    at = out.find(b"\xff\x4f\xff\x51")
    struct.pack_into(">II", out, at + 8, width, height)  # Xsiz, Ysiz
    struct.pack_into(">II", out, at + 24, width, height)  # XTsiz, YTsiz
    return bytes(out)


def jpeg_declaring(stream: bytes, width: int, height: int) -> bytes:
    """``stream`` with its frame header (SOF0) saying ``width`` x ``height``."""
    out = bytearray(stream)
    at = out.find(b"\xff\xc0")
    struct.pack_into(">HH", out, at + 5, height, width)
    return bytes(out)


def fletcher32(data: bytes) -> int:
    """LERC 2's checksum (Lerc2::ComputeChecksumFletcher32): big-endian byte pairs, sums folded every 359 words."""
    s1 = s2 = 0xFFFF
    words, i = len(data) // 2, 0
    while words:
        n = min(words, 359)
        words -= n
        for _ in range(n):
            s1 += (data[i] << 8) + data[i + 1]
            s2 += s1
            i += 2
        s1, s2 = (s1 & 0xFFFF) + (s1 >> 16), (s2 & 0xFFFF) + (s2 >> 16)
    if len(data) & 1:
        s1 += data[i] << 8
        s2 += s1
    s1, s2 = (s1 & 0xFFFF) + (s1 >> 16), (s2 & 0xFFFF) + (s2 >> 16)
    return (s2 << 16 | s1) & 0xFFFFFFFF


def lerc_declaring(stream: bytes, width: int, height: int) -> bytes:
    """A LERC 2 (version 3+) blob with its header saying ``width`` x ``height`` (all valid), its checksum redone."""
    out = bytearray(stream)
    struct.pack_into("<ii", out, 14, height, width)
    struct.pack_into("<i", out, 26, width * height)  # valid pixels (version 4: after the depth)
    blob = struct.unpack("<i", out[34:38])[0]
    struct.pack_into("<I", out, 10, fletcher32(bytes(out[14:blob])))
    return bytes(out)


def png_declaring(stream: bytes, width: int, height: int) -> bytes:
    """A PNG with its IHDR saying ``width`` x ``height`` (its CRC redone)."""
    out = bytearray(stream)
    struct.pack_into(">II", out, 16, width, height)
    struct.pack_into(">I", out, 29, zlib.crc32(bytes(out[12:29])))
    return bytes(out)


def webp_declaring(stream: bytes, width: int, height: int) -> bytes:
    """``stream`` (VP8L or VP8) with its header saying ``width`` x ``height``."""
    out = bytearray(stream)
    if out[12:16] == b"VP8L":
        bits = struct.unpack("<I", out[21:25])[0] & ~0x0FFFFFFF
        struct.pack_into("<I", out, 21, bits | (width - 1) | (height - 1) << 14)
    else:
        struct.pack_into("<HH", out, 26, width, height)
    return bytes(out)


def tiff_with_tile(tmp_path: Path, codec: str, craft) -> tuple[Path, object]:
    """A 128 x 128 tiled TIFF of ``codec`` whose tile 1 is replaced by ``craft(tile bytes)`` (appended)."""
    path = tmp_path / f"{codec}.tif"
    data = {"jpeg2000": GREY, "webp": RGB, "jpeg": GREY.astype(np.uint8), "lerc": GREY.astype(np.float32)}[
        codec
    ]
    tifffile.imwrite(path, data, tile=(64, 64), compression=codec,
                     photometric="rgb" if data.ndim == 3 else "minisblack")  # fmt: skip
    with FileSource(str(path)) as src:
        ifd = read_tiff(src).ifds[0]
    offsets, counts = ifd.tag(324), ifd.tag(325)
    raw = bytearray(path.read_bytes())
    start, n = offsets.value[1], counts.value[1]
    bad = craft(bytes(raw[start : start + n]))
    fmt = "<I" if counts.type == 4 else "<H"
    struct.pack_into("<I", raw, offsets.value_offset + 4, len(raw))
    struct.pack_into(fmt, raw, counts.value_offset + struct.calcsize(fmt), len(bad))
    path.write_bytes(bytes(raw) + bad)
    return path, ifd


CRAFTED = [
    (
        "jpeg2000",
        lambda b: j2k_declaring(b, 40_000, 40_000),
        "JPEG 2000 stream declares 40,000 × 40,000 pixels",
    ),
    ("webp", lambda b: webp_declaring(b, 16_000, 16_000), "WebP stream declares 16,000 × 16,000 pixels"),
    ("jpeg", lambda b: jpeg_declaring(b, 60_000, 60_000), "JPEG stream declares 60,000 × 60,000 pixels"),
    ("lerc", lambda b: lerc_declaring(b, 30_000, 30_000), "LERC stream declares 30,000 × 30,000 pixels"),
]


@pytest.mark.parametrize(("codec", "craft", "said"), CRAFTED, ids=["jpeg2000", "webp", "jpeg", "lerc"])
def test_a_stream_larger_than_its_tile_is_refused_alone(tmp_path: Path, codec: str, craft, said: str) -> None:
    path, _ = tiff_with_tile(tmp_path, codec, craft)
    with FileSource(str(path)) as src:
        rep = inspect_source(src, probes=False, checks=False)
        run_pixels(rep, src)
    problems = rep.pixels.tile_problems
    assert [(p.index, p.kind) for p in problems] == [(1, "decode")]
    assert said in problems[0].detail and "larger than its 64 × 64 tile" in problems[0].detail
    assert "PIXELS_TILE_DECODE" in {f.code for f in rep.findings}
    assert rep.pixels.arrays  # the other three tiles are decoded


def test_headers_read_what_the_codecs_decode() -> None:
    """The header readers agree with imagecodecs on real streams: J2K 8/16-bit, grey/RGB, JP2; WebP lossy, lossless,
    with alpha (VP8X); JPEG grey, RGB, 12-bit and lossless 16-bit; LERC versions 2 to 6, 1 to 8 bytes per value,
    one or three values per pixel; PNG grey, grey + alpha, RGB, RGBA, 8 and 16 bits."""
    cases = [
        (
            j2k_size(imagecodecs.jpeg2k_encode(GREY)),
            imagecodecs.jpeg2k_decode(imagecodecs.jpeg2k_encode(GREY)),
        ),
        (j2k_size(j := imagecodecs.jpeg2k_encode(RGB, codecformat="jp2")), imagecodecs.jpeg2k_decode(j)),
    ]
    rgba = np.dstack([RGB, RGB[..., :1]])
    for arr, kwargs in ((RGB, {"lossless": True}), (RGB, {"level": 80}), (rgba, {"level": 80})):
        w = imagecodecs.webp_encode(arr, **kwargs)
        cases.append((webp_size(w), imagecodecs.webp_decode(w)))
    for arr, kwargs in (
        (GREY.astype(np.uint8), {}),
        (RGB, {}),
        (GREY, {"bitspersample": 12}),
        (GREY * 16, {"lossless": True, "bitspersample": 16}),
    ):
        try:
            j = imagecodecs.jpeg_encode(arr, **kwargs)
        except imagecodecs.JpegError:  # a libjpeg-turbo without 12-bit or lossless support
            assert kwargs, "8-bit JPEG must encode"
            continue
        cases.append((jpeg_size(j), imagecodecs.jpeg_decode(j)))
    for version in (2, 3, 4, 5, 6):
        for arr in (GREY, GREY.astype(np.uint8), GREY.astype(np.float64), np.dstack([GREY] * 3)):
            if arr.ndim == 3 and version < 4:
                continue  # several values per pixel came with version 4
            lerc = imagecodecs.lerc_encode(arr, version=version)
            cases.append((lerc_size(lerc), imagecodecs.lerc_decode(lerc)))
    for arr in (GREY, GREY.astype(np.uint8), RGB, np.dstack([RGB, RGB[..., :1]]), np.dstack([GREY, GREY])):
        png = imagecodecs.png_encode(arr)
        cases.append((png_size(png), imagecodecs.png_decode(png)))
    for size, decoded in cases:
        shape = decoded.shape if decoded.ndim == 3 else (*decoded.shape, 1)
        assert (size.height, size.width, size.components) == shape
        assert size.sample_bytes == decoded.dtype.itemsize


def test_over_the_budget_is_refused_even_within_the_tile(tmp_path: Path) -> None:
    """An 8192 x 8192 8-bit tile is within the layout's bound, but JPEG 2000 decodes it through 32-bit buffers
    (256 MiB): over the budget, refused from the header."""
    _, ifd = tiff_with_tile(tmp_path, "jpeg2000", lambda b: b)
    lay = layout_of(ifd, "<")
    big = replace(lay, tile_width=8192, tile_height=8192, dtype=np.dtype("<u1"))
    stream = j2k_declaring(imagecodecs.jpeg2k_encode(GREY.astype(np.uint8)), 8192, 8192)
    with pytest.raises(StreamTooLarge) as exc:
        check_stream_size(big, stream)
    assert isinstance(exc.value, OmeTiffError) and exc.value.limit == MAX_TILE_BYTES
    assert exc.value.value == 8192 * 8192 * 4 and "over the preview's 64.0 MiB limit" in str(exc.value)


def test_unreadable_headers_are_not_decoded(tmp_path: Path) -> None:
    _, ifd = tiff_with_tile(tmp_path, "jpeg2000", lambda b: b)
    j2k = layout_of(ifd, "<")
    webp = replace(j2k, compression=Compression.WEBP)
    jpeg = replace(j2k, compression=Compression.JPEG)
    junk = [(j2k, b""), (j2k, b"\xff\x4f\xff\x51\x00"), (j2k, b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(40)),
            (webp, b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(20)), (webp, b"RIFF" + bytes(40)),
            (jpeg, b"\xff\xd8\xff\xda\x00\x08" + bytes(30)), (jpeg, b"\xff\xd8\xff\xc0\x00\x11\x08"),
            (jpeg, b"\xff\xd8" + bytes(30)), (replace(j2k, compression=Compression.LERC), b"Lerc2 \x04" + bytes(9)),
            (replace(j2k, compression=Compression.LERC), b"CntZImage " + bytes(60)),
            (replace(j2k, compression=Compression.PNG), b"\x89PNG\r\n\x1a\n" + bytes(30))]  # fmt: skip
    for lay, data in junk:
        with pytest.raises(OmeTiffError, match="header is not readable"):
            decode_tile(lay, data)


_MEMORY = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    from ometiff_helpers.pixels.decode import Layout, decode_tile
    from ometiff_helpers.tiff.codes import Compression

    def layout(comp, spp, dtype):
        return Layout(64, 64, 64, 64, True, spp, 1, np.dtype(dtype), comp, 1, 2 if spp == 3 else 1, False, None)

    j2k, webp, jpeg, lerc, png = (open(name, "rb").read() for name in sys.argv[1:6])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        decode_tile(layout(Compression.JPEG2000, 1, "<u2"), j2k)
    except Exception as exc:
        print(type(exc).__name__)
    grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    print("j2k grew KiB", grew)
    # address space capped at what the process has plus 256 MiB: a 16,000 x 16,000 RGB or a 60,000 x 60,000 grey
    # output does not fit (uncapped, libjpeg fills the 3.4 GB the JPEG header asks for)
    vm = int(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmSize"))) * 1024
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    cap = vm + 256 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    for comp, spp, dtype, data in ((Compression.WEBP, 3, "<u1", webp), (Compression.JPEG, 1, "<u1", jpeg),
                                    (Compression.LERC, 1, "<f4", lerc), (Compression.PNG, 1, "<u1", png)):
        try:
            decode_tile(layout(comp, spp, dtype), data)
        except Exception as exc:
            print(type(exc).__name__)
    """
)


def test_refusal_comes_before_the_codec_allocates(tmp_path: Path) -> None:
    """In a fresh process: the crafted J2K stream leaves the peak memory where it was (openjpeg, given it, grew the
    process by about 90 MB before failing), and the crafted WebP, JPEG, LERC and PNG are refused under an address-space cap they
    would exceed (imagecodecs allocates their output from the header: MemoryError)."""
    j2k = tmp_path / "t.j2k"
    j2k.write_bytes(
        j2k_declaring(imagecodecs.jpeg2k_encode(GREY[:64, :64], codecformat="j2k"), 40_000, 40_000)
    )
    webp = tmp_path / "t.webp"
    webp.write_bytes(webp_declaring(imagecodecs.webp_encode(RGB[:64, :64], lossless=True), 16_000, 16_000))
    jpeg = tmp_path / "t.jpg"
    jpeg.write_bytes(jpeg_declaring(imagecodecs.jpeg_encode(RGB[:64, :64, 0].copy()), 60_000, 60_000))
    lerc = tmp_path / "t.lerc"
    lerc.write_bytes(
        lerc_declaring(imagecodecs.lerc_encode(GREY[:64, :64].astype(np.float32)), 30_000, 30_000)
    )
    png = tmp_path / "t.png"
    png.write_bytes(png_declaring(imagecodecs.png_encode(RGB[:64, :64, 0].copy()), 40_000, 40_000))
    run = subprocess.run([sys.executable, "-c", _MEMORY, *(str(p) for p in (j2k, webp, jpeg, lerc, png))],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    lines = run.stdout.splitlines()
    assert run.returncode == 0, run.stderr[-2000:]
    assert (lines[0], *lines[2:]) == ("StreamTooLarge",) * 5, run.stdout
    assert int(lines[1].split()[-1]) < 32 * 1024, run.stdout  # KiB
