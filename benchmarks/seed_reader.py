"""The starting notebook's reading logic (shared/seed/000_c6098840fe6d2aaf.txt), re-implemented for the benchmark.

Request for request what the notebook does, including its limits, so that the server counts the same requests:

- ``HEAD`` for the size, then a 16-byte header read;
- per IFD: one request for the entry count, one for the entries, one per SubIFDs array (as its entry is met), one
  for the next-IFD pointer;
- IFD 0's Software string (up to 64 KiB), then the whole OME-XML in one request, parsed with ElementTree;
- the SubIFDs of IFD 0 only, then the top-level chain after IFD 0 (at most 20 IFDs).

Its bugs are kept: every field type other than SHORT/LONG/LONG8 is read as an 8-byte integer, so a classic TIFF
with an ASCII or RATIONAL tag raises ``struct.error``; an inline string is fetched at an offset made of its own
bytes. The benchmark reports such runs as crashed. Not part of the package; never used outside ``benchmarks/``.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import requests

__all__ = ["SeedResult", "read_like_seed"]


@dataclass
class SeedIFD:
    """The notebook's ``IFDSummary``, reduced to what the benchmark looks at."""

    width: int = 0
    height: int = 0
    subifd_offsets: list[int] = field(default_factory=list)
    entries: list[tuple[int, int, int, int]] = field(default_factory=list)  # tag, type, count, value


@dataclass
class SeedResult:
    """What one run got: IFDs read, whether the OME-XML was read, and why it stopped early (``error``)."""

    ifds: list[SeedIFD] = field(default_factory=list)
    ome_xml_bytes: int = 0
    error: str | None = None

    @property
    def ifds_covered(self) -> int:
        return len(self.ifds)


def _fetch_range(url: str, start: int, end: int) -> bytes:
    """The notebook's helper: a fresh ``requests.get`` per range (inclusive end), no session."""
    r = requests.get(url, headers={"Range": f"bytes={start}-{end}"}, timeout=30)
    r.raise_for_status()
    return r.content


def _unpack_value(byte_order: str, dtype: int, val_bytes: bytes) -> int:
    if dtype == 3:
        return struct.unpack(f"{byte_order}H", val_bytes[:2])[0]
    if dtype == 4:
        return struct.unpack(f"{byte_order}I", val_bytes[:4])[0]
    # LONG8 and, wrongly, every other type: 8 bytes (a classic TIFF has only 4 -> struct.error)
    return struct.unpack(f"{byte_order}Q", val_bytes[:8])[0]


def _read_ifd(url: str, offset: int, byte_order: str, *, bigtiff: bool) -> tuple[SeedIFD, int]:
    if bigtiff:
        count_size, entry_size, ptr_size, count_fmt, ptr_fmt = 8, 20, 8, "Q", "Q"
    else:
        count_size, entry_size, ptr_size, count_fmt, ptr_fmt = 2, 12, 4, "H", "I"
    count_data = _fetch_range(url, offset, offset + count_size - 1)
    num_entries = struct.unpack(f"{byte_order}{count_fmt}", count_data)[0]
    entries_start = offset + count_size
    entries_data = _fetch_range(url, entries_start, entries_start + num_entries * entry_size - 1)
    summary = SeedIFD()
    for i in range(num_entries):
        raw = entries_data[i * entry_size : (i + 1) * entry_size]
        if bigtiff:
            tag, dtype, count = struct.unpack(f"{byte_order}HHQ", raw[:12])
            val_bytes = raw[12:20]
        else:
            tag, dtype, count = struct.unpack(f"{byte_order}HHI", raw[:8])
            val_bytes = raw[8:12]
        val = _unpack_value(byte_order, dtype, val_bytes)
        summary.entries.append((tag, dtype, count, val))
        if tag == 256:
            summary.width = val
        elif tag == 257:
            summary.height = val
        elif tag == 330:
            size, fmt = (8, "Q") if bigtiff else (4, "I")
            sub_data = _fetch_range(url, val, val + count * size - 1)
            summary.subifd_offsets = list(struct.unpack(f"{byte_order}{count}{fmt}", sub_data))
    next_ptr_offset = entries_start + num_entries * entry_size
    next_data = _fetch_range(url, next_ptr_offset, next_ptr_offset + ptr_size - 1)
    return summary, struct.unpack(f"{byte_order}{ptr_fmt}", next_data)[0]


def read_like_seed(url: str) -> SeedResult:
    """Run the notebook's steps 1, 2 and 4 against ``url``; never raises (a crash is recorded in ``error``)."""
    result = SeedResult()
    try:
        _run(url, result)
    except Exception as exc:  # the notebook had no error handling: record what would have stopped it
        kind = type(exc)
        result.error = (
            kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
        )
    return result


def _run(url: str, result: SeedResult) -> None:
    head = requests.head(url, timeout=15)
    head.raise_for_status()
    if head.headers.get("Accept-Ranges", "none") == "none":
        raise RuntimeError("Server does not support range requests")
    header = _fetch_range(url, 0, 15)
    byte_order = "<" if header[:2] == b"II" else ">"
    bigtiff = struct.unpack(f"{byte_order}H", header[2:4])[0] == 43
    if bigtiff:
        first_ifd_offset = struct.unpack(f"{byte_order}Q", header[8:16])[0]
    else:
        first_ifd_offset = struct.unpack(f"{byte_order}I", header[4:8])[0]

    first_ifd, next_ifd_offset = _read_ifd(url, first_ifd_offset, byte_order, bigtiff=bigtiff)
    result.ifds.append(first_ifd)
    for tag, _dtype, count, value in first_ifd.entries:
        if tag == 305:  # Software
            _fetch_range(url, value, value + min(count, 65536) - 1)

    desc = next(((c, v) for t, _d, c, v in first_ifd.entries if t == 270), None)
    if desc is None:
        raise RuntimeError("No ImageDescription tag found")
    count, value = desc
    ome_xml = _fetch_range(url, value, value + count - 1)
    result.ome_xml_bytes = len(ome_xml)
    ET.fromstring(ome_xml.decode("utf-8", errors="replace").rstrip("\x00"))

    for off in first_ifd.subifd_offsets:
        sub, _ = _read_ifd(url, off, byte_order, bigtiff=bigtiff)
        result.ifds.append(sub)
    ifd_offset = next_ifd_offset
    chain = 0
    while ifd_offset != 0 and chain < 20:
        ifd, ifd_offset = _read_ifd(url, ifd_offset, byte_order, bigtiff=bigtiff)
        result.ifds.append(ifd)
        chain += 1
