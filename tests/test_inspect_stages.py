"""The early answer: ``inspect(..., on_stage=...)`` gives the summary before the ROIs of a large OME-XML are parsed,
and the same summary as the complete report; the command line prints it first; the XML is kept once."""

from __future__ import annotations

import dataclasses
import gc
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import tifffile

from ometiff_helpers import report
from ometiff_helpers.demo import demo_path
from ometiff_helpers.report import PENDING_PROBES, PENDING_XML, Stage, inspect

ROIS = 10_000


def _ome_xml(rois: int, points: int = 86) -> bytes:
    """One 2-channel Image, then an XMLAnnotation and a MapAnnotation, then ``rois`` GeoMx-like polygon ROIs (the
    first refers to both annotations): the Images end in the first KB, the XML goes on for MBs."""
    roi = "".join(
        f'<ROI ID="ROI:{i}"><Union><Polygon ID="Shape:{i}:0" Text="region {i}" Points="'
        + " ".join(f"{(i * 37 + k * 101) % 49152},{(i * 53 + k * 97) % 65536}" for k in range(points))
        + '"/></Union>'
        + ('<AnnotationRef ID="Annotation:0"/><AnnotationRef ID="Annotation:1"/>' if i == 0 else "")
        + "</ROI>"
        for i in range(rois)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" Creator="stages test">'
        '<Image ID="Image:0" Name="stages"><Pixels ID="Pixels:0" DimensionOrder="XYCZT" Type="uint8" SizeX="64" '
        'SizeY="48" SizeC="2" SizeZ="1" SizeT="1" PhysicalSizeX="0.5" PhysicalSizeXUnit="µm" PhysicalSizeY="0.5" '
        'PhysicalSizeYUnit="µm"><Channel ID="Channel:0:0" Name="DAPI" SamplesPerPixel="1"/>'
        '<Channel ID="Channel:0:1" Name="CD3" SamplesPerPixel="1"/>'
        '<TiffData FirstC="0" IFD="0" PlaneCount="1"/><TiffData FirstC="1" IFD="1" PlaneCount="1"/></Pixels>'
        '<ROIRef ID="ROI:0"/></Image>'
        '<StructuredAnnotations><XMLAnnotation ID="Annotation:0"><Value><Segment xmlns="" Name="a &amp; b">'
        '<Channel Name="x"/></Segment></Value></XMLAnnotation>'
        '<MapAnnotation ID="Annotation:1"><Value><M K="k">v</M></Value></MapAnnotation></StructuredAnnotations>'
        f"{roi}</OME>"
    ).encode()


