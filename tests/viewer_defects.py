"""The defect registry of the viewer conformance suite: one small file per defect class, written with tifffile.

Each entry is (file name, builder, what it shows). The file name is the URL name the viewer sees, so it matters:
names with ``ome.tif`` go down Avivator's OME-TIFF route.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import tifffile
from gen_defects import NS, Spec, patch_tag, write, write_legacy_images

Build = Callable[[Path], Path]


def _spec(**kw: object) -> Build:
    return lambda p: write(p, Spec(**kw))  # type: ignore[arg-type]


def _patched(s: Spec, page: int, code: int, value: int, subifd: int | None = None) -> Build:
    def build(p: Path) -> Path:
        write(p, s)
        patch_tag(p, page, code, value, subifd=subifd)
        return p

    return build


def _rgb_xml(size_x: int, size_y: int, *, interleaved: bool, channels: int = 1) -> str:
    spp = 3 if channels == 1 else 1
    chans = "".join(f'<Channel ID="Channel:0:{i}" SamplesPerPixel="{spp}"/>' for i in range(channels))
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><OME xmlns="{NS}" Creator="viewer_defects"><Image ID="Image:0">'
        f'<Pixels ID="Pixels:0" DimensionOrder="XYCZT" Type="uint8" SizeX="{size_x}" SizeY="{size_y}" SizeC="3" '
        f'SizeZ="1" SizeT="1" Interleaved="{str(interleaved).lower()}" PhysicalSizeX="0.5" PhysicalSizeY="0.5">'
        f'{chans}<TiffData IFD="0" PlaneCount="1"/></Pixels></Image></OME>'
    )


def write_planar_rgb(path: Path, *, levels: int = 1, compression: str | None = "zlib") -> Path:
    """One IFD of 3 samples stored plane by plane (PlanarConfiguration 2), SizeC 3, optional SubIFD pyramid."""
    size_x, size_y = 64, 48
    data = np.random.default_rng(3).integers(0, 255, size=(3, size_y, size_x)).astype("uint8")
    with tifffile.TiffWriter(path) as tw:
        tw.write(data, photometric="rgb", planarconfig="separate", tile=(16, 16), compression=compression,
                 description=_rgb_xml(size_x, size_y, interleaved=False).encode(), metadata=None,
                 subifds=levels - 1 if levels > 1 else None)  # fmt: skip
        for k in range(1, levels):
            tw.write(data[:, :: 2**k, :: 2**k], photometric="rgb", planarconfig="separate", tile=(16, 16),
                     compression=compression, subfiletype=1, metadata=None)  # fmt: skip
    return path


_PLACEHOLDER = (
    340  # SMinSampleValue: sorts right after SampleFormat, so the renamed entry keeps the tag order
)


def write_ycbcr_planar_one_format(path: Path) -> Path:
    """Bio-Formats' RGB JPEG pyramid layout, minus the JPEG codec: planar samples labelled YCbCr, and SampleFormat
    with one value for three samples (geotiff.js reads SampleFormat[1] as undefined)."""
    size_x, size_y = 64, 48
    data = np.random.default_rng(5).integers(0, 255, size=(3, size_y, size_x)).astype("uint8")
    one_format = [(_PLACEHOLDER, "H", 1, 1, True)]  # renamed to SampleFormat below (tifffile writes no 339)
    with tifffile.TiffWriter(path) as tw:
        tw.write(data, photometric="rgb", planarconfig="separate", tile=(16, 16), extratags=one_format,
                 description=_rgb_xml(size_x, size_y, interleaved=False).encode(), metadata=None, subifds=1)  # fmt: skip
        tw.write(data[:, ::2, ::2], photometric="rgb", planarconfig="separate", tile=(16, 16), subfiletype=1,
                 metadata=None, extratags=one_format)  # fmt: skip
    patch_tag(path, 0, 262, 6)  # Photometric YCbCr
    with tifffile.TiffFile(path) as tif:
        entries = [tif.pages[0].tags[_PLACEHOLDER].offset]
        tif.filehandle.seek(tif.pages[0].subifds[0])
        entries.append(tifffile.TiffPage(tif, index=(0, 0)).tags[_PLACEHOLDER].offset)
    with path.open("r+b") as fh:
        for where in entries:
            fh.seek(where)
            fh.write((339).to_bytes(2, "little"))
    return path


def write_stripped_pyramid(path: Path) -> Path:
    """A SubIFD pyramid stored in strips of one row (no tiles): Viv's tile size is the strip height."""
    s = Spec(levels=3, tile=None, size_c=1)
    desc = __import__("gen_defects").ome_xml(s)
    base = np.random.default_rng(1).integers(0, 100, size=(48, 64)).astype("uint16")
    with tifffile.TiffWriter(path) as tw:
        tw.write(base, description=desc.encode(), metadata=None, rowsperstrip=1, subifds=2)
        for k in (1, 2):
            tw.write(base[:: 2**k, :: 2**k], subfiletype=1, metadata=None, rowsperstrip=1)
    return path


