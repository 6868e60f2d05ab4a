"""Fewest round trips: the read planner's targets, counted by the source's ledger (and the server's log over HTTP).

The planner's targets are checked on the benchmark's full-size files (`benchmarks/bench_files.py`: 49152 x 65536 px,
32 GiB, sparse): the tifffile layout in <= 4 rounds and <= 38 requests, the raw2ometiff tail layout in <= 3 rounds,
both within 2 x metadata + 256 KiB (metadata: everything that is not pixel data), every IFD and the OME-XML equal to
tifffile's reading of the same file.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import tifffile
from faultserver import FaultServer, sequential_rounds
from gen_tiff import ome_xml, write_tail_layout, write_tifffile_pyramid

from ometiff_helpers.io.http.source import HttpSource
from ometiff_helpers.io.local import FileSource
from ometiff_helpers.tiff.codes import DESCRIPTIVE_TAGS, LARGE_ARRAY_TAGS
from ometiff_helpers.tiff.read import ReadOptions, TiffStructure, load_tag_value, read_tiff

KIB = 1024
REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "ometiff_helpers" / "data" / "demo.ome.tif"
# Pass/fail round counts are the ledger's logical rounds. The server's timestamps confirm them (requests of a round
# overlap, rounds follow each other) under a latency far above what a busy machine adds to starting a request: a round
# of 32 requests starts its threads one after another, which once took more than 0.4 s at load 10 (a late request then
# started after a sibling had ended, and the server saw one round more than there was).
SERVER_LATENCY = 1.0


@pytest.fixture(scope="session")
def pyramid_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 channels, BigTIFF, big-endian, 8192 px base, 512 px tiles, 8 SubIFD levels each, written by tifffile."""
    return write_tifffile_pyramid(tmp_path_factory.mktemp("pyr") / "pyramid.ome.tif")


@pytest.fixture(scope="session")
def tail_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """raw2ometiff-like: pixels, then all SubIFDs, then the 4 channel IFDs, then the OME-XML."""
    return write_tail_layout(tmp_path_factory.mktemp("tail") / "tail.ome.tif")


def metadata_bytes(structure: TiffStructure) -> int:
    """Bytes of every IFD plus every out-of-line value (loaded or not) plus the description."""
    total = 0
    for ifd in structure.all_ifds():
        total += ifd.nbytes + sum(t.nbytes for t in ifd.tags if t.value_offset is not None)
    return total


def test_tail_layout_is_read_by_tifffile(tail_file: Path) -> None:
    with tifffile.TiffFile(tail_file) as tf:
        assert len(tf.pages) == 4
        assert [len(p.subifds or ()) for p in tf.pages] == [3, 3, 3, 3]
        assert tf.pages[0].description.startswith("<?xml")
        first = tf.pages[0].offset
    assert first > tail_file.stat().st_size - 64 * KIB


def test_pyramid_all_36_ifds_in_4_rounds(pyramid_file: Path) -> None:
    with FileSource(pyramid_file) as source:
        structure = read_tiff(source)
        ledger = source.ledger.as_dict()
    assert len(structure.ifds) == 4 and len(structure.all_ifds()) == 36
    assert structure.bigtiff and structure.byteorder == ">"
    assert structure.image_description is not None
    assert structure.image_description.rstrip(b"\x00").decode() == ome_xml(8192, 8192, 4)
    assert [len(i.subifds) for i in structure.ifds] == [8, 8, 8, 8]
    assert [s.width for s in structure.ifds[1].subifds] == [8192 >> k for k in range(1, 9)]
    assert ledger["rounds"] <= 4, ledger
    assert ledger["count"] <= 36 + 2, ledger
    assert ledger["bytes"] <= 2 * metadata_bytes(structure) + 256 * KIB, (ledger, metadata_bytes(structure))


def test_tail_layout_in_3_rounds(tail_file: Path) -> None:
    with FileSource(tail_file) as source:
        structure = read_tiff(source)
        ledger = source.ledger.as_dict()
    assert len(structure.ifds) == 4 and len(structure.all_ifds()) == 16
    assert structure.image_description is not None and b"<OME" in structure.image_description
    assert ledger["rounds"] <= 3, ledger
    assert ledger["bytes"] <= 2 * metadata_bytes(structure) + 256 * KIB, ledger


