"""Load progress: the text (bytes, rate, time left), the bar fed by a clock, and the totals the readers report.

Real readers on real servers: an OME-TIFF whose OME-XML is out of line (the demo, over HTTP) reports its XML bytes
with the total the TIFF reader found; the explorer streams a 3 MB ``.ome.xml`` over HTTP in chunks, each reported.
"""

from __future__ import annotations

from pathlib import Path

from gen_omexml import Spec, generate

from ometiff_helpers.demo import demo_path
from ometiff_helpers.display.explore import app as ea
from ometiff_helpers.display.explore.loading import load
from ometiff_helpers.display.progressbar import ByteProgress, progress_text
from ometiff_helpers.progress import Progress
from ometiff_helpers.report import inspect

MIB = 1024 * 1024


def test_progress_text_says_bytes_rate_and_time_left() -> None:
    assert progress_text("xml", 6 * MIB, 24 * MIB, 2.0) == (
        "OME-XML: 6.0 MiB of 24.0 MiB, 3.0 MiB/s, about 6 s left"
    )
    assert (
        progress_text("xml", 24 * MIB, 24 * MIB, 4.0)
        == "OME-XML: 24.0 MiB of 24.0 MiB, 6.0 MiB/s, all received"
    )
    assert progress_text("xml", 1 * MIB, 200 * MIB, 1.0) == (
        "OME-XML: 1.0 MiB of 200.0 MiB, 1.0 MiB/s, about 3 min 19 s left"
    )
    assert progress_text("xml", 3 * MIB, None, 1.5) == "OME-XML: 3.0 MiB, 2.0 MiB/s"  # no total: no time left
    assert progress_text("xml", 0, 5 * MIB, 0.0) == "OME-XML: 0 bytes of 5.0 MiB"
    assert progress_text("ifds", 36, None, 1.0) == "IFDs read: 36"


def test_the_bar_is_redrawn_at_most_every_interval_and_always_at_the_end() -> None:
    now = [100.0]
    bar = ByteProgress(interval=0.5, clock=lambda: now[0])
    bar.start("connecting …")
    assert bar.label.value == "connecting …" and bar.bar.value == 0
    bar(Progress("xml", 1 * MIB, 8 * MIB))  # first event: drawn, no rate yet (no time has passed)
    assert bar.bar.max == 8 * MIB and bar.bar.value == 1 * MIB
    assert bar.label.value == "OME-XML: 1.0 MiB of 8.0 MiB"
    now[0] += 0.25
    bar(Progress("xml", 2 * MIB, 8 * MIB))  # too soon: not drawn
    assert bar.bar.value == 1 * MIB
    now[0] += 0.75
    bar(Progress("xml", 4 * MIB, 8 * MIB))  # 4 MiB in 1 s
    assert (
        bar.bar.value == 4 * MIB
        and bar.label.value == "OME-XML: 4.0 MiB of 8.0 MiB, 4.0 MiB/s, about 1 s left"
    )
    now[0] += 0.01
    bar(Progress("xml", 8 * MIB, 8 * MIB))  # the last byte is always drawn
    assert bar.bar.value == bar.bar.max and bar.label.value.endswith("all received")
    bar.finish("8.0 MiB of XML loaded")
    assert bar.bar.bar_style == "success" and bar.label.value == "8.0 MiB of XML loaded"
    bar.finish("failed", error=True)
    assert bar.bar.bar_style == "danger"


def test_inspect_reports_the_xml_bytes_with_their_total(range_server) -> None:  # type: ignore[no-untyped-def]
    server = range_server({"demo.ome.tif": demo_path()})
    events: list[Progress] = []
    rep = inspect(server.url("demo.ome.tif"), probes=False, checks=False, on_progress=events.append)
    xml = [e for e in events if e.stage == "xml"]
    assert rep.xml_bytes is not None and xml
    total = len(rep.xml_bytes) + 1  # the tag's byte count, found in IFD 0: the XML and its NUL terminator
    assert all(e.total == total for e in xml) and xml[-1].done == total
    assert not [e for e in events if e.stage == "description"]  # folded into the "xml" events, not passed on


def test_the_explorer_streams_an_xml_file_and_shows_its_progress(range_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = generate(Spec(rois=3_000, target_bytes=None))
    assert len(data) > 2 * MIB  # more than the first read: the rest is streamed in chunks
    server = range_server({"many.ome.xml": data})
    events: list[Progress] = []
    explored = load(server.url("many.ome.xml"), on_progress=events.append)
    assert explored.xml == data
    assert len(events) >= 2 and all(e.stage == "xml" and e.total == len(data) for e in events)
    assert [e.done for e in events] == sorted(e.done for e in events) and events[-1].done == len(data)

    app = ea.ExploreApp()
    assert app.load(server.url("many.ome.xml")) is not None
    assert app.progress.bar.value == app.progress.bar.max and app.progress.bar.bar_style == "success"
    assert "of XML loaded and indexed in" in app.progress.label.value and not app.load_button.disabled
    assert app.load(server.url("missing.ome.xml")) is None
    assert app.progress.bar.bar_style == "danger" and app.progress.label.value == "failed"
