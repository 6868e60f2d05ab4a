"""Bounded work and bounded findings whatever the file: SubIFD pointers into a block of garbage words, findings merged
over one kind of object, a cap on distinct findings, a budget on the entries of one read.

The files are small and generated here (struct-level); the command line runs in a subprocess whose peak memory is
read from its own rusage. Wall-clock bounds are wide: they only show "bounded" (before the fix the 2,000-SubIFD file
ran past 150 s and 1.5 GB).
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ometiff_helpers.errors import LimitExceeded
from ometiff_helpers.findings import FindingLog, Severity
from ometiff_helpers.io.local import BytesSource
from ometiff_helpers.tiff.model import ReadOptions
from ometiff_helpers.tiff.read import read_tiff

OME = (
    b'<?xml version="1.0"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0">'
    b'<Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint8" SizeX="8" SizeY="8" SizeZ="1" SizeC="1" SizeT="1">'
    b'<Channel ID="Channel:0:0" Name="c"/><TiffData/></Pixels></Image></OME>\x00'
)


def subifd_flood(
    n: int, word: bytes = b"\xff\x0f", *, stride: int = 2, entry_bytes: int = 4095 * 12, ome: bytes = OME
) -> bytes:
    """A classic little-endian OME-TIFF whose IFD 0 lists ``n`` SubIFDs, ``stride`` bytes apart, pointing into a
    block filled with ``word`` repeated (0x0FFF: each SubIFD reads as 4,095 entries of unknown type 0x0FFF)."""
    nent = 8
    ifd0 = 8
    desc_off = ifd0 + 2 + nent * 12 + 4
    arr_off = desc_off + len(ome) + len(ome) % 2
    block = arr_off + 4 * n
    block_len = stride * n + entry_bytes + 16
    block_len += (-block_len) % len(word)
    pix = block + block_len
    entries = [
        (256, 4, 1, 8),
        (257, 4, 1, 8),
        (258, 3, 1, 8),
        (262, 3, 1, 1),
        (270, 2, len(ome), desc_off),
        (273, 4, 1, pix),
        (279, 4, 1, 64),
        (330, 13, n, arr_off),
    ]
    out = bytearray(b"II" + struct.pack("<HI", 42, ifd0) + struct.pack("<H", nent))
    for code, typ, count, value in entries:
        out += struct.pack("<HHI", code, typ, count)
        out += struct.pack("<HH", value, 0) if typ == 3 else struct.pack("<I", value)
    out += struct.pack("<I", 0) + ome + b"\x00" * (len(ome) % 2)
    out += struct.pack(f"<{n}I", *[block + stride * k for k in range(n)])
    out += word * (block_len // len(word))
    out += bytes(64)
    return bytes(out)


#: runs the command line, then writes the process's own peak resident memory (VmHWM, KiB) to the file argv[1]
#: (a child's rusage would report the larger pytest process it was forked from)
_RUNNER = """
import re, runpy, sys
hwm_file = sys.argv.pop(1)
try:
    runpy.run_module("ometiff_helpers", run_name="__main__", alter_sys=True)
finally:
    status = open("/proc/self/status").read()
    open(hwm_file, "w").write(re.search(r"VmHWM:\\s*(\\d+)", status).group(1))
