"""Fixture builders for the diagnostics: small OME-TIFFs written with tifffile (an oracle we did not write), with one
defect each, plus a byte patcher for what tifffile will not write (JPEG-2000 codes, JPEG without a codec)."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tifffile

NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


@dataclass
class Spec:
    """An OME-TIFF to write: C planes of Y x X (one IFD each), optional SubIFD pyramid, and its OME-XML knobs."""

    size_x: int = 64
    size_y: int = 48
    size_c: int = 2
    size_z: int = 1
    dtype: str = "uint16"
    ome_type: str | None = None  # Pixels@Type (default from dtype)
    xml_size_x: int | None = None
    xml_size_c: int | None = None
    dimension_order: str = "XYCZT"
    physical: bool = True
    unit: str = "µm"
    channel_names: Sequence[str] | None = None
    channel_spp: int | None = None  # default: 3 for rgb, else 1
    channel_colour: int | None = None
    pixels_id: bool = True
    big_endian_flag: bool | None = None  # None: match the file
    significant_bits: int | None = None
    tiffdata: str | None = None  # raw TiffData XML (default: one per plane, IFD = DimensionOrder index)
    extra_image: bool = False
    annotation_bytes: int = 0
    levels: int = 1  # 1: no pyramid; n: n-1 SubIFDs
    level_factor: int = 2
    level_compression: str | None = None  # compression of the SubIFD levels (default: as the base)
    tile: tuple[int, int] | None = (16, 16)
    compression: str | None = "zlib"
    rgb: bool = False  # one IFD of Y x X x 3 (Photometric RGB) instead of C planes
    legacy: bool = False  # reduced levels in the main chain (NewSubfileType 1) instead of SubIFDs
    byteorder: str = "<"
    bigtiff: bool = False
    repeat_description: bool = False
    extra_ifds: int = 0
    description: str | None = field(default=None)  # a complete replacement ImageDescription

    @property
    def type_name(self) -> str:
        if self.ome_type is not None:
            return self.ome_type
        return {"float32": "float", "float64": "double"}.get(self.dtype, self.dtype)


def ome_xml(s: Spec) -> str:
    """The OME-XML for ``s`` (one Image unless ``extra_image``)."""
    size_c = s.xml_size_c if s.xml_size_c is not None else (3 if s.rgb else s.size_c)
    names = list(s.channel_names) if s.channel_names is not None else [f"Ch{i}" for i in range(s.size_c)]
    if s.rgb:
        names = names[:1] or ["RGB"]
    chans = []
    for i, name in enumerate(names):
        colour = f' Color="{s.channel_colour}"' if s.channel_colour is not None else ""
        spp = s.channel_spp if s.channel_spp is not None else (3 if s.rgb else 1)
        chans.append(f'<Channel ID="Channel:0:{i}" Name="{name}" SamplesPerPixel="{spp}"{colour}/>')
    if s.tiffdata is not None:
        tds = s.tiffdata
    else:
        planes = 1 if s.rgb else s.size_c * s.size_z
        tds = "".join(
            f'<TiffData IFD="{i}" PlaneCount="1" FirstC="{i % s.size_c if s.dimension_order == "XYCZT" else i // s.size_z}" '
            f'FirstZ="{i // s.size_c if s.dimension_order == "XYCZT" else i % s.size_z}" FirstT="0"/>'
            for i in range(planes)
        )
    phys = (
        f' PhysicalSizeX="0.5" PhysicalSizeXUnit="{s.unit}" PhysicalSizeY="0.5" PhysicalSizeYUnit="{s.unit}"'
        if s.physical
        else ""
    )
    big = (s.byteorder == ">") if s.big_endian_flag is None else s.big_endian_flag
    sig = f' SignificantBits="{s.significant_bits}"' if s.significant_bits else ""
    pid = ' ID="Pixels:0"' if s.pixels_id else ""
    interleaved = "true" if s.rgb else "false"
    image = (
        f'<Image ID="Image:0" Name="fixture"><Pixels{pid} DimensionOrder="{s.dimension_order}" Type="{s.type_name}"'
        f' SizeX="{s.xml_size_x or s.size_x}" SizeY="{s.size_y}" SizeC="{size_c}" SizeZ="{s.size_z}" SizeT="1"'
        f' BigEndian="{str(big).lower()}" Interleaved="{interleaved}"{sig}{phys}>{"".join(chans)}{tds}</Pixels></Image>'
    )
    if s.extra_image:
        image += (
            image.replace("Image:0", "Image:1")
            .replace("Pixels:0", "Pixels:1")
            .replace("Channel:0:", "Channel:1:")
        )
        image = image.replace('IFD="0" PlaneCount="1"', 'IFD="0" PlaneCount="1"', 1)
    ann = ""
    if s.annotation_bytes:
        ann = f'<StructuredAnnotations><CommentAnnotation ID="Annotation:0"><Value>{"x" * s.annotation_bytes}</Value></CommentAnnotation></StructuredAnnotations>'
    return f'<?xml version="1.0" encoding="UTF-8"?><OME xmlns="{NS}" Creator="gen_defects">{image}{ann}</OME>'


def _plane(s: Spec, c: int, w: int, h: int) -> np.ndarray:
    rng = np.random.default_rng(c)
    shape = (h, w, 3) if s.rgb else (h, w)
    return rng.integers(0, 100, size=shape).astype(s.dtype)


def write(path: Path, s: Spec) -> Path:
    """Write ``s`` to ``path`` and return it."""
    desc = s.description if s.description is not None else ome_xml(s)
    planes = 1 if s.rgb else s.size_c * s.size_z
    sizes = [(s.size_x // s.level_factor**k, s.size_y // s.level_factor**k) for k in range(s.levels)]
    common = {"metadata": None, "photometric": "rgb" if s.rgb else "minisblack"}
    with tifffile.TiffWriter(path, byteorder=s.byteorder, bigtiff=s.bigtiff) as tw:
        for i in range(planes):
            base = _plane(s, i, s.size_x, s.size_y)
            tw.write(
                base,
                description=desc.encode("utf-8") if i == 0 or s.repeat_description else None,
                tile=s.tile,
                compression=s.compression,
                subifds=(s.levels - 1) if s.levels > 1 and not s.legacy else None,
                **common,
            )
            for w, h in sizes[1:]:
                tw.write(
                    _plane(s, i, w, h),
                    tile=s.tile,
                    compression=s.level_compression or s.compression,
                    subfiletype=1,
                    **common,
                )
        for j in range(s.extra_ifds):
            tw.write(_plane(s, 99 + j, 8, 8), **common)
    return path


def write_legacy_images(
    path: Path, sizes: Sequence[tuple[int, int]] = ((64, 48), (32, 24), (16, 12))
) -> Path:
    """Bio-Formats 5.9 / raw2ometiff --legacy layout: one OME Image per resolution (2 channels each), all IFDs in the
    main chain and none marked reduced (NewSubfileType 0)."""
    images = []
    for k, (w, h) in enumerate(sizes):
        chans = "".join(f'<Channel ID="Channel:{k}:{c}" Name="Ch{c}" SamplesPerPixel="1"/>' for c in range(2))
        tds = "".join(f'<TiffData IFD="{2 * k + c}" PlaneCount="1" FirstC="{c}"/>' for c in range(2))
        images.append(
            f'<Image ID="Image:{k}"><Pixels ID="Pixels:{k}" DimensionOrder="XYCZT" Type="uint16" SizeX="{w}" '
            f'SizeY="{h}" SizeC="2" SizeZ="1" SizeT="1" PhysicalSizeX="0.5" PhysicalSizeY="0.5">{chans}{tds}'
            "</Pixels></Image>"
        )
    desc = f'<?xml version="1.0" encoding="UTF-8"?><OME xmlns="{NS}" Creator="gen_defects">{"".join(images)}</OME>'
    with tifffile.TiffWriter(path) as tw:
        for k, (w, h) in enumerate(sizes):
            for c in range(2):
                first = k == 0 and c == 0
                tw.write(np.zeros((h, w), "uint16"), description=desc.encode() if first else None, metadata=None,
                         tile=(16, 16))  # fmt: skip
    return path


def patch_tag(path: Path, page: int, code: int, value: int, *, subifd: int | None = None) -> None:
    """Overwrite the (inline, first) value of tag ``code`` in top-level IFD ``page`` (or its SubIFD ``subifd``)."""
    with tifffile.TiffFile(path) as tif:
        p = tif.pages[page]
        if subifd is not None:
            tif.filehandle.seek(p.subifds[subifd])
            p = tifffile.TiffPage(tif, index=(page, subifd))
        tag = p.tags[code]
        fmt = tif.byteorder + {3: "H", 4: "I", 16: "Q"}[int(tag.dtype)]
        where = tag.valueoffset
    with path.open("r+b") as fh:
        fh.seek(where)
        fh.write(struct.pack(fmt, value))
