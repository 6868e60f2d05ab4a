"""Pure decoding of TIFF bytes: the header, IFD entries and tag values. No I/O; every size is checked first."""

from __future__ import annotations

import struct

from ometiff_helpers.errors import CorruptTiff, NotATiff
from ometiff_helpers.frozen import record
from ometiff_helpers.io.sniff import kind_words, sniff_kind
from ometiff_helpers.tiff.codes import (
    BIGTIFF_MAGIC,
    BYTEORDER_MARKS,
    CLASSIC_MAGIC,
    FIELD_TYPES,
    TIFF_FORMATS,
    FieldType,
    TiffFormat,
)
from ometiff_helpers.tiff.model import TagValue


def hex_preview(data: bytes, n: int = 8) -> str:
    """The first ``n`` bytes in hex, for a message: ``"49 49 2a 00"``."""
    return " ".join(f"{b:02x}" for b in data[:n]) or "(none)"


@record
class Header:
    """A TIFF's 8- or 16-byte header: the format and the first IFD's offset."""

    format: TiffFormat
    first_ifd_offset: int


def parse_header(data: bytes, size: int) -> Header:
    """Decode the 8- or 16-byte header at the start of ``data`` (a file of ``size`` bytes); raise when unusable."""
    if size < 8 or len(data) < 8:
        n = min(size, len(data))
        kind = sniff_kind(data[:n])
        kind = "truncated-tiff" if kind == "tiff" else kind
        raise NotATiff(
            f"file too short: {n} bytes; a TIFF needs at least 8 (first bytes: {hex_preview(data)}).",
            kind=kind if n else "empty",
            hint="Check that the URL points at the image file itself and that the upload completed.",
        )
    order = BYTEORDER_MARKS.get(data[:2])
    magic = struct.unpack_from((order or "<") + "H", data, 2)[0]
    if order is None or magic not in (CLASSIC_MAGIC, BIGTIFF_MAGIC):
        kind = sniff_kind(data)
        what = "a byte-order mark II or MM" if order is None else f"version 42 or 43 (found {magic})"
        raise NotATiff(
            f"not a TIFF: expected {what} at offset 0; the first 8 bytes {hex_preview(data)} look like "
            f"{kind_words(kind)}.",
            kind=kind,
            hint="Check the URL (an expired token often returns an HTML or JSON page) and the file type.",
        )
    bigtiff = magic == BIGTIFF_MAGIC
    fmt = TIFF_FORMATS[(bigtiff, order)]
    if bigtiff:
        if len(data) < 16:
            raise NotATiff(
                f"file too short: {len(data)} bytes; a BigTIFF header needs 16.",
                kind="truncated-tiff",
                hint="The file looks truncated; upload it again.",
            )
        offsize, reserved = struct.unpack_from(order + "HH", data, 4)
        if offsize != 8 or reserved != 0:
            raise CorruptTiff(
                f"bad BigTIFF header: offset size {offsize} (must be 8), reserved {reserved} (must be 0).",
                offset=4,
                hint="The file is damaged or was written by a broken writer; convert it again.",
            )
    first = fmt.unpack_offset(data, 4 if not bigtiff else 8)
    check_ifd0_offset(first, fmt, size)
    return Header(fmt, first)


def check_ifd0_offset(offset: int, fmt: TiffFormat, size: int) -> None:
    where = 4 if not fmt.bigtiff else 8
    if offset == 0:
        raise CorruptTiff(
            "the header's first-IFD offset is 0: the file has no image directory.",
            offset=where,
            hint="The file is damaged or was not finished by its writer; convert it again.",
        )
    if offset >= 2**63:
        raise CorruptTiff(
            f"IFD 0 offset {offset:,} is not a valid BigTIFF offset (>= 2^63).",
            offset=where,
            hint="The file is damaged; convert it again.",
        )
    if offset < fmt.header_size:
        raise CorruptTiff(
            f"IFD 0 offset {offset:,} points inside the {fmt.header_size}-byte header.",
            offset=where,
            hint="The file is damaged; convert it again.",
        )
    if offset + fmt.count_size > size:
        raise CorruptTiff(
            f"IFD 0 offset {offset:,} beyond end of file ({size:,} bytes).",
            offset=where,
            hint="The file looks truncated (upload cut short?); upload it again.",
        )


