"""Hostile TIFF structures (bad-inputs.md T1-T21), struct-built: exact exception or finding, plain words, bounded
bytes, requests and time, never a raw struct.error / IndexError / KeyError / RecursionError."""

from __future__ import annotations

import random
import struct
import time

import pytest
from gen_tiff import Entry, TiffBuilder, image_entries

from ometiff_helpers.errors import CorruptTiff, IFDLoop, LimitExceeded, NotATiff, OmeTiffError
from ometiff_helpers.io.local import BytesSource
from ometiff_helpers.tiff.codes import FieldType
from ometiff_helpers.tiff.read import ReadOptions, TiffStructure, read_tiff


def read(data: bytes, **options: object) -> tuple[TiffStructure, BytesSource]:
    source = BytesSource(data, name="hostile.tif")
    structure = read_tiff(source, options=ReadOptions(**options))  # type: ignore[arg-type]
    return structure, source


def codes(structure: TiffStructure) -> set[str]:
    return {f.code for f in structure.findings}


def simple(bigtiff: bool = False, order: str = "<", **kw: object) -> tuple[TiffBuilder, int, dict]:
    b = TiffBuilder(bigtiff, order)
    data = b.zeros(512)
    off, where = b.ifd(image_entries(bigtiff, 16, 16, data_offsets=[data], nbytes_each=512, bits=16, **kw))
    b.set_first_ifd(off)
    return b, off, where


# --- header: T1-T4, T20 ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"II*", b"II*\x00\x08"])
def test_t1_too_short(data: bytes) -> None:
    with pytest.raises(NotATiff, match="too short") as info:
        read(data)
    assert f"{len(data)} bytes" in str(info.value) or "empty" in str(info.value)


def test_t1_truncated_bigtiff_header() -> None:
    with pytest.raises(NotATiff, match="BigTIFF header needs 16"):
        read(b"II+\x00\x08\x00\x00\x00\x10\x00")


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"<!DOCTYPE html><html><body>Please log in</body></html>", "html"),
        (b'  <?xml version="1.0"?><Error>AccessDenied</Error>', "xml"),
        (b'{"error": "token expired"}', "json"),
        (b"\x89PNG\r\n\x1a\n" + bytes(40), "png"),
        (b"\xff\xd8\xff\xe0" + bytes(40), "jpeg"),
        (b"PK\x03\x04" + bytes(40), "zip"),
        (b"\x1f\x8b\x08\x00" + bytes(40), "gzip"),
        (b"%PDF-1.7" + bytes(40), "pdf"),
        (b"hello, this is a plain text file", "text"),
    ],
)
def test_t2_not_a_tiff_is_sniffed(data: bytes, kind: str) -> None:
    with pytest.raises(NotATiff) as info:
        read(data)
    assert info.value.kind == kind
    assert data[:8].hex(" ") in str(info.value)  # hex preview of the first 8 bytes


def test_t2_bad_magic() -> None:
    with pytest.raises(NotATiff, match=r"version 42 or 43 \(found 44\)"):
        read(b"II" + struct.pack("<HI", 44, 8) + bytes(32))


@pytest.mark.parametrize(("offsize", "reserved"), [(4, 0), (8, 1)])
def test_t3_bad_bigtiff_header(offsize: int, reserved: int) -> None:
    with pytest.raises(CorruptTiff, match="bad BigTIFF header"):
        read(b"II" + struct.pack("<HHHQ", 43, offsize, reserved, 16) + bytes(32))


@pytest.mark.parametrize(
    ("first", "words"), [(0, "offset is 0"), (4, "inside the 8-byte header"), (10**9, "beyond end of file")]
)
def test_t4_bad_first_ifd_offset(first: int, words: str) -> None:
    b, _, _ = simple()
    b.set_first_ifd(first)
    with pytest.raises(CorruptTiff, match=words) as info:
        read(b.bytes())
    assert info.value.offset == 4


