"""Sparse, full-size benchmark TIFFs: the IFD layouts that decide how many round trips a remote reader needs.

tifffile writes the zero pixel data of a large uncompressed image for real (tens of GB), so this module lays files out
itself and leaves the pixel data as holes (sparse files: a 32 GB file takes a few MB of disk and is written in well
under a second). Three layouts:

- ``scattered``: what tifffile writes for ``write(..., subifds=n)`` followed by the ``n`` levels: each IFD with its
  out-of-line values right before its pixel data, SubIFDs after their parent's data, then the next channel.
- ``tail``: raw2ometiff / Bio-Formats pyramids: all pixel data first, then every SubIFD, then the full-resolution IFD
  chain, IFD 0 (carrying the OME-XML) first; the header points near the end of the file.
- ``classic``: a classic (32-bit offsets) Bio-Formats-like multi-page OME-TIFF with strips, ASCII and RATIONAL tags.

The files are cross-checked with tifffile (the smoke test and `metadata_bytes` read them with it).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FileSpec", "ome_xml", "write_file"]

_TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 13: 4, 16: 8, 18: 8}
_TYPE_CODE = {1: "B", 3: "H", 4: "I", 5: "I", 13: "I", 16: "Q", 18: "Q"}  # RATIONAL: pairs of LONG
SOFTWARE = b"OME Bio-Formats 7.1.0\x00"  # longer than 8 bytes: out of line, as in the portal's files


@dataclass(frozen=True)
class FileSpec:
    """One benchmark file: ``layout`` in {"scattered", "tail", "classic"}."""

    name: str
    layout: str
    width: int
    height: int
    channels: int
    levels: int = 0  # SubIFD levels per channel (scattered / tail)
    tile: int = 512
    planes: int = 1  # classic: pages per channel (Z)
    byteorder: str = ">"
    rois: int = 200  # ROIs in the OME-XML (sets its size)
    points: int = (
        12  # vertices per polygon ROI (about 10 bytes each): 20,000 ROIs x 100 points is a 23 MB XML
    )
    annotations: int = 0  # StructuredAnnotations (Map and XML alternately), referenced by the first ROIs


@dataclass
class _Node:
    """One IFD being laid out: its tags (code -> (type, values)), its pixel bytes, its SubIFDs."""

    tags: dict[int, tuple[int, bytes | Sequence[int]]]
    data_bytes: int
    chunk_bytes: list[int]
    subifds: list[_Node] = field(default_factory=list)
    offset: int = 0
    data_offset: int = 0


def ome_xml(spec: FileSpec) -> bytes:
    """A Bio-Formats-like OME-XML: one Image, its channels, TiffData and planes, ``spec.rois`` polygon ROIs."""
    size_z = spec.planes if spec.layout == "classic" else 1
    channels = "".join(
        f'<Channel ID="Channel:0:{c}" Name="Channel {c}" Color="-1" SamplesPerPixel="1"><LightPath/></Channel>'
        for c in range(spec.channels)
    )
    ifd = 0
    tiffdata, planes = [], []
    for c in range(spec.channels):
        for z in range(size_z):
            tiffdata.append(f'<TiffData FirstC="{c}" FirstT="0" FirstZ="{z}" IFD="{ifd}" PlaneCount="1"/>')
            planes.append(
                f'<Plane TheC="{c}" TheT="0" TheZ="{z}" ExposureTime="100.0" ExposureTimeUnit="ms"/>'
            )
            ifd += 1
    rois = "".join(
        f'<ROI ID="ROI:{i}"><Union><Polygon ID="Shape:{i}:0" Points="'
        + " ".join(
            f"{(i * 37 + k * 101) % spec.width},{(i * 53 + k * 97) % spec.height}" for k in range(spec.points)
        )
        + f'" Text="region {i}"/></Union>'
        + (f'<AnnotationRef ID="Annotation:{i}"/>' if i < spec.annotations else "")
        + "</ROI>"
        for i in range(spec.rois)
    )
    annotations = (
        "<StructuredAnnotations>"
        + "".join(_annotation(i) for i in range(spec.annotations))
        + "</StructuredAnnotations>"
        if spec.annotations
        else ""
    )
    refs = "".join(f'<ROIRef ID="ROI:{i}"/>' for i in range(spec.rois))
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" Creator="OME Bio-Formats 7.1.0" '
        'UUID="urn:uuid:00000000-0000-4000-8000-000000000001">'
        '<Image ID="Image:0" Name="benchmark"><AcquisitionDate>2022-09-16T19:29:35</AcquisitionDate>'
        f'<Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint16" SignificantBits="16" '
        f'BigEndian="{str(spec.byteorder == ">").lower()}" Interleaved="false" SizeX="{spec.width}" '
        f'SizeY="{spec.height}" SizeC="{spec.channels}" SizeZ="{size_z}" SizeT="1" PhysicalSizeX="0.4" '
        f'PhysicalSizeXUnit="µm" PhysicalSizeY="0.4" PhysicalSizeYUnit="µm">'
        f"{channels}{''.join(tiffdata)}{''.join(planes)}</Pixels>{refs}</Image>{annotations}{rois}</OME>"
    )
    return xml.encode("utf-8") + b"\x00"


def _annotation(i: int) -> str:
    """A GeoMx-like annotation of ROI ``i``: a MapAnnotation (even ``i``) or an XMLAnnotation (odd)."""
    if i % 2 == 0:
        return (
            f'<MapAnnotation ID="Annotation:{i}" Namespace="geomx.nanostring.com/roi">'
            f'<Value><M K="Segment">Geometric Segment</M><M K="Area">{1000 + i * 7}</M>'
            f'<M K="ScanLabel">slide-{i % 8}</M><M K="Tags">tumor;stroma;{i % 13}</M></Value></MapAnnotation>'
        )
    return (
        f'<XMLAnnotation ID="Annotation:{i}" Namespace="geomx.nanostring.com/segment">'
        f'<Value><Segment xmlns="" Name="Segment {i}" Nuclei="{i % 977}"><Channel Name="SYTO13" '
        f'Threshold="{i % 251}"/><Channel Name="PanCK" Threshold="{i % 199}"/></Segment></Value></XMLAnnotation>'
    )


def _image_node(
    spec: FileSpec, width: int, height: int, *, reduced: bool, description: bytes | None
) -> _Node:
    """The tags of one uncompressed uint16 image (tiled for BigTIFF layouts, strips for classic)."""
    big = spec.layout != "classic"
    tags: dict[int, tuple[int, bytes | Sequence[int]]] = {}
    if reduced:
        tags[254] = (4, [1])
    tags[256] = (4, [width])
    tags[257] = (4, [height])
    tags[258] = (3, [16])
    tags[259] = (3, [1])
    tags[262] = (3, [1])
    if description is not None:
        tags[270] = (2, description)
    tags[277] = (3, [1])
    tags[282] = (5, [25000, 1])
    tags[283] = (5, [25000, 1])
    tags[296] = (3, [3])
    tags[305] = (2, SOFTWARE)
    tags[339] = (3, [1])
    if big:
        t = spec.tile
        across, down = -(-width // t), -(-height // t)
        chunks = [t * t * 2] * (across * down)
        tags[322] = (4, [t])
        tags[323] = (4, [t])
        tags[324] = (16, [0] * len(chunks))  # filled in once the data offset is known
        tags[325] = (4, chunks)
    else:
        rows = max(1, 8192 // (width * 2))
        strips = -(-height // rows)
        chunks = [min(rows, height - i * rows) * width * 2 for i in range(strips)]
        tags[273] = (4, [0] * strips)
        tags[278] = (4, [rows])
        tags[279] = (4, chunks)
    return _Node(tags, sum(chunks), chunks)


def _value_bytes(bo: str, typ: int, values: bytes | Sequence[int]) -> bytes:
    if isinstance(values, bytes):
        return values
    return struct.pack(f"{bo}{len(values)}{_TYPE_CODE[typ]}", *values)


def _block_size(node: _Node, big: bool) -> int:
    inline = 8 if big else 4
    size = (8 + 20 * len(node.tags) + 8) if big else (2 + 12 * len(node.tags) + 4)
    for typ, values in node.tags.values():
        n = len(_value_bytes(">", typ, values))
        if n > inline:
            size += n + (n % 2)
    return size


def _encode(node: _Node, bo: str, big: bool, next_offset: int) -> bytes:
    """The IFD at ``node.offset``: entries, next pointer, then the out-of-line values in tag order."""
    inline = 8 if big else 4
    entries, values = bytearray(), bytearray()
    value_pos = node.offset + ((8 + 20 * len(node.tags) + 8) if big else (2 + 12 * len(node.tags) + 4))
    for code in sorted(node.tags):
        typ, vals = node.tags[code]
        raw = _value_bytes(bo, typ, vals)
        count = len(raw) // _TYPE_SIZE[typ]
        head = struct.pack(f"{bo}HHQ" if big else f"{bo}HHI", code, typ, count)
        if len(raw) <= inline:
            entries += head + raw.ljust(inline, b"\x00")
        else:
            ptr = value_pos + len(values)
            entries += head + struct.pack(f"{bo}Q" if big else f"{bo}I", ptr)
            values += raw + (b"\x00" if len(raw) % 2 else b"")
    count = struct.pack(f"{bo}Q" if big else f"{bo}H", len(node.tags))
    nxt = struct.pack(f"{bo}Q" if big else f"{bo}I", next_offset)
    return bytes(count + entries + nxt + values)


def _set_data(node: _Node, offset: int) -> None:
    node.data_offset = offset
    starts, pos = [], offset
    for n in node.chunk_bytes:
        starts.append(pos)
        pos += n
    code = 324 if 324 in node.tags else 273
    node.tags[code] = (node.tags[code][0], starts)


def _align(n: int) -> int:
    return n + (-n % 16)


def write_file(spec: FileSpec, path: Path) -> Path:
    """Write ``spec`` to ``path`` (sparse pixel data) and return ``path``."""
    big = spec.layout != "classic"
    bo = spec.byteorder
    xml = ome_xml(spec)
    tops: list[_Node] = []
    pages = spec.channels * (spec.planes if spec.layout == "classic" else 1)
    for i in range(pages):
        top = _image_node(spec, spec.width, spec.height, reduced=False, description=xml if i == 0 else None)
        for k in range(1, spec.levels + 1):
            top.subifds.append(
                _image_node(
                    spec, max(1, spec.width >> k), max(1, spec.height >> k), reduced=True, description=None
                )
            )
        if top.subifds:
            top.tags[330] = (18, [0] * len(top.subifds))
        tops.append(top)

    pos = 16 if big else 8
    if spec.layout == "tail":
        for top in tops:  # all pixel data first
            for node in (top, *top.subifds):
                _set_data(node, pos)
                pos = _align(pos + node.data_bytes)
        for node in [s for top in tops for s in top.subifds] + tops:  # SubIFDs, then the top-level chain
            node.offset = pos
            pos = _align(pos + _block_size(node, big))
    else:
        for top in tops:  # IFD + values, its data, then each SubIFD + values and its data
            for node in (top, *top.subifds):
                node.offset = pos
                pos = _align(pos + _block_size(node, big))
                _set_data(node, pos)
                pos = _align(pos + node.data_bytes)
    end = pos
    if not big and end >= 2**32:
        raise ValueError(f"{spec.name}: {end} bytes do not fit a classic TIFF")

    with path.open("wb") as fh:
        fh.truncate(end)  # holes: the pixel data stays unwritten
        header = b"MM" if bo == ">" else b"II"
        header += (
            struct.pack(f"{bo}HHHQ", 43, 8, 0, tops[0].offset)
            if big
            else struct.pack(f"{bo}HI", 42, tops[0].offset)
        )
        fh.write(header)
        for i, top in enumerate(tops):
            if top.subifds:
                top.tags[330] = (18, [s.offset for s in top.subifds])
            for sub in top.subifds:
                fh.seek(sub.offset)
                fh.write(_encode(sub, bo, big, 0))
            fh.seek(top.offset)
            fh.write(_encode(top, bo, big, tops[i + 1].offset if i + 1 < len(tops) else 0))
    return path