@pytest.fixture(scope="module")
def big_xml_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small 2-channel OME-TIFF with about 10 MB of OME-XML, most of it ROIs after the Image."""
    path = tmp_path_factory.mktemp("stages") / "rois.ome.tif"
    data = np.zeros((2, 48, 64), np.uint8)
    tifffile.imwrite(path, data, description=_ome_xml(ROIS), metadata=None, photometric="minisblack")
    return path


def test_summary_stage_comes_before_the_rois_are_parsed_and_matches_the_complete_report(
    big_xml_file: Path,
) -> None:
    stages: list[Stage] = []
    final = inspect(str(big_xml_file), on_stage=stages.append)
    assert [s.name for s in stages] == ["summary", "complete"] and stages[-1].report is final
    first = stages[0]
    total = len(final.xml_bytes or b"")
    assert first.xml_total == total > 1_000_000
    assert first.xml_parsed < total // 4  # the summary did not wait for the ROIs to be parsed
    assert first.report.ome is not None and first.report.ome.rois == () and len(final.ome.rois) == ROIS
    early, complete = first.report.summary(), final.summary()
    assert early.pop("Verdict").endswith(f"so far; pending: {PENDING_XML}")
    assert complete.pop("Verdict") == final.verdict() and "pending" not in final.verdict()
    assert early == complete  # dimensions, channels, pyramid: the same as the complete report's
    assert first.report.pending == (PENDING_XML,) and final.pending == ()
    assert {f.code for f in first.report.findings} <= {f.code for f in final.findings}
    assert "HUGE_XML" in {f.code for f in final.findings}  # a check that needs the whole XML came later


def test_late_references_reach_the_annotations_and_their_value_is_kept(big_xml_file: Path) -> None:
    final = inspect(str(big_xml_file), probes=False)
    xml, kv = final.ome.annotations
    assert xml.kind == "XML" and xml.annotates == ("ROI:0",) and kv.annotates == ("ROI:0",)
    assert 'Name="a &amp; b"' in (xml.value or "") and kv.pairs == (("k", "v"),)


def test_a_small_xml_has_nothing_pending_on_a_local_file() -> None:
    stages: list[Stage] = []
    final = inspect(str(demo_path()), on_stage=stages.append)
    first = stages[0]
    assert first.report.pending == () and first.xml_parsed == first.xml_total
    assert first.report.summary() == final.summary() and final.verdict() == "no problems found"


def test_over_http_the_probes_are_pending_in_the_summary(range_server) -> None:
    server = range_server({"demo.ome.tif": demo_path()})
    stages: list[Stage] = []
    final = inspect(server.url("demo.ome.tif"), on_stage=stages.append)
    first = stages[0]
    assert first.report.pending == (PENDING_PROBES,)
    assert "probes" not in first.report.extra and "probes" in final.extra
    assert first.report.summary()["Dimensions"] == final.summary()["Dimensions"]


def test_the_reading_threads_end_before_the_rest_of_the_xml_is_parsed(
    range_server, big_xml_file: Path
) -> None:
    """After the read, the request pool's threads (up to 64, each with its stack and allocator arena) are let go:
    the long parse of a large OME-XML, the probes and the checks run without them; a later read makes new ones."""
    import threading

    from ometiff_helpers.io.http.source import HttpSource

    server = range_server({"big.ome.tif": big_xml_file})
    alive: list[list[str]] = []

    def on_stage(stage: Stage) -> None:
        if stage.name == "complete":
            alive.append([t.name for t in threading.enumerate() if t.name.startswith("range")])

    inspect(server.url("big.ome.tif"), on_stage=on_stage, probes=False)
    assert alive == [[]]
    with HttpSource(server.url("big.ome.tif")) as src:
        src.open(1024)
        first = src.fetch([(0, 10), (100_000, 100_010)])
        src.release_threads()
        assert not [t for t in threading.enumerate() if t.name.startswith("range")]
        assert src.fetch([(0, 10), (100_000, 100_010)]) == first  # a new pool for the next round


def test_the_report_keeps_the_xml_once(big_xml_file: Path) -> None:
    """The bytes are the one copy (the text is decoded when asked); a whole inspect peaks under 3x the XML."""
    inspect(str(demo_path()), probes=False)  # modules imported on first use are not the inspect's memory
    gc.collect()
    tracemalloc.start()
    try:
        rep = inspect(str(big_xml_file), probes=False)
        gc.collect()
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = len(rep.xml_bytes or b"")
    assert "xml_text" not in {f.name for f in dataclasses.fields(report.Report)}
    assert rep.xml_text is not None and len(rep.xml_text) == size - 2  # each "µ" is two bytes, one character
    assert peak < 3 * size, (peak / size, size)
    assert held < 2.7 * size, (held / size, size)  # the XML once, the model about 1.6x (the points strings)


def test_cli_prints_the_summary_first_and_the_final_verdict_last(big_xml_file: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ometiff_helpers", str(big_xml_file), "--no-pixels"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = done.stdout.splitlines()
    verdicts = [line for line in lines if line.startswith("Verdict")]
    assert len(verdicts) == 2 and "so far; pending" in verdicts[0] and "pending" not in verdicts[1]
    ifds = next(i for i, line in enumerate(lines) if line.startswith("Top-level IFDs"))
    assert lines.index(verdicts[0]) < ifds < lines.index(verdicts[1])
    assert lines[-1] == verdicts[1]
    assert sum(line.startswith("Dimensions") for line in lines) == 1  # the summary is not printed twice
    as_json = subprocess.run(
        [sys.executable, "-m", "ometiff_helpers", str(big_xml_file), "--no-pixels", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    data = json.loads(as_json.stdout)  # one complete object, nothing printed before it
    assert data["verdict"] == verdicts[1].split(None, 1)[1]


def test_a_failed_read_leaves_no_parsing_thread_behind(big_xml_file: Path) -> None:
    """The head of the XML is parsed in a thread while the TIFF is read; when the read fails, that thread stops."""
    import threading

    from ometiff_helpers.errors import LimitExceeded
    from ometiff_helpers.tiff.read import ReadOptions

    with pytest.raises(LimitExceeded):
        inspect(str(big_xml_file), options=ReadOptions(max_ifds=1))  # IFD 1 is one too many
    assert not [t for t in threading.enumerate() if t.name == "ome-xml-head"]


def _description_span(path: Path) -> tuple[int, int]:
    """Where IFD 0's ImageDescription lies in ``path`` (half-open), as tifffile reads it."""
    with tifffile.TiffFile(path) as tif:
        tag = tif.pages.first.tags["ImageDescription"]
        return tag.valueoffset, tag.valueoffset + tag.count


