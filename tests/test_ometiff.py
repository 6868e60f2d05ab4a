"""The TIFF x OME join: one plane index, a plane mapping whose cost does not grow with the plane count, descriptions
in any declared encoding, and a pipeline that fails loudly when a check module cannot be imported."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from gen_tiff import Entry, TiffBuilder, image_entries

from ometiff_helpers import ometiff
from ometiff_helpers.display import tables
from ometiff_helpers.display.explore import model as explore_model
from ometiff_helpers.ome.parser import parse_ome_xml
from ometiff_helpers.report import Report, inspect
from ometiff_helpers.tiff.codes import FieldType

NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"
ROOT = Path(__file__).resolve().parents[1]


def ome_text(sizes: str = 'SizeZ="1" SizeC="1" SizeT="1"', order: str = "XYZCT", body: str = "<TiffData/>",
             channel: str = "c0", decl: str = "") -> str:  # fmt: skip
    """A one-Image OME-XML with the given sizes, DimensionOrder, TiffData and channel name."""
    return (
        f'{decl}<OME xmlns="{NS}"><Image ID="Image:0"><Pixels ID="Pixels:0" Type="uint8" SizeX="2" SizeY="2" '
        f'{sizes} DimensionOrder="{order}"><Channel ID="Channel:0:0" Name="{channel}" SamplesPerPixel="1"/>'
        f"{body}</Pixels></Image></OME>"
    )


def one_ifd_tiff(path: Path, description: bytes) -> Path:
    """A 2x2 uint8 TIFF whose IFD 0 ImageDescription is ``description`` plus the ASCII tag's NUL byte."""
    b = TiffBuilder()
    entries = [
        e if e.code != 270 else Entry(270, FieldType.ASCII, description + b"\x00")
        for e in image_entries(False, 2, 2, description="x", bits=8, nbytes_each=4)
    ]
    offset, _ = b.ifd(entries)
    b.set_first_ifd(offset)
    path.write_bytes(b.bytes())
    return path


# --- the plane index -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "z", "c", "t", "expected"),
    [("XYZCT", 1, 2, 0, 11), ("XYCZT", 1, 2, 0, 5), ("XYTCZ", 0, 1, 1, 3), ("xyzct", 1, 0, 0, 1)],
)
def test_plane_index_follows_dimension_order(order: str, z: int, c: int, t: int, expected: int) -> None:
    sizes = {"XYTCZ": 'SizeZ="2" SizeC="2" SizeT="2"'}.get(order, 'SizeZ="5" SizeC="3" SizeT="1"')
    px = parse_ome_xml(ome_text(sizes, order)).images[0].pixels
    assert px is not None and ometiff.plane_index(px, z, c, t) == expected
    order_ = ometiff.plane_order(px)
    assert order_ is not None and order_.coords(expected) == (z, c, t)


@pytest.mark.parametrize("order", ["XYZCC", "XYCZQ", "XYZC", "ZCTXY"])
def test_a_malformed_dimension_order_is_a_finding_not_a_key_error(tmp_path: Path, order: str) -> None:
    sizes = 'SizeZ="3" SizeC="2" SizeT="1"'
    px = parse_ome_xml(ome_text(sizes, order)).images[0].pixels
    assert px is not None and ometiff.plane_order(px) is None and ometiff.plane_index(px, 1, 1, 0) is None
    path = one_ifd_tiff(
        tmp_path / "f.ome.tif", ome_text(sizes, order, '<TiffData IFD="0" PlaneCount="1"/>').encode()
    )
    report = inspect(str(path), probes=False)
    codes = {f.code: f for f in report.findings}
    assert order in codes["VIV_SCHEMA"].message
    assert "plane mapping was skipped" in codes["OME_BAD_VALUE"].message
    assert "PLANE_MAPPING" not in codes  # nothing compared against a plane index that does not exist


# --- bounded plane mapping -------------------------------------------------------------------------------------------


class _CountingRef(ometiff.PlaneRef):
    made = 0

    def __init__(self, *args: object) -> None:
        type(self).made += 1
        super().__init__(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("sizes", "body", "planes"),
    [
        ('SizeZ="1000000" SizeC="1" SizeT="1"', '<TiffData PlaneCount="1000000"/>', 1_000_000),
        ('SizeZ="1" SizeC="999" SizeT="1000"', "<TiffData/>", 999_000),
        ('SizeZ="1" SizeC="100000000" SizeT="100000000"', "<TiffData/>", 10**16),
    ],
    ids=["million-z", "c-by-t", "absurd-c-t"],
)
def test_a_huge_plane_count_costs_what_the_table_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sizes: str, body: str, planes: int
) -> None:
    path = one_ifd_tiff(tmp_path / "m.ome.tif", ome_text(sizes, body=body).encode())
    assert path.stat().st_size < 700
    monkeypatch.setattr(ometiff, "PlaneRef", _CountingRef)
    _CountingRef.made = 0
    tracemalloc.start()
    t0 = time.monotonic()
    report = inspect(str(path), probes=False)
    rows = tables.ome_rows(report)["plane_mapping"]
    seconds = time.monotonic() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    limited = [f for f in report.findings if f.code == "PLANE_MAPPING_LIMITED"]
    assert len(limited) == 1 and f"TiffData map {planes:,} planes" in limited[0].message
    assert len(rows) == ometiff.MAPPING_ROWS_SHOWN == _CountingRef.made  # the checks materialised no plane
    assert peak < 64 * 1024 * 1024
    assert seconds < 10  # bounded, not fast: it took 8 s before the mapping was computed per TiffData


