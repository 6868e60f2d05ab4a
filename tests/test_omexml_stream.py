"""Parsing while downloading: any chunking gives the same document; progress; memory stays bounded."""

from __future__ import annotations

import hashlib
import sys
import threading
import tracemalloc
from pathlib import Path

import pytest
from faultserver import FaultServer

from ometiff_helpers.errors import OmeTiffError
from ometiff_helpers.ome.load import load_ome_xml
from ometiff_helpers.ome.parser import OmeXmlParser, parse_ome_xml, tables
from ometiff_helpers.progress import Progress

sys.path.insert(0, str(Path(__file__).parent))
from gen_omexml import Spec, generate

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
SAMPLES = [
    CORPUS / "ome-types/timestampannotation.ome.xml",
    CORPUS / "ome-types/spim.ome.xml",
    CORPUS / "OMETIFF.jl/issue72.ome.xml",
    CORPUS / "ome-model/2010-06/ROI.ome.xml",
    CORPUS / "ome-types/folders-larger-taxonomy.ome.xml",
]


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
def test_incremental_equals_whole(path: Path, chunk: int) -> None:
    data = path.read_bytes()
    if chunk == 1 and len(data) > 300_000:
        data_chunks = [data[i : i + 13] for i in range(0, len(data), 13)]
    else:
        data_chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    whole = parse_ome_xml(data)
    p = OmeXmlParser(total=len(data))
    for c in data_chunks:
        p.feed(c)
    doc = p.close()
    assert doc == whole
    assert tables(doc) == tables(whole)
    assert doc.sha256 == hashlib.sha256(data).hexdigest() and doc.xml_bytes == len(data)


def test_progress_reports_increasing_bytes_of_total() -> None:
    data = generate(Spec(rois=300, target_bytes=None))
    events: list[Progress] = []
    p = OmeXmlParser(total=len(data) + 3, on_progress=events.append)
    step = 10_000
    for i in range(0, len(data), step):
        p.feed(data[i : i + step])
    p.feed(b"\x00\x00\x00")
    doc = p.close()
    assert doc.shape_count == 300
    dones = [e.done for e in events]
    assert all(e.stage == "xml" and e.total == len(data) + 3 for e in events)
    assert dones == sorted(dones) and dones[-1] == len(data) + 3
    assert len(events) >= len(data) // step


def test_fed_from_another_thread_like_the_http_worker() -> None:
    data = generate(Spec(rois=500, target_bytes=None))
    p = OmeXmlParser(total=len(data))

    def worker() -> None:
        for i in range(0, len(data), 1 << 16):
            p.feed(data[i : i + (1 << 16)])

    t = threading.Thread(target=worker)
    t.start()
    t.join(30)
    assert p.close() == parse_ome_xml(data)


def test_close_is_idempotent_and_feed_after_close_fails() -> None:
    p = OmeXmlParser()
    p.feed(CORPUS.joinpath("ome-types/small.ome.xml").read_bytes())
    doc = p.close()
    assert p.close() is doc
    with pytest.raises(Exception, match="after close"):
        p.feed(b"<x/>")


def test_load_ome_xml_local_and_by_url(tmp_path: Path) -> None:
    path = CORPUS / "OMETIFF.jl/issue104.ome.xml"
    local = load_ome_xml(path)
    events: list[Progress] = []
    with FaultServer({"issue104.ome.xml": path}, require_token="CANARY-TOKEN-42") as server:
        remote = load_ome_xml(
            server.url("issue104.ome.xml"), token="CANARY-TOKEN-42", on_progress=events.append
        )
        with pytest.raises(OmeTiffError) as denied:
            load_ome_xml(server.url("issue104.ome.xml") + "?token=CANARY-WRONG-7")
    assert remote == local
    assert events[-1].done == events[-1].total == path.stat().st_size
    assert "CANARY-WRONG-7" not in str(denied.value) and "CANARY-WRONG-7" not in repr(denied.value)
    with pytest.raises(Exception) as info:
        load_ome_xml(tmp_path / "missing.ome.xml")
    assert "missing.ome.xml" in str(info.value)


def test_many_rois_memory_is_bounded() -> None:
    """20 000-ROI-like structure at 1/10 scale: traced peak stays within 4x the XML size."""
    data = generate(
        Spec(rois=2_000, target_bytes=2_500_000, size_z=2, size_c=2, size_t=2, map_annotations=20)
    )
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        doc = parse_ome_xml(data)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert doc.shape_count == 2_000 and {s.kind for r in doc.rois for s in r.shapes} == {"Polygon"}
    assert peak < 4 * len(data), (peak, len(data))


_XML_VALUES = (
    '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><!--' + "x" * 5000 + "-->"
    "<StructuredAnnotations>"
    '<XMLAnnotation ID="Annotation:0"><Value><Segment xmlns="" Name=\'a &amp; b "q"\'><Channel Name="x"/>'
    "</Segment></Value></XMLAnnotation>"
    '<XMLAnnotation ID="Annotation:1"><Value/></XMLAnnotation>'
    '<XMLAnnotation ID="Annotation:2"><Value a=">"> text &lt; é <!-- kept --> </Value></XMLAnnotation>'
    "</StructuredAnnotations></OME>"
)


@pytest.mark.parametrize("step", [1, 2, 7, 4096, 1 << 20])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16-le", "utf-16-be"])
def test_xml_annotation_values_are_the_text_as_written_whatever_the_chunks(step: int, encoding: str) -> None:
    """An XMLAnnotation's Value is its content as written (quotes, entities, comments kept; nothing re-serialised),
    also when its tags are cut between chunks and in UTF-16 (a first chunk of one byte, as when a description starts
    at the last byte of the reader's first read, still tells UTF-16 from UTF-8)."""
    from ometiff_helpers.ome.parser import OmeXmlOptions

    data = (("\ufeff" if encoding != "utf-8" else "") + _XML_VALUES).encode(encoding)
    parser = OmeXmlParser(options=OmeXmlOptions(min_feed=step))
    for i in range(0, len(data), step):
        parser.feed(data[i : i + step])
    values = [a.value for a in parser.close().annotations]
    assert values == [
        '<Segment xmlns="" Name=\'a &amp; b "q"\'><Channel Name="x"/></Segment>',
        "",
        "text &lt; é <!-- kept -->",
    ]