def test_description_is_streamed_to_the_consumer_in_the_same_rounds(pyramid_file: Path) -> None:
    chunks: list[bytes] = []
    with FileSource(pyramid_file) as source:
        structure = read_tiff(source, description_consumer=chunks.append)
        assert source.ledger.rounds <= 4
    assert structure.image_description is None
    assert b"".join(chunks).rstrip(b"\x00").decode() == ome_xml(8192, 8192, 4)


def test_large_description_at_the_end_is_streamed_not_kept(tmp_path: Path) -> None:
    path = write_tail_layout(tmp_path / "bigxml.ome.tif", base=512, levels=2, xml_pad=3_000_000)
    chunks: list[bytes] = []
    with FileSource(path) as source:
        structure = read_tiff(source, description_consumer=chunks.append)
        ledger = source.ledger.as_dict()
    assert structure.image_description is None
    assert sum(map(len, chunks)) == structure.image_description_length
    assert structure.ifds[0].tag(270).value is None  # type: ignore[union-attr]
    assert ledger["rounds"] <= 4, ledger
    assert ledger["bytes"] <= 3_000_000 + 512 * KIB, ledger


@pytest.mark.parametrize("name", ["pyramid", "tail"])
def test_rounds_over_http_seen_by_the_server(
    name: str, pyramid_file: Path, tail_file: Path, range_server
) -> None:
    path = pyramid_file if name == "pyramid" else tail_file
    server = range_server({"f.ome.tif": path}, latency=SERVER_LATENCY)
    with HttpSource(server.url("f.ome.tif")) as source:
        structure = read_tiff(source)
        ledger = source.ledger.as_dict()
    assert len(structure.all_ifds()) == (36 if name == "pyramid" else 16)
    assert ledger["rounds"] <= (4 if name == "pyramid" else 3), ledger
    assert sequential_rounds(server.log) <= ledger["rounds"]  # the client's rounds are real round trips
    assert len(server.log) == ledger["count"]


def test_plain_bio_formats_file_takes_few_rounds() -> None:
    corpus = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
    path = (
        corpus / "pennsieve-ometiff-processor/4D-series.ome.tiff"
    )  # 35 IFDs between pixel data, XML at the end
    with FileSource(path) as source:
        structure = read_tiff(source)
        ledger = source.ledger.as_dict()
    assert len(structure.ifds) == 35
    assert ledger["rounds"] <= 5, ledger
    assert ledger["count"] <= 35 + 2, ledger


# --- the planner's targets on the benchmark's full-size files --------------------------------------------------------


def _bench_files() -> ModuleType:
    """``benchmarks/bench_files.py`` (a folder of scripts, not a package), imported by path."""
    if "bench_files" not in sys.modules:
        spec = importlib.util.spec_from_file_location("bench_files", REPO / "benchmarks" / "bench_files.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_files"] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules["bench_files"]