def test_t4_odd_first_ifd_offset_is_only_a_finding() -> None:
    b = TiffBuilder()
    b.append(b"\x00")  # pad to an odd position without alignment
    b.buf += b"\x00"
    off = len(b.buf)
    b.buf += bytes(0)
    fmt = b.fmt
    ifd = struct.pack("<H", 2) + fmt.entry_struct.pack(256, 4, 1) + struct.pack("<I", 5)
    ifd += fmt.entry_struct.pack(257, 4, 1) + struct.pack("<I", 7) + struct.pack("<I", 0)
    if off % 2 == 0:
        b.buf += b"\x00"
        off += 1
    b.buf += ifd
    b.set_first_ifd(off)
    structure, _ = read(b.bytes())
    assert "IFD_OFFSET_ODD" in codes(structure)
    assert (structure.ifds[0].width, structure.ifds[0].height) == (5, 7)


def test_t20_bigtiff_offset_at_or_above_2_63() -> None:
    data = b"II" + struct.pack("<HHHQ", 43, 8, 0, 2**63 + 16) + bytes(64)
    with pytest.raises(CorruptTiff, match=r"2\^63"):
        read(data)


# --- entries: T5-T12 -----------------------------------------------------------------------------------------------


def test_t5_zero_entries_is_a_finding() -> None:
    b = TiffBuilder()
    off = b.append(struct.pack("<HI", 0, 0))
    b.set_first_ifd(off)
    structure, _ = read(b.bytes())
    assert "IFD_EMPTY" in codes(structure)
    assert structure.ifds[0].tags == ()
    assert structure.image_description is None


@pytest.mark.parametrize(("bigtiff", "count"), [(False, 65535), (False, 5000), (True, 2**63)])
def test_t6_too_many_tags_raises_before_reading_them(bigtiff: bool, count: int) -> None:
    b = TiffBuilder(bigtiff)
    fmt = b.fmt
    off = b.append(struct.pack("<" + fmt.count_char, count) + bytes(64))
    b.set_first_ifd(off)
    with pytest.raises(LimitExceeded, match="tags per IFD") as info:
        read(b.bytes())
    assert (info.value.value, info.value.limit) == (count, 4096)
    assert f"offset {off}" in str(info.value)


def test_t6_too_many_tags_in_a_later_ifd_is_a_finding() -> None:
    b, _off, where = simple()
    bad = b.append(struct.pack("<H", 5000) + bytes(16))
    b.patch_offset(where["next"], bad)
    structure, source = read(b.bytes())
    assert "IFD_TOO_MANY_TAGS" in codes(structure)
    assert len(structure.ifds) == 1
    assert source.ledger.bytes <= len(b.bytes())


def test_t7_ifd_runs_past_eof() -> None:
    b = TiffBuilder()
    off = b.append(struct.pack("<H", 10) + bytes(30))  # 10 entries need 126 bytes
    b.set_first_ifd(off)
    with pytest.raises(CorruptTiff, match=r"IFD 0 at offset 8 truncated") as info:
        read(b.bytes())
    assert info.value.offset == 8


@pytest.mark.parametrize("bad_type", [0, 14, 15, 19, 255])
def test_t8_unknown_type_is_skipped_with_a_finding(bad_type: int) -> None:
    b, _, _ = simple(description="<OME/>")
    entries = [
        *image_entries(False, 16, 16, data_offsets=[8], nbytes_each=8),
        Entry(40000, bad_type, b"", 3, 77),
    ]
    off, _ = b.ifd(entries)
    b.set_first_ifd(off)
    structure, _ = read(b.bytes())
    assert "TAG_UNKNOWN_TYPE" in codes(structure)
    tag = structure.ifds[0].tag(40000)
    assert tag is not None and tag.value is None and tag.count == 3 and tag.type == bad_type
    assert structure.ifds[0].width == 16


def test_t8_unknown_type_on_the_description_raises() -> None:
    b = TiffBuilder()
    off, _ = b.ifd([Entry(256, FieldType.LONG, 16), Entry(270, 19, b"", 100, 8)])
    b.set_first_ifd(off)
    with pytest.raises(CorruptTiff, match="ImageDescription has invalid type 19"):
        read(b.bytes())