def test_on_a_throttled_link_the_summary_comes_while_the_xml_still_downloads(big_xml_file: Path) -> None:
    """A slow link: the summary stage fires once the IFDs are read and the XML's head is parsed, while
    most of the XML is still on its way; it says what the complete report says."""
    from faultserver import FaultServer

    received = [0]

    def progress(event) -> None:
        if event.stage == "xml":
            received[0] = event.done

    at_summary: list[int] = []
    stages: list[Stage] = []

    def on_stage(stage: Stage) -> None:
        if stage.name == "summary":
            at_summary.append(received[0])
        stages.append(stage)

    # 400 kB/s per connection: the XML takes seconds to arrive, a margin no busy machine's scheduling eats
    with FaultServer({"rois.ome.tif": big_xml_file}, latency=0.05, rate=400_000) as server:
        final = inspect(server.url("rois.ome.tif"), on_stage=on_stage, on_progress=progress, probes=False)
    total = len(final.xml_bytes or b"")
    assert [s.name for s in stages] == ["summary", "complete"] and total > 8_000_000
    assert at_summary[0] < total // 2  # the summary did not wait for the XML's download
    first = stages[0]
    assert first.xml_total == _description_span(big_xml_file)[1] - _description_span(big_xml_file)[0]
    assert first.report.tiff is final.tiff and first.report.pending == (PENDING_XML,)
    early, complete = first.report.summary(), final.summary()
    assert early.pop("Verdict").endswith(f"so far; pending: {PENDING_XML}")
    complete.pop("Verdict")
    assert early == complete
    assert {f.code for f in first.report.findings} <= {f.code for f in final.findings}


def test_a_download_that_fails_after_the_summary_ends_in_one_clear_error(big_xml_file: Path) -> None:
    """The last piece of the XML's download is cut (a TCP reset, every attempt) once the summary was given: the
    summary came, then ``inspect`` raises one ``ProtocolError`` that says so, and nothing keeps running."""
    import threading

    from faultserver import FaultServer

    from ometiff_helpers.errors import ProtocolError

    desc_end = _description_span(big_xml_file)[1]
    summary_given = threading.Event()

    def cut_the_xml_tail(handler) -> bool:
        span = handler.headers.get("Range", "")
        if not span.endswith(f"-{desc_end - 1}"):
            return False
        summary_given.wait(60)
        entry = handler.entry("rois.ome.tif")
        s, e = handler.requested_span(entry.size)
        handler.send_status(
            206, {"Content-Range": f"bytes {s}-{e - 1}/{entry.size}", "Content-Length": str(e - s)}
        )
        handler.end_headers()
        handler.write_body(entry.read(s, s + 1000))
        handler.hang_up(reset=True)
        return True

    stages: list[str] = []

    def on_stage(stage: Stage) -> None:
        stages.append(stage.name)
        summary_given.set()

    with FaultServer({"rois.ome.tif": big_xml_file}, latency=0.05, rate=2_000_000) as server:
        server.behaviour = cut_the_xml_tail
        with pytest.raises(ProtocolError, match="kept breaking after 4 attempts"):
            inspect(server.url("rois.ome.tif"), on_stage=on_stage, probes=False)
    assert stages == ["summary"]
    assert not [t for t in threading.enumerate() if t.name == "ome-xml-head"]
