"""Fewest round trips: the read planner's targets, counted by the source's ledger (and the server's log over HTTP)."""

from __future__ import annotations

from pathlib import Path

import pytest
import tifffile
from gen_tiff import ome_xml, write_tail_layout, write_tifffile_pyramid

from ometiff_helpers.server import sequential_rounds
from ometiff_helpers.source import FileSource, HttpSource
from ometiff_helpers.tiff import TiffStructure, read_tiff

KIB = 1024


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
    server = range_server({"f.ome.tif": path}, latency=0.1)
    with HttpSource(server.url("f.ome.tif")) as source:
        structure = read_tiff(source)
        ledger = source.ledger.as_dict()
    assert len(structure.all_ifds()) == (36 if name == "pyramid" else 16)
    assert sequential_rounds(server.log) <= (4 if name == "pyramid" else 3)
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