@pytest.mark.parametrize(("bigtiff", "count"), [(False, 0xFFFFFFFF), (True, 2**64 - 1), (False, 10_000)])
def test_t9_description_count_past_eof(bigtiff: bool, count: int) -> None:
    b = TiffBuilder(bigtiff)
    off, _ = b.ifd([Entry(256, FieldType.LONG, 16), Entry(270, FieldType.ASCII, b"", count, 64)])
    b.set_first_ifd(off)
    with pytest.raises(CorruptTiff, match="past the end of the file") as info:
        read(b.bytes())
    assert f"{count:,} bytes" in str(info.value)


def test_t9_description_over_the_limit_is_refused_before_download() -> None:
    b = TiffBuilder()
    xml = b"<OME>" + b"x" * 200_000 + b"</OME>\x00"
    off, _ = b.ifd([Entry(256, FieldType.LONG, 16), Entry(270, FieldType.ASCII, xml)], values_after=True)
    b.set_first_ifd(off)
    with pytest.raises(LimitExceeded, match="ImageDescription") as info:
        read(b.bytes(), max_description_bytes=100_000, first_read=1024)
    assert info.value.limit == 100_000
    assert info.value.value == len(xml)


@pytest.mark.parametrize("voff", [0, 4])
def test_t10_description_offset_in_header(voff: int) -> None:
    b = TiffBuilder()
    off, _ = b.ifd([Entry(256, FieldType.LONG, 16), Entry(270, FieldType.ASCII, b"", 40, voff)])
    b.set_first_ifd(off)
    with pytest.raises(CorruptTiff, match="inside the 8-byte header"):
        read(b.bytes())


@pytest.mark.parametrize("bigtiff", [False, True])
def test_t11_inline_description(bigtiff: bool) -> None:
    b = TiffBuilder(bigtiff)
    off, _ = b.ifd([Entry(256, FieldType.LONG, 16), Entry(270, FieldType.ASCII, "OME")])
    b.set_first_ifd(off)
    structure, _ = read(b.bytes())
    assert structure.image_description == b"OME\x00"
    tag = structure.ifds[0].tag(270)
    assert tag is not None and tag.value == "OME" and tag.value_offset is None


def test_t12_duplicate_and_unsorted_tags() -> None:
    b = TiffBuilder()
    off, _ = b.ifd(
        [
            Entry(257, FieldType.LONG, 9),
            Entry(256, FieldType.LONG, 16),
            Entry(270, FieldType.ASCII, "<OME first='1'/>"),
            Entry(270, FieldType.ASCII, "<OME second='2'/>"),
            Entry(270, FieldType.ASCII, "<OME third='3'/>"),
        ]
    )
    b.set_first_ifd(off)
    structure, _ = read(b.bytes())
    assert {"TAG_DUPLICATE", "TAGS_UNSORTED"} <= codes(structure)
    assert structure.image_description == b"<OME first='1'/>\x00"
    assert structure.ifds[0].tag(270).value == "<OME first='1'/>"  # type: ignore[union-attr]
    assert len(structure.ifds[0].tags) == 5  # every entry is kept


# --- chains and SubIFDs: T13-T18 -----------------------------------------------------------------------------------


def chain(n: int, loop_to: int | None = None, bigtiff: bool = False) -> tuple[bytes, list[int]]:
    b = TiffBuilder(bigtiff)
    offs, wheres = [], []
    for i in range(n):
        off, where = b.ifd([Entry(256, FieldType.LONG, i + 1), Entry(257, FieldType.LONG, 4)])
        b.zeros(100 + 10 * (i % 3))  # irregular strides
        offs.append(off)
        wheres.append(where)
    for i in range(n - 1):
        b.patch_offset(wheres[i]["next"], offs[i + 1])
    if loop_to is not None:
        b.patch_offset(wheres[-1]["next"], offs[loop_to])
    b.set_first_ifd(offs[0])
    return b.bytes(), offs