@pytest.fixture(scope="session")
def full_size(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The benchmark's 36-IFD files at full size (sparse): 4 channels x (1 + 8 SubIFD levels), big-endian BigTIFF."""
    bench_files = _bench_files()
    folder = tmp_path_factory.mktemp("full")
    files = {}
    for layout in ("scattered", "tail"):
        spec = bench_files.FileSpec(f"{layout}.ome.tif", layout, 49152, 65536, channels=4, levels=8, rois=200)
        files[layout] = bench_files.write_file(spec, folder / spec.name)
    return files


def _comparable(value: Any) -> Any:
    """A tag value from either reader as a flat tuple of ints/floats, or a stripped str."""
    if isinstance(value, str):
        return value.rstrip("\x00").strip()
    if isinstance(value, np.ndarray):
        return tuple(value.ravel().tolist())
    if isinstance(value, tuple | list):
        return tuple(v.item() if isinstance(v, np.generic) else v for v in value)
    return (int(value),)  # tifffile's enums (Compression, Photometric, ...) and plain numbers


def _check_against_tifffile(path: Path, structure: TiffStructure, xml: bytes) -> int:
    """Every IFD (offset, tags in file order, every loaded value) and the OME-XML equal tifffile's; returns
    tifffile's count of the metadata bytes: IFDs plus every out-of-line value (offset arrays and OME-XML too)."""
    with tifffile.TiffFile(path) as tf:
        pages = []
        for page in tf.pages:
            assert isinstance(page, tifffile.TiffPage)
            pages += [page, *(page.pages or ())]
        ours = structure.all_ifds()
        assert [i.offset for i in ours] == [p.offset for p in pages]
        for ifd, page in zip(ours, pages, strict=True):
            assert [(t.code, t.count) for t in ifd.tags] == [(t.code, t.count) for t in page.tags.values()]
            for tag in ifd.tags:
                if tag.value is not None and tag.code != 270:
                    assert _comparable(tag.value) == _comparable(page.tags[tag.code].value), (
                        ifd.path,
                        tag.code,
                    )
                elif tag.code not in (270, *LARGE_ARRAY_TAGS):
                    # left unloaded besides offset arrays and IFD 0's streamed description: a descriptive value
                    # (Software, resolution, ...) of another IFD, which its read did not bring; loaded on demand
                    assert tag.code in DESCRIPTIVE_TAGS and ifd is not structure.ifds[0], (ifd.path, tag.code)
                    with FileSource(path) as source:
                        value = load_tag_value(source, structure, tag)
                    assert _comparable(value) == _comparable(page.tags[tag.code].value), (ifd.path, tag.code)
        desc = tf.pages[0].tags[270]
        tf.filehandle.seek(desc.valueoffset)
        assert xml == tf.filehandle.read(desc.valuebytecount)  # the OME-XML, byte for byte
        count, entry, pointer = (8, 20, 8) if tf.is_bigtiff else (2, 12, 4)
        return sum(
            count
            + entry * len(p.tags)
            + pointer
            + sum(t.valuebytecount for t in p.tags.values() if t.valuebytecount > pointer)
            for p in pages
        )


def _read(path: Path) -> tuple[TiffStructure, bytes, dict[str, Any]]:
    chunks: list[bytes] = []
    with FileSource(path) as source:
        structure = read_tiff(source, description_consumer=chunks.append)
        return structure, b"".join(chunks), source.ledger.as_dict()


def _needed(path: Path) -> int:
    """tifffile's count of the metadata a reader needs: header, IFD entries, out-of-line values except the
    offset and byte-count arrays, the OME-XML."""
    with tifffile.TiffFile(path) as tf:
        pages = []
        for page in tf.pages:
            assert isinstance(page, tifffile.TiffPage)
            pages += [page, *(page.pages or ())]
        count, entry, pointer = (8, 20, 8) if tf.is_bigtiff else (2, 12, 4)
        return (2 * pointer) + sum(
            count
            + entry * len(p.tags)
            + pointer
            + sum(
                t.valuebytecount
                for t in p.tags.values()
                if t.valuebytecount > pointer and t.code not in (273, 279, 324, 325)
            )
            for p in pages
        )


def test_full_size_scattered_file_meets_the_targets(full_size: dict[str, Path]) -> None:
    """tifffile's layout: each channel's SubIFDs array lies after its 144 KiB of tile arrays, IFD 0 holds the XML.

    The arrays are not read: each channel IFD's SubIFDs array is a range of its own, in the same round as the IFD
    (placed where IFD 0 had it): 36 IFD reads + 4 SubIFDs arrays = 40 requests, the fewest single-range requests
    that skip the arrays (reading through one costs 144 KiB)."""
    structure, xml, ledger = _read(full_size["scattered"])
    metadata = _check_against_tifffile(full_size["scattered"], structure, xml)
    assert len(structure.all_ifds()) == 36 and len(xml) > 40 * KIB
    assert [len(i.subifds) for i in structure.ifds] == [8, 8, 8, 8]
    assert ledger["rounds"] <= 3, ledger
    assert ledger["count"] <= 36 + 4, ledger
    assert ledger["bytes"] <= 2 * _needed(full_size["scattered"]) + 64 * KIB, (ledger, metadata)


def _needed_places(path: Path) -> list[tuple[int, int]]:
    """The byte ranges ``_needed`` counts (header, each IFD, its out-of-line values but the offset and byte-count
    arrays), merged where they touch or lie within the 4 KiB coalescing gap: the fewest single-range requests."""
    with tifffile.TiffFile(path) as tf:
        count, entry, pointer = (8, 20, 8) if tf.is_bigtiff else (2, 12, 4)
        spans = [(0, 2 * pointer)]
        for page in tf.pages:
            assert isinstance(page, tifffile.TiffPage)
            for p in (page, *(page.pages or ())):
                spans.append((p.offset, p.offset + count + entry * len(p.tags) + pointer))
                spans += [
                    (t.valueoffset, t.valueoffset + t.valuebytecount)
                    for t in p.tags.values()
                    if t.valuebytecount > pointer and t.code not in (273, 279, 324, 325)
                ]
    places: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if places and start - places[-1][1] <= 4 * KIB:
            places[-1] = (places[-1][0], max(end, places[-1][1]))
        else:
            places.append((start, end))
    return places


def test_fewer_than_40_requests_on_the_scattered_file_would_break_the_byte_target(
    full_size: dict[str, Path],
) -> None:
    """Why the scattered file takes 40 requests and not 38: its needed metadata lies in 40 places (36 IFDs and 4
    SubIFDs arrays, each after its IFD's 144 KiB of tile arrays); one request fewer means reading through the
    smallest gap between two places, and even a reader that read nothing else would then pass 2 x metadata + 64 KiB."""
    path = full_size["scattered"]
    places = _needed_places(path)
    needed = _needed(path)
    assert len(places) == 40 and sum(e - s for s, e in places) == needed
    smallest_gap = min(b[0] - a[1] for a, b in itertools.pairwise(places))
    assert smallest_gap == 144 * KIB  # a channel IFD's TileOffsets + TileByteCounts
    assert needed + smallest_gap > 2 * needed + 64 * KIB  # 39 requests cannot keep to the target
    _, _, ledger = _read(path)
    assert ledger["count"] == len(places)  # the reader already needs no more than one request per place


def test_full_size_tail_file_meets_the_targets(full_size: dict[str, Path]) -> None:
    """raw2ometiff's layout: the 625 KiB from IFD 0 to the end are mostly tile arrays; from a local file (no link to
    measure) not read in one piece (more than ReadOptions.tail_read_bytes): the chain is followed instead, one round
    more, a fifth of the bytes."""
    structure, xml, ledger = _read(full_size["tail"])
    metadata = _check_against_tifffile(full_size["tail"], structure, xml)
    assert len(structure.all_ifds()) == 36 and len(xml) > 40 * KIB
    assert ledger["rounds"] <= 4, ledger
    assert ledger["bytes"] <= 2 * _needed(full_size["tail"]) + 64 * KIB, (ledger, metadata)


def test_tail_read_in_one_piece_when_allowed(full_size: dict[str, Path]) -> None:
    """With a tail_read_bytes above the tail's size, the whole tail is one request and the read takes 3 rounds."""
    with FileSource(full_size["tail"]) as source:
        structure = read_tiff(source, options=ReadOptions(tail_read_bytes=1024 * KIB))
        ledger = source.ledger.as_dict()
    assert len(structure.all_ifds()) == 36
    assert ledger["rounds"] <= 3, ledger


def test_demo_file_in_4_rounds() -> None:
    structure, xml, ledger = _read(DEMO)
    metadata = _check_against_tifffile(DEMO, structure, xml)
    assert len(structure.all_ifds()) == 16
    assert ledger["rounds"] <= 4, ledger
    assert ledger["bytes"] <= 2 * _needed(DEMO) + 64 * KIB, (ledger, metadata)


@pytest.mark.parametrize(
    ("name", "rounds", "requests"), [("scattered", 3, 40), ("tail", 4, 38), ("demo", 4, 38)]
)
def test_full_size_targets_over_http_seen_by_the_server(
    name: str, rounds: int, requests: int, full_size: dict[str, Path], range_server
) -> None:
    server = range_server({"f.ome.tif": DEMO if name == "demo" else full_size[name]}, latency=SERVER_LATENCY)
    with HttpSource(server.url("f.ome.tif")) as source:
        structure = read_tiff(source)
        ledger = source.ledger.as_dict()
    assert len(structure.all_ifds()) == (16 if name == "demo" else 36)
    assert structure.image_description is not None and b"<OME" in structure.image_description
    assert ledger["rounds"] <= rounds, ledger
    assert sequential_rounds(server.log) <= ledger["rounds"]  # the client's rounds are real round trips
    assert len(server.log) == ledger["count"] <= requests


def test_reading_through_the_offset_arrays_is_an_option(full_size: dict[str, Path]) -> None:
    """With read_through_max above a channel IFD's 144 KiB of tile arrays, each channel IFD arrives with its SubIFDs
    array in one request: 3 fewer requests (37), 5 times the bytes; the same IFDs and values."""
    chunks: list[bytes] = []
    options = ReadOptions(read_through_max=1024 * KIB)
    with FileSource(full_size["scattered"]) as source:
        structure = read_tiff(source, options=options, description_consumer=chunks.append)
        ledger = source.ledger.as_dict()
    _check_against_tifffile(full_size["scattered"], structure, b"".join(chunks))
    assert ledger["rounds"] <= 3, ledger
    assert ledger["count"] <= 36 + 1, ledger
    assert ledger["bytes"] > 2 * _needed(full_size["scattered"]) + 64 * KIB, ledger


def test_many_planes_in_at_most_20_rounds(tmp_path: Path) -> None:
    """3 channels x 180 z-planes = 540 chain IFDs 2 MiB apart (classic TIFF, strips): the stride repeats, so each
    round looks twice as far ahead as the last (8, 16, ... 256 IFDs), 64 requests in flight at once.

    Each IFD's resolutions and Software string lie after its 2 KiB of strip arrays: they are IFD 0's only (the
    report names its Software), so every other IFD is one request for its entries, and the bytes stay within
    2 x the needed metadata + 64 KiB (reading through the arrays was 1,585 KiB, 3x the target)."""
    bench_files = _bench_files()
    spec = bench_files.FileSpec("planes.ome.tif", "classic", 1024, 1024, 3, planes=180, byteorder="<")
    path = bench_files.write_file(spec, tmp_path / spec.name)
    structure, xml, ledger = _read(path)
    assert len(structure.ifds) == 540 and [i.offset for i in structure.ifds] == _tifffile_offsets(path)
    assert ledger["rounds"] <= 20, ledger
    assert ledger["count"] <= 540 + 2, ledger
    assert ledger["bytes"] <= 2 * _needed(path) + 64 * KIB, ledger
    software = [ifd.tag(305) for ifd in structure.ifds]
    assert software[0] is not None and software[0].value == "OME Bio-Formats 7.1.0"
    assert all(t is not None and t.value is None for t in software[1:])  # not read: after the strip arrays
    _check_against_tifffile(path, structure, xml)  # every value, those not read loaded on demand


def _tifffile_offsets(path: Path) -> list[int]:
    """The chain IFD offsets, by tifffile."""
    with tifffile.TiffFile(path) as tf:
        return [p.offset for p in tf.pages]


@pytest.mark.parametrize(("rate", "latency", "tail_in_one"), [(0.0, 1.0, True), (1e6, 0.3, False)])
def test_the_tail_is_read_in_one_piece_only_when_the_link_makes_it_cheaper_than_a_round(
    rate: float, latency: float, tail_in_one: bool, full_size: dict[str, Path]
) -> None:
    """The first read times the link: the latency to the headers, then its 64 KiB. Unthrottled (loopback) with 1 s to
    the headers, 625 KiB cost less than a round trip (even if a busy machine stretches the 64 KiB to 0.1 s): one
    request to the end, 3 rounds. At 1 MB/s per connection and 0.3 s they cost 0.6 s, two round trips: the chain is
    followed (4 rounds, 140 KiB)."""
    with (
        FaultServer({"t.tif": full_size["tail"]}, latency=latency, rate=rate) as server,
        HttpSource(server.url("t.tif")) as source,
    ):
        structure = read_tiff(source)
        ledger = source.ledger.as_dict()
        whole_tail = any(r.end == structure.size and r.nbytes > 600 * KIB for r in source.ledger.records)
    assert len(structure.all_ifds()) == 36
    assert whole_tail == tail_in_one, ledger
    assert ledger["rounds"] == (3 if tail_in_one else 4), ledger