#: (URL file name, builder, what the file shows)
REGISTRY: list[tuple[str, Build, str]] = [
    ("good.ome.tif", _spec(), "a clean 2-channel tiled OME-TIFF"),
    ("good-pyramid.ome.tif", _spec(levels=3), "a clean SubIFD pyramid"),
    ("good-bigtiff.ome.tif", _spec(bigtiff=True, levels=2), "a clean BigTIFF pyramid"),
    ("good-bigendian.ome.tif", _spec(byteorder=">"), "a clean big-endian file"),
    ("not-ome.ome.tif", _spec(description="ImageJ=1.54f\nimages=2\n"), "an ImageJ description, no OME-XML"),
    ("no-pixels-id.ome.tif", _spec(pixels_id=False), "Pixels without ID"),
    ("unit-um.ome.tif", _spec(unit="um"), "PhysicalSizeXUnit 'um'"),
    ("type-mismatch.ome.tif", _spec(ome_type="uint8"), "Type uint8 over 16-bit samples"),
    ("size-mismatch.ome.tif", _spec(xml_size_x=65), "SizeX one more than the IFD"),
    ("planes-missing.ome.tif", _spec(xml_size_c=3, tiffdata=""), "SizeC 3 over 2 IFDs"),
    ("extra-ifds.ome.tif", _spec(extra_ifds=1), "one IFD more than the planes"),
    ("endian-flag.ome.tif", _spec(big_endian_flag=True), "BigEndian=true in a little-endian file"),
    ("rgb-interleaved.ome.tif", _spec(rgb=True, dtype="uint8", size_c=1), "interleaved RGB, one IFD"),
    ("rgb-guess.ome.tif", _spec(size_c=3, dtype="uint8"), "three uint8 channels (Avivator guesses RGB)"),
    ("no-physical.ome.tif", _spec(physical=False), "no PhysicalSize"),
    ("channel-count.ome.tif", _spec(channel_names=["Ch0"]), "one Channel element for SizeC 2"),
    ("no-channels.ome.tif", _spec(channel_names=[]), "no Channel element"),
    ("double.ome.tif", _spec(dtype="float64"), "Type double"),
    ("int8.ome.tif", _spec(dtype="int8"), "Type int8"),
    ("float.ome.tif", _spec(dtype="float32"), "Type float"),
    ("uint32.ome.tif", _spec(dtype="uint32"), "Type uint32"),
    ("multi-image.ome.tif", _spec(extra_image=True, size_c=1, extra_ifds=1), "two Images, no SubIFDs"),
    (
        "legacy-images.ome.tif",
        lambda p: write_legacy_images(p),
        "one Image per level (Bio-Formats 5.9 layout)",
    ),
    ("legacy-reduced.ome.tif", _spec(levels=2, legacy=True, size_c=1), "reduced IFDs in the main chain"),
    ("jpeg2000.ome.tif", _patched(Spec(levels=3), 0, 259, 33003, subifd=1), "a JPEG-2000 code in a SubIFD"),
    ("zstd.ome.tif", _patched(Spec(compression=None), 0, 259, 50000), "ZSTD code on IFD 0"),
    ("quarter.ome.tif", _spec(levels=2, level_factor=4), "levels a quarter, not half"),
    ("round-up.ome.tif", _patched(Spec(size_x=66, levels=2), 0, 256, 34, subifd=0), "levels rounded up"),
    ("non-square.ome.tif", _spec(tile=(16, 32)), "tiles 32x16"),
    ("not-pow2.ome.tif", _spec(tile=(48, 48)), "tiles 48x48"),
    ("level-codec.ome.tif", _spec(levels=2, level_compression="none"), "levels with another codec"),
    ("strips.ome.tif", _spec(tile=None), "a small file in strips, one level"),
    ("stripped-pyramid.ome.tif", write_stripped_pyramid, "a SubIFD pyramid in 1-row strips"),
    ("planar-rgb.ome.tif", write_planar_rgb, "planar RGB (PlanarConfiguration 2), SizeC 3"),
    (
        "ycbcr-planar-one-format.ome.tif",
        write_ycbcr_planar_one_format,
        "planar YCbCr, one SampleFormat for 3 samples",
    ),
    (
        "tiffdata-beyond.ome.tif",
        _spec(tiffdata='<TiffData IFD="5" PlaneCount="1"/>'),
        "TiffData past the IFDs",
    ),
    ("many-channels.ome.tif", _spec(size_c=41, size_x=8, size_y=8, tile=None), "41 channels, no offsets"),
    ("plain-name.tif", _spec(), "an OME-TIFF under a name without ome.tif"),
    ("upper-case.OME.TIF", _spec(), "an OME-TIFF whose name says OME.TIF in capitals"),
    ("underscore_ome.tiff", _spec(), "an OME-TIFF named x_ome.tiff"),
]


def write_all(folder: Path) -> list[tuple[str, Path, str]]:
    """Write every registry file into ``folder``; (name, path, note) each."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, build, note in REGISTRY:
        path = build(folder / name)
        out.append((name, path, note))
    return out