def test_t13_ifd0_points_to_itself() -> None:
    data, _ = chain(1, loop_to=0)
    structure, _ = read(data)
    assert len(structure.ifds) == 1
    (f,) = [f for f in structure.findings if f.code == "IFD_LOOP"]
    assert "offset 8" in f.message and "points back" in f.message
    with pytest.raises(IFDLoop) as info:
        read(data, strict=True)
    assert info.value.offset == 8


def test_t14_cycle_a_b_a() -> None:
    data, offs = chain(2, loop_to=0)
    structure, _ = read(data)
    assert [i.offset for i in structure.ifds] == offs
    assert "IFD_LOOP" in codes(structure)


@pytest.mark.parametrize("bigtiff", [False, True])
def test_t14_cycle_after_120_ifds_is_fast_and_bounded(bigtiff: bool) -> None:
    data, _offs = chain(130, loop_to=120, bigtiff=bigtiff)
    t0 = time.thread_time()
    structure, source = read(data, first_read=512)
    assert time.thread_time() - t0 < 2.0  # CPU time of this thread: a busy machine does not stretch it
    assert len(structure.ifds) == 130
    assert [f.where for f in structure.findings if f.code == "IFD_LOOP"] == ["IFD 129"]
    assert source.ledger.bytes <= 2 * len(data) + 64 * 1024
    assert source.ledger.rounds <= 12


def test_t15_long_chain_stops_at_max_ifds() -> None:
    data, offs = chain(60)
    with pytest.raises(LimitExceeded, match=r"offsets\.json") as info:
        read(data, max_ifds=50)
    assert (info.value.name, info.value.limit) == ("ifds", 50)
    assert f"{offs[50]:,}" in str(info.value)


def test_t15_request_budget_stops_the_walk() -> None:
    data, _ = chain(60)
    with pytest.raises(LimitExceeded) as info:
        read(data, max_requests=3, first_read=256, stride_lookahead=0)
    assert "offsets.json" in str(info.value)


def pyramid_with_subifds(
    subifds: list[int] | None = None, *, self_pointer: bool = False
) -> tuple[TiffBuilder, int]:
    b = TiffBuilder()
    sub, _ = b.ifd([Entry(254, FieldType.LONG, 1), Entry(256, FieldType.LONG, 8)])
    entries = [Entry(256, FieldType.LONG, 16), Entry(330, FieldType.IFD, subifds or [sub])]
    off, where = b.ifd(entries)
    b.set_first_ifd(off)
    if self_pointer:
        b.patch_offset(where[330], off)  # count 1: inline slot
    return b, off


def test_t16_subifd_points_to_its_parent() -> None:
    b, off = pyramid_with_subifds(self_pointer=True)
    structure, _ = read(b.bytes())
    assert structure.ifds[0].subifds == ()
    (f,) = [f for f in structure.findings if f.code == "IFD_LOOP"]
    assert f"offset {off}" in f.message


def test_t16_subifds_pointing_to_each_other_and_too_deep() -> None:
    b = TiffBuilder()
    leaf, _ = b.ifd([Entry(256, FieldType.LONG, 2)])
    mid2, _ = b.ifd([Entry(256, FieldType.LONG, 4), Entry(330, FieldType.IFD, leaf)])
    mid1, _ = b.ifd([Entry(256, FieldType.LONG, 8), Entry(330, FieldType.IFD, mid2)])
    top, _ = b.ifd([Entry(256, FieldType.LONG, 16), Entry(330, FieldType.IFD, [mid1, mid1])])
    b.set_first_ifd(top)
    structure, _ = read(b.bytes())
    assert [i.path for i in structure.all_ifds()] == [
        "IFD 0",
        "IFD 0 / SubIFD 0",
        "IFD 0 / SubIFD 0 / SubIFD 0",
    ]
    assert {"IFD_LOOP", "SUBIFD_DEPTH"} <= codes(structure)


