"""Fixture generators for the TIFF reader tests: a tiny struct-level TIFF builder (valid and hostile files), a
raw2ometiff-like tail-layout writer, and tifffile-written pyramids."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path

from ometiff_helpers.tiff.codes import FIELD_TYPES, TIFF_FORMATS, FieldType

SMALL_OME = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" Creator="gen_tiff">'
    '<Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint16" SizeX="{x}" SizeY="{y}" '
    'SizeZ="1" SizeC="{c}" SizeT="1">{channels}<TiffData IFD="0" PlaneCount="{c}"/></Pixels></Image></OME>'
)


def ome_xml(x: int, y: int, c: int, pad: int = 0) -> str:
    channels = "".join(f'<Channel ID="Channel:0:{i}" SamplesPerPixel="1"/>' for i in range(c))
    xml = SMALL_OME.format(x=x, y=y, c=c, channels=channels)
    return xml if pad <= 0 else xml.replace("</OME>", f"<!-- {'x' * pad} --></OME>")


@dataclass(frozen=True)
class Entry:
    """One IFD entry: a Python value to encode, or ``raw_slot`` written verbatim into the value slot."""

    code: int
    type: int
    value: object = None  # tuple/list of numbers, str, bytes, or int
    count: int | None = None  # override the count written (hostile files)
    raw_slot: int | None = None  # write this integer into the value slot instead of the value / its offset


class TiffBuilder:
    """Append-only TIFF writer: values, IFDs and raw bytes at known offsets; pointers patched afterwards."""

    def __init__(self, bigtiff: bool = False, byteorder: str = "<") -> None:
        self.fmt = TIFF_FORMATS[(bigtiff, byteorder)]
        bo = self.fmt.byteorder
        self.buf = bytearray(b"II" if bo == "<" else b"MM")
        if bigtiff:
            self.buf += struct.pack(bo + "HHHQ", 43, 8, 0, 0)
        else:
            self.buf += struct.pack(bo + "HI", 42, 0)

    # --- raw --------------------------------------------------------------------------------------------------------

    def append(self, data: bytes, align: int = 2) -> int:
        while len(self.buf) % align:
            self.buf += b"\x00"
        pos = len(self.buf)
        self.buf += data
        return pos

    def zeros(self, n: int) -> int:
        return self.append(bytes(n))

    def pack_offset(self, value: int) -> bytes:
        return struct.pack(self.fmt.byteorder + self.fmt.offset_char, value)

    def patch_offset(self, pos: int, value: int) -> None:
        self.buf[pos : pos + self.fmt.offset_size] = self.pack_offset(value)

    def set_first_ifd(self, offset: int) -> None:
        self.patch_offset(4 if not self.fmt.bigtiff else 8, offset)

    # --- values and IFDs ----------------------------------------------------------------------------------------------

    def encode(self, typ: int, value: object) -> tuple[bytes, int]:
        bo = self.fmt.byteorder
        if isinstance(value, str):
            value = value.encode() + b"\x00"
        if isinstance(value, bytes | bytearray):
            size = FIELD_TYPES[typ].size if typ in FIELD_TYPES else 1
            return bytes(value), len(value) // max(size, 1)
        if isinstance(value, int):
            value = (value,)
        info = FIELD_TYPES[typ]
        items = list(value)  # type: ignore[call-overload]
        return struct.pack(f"{bo}{len(items)}{info.struct_char}", *items), len(items) // info.items

    def ifd(
        self, entries: list[Entry], next_offset: int = 0, *, values_after: bool = False
    ) -> tuple[int, dict]:
        """Write an IFD (out-of-line values before it, or after it with ``values_after``).

        Returns the IFD offset and {"next": pos of the next pointer, code: pos of that entry's value slot}.
        """
        fmt = self.fmt
        bo = fmt.byteorder
        encoded = [self.encode(e.type, e.value) if e.raw_slot is None else (b"", 0) for e in entries]
        outofline: dict[int, int] = {}
        if not values_after:
            for i, (data, _n) in enumerate(encoded):
                if len(data) > fmt.offset_size:
                    outofline[i] = self.append(data)
        size = fmt.ifd_size(len(entries))
        ifd_off = self.zeros(size)
        pos = ifd_off
        self.buf[pos : pos + fmt.count_size] = struct.pack(bo + fmt.count_char, len(entries))
        pos += fmt.count_size
        where: dict = {}
        slots: dict[int, int] = {}
        for i, e in enumerate(entries):
            data, n = encoded[i]
            count = e.count if e.count is not None else n
            head = fmt.entry_struct.pack(e.code, e.type, count)
            self.buf[pos : pos + len(head)] = head
            slot = pos + len(head)
            where.setdefault(e.code, slot)
            slots[i] = slot
            if e.raw_slot is not None:
                self.patch_offset(slot, e.raw_slot)
            elif len(data) <= fmt.offset_size:
                self.buf[slot : slot + len(data)] = data
            pos += fmt.entry_size
        where["next"] = pos
        self.patch_offset(pos, next_offset)
        if values_after:
            for i, (data, _n) in enumerate(encoded):
                if len(data) > fmt.offset_size:
                    self.patch_offset(slots[i], self.append(data))
        else:
            for i, voff in outofline.items():
                self.patch_offset(slots[i], voff)
        return ifd_off, where

    def bytes(self) -> bytes:
        return bytes(self.buf)


def image_entries(
    fmt_big: bool,
    width: int,
    height: int,
    *,
    tile: int | None = None,
    data_offsets: list[int] | None = None,
    nbytes_each: int = 0,
    subfile: int = 0,
    description: str | None = None,
    subifds: list[int] | None = None,
    bits: int = 16,
) -> list[Entry]:
    """Entries of a plain grayscale image IFD (sorted by code)."""
    off_type = FieldType.LONG8 if fmt_big else FieldType.LONG
    offsets = data_offsets or [0]
    out = [
        Entry(254, FieldType.LONG, subfile),
        Entry(256, FieldType.LONG, width),
        Entry(257, FieldType.LONG, height),
        Entry(258, FieldType.SHORT, bits),
        Entry(259, FieldType.SHORT, 1),
        Entry(262, FieldType.SHORT, 1),
    ]
    if description is not None:
        out.append(Entry(270, FieldType.ASCII, description))
    if tile is None:
        out += [
            Entry(273, off_type, offsets),
            Entry(277, FieldType.SHORT, 1),
            Entry(278, FieldType.LONG, height),
            Entry(279, off_type, [nbytes_each] * len(offsets)),
        ]
    else:
        out += [
            Entry(277, FieldType.SHORT, 1),
            Entry(322, FieldType.SHORT, tile),
            Entry(323, FieldType.SHORT, tile),
            Entry(324, off_type, offsets),
            Entry(325, off_type, [nbytes_each] * len(offsets)),
        ]
    if subifds:
        out.append(Entry(330, FieldType.IFD8 if fmt_big else FieldType.IFD, subifds))
    out.append(Entry(339, FieldType.SHORT, 1))
    return sorted(out, key=lambda e: e.code)


def write_tail_layout(
    path: Path, *, channels: int = 4, base: int = 2048, levels: int = 4, tile: int = 256, xml_pad: int = 0
) -> Path:
    """A raw2ometiff-like BigTIFF: all pixel data first, then every SubIFD, then the channel IFDs, then the OME-XML
    (IFD 0's description). Pixel data are zeros; every tile has its own offset."""
    b = TiffBuilder(bigtiff=True, byteorder="<")
    tbytes = tile * tile * 2
    sizes = [max(base >> lvl, 1) for lvl in range(levels)]
    ntiles = [math.ceil(s / tile) ** 2 for s in sizes]
    data_start = b.zeros(tbytes * sum(ntiles) * channels)
    pos = data_start
    tile_offsets: dict[tuple[int, int], list[int]] = {}
    for c in range(channels):
        for lvl in range(levels):
            tile_offsets[c, lvl] = [pos + i * tbytes for i in range(ntiles[lvl])]
            pos += ntiles[lvl] * tbytes
    sub_offsets: dict[int, list[int]] = {}
    for c in range(channels):
        sub_offsets[c] = []
        for lvl in range(1, levels):
            s = sizes[lvl]
            off, _ = b.ifd(
                image_entries(
                    True, s, s, tile=tile, data_offsets=tile_offsets[c, lvl], nbytes_each=tbytes, subfile=1
                ),
                values_after=True,
            )
            sub_offsets[c].append(off)
    xml = ome_xml(base, base, channels, xml_pad)
    placeholder = "#" * (
        len(xml.encode())
    )  # same length as the XML: patched to point at the real XML at the end
    chain: list[tuple[int, dict]] = []
    for c in range(channels):
        entries = image_entries(
            True,
            base,
            base,
            tile=tile,
            data_offsets=tile_offsets[c, 0],
            nbytes_each=tbytes,
            description=placeholder if c == 0 else None,
            subifds=sub_offsets[c],
        )
        if c == 0:  # description written last, at the very end of the file
            entries = [
                Entry(e.code, e.type, e.value, len(xml.encode()) + 1, 0) if e.code == 270 else e
                for e in entries
            ]
        chain.append(b.ifd(entries, values_after=True))
    for (_off, where), nxt in zip(chain, [o for o, _ in chain[1:]] + [0], strict=True):
        b.patch_offset(where["next"], nxt)
    b.set_first_ifd(chain[0][0])
    b.patch_offset(chain[0][1][270], b.append(xml.encode() + b"\x00"))
    path.write_bytes(b.bytes())
    return path


def write_tifffile_pyramid(
    path: Path,
    *,
    channels: int = 4,
    base: int = 8192,
    levels: int = 8,
    tile: int = 512,
    bigtiff: bool = True,
    byteorder: str = ">",
    description: str | None = None,
) -> Path:
    """tifffile-written pyramid: each channel page followed by its ``levels`` SubIFDs (IFDs between pixel data)."""
    import tifffile  # test-only dependency

    desc = description if description is not None else ome_xml(base, base, channels)
    with tifffile.TiffWriter(path, bigtiff=bigtiff, byteorder=byteorder) as w:
        for c in range(channels):
            w.write(
                shape=(base, base),
                dtype="uint16",
                tile=(tile, tile),
                subifds=levels,
                description=desc if c == 0 else None,
                metadata=None,
                photometric="minisblack",
            )
            for lvl in range(1, levels + 1):
                n = max(base >> lvl, 1)
                t = tile if n >= tile else 16
                w.write(
                    shape=(n, n),
                    dtype="uint16",
                    tile=(t, t),
                    subfiletype=1,
                    metadata=None,
                    photometric="minisblack",
                )
    return path