@record
class RawEntry:
    """One undecoded IFD entry: the value slot holds the inline value or the value's offset."""

    code: int
    type: int
    count: int
    slot: bytes
    entry_offset: int

    def nbytes(self) -> int | None:
        info = FIELD_TYPES.get(self.type)
        return None if info is None or not info.decodable else self.count * info.size

    def is_inline(self, fmt: TiffFormat) -> bool:
        n = self.nbytes()
        return n is not None and n <= fmt.offset_size

    def value_offset(self, fmt: TiffFormat) -> int:
        return fmt.unpack_offset(self.slot)


def parse_entries(fmt: TiffFormat, data: bytes, ifd_offset: int, count: int) -> tuple[list[RawEntry], int]:
    """Entries and next-IFD pointer of the IFD at ``ifd_offset`` whose bytes start ``data`` (len checked by caller)."""
    entries: list[RawEntry] = []
    pos = fmt.count_size
    unpack = fmt.entry_struct.unpack_from
    head = fmt.entry_struct.size
    for _ in range(count):
        code, typ, n = unpack(data, pos)
        entries.append(RawEntry(code, typ, n, data[pos + head : pos + fmt.entry_size], ifd_offset + pos))
        pos += fmt.entry_size
    return entries, fmt.unpack_offset(data, pos)


#: 1 for each low byte of a field type code this reader decodes, 0 otherwise (for ``bytes.translate``)
_KNOWN_LOW = bytes(1 if code in FIELD_TYPES and FIELD_TYPES[code].decodable else 0 for code in range(256))
_IS_ZERO = bytes([1] + [0] * 255)


def count_unknown_types(fmt: TiffFormat, data: bytes, count: int) -> int:
    """How many of the ``count`` entries of the IFD whose bytes start ``data`` have a field type not decodable.

    Works on byte slices (no per-entry Python work), so a directory of thousands of garbage entries costs little.
    """
    if count <= 0:
        return 0
    start = fmt.count_size + 2  # the type follows the 2-byte tag code
    end = fmt.count_size + count * fmt.entry_size
    first = data[start : end : fmt.entry_size]
    second = data[start + 1 : end : fmt.entry_size]
    low, high = (first, second) if fmt.byteorder == "<" else (second, first)
    known = int.from_bytes(low.translate(_KNOWN_LOW), "big") & int.from_bytes(high.translate(_IS_ZERO), "big")
    return count - known.bit_count()


def decode_value(fmt: TiffFormat, type_code: int, count: int, raw: bytes) -> TagValue | None:
    """Decode ``count`` values of ``type_code`` from ``raw`` (at least count x size bytes); None if undecodable.

    ASCII -> str (UTF-8, else Latin-1; trailing NULs removed), UNDEFINED -> bytes, numbers -> flat tuple
    (RATIONAL/SRATIONAL as numerator, denominator pairs).
    """
    info = FIELD_TYPES.get(type_code)
    if info is None or not info.decodable:
        return None
    nbytes = count * info.size
    if len(raw) < nbytes:
        return None
    raw = raw[:nbytes]
    if type_code == FieldType.ASCII:
        return decode_ascii(raw)
    if type_code == FieldType.UNDEFINED:
        return bytes(raw)
    return struct.unpack(f"{fmt.byteorder}{count * info.items}{info.struct_char}", raw)


def decode_ascii(raw: bytes) -> str:
    text = raw.rstrip(b"\x00")
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError:
        return text.decode("latin-1")