def test_t17_huge_subifd_count() -> None:
    b = TiffBuilder()
    off, _ = b.ifd([Entry(256, FieldType.LONG, 16), Entry(330, FieldType.IFD, b"", 10**9, 8)])
    b.set_first_ifd(off)
    structure, source = read(b.bytes())
    assert "TAG_PAST_EOF" in codes(structure)
    assert source.ledger.count == 1
    b2 = TiffBuilder()
    subs = b2.append(bytes(4 * 3000))
    off2, _ = b2.ifd([Entry(256, FieldType.LONG, 16), Entry(330, FieldType.IFD, b"", 3000, subs)])
    b2.set_first_ifd(off2)
    with pytest.raises(LimitExceeded, match="3,000 SubIFDs"):
        read(b2.bytes(), max_subifds=1000)


def test_t18_next_pointer_inside_the_ifd_and_misaligned() -> None:
    b, off, where = simple()
    b.patch_offset(where["next"], off + 6)
    structure, _ = read(b.bytes())
    assert "IFD_OFFSET_BAD" in codes(structure)
    assert len(structure.ifds) == 1
    b2, _off2, where2 = simple()
    second = b2.append(b"\x00")  # the next IFD at an odd offset
    b2.buf += b""
    odd_ifd = struct.pack("<H", 1) + b2.fmt.entry_struct.pack(256, 4, 1) + struct.pack("<II", 3, 0)
    b2.buf[second + 1 :] = odd_ifd
    b2.patch_offset(where2["next"], second + 1)
    structure2, _ = read(b2.bytes())
    assert [i.width for i in structure2.ifds] == [16, 3]
    assert "IFD_OFFSET_ODD" in codes(structure2)


def test_t19_huge_tile_offsets_are_not_fetched() -> None:
    b = TiffBuilder()
    arrays = b.zeros(4 * 200_000)
    entries = [
        Entry(256, FieldType.LONG, 16),
        Entry(257, FieldType.LONG, 16),
        Entry(322, FieldType.SHORT, 16),
        Entry(323, FieldType.SHORT, 16),
        Entry(324, FieldType.LONG, b"", 200_000, arrays),
    ]
    off, _ = b.ifd(entries)
    b.set_first_ifd(off)
    structure, source = read(b.bytes(), first_read=1024, tail_read_max=0)
    tag = structure.ifds[0].tag(324)
    assert tag is not None and tag.value is None and tag.nbytes == 800_000 and tag.value_offset == arrays
    assert source.ledger.bytes < 16_000
    assert structure.ifds[0].offsets_count == 200_000 and structure.ifds[0].tile_count == 1


# --- T21: byte order, and a fuzz over both orders --------------------------------------------------------------------


def test_t21_same_file_in_both_byte_orders_reads_the_same() -> None:
    results = []
    for order in ("<", ">"):
        b, _, _ = simple(False, order, description="<OME/>")
        structure, _ = read(b.bytes())
        results.append([(t.code, t.type, t.count, t.value) for t in structure.ifds[0].tags])
    assert results[0] == results[1]


@pytest.mark.parametrize(("bigtiff", "order"), [(False, "<"), (False, ">"), (True, "<"), (True, ">")])
def test_t21_fuzz_never_leaks_a_raw_exception(bigtiff: bool, order: str) -> None:
    b, off, _ = simple(bigtiff, order, description="<OME>" + "x" * 100 + "</OME>")
    base = bytearray(b.bytes())
    rng = random.Random(1234 + bigtiff * 2 + (order == ">"))
    t0 = time.thread_time()
    for _ in range(300):
        data = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            pos = (
                rng.randrange(len(data))
                if rng.random() < 0.5
                else rng.randrange(off, min(len(data), off + 200))
            )
            data[pos] = rng.randrange(256)
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        try:
            structure, source = read(bytes(data), max_requests=200)
        except OmeTiffError:
            continue
        assert source.ledger.bytes <= 64 * 1024 + 200 * len(data)
        assert structure.ifds
    assert time.thread_time() - t0 < 20  # CPU time of this thread: a busy machine does not stretch it