"""


def run_cli(path: Path) -> tuple[int, str, str, float, int]:
    """``python -m ometiff_helpers PATH --json --no-probes``: exit code, stdout, stderr, seconds, peak RSS (KiB)."""
    hwm = path.with_suffix(".hwm")
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(hwm), str(path), "--json", "--no-probes"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    seconds = time.monotonic() - t0
    return done.returncode, done.stdout, done.stderr, seconds, int(hwm.read_text())


def test_2000_subifds_into_garbage_words_are_one_finding_and_bounded(tmp_path: Path) -> None:
    path = tmp_path / "flood.ome.tif"
    path.write_bytes(subifd_flood(2000))
    assert len(path.read_bytes()) < 64 * 1024
    code, out, err, seconds, peak_kib = run_cli(path)
    assert code == 0, err
    assert seconds < 20  # bounded; was > 150 s
    assert peak_kib < 150 * 1024
    assert len(out) < 300 * 1024
    report = json.loads(out)
    findings = report["findings"]
    assert len(findings) < 20
    (garbage,) = [f for f in findings if f["code"] == "IFD_GARBAGE"]
    assert garbage["message"].startswith(
        "2,000 pointers to data that is not an image directory in 2,000 SubIFDs"
    )
    assert "4,095 of its 4,095 entries" in garbage["message"]
    assert report["ifds"][0]["subifds"] == []


def test_unknown_types_in_many_subifds_merge_into_one_finding() -> None:
    """Each SubIFD is a real 5-entry directory of which 2 entries have an unknown type (so it is still read)."""
    types = (3, 0x0FFF, 4, 4, 0x0FFF)
    ifd = struct.pack("<H", 5) + b"".join(struct.pack("<HHII", 20 + i, t, 1, 0) for i, t in enumerate(types))
    ifd += struct.pack("<I", 0)
    n = 300
    data = subifd_flood(n, ifd, stride=len(ifd), entry_bytes=0)
    structure = read_tiff(BytesSource(data))
    unknown = [f for f in structure.findings if f.code == "TAG_UNKNOWN_TYPE"]
    assert len(unknown) == 1
    assert unknown[0].message.startswith(f"{n * 2:,} entries of unknown field type in {n:,} SubIFDs")
    assert len(structure.findings) < 10
    assert len(structure.ifds[0].subifds) == n


def test_entries_budget_stops_a_flood_of_valid_looking_entries() -> None:
    """Each SubIFD reads as 4,095 entries of type BYTE: 2,000 of them would be 8 million entries."""
    # at +0 the count 4,095; from +2 on, 12-byte entries: code 7, type 1 (BYTE), count 1
    pattern = struct.pack("<HHHIH", 0x0FFF, 7, 1, 1, 0)
    data = subifd_flood(2000, pattern, stride=12)
    t0 = time.monotonic()
    with pytest.raises(LimitExceeded, match=r"the limit is 200,000") as info:
        read_tiff(BytesSource(data))
    assert time.monotonic() - t0 < 20  # bounded
    assert info.value.name == "entries"
    assert "max_entries" in info.value.hint
    fits = read_tiff(BytesSource(subifd_flood(40, pattern, stride=12)))  # 163,800 entries: within the budget
    assert len(fits.ifds[0].subifds) == 40
    as_dict = fits.to_dict()  # the JSON lists some of them, 128 tags each, and counts the rest
    listed = as_dict["ifds"][0]["subifds"]
    assert listed[0]["tags_omitted"] == 4095 - 128 and len(listed[0]["tags"]) == 128
    assert len(listed) + as_dict["ifds"][0]["subifds_omitted"] == 40
    assert len(json.dumps(as_dict)) < 120_000
    (dup,) = [f for f in fits.findings if f.code == "TAG_DUPLICATE"]
    assert "(39 more like this) in 40 SubIFDs" in dup.message
    with pytest.raises(LimitExceeded):
        read_tiff(BytesSource(subifd_flood(40, pattern, stride=12)), options=ReadOptions(max_entries=100_000))


def test_finding_log_caps_distinct_findings_and_says_how_many_more() -> None:
    log = FindingLog(max_findings=10)
    for i in range(1000):
        log.add("A", Severity.WARNING, f"problem {i}")
    for i in range(5):
        log.add("B", Severity.INFO, "same", where=f"IFD {i}", key="IFD", scope="IFD")
    out = log.findings()
    assert len(out) == 11
    assert out[-1].code == "FINDINGS_TRUNCATED"
    assert out[-1].message.startswith("and 995 more findings not listed")
    assert "A x 990" in out[-1].message and "B x 5" in out[-1].message


def test_finding_log_merges_one_code_over_objects() -> None:
    log = FindingLog()
    for i in range(2000):
        log.add(
            "X",
            Severity.WARNING,
            f"IFD 0 / SubIFD {i} has 3 bad entries.",
            where=f"IFD 0 / SubIFD {i}",
            key="SubIFD",
            count=3,
            plural="bad entries",
            scope="SubIFD",
        )
    log.add("Y", Severity.INFO, "once", where="IFD 1")
    log.add("Y", Severity.INFO, "twice", where="IFD 2", key="IFD", scope="IFD")
    log.add("Y", Severity.INFO, "thrice", where="IFD 3", key="IFD", scope="IFD")
    x, y1, y2 = log.findings()
    assert x.message == (
        "6,000 bad entries in 2,000 SubIFDs, first at IFD 0 / SubIFD 0: IFD 0 / SubIFD 0 has 3 bad entries."
    )
    assert y1.message == "once"
    assert y2.message == "twice (1 more like this) in 2 IFDs: IFD 2, IFD 3"


def test_json_of_20000_channels_stays_small(tmp_path: Path) -> None:
    channels = b"".join(b'<Channel ID="Channel:0:%d" Name="c%d"/>' % (i, i) for i in range(20_000))
    ome = OME.replace(b'<Channel ID="Channel:0:0" Name="c"/>', channels).replace(
        b'SizeC="1"', b'SizeC="20000"'
    )
    path = tmp_path / "channels.ome.tif"
    path.write_bytes(subifd_flood(1, ome=ome))
    code, out, err, _seconds, _peak = run_cli(path)
    assert code == 0, err
    assert len(out) < 300 * 1024
    report = json.loads(out)
    assert len(report["ome"]["channels"]) == 1024
    assert report["ome"]["channels_omitted"] == 20_000 - 1024


def test_next_ifd_pointer_into_garbage_words_is_skipped_with_one_finding() -> None:
    data = bytearray(subifd_flood(1))
    (sub,) = struct.unpack_from("<I", data, struct.unpack_from("<I", data, 8 + 2 + 7 * 12 + 8)[0])
    struct.pack_into("<I", data, 8 + 2 + 8 * 12, sub + 2)  # IFD 0's next pointer: 2 bytes into the garbage
    structure = read_tiff(BytesSource(bytes(data)))
    assert len(structure.ifds) == 1 and not structure.ifds[0].subifds
    garbage = [f for f in structure.findings if f.code == "IFD_GARBAGE"]
    assert [f.where for f in garbage] == ["IFD 0 / SubIFD 0", "IFD 1"]  # one per kind of directory
    assert "4,095 of its 4,095 entries have no valid field type" in garbage[1].message


def test_value_budget_stops_loading_thousands_of_large_values() -> None:
    """20 SubIFDs of 300 SHORT x 2,000 values each (all at one offset): 12 million items; 4 million are loaded."""
    ifd = struct.pack("<H", 300) + b"".join(struct.pack("<HHII", 1000 + i, 3, 2000, 16) for i in range(300))
    ifd += struct.pack("<I", 0)
    data = subifd_flood(20, ifd, stride=len(ifd), entry_bytes=0)
    structure = read_tiff(BytesSource(data))
    loaded = sum(len(t.value) for sub in structure.ifds[0].subifds for t in sub.tags if t.value is not None)
    assert loaded <= 4_000_000
    (skipped,) = [f for f in structure.findings if f.code == "VALUES_NOT_LOADED"]
    assert "tag values not loaded (value budget spent) in " in skipped.message
    assert len(structure.ifds[0].subifds) == 20
    everything = read_tiff(BytesSource(data), options=ReadOptions(max_value_items=20_000_000))
    assert not [f for f in everything.findings if f.code == "VALUES_NOT_LOADED"]


def chain_flood(n: int) -> bytes:
    """``subifd_flood(1)`` whose IFD 0 is followed by a chain of ``n`` one-entry IFDs (18 bytes each)."""
    data = bytearray(subifd_flood(1))
    first = len(data)
    for k in range(n):
        nxt = first + (k + 1) * 18 if k + 1 < n else 0
        data += struct.pack("<HHHII", 1, 256, 4, 1, 8) + struct.pack("<I", nxt)
    struct.pack_into("<I", data, 8 + 2 + 8 * 12, first)  # IFD 0's next pointer
    return bytes(data)


def test_a_long_chain_of_tiny_ifds_is_read_in_linear_time() -> None:
    """Each chain IFD parsed used to walk every IFD read so far (quadratic: minutes for 20,000)."""
    t0 = time.monotonic()
    structure = read_tiff(BytesSource(chain_flood(20_000)), options=ReadOptions(max_ifds=25_000))
    assert time.monotonic() - t0 < 20  # bounded; was over a minute
    assert len(structure.ifds) == 20_001
    assert len(json.dumps(structure.to_dict())) < 150_000
    assert structure.to_dict()["ifds_omitted"] > 19_000
    with pytest.raises(LimitExceeded, match="max_ifds"):
        read_tiff(BytesSource(chain_flood(12_000)))


def test_duplicate_subifds_tags_are_not_loaded() -> None:
    """20 SubIFDs of 300 SubIFDs tags each (1,000 pointers): only the first of each IFD is read."""
    ifd = struct.pack("<H", 300) + b"".join(struct.pack("<HHII", 330, 4, 1000, 16) for _ in range(300))
    ifd += struct.pack("<I", 0)
    structure = read_tiff(BytesSource(subifd_flood(20, ifd, stride=len(ifd), entry_bytes=0)))
    subs = structure.ifds[0].subifds
    assert len(subs) == 20
    for sub in subs:
        first, *dups = [t for t in sub.tags if t.code == 330]
        assert first.value is not None and len(first.value) == 1000
        assert len(dups) == 299 and all(t.value is None for t in dups)
    (dup,) = [f for f in structure.findings if f.code == "TAG_DUPLICATE"]
    assert "(19 more like this) in 20 SubIFDs" in dup.message


def test_finding_log_counts_each_place_once() -> None:
    log = FindingLog()
    for i in range(10):
        for _ in range(3):  # three findings on each of ten IFDs
            log.add(
                "Z",
                Severity.WARNING,
                "bad value",
                where=f"IFD {i}",
                key="IFD",
                plural="bad values",
                scope="IFD",
            )
    (z,) = log.findings()
    assert z.message == "30 bad values in 10 IFDs, first at IFD 0: bad value"