def test_coverage_and_order_are_judged_per_run() -> None:
    doc = parse_ome_xml(
        ome_text(
            'SizeZ="4" SizeC="1" SizeT="1"',
            body='<TiffData IFD="0" PlaneCount="2"/><TiffData FirstZ="1" '
            'IFD="7" PlaneCount="2"/><TiffData FirstZ="3" IFD="3" PlaneCount="9"/>',
        )
    )
    mapping = ometiff.plane_mapping(doc.images[0])
    assert mapping.mapped == 5 and mapping.covered() == 4
    assert [r.follows_order for r in mapping.runs] == [True, False, True]
    assert [(r.z, r.ifd) for r in mapping.refs(3)] == [(0, 0), (1, 1), (1, 7)]
    (past,) = mapping.findings
    assert past.code == "OME_TIFFDATA_RANGE" and "PlaneCount=9 from plane 3 on" in past.message


# --- descriptions in other encodings ---------------------------------------------------------------------------------


def _encoded(tmp_path: Path, codec: str, declared: str, pad: int = 0) -> tuple[Path, bytes]:
    """A TIFF whose OME-XML (channel "Kanal é") is written in ``codec`` and declares ``declared``; ``pad``
    characters of comment make it arrive in several chunks (a chunk may end inside a character)."""
    text = ome_text(channel="Kanal é", decl=f'<?xml version="1.0" encoding="{declared}"?>')
    if pad:
        text = text.replace("</OME>", f"<!-- {'é' * pad} --></OME>")
    xml = text.encode(codec)
    return one_ifd_tiff(tmp_path / f"{codec}.ome.tif", xml), xml


def _latin1(tmp_path: Path) -> tuple[Path, bytes]:
    return _encoded(tmp_path, "latin-1", "ISO-8859-1")


def _utf16(tmp_path: Path) -> tuple[Path, bytes]:
    return _encoded(tmp_path, "utf-16", "UTF-16")


@pytest.mark.parametrize(
    ("codec", "declared", "pad"),
    [
        ("latin-1", "ISO-8859-1", 0),
        ("utf-16", "UTF-16", 0),
        ("latin-1", "ISO-8859-1", 2_000_000),
        ("utf-16", "UTF-16", 1_000_000),
    ],
    ids=["latin-1", "utf-16", "latin-1-streamed", "utf-16-streamed"],
)
def test_a_description_is_decoded_once_with_its_own_encoding(
    tmp_path: Path, codec: str, declared: str, pad: int
) -> None:
    path, xml = _encoded(tmp_path, codec, declared, pad)
    report = inspect(str(path), probes=False)
    assert report.xml_bytes == xml
    assert (
        report.xml_text is not None
        and 'Name="Kanal é"' in report.xml_text
        and "\ufffd" not in report.xml_text
    )
    assert report.ome is not None and report.ome.images[0].pixels.channels[0].name == "Kanal é"  # type: ignore[union-attr]
    assert f"xml-sha256={hashlib.sha256(xml).hexdigest()[:16]}" in report.fingerprint()
    assert any(
        'Name="Kanal é"' in line for line in tables.pretty_xml_lines(report.xml_text)
    )  # the Raw XML tab
    explored = explore_model.load(path)
    channel = next(explored.tree.find_all("Channel"))
    assert explored.tree.attribute(channel, "Name") == "Kanal é" and explored.xml == xml


def test_utf16_is_named_as_the_problem(tmp_path: Path) -> None:
    path, _ = _utf16(tmp_path)
    (enc,) = [f for f in inspect(str(path), probes=False).findings if f.code == "OME_ENCODING_NOT_UTF8"]
    assert enc.severity.value == "error" and "UTF-16" in enc.message and "UTF-8" in enc.remedy
    cut = ome_text(decl='<?xml version="1.0" encoding="UTF-16"?>').encode("utf-16")[:-40]  # really truncated
    report = inspect(str(one_ifd_tiff(tmp_path / "cut.ome.tif", cut)), probes=False)
    assert report.ome is None and "UTF-16" in (report.ome_error or "")


# --- the pipeline fails loudly ---------------------------------------------------------------------------------------


def test_a_check_module_that_cannot_be_imported_stops_inspect(tmp_path: Path) -> None:
    path = one_ifd_tiff(tmp_path / "f.ome.tif", ome_text().encode())
    code = (
        "import sys\n"
        "sys.modules['ometiff_helpers.diagnose.rules_ome'] = None  # unimportable\n"
        "from ometiff_helpers.report import inspect\n"
        f"print(inspect({str(path)!r}, probes=False).verdict())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode != 0 and "no problems found" not in done.stdout
    assert "import of ometiff_helpers.diagnose.rules_ome halted" in done.stderr
    assert isinstance(inspect(str(path), probes=False), Report)  # the same file, importable checks: a report


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("<a>é</a>".encode("utf-16-le") + b"\x00", "<a>é</a>"),  # no byte-order mark, little-endian, ASCII NUL
        ("<a>é</a>".encode("utf-16-be") + b"\x00\x00", "<a>é</a>"),  # no byte-order mark, big-endian
        ("<a>é</a>".encode("utf-16") + b"\x00", "<a>é</a>"),
        ('<?xml version="1.0" encoding="x-unknown"?><a>é</a>'.encode() + b"\x00", '<?xml version="1.0" encoding="x-unknown"?><a>é</a>'),
    ],
    ids=["utf-16-le", "utf-16-be", "utf-16-bom", "unknown-codec"],
)  # fmt: skip
def test_decode_description_reads_the_encoding_the_parser_reads(raw: bytes, text: str) -> None:
    from ometiff_helpers.ome.description import decode_description

    assert decode_description(raw) == text
