"""display.tables and display.plots on the bundled demo, cross-checked against tifffile; and ometiff_helpers.demo."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import requests
import tifffile
from matplotlib.patches import Rectangle

from ometiff_helpers import demo, report
from ometiff_helpers.display import plots, tables
from ometiff_helpers.findings import Finding, Severity
from ometiff_helpers.report import Level
from ometiff_helpers.tiff.read import Tag

DEMO_CHANNELS = ["DAPI", "CD31", "Ki-67", "Pan-cytokeratin"]


@pytest.fixture(scope="module")
def served_demo():
    server = demo.serve_demo()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def rep(served_demo):
    return report.inspect(served_demo.url(demo.DEMO_NAME))


# --- demo ----------------------------------------------------------------------------------------------------------------


def test_demo_is_served_with_ranges(served_demo) -> None:
    url = served_demo.url(demo.DEMO_NAME)
    r = requests.get(url, headers={"Range": "bytes=0-3"}, timeout=5)
    assert r.status_code == 206
    assert r.content == b"MM\x00\x2b"  # big-endian BigTIFF
    assert int(r.headers["Content-Range"].rsplit("/", 1)[1]) == demo.demo_path().stat().st_size


def test_demo_url_is_shared_and_secret_free() -> None:
    first = demo.demo_url()
    assert first == demo.demo_url()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/demo\.ome\.tif", first)


# --- summary, levels, IFDs, tags -------------------------------------------------------------------------------------------


def test_summary_table_describes_the_demo(rep) -> None:
    s = tables.summary_table(rep)["value"]
    assert "2048" in s["Dimensions"] and "1536" in s["Dimensions"] and "C 4" in s["Dimensions"]
    assert all(name in s["Channels"] for name in DEMO_CHANNELS)
    assert "0.325" in s["Physical pixel size"]
    assert s["File"].endswith("/demo.ome.tif")


def test_levels_table_matches_tifffile() -> None:
    rep = report.inspect(str(demo.demo_path()))
    df = tables.levels_table(rep)
    with tifffile.TiffFile(demo.demo_path()) as tf:
        series = tf.series[0]
        shapes = [(lv.shape[-1], lv.shape[-2]) for lv in series.levels]
        tiles = [(lv.keyframe.tilewidth, lv.keyframe.tilelength) for lv in series.levels]
    assert list(df["size (px)"]) == [f"{w} × {h}" for w, h in shapes]
    assert list(df["downsampling"]) == ["×1", "×2", "×4", "×8"]
    assert list(df["tile (px)"]) == [f"{w} × {h}" for w, h in tiles]
    assert list(df["tiles"]) == [12, 4, 1, 1]  # ceil(2048/512) x ceil(1536/512) = 4 x 3, then 2 x 2, 1, 1
    assert set(df["compression"]) == {"ADOBE_DEFLATE"}


def test_ifds_and_tags_tables_list_every_ifd_and_tag() -> None:
    rep = report.inspect(str(demo.demo_path()))
    ifds = tables.ifds_table(rep)
    tags = tables.tags_table(rep)
    expected: list[tuple[int, int]] = []  # (offset, number of tags), depth first like the table
    with tifffile.TiffFile(demo.demo_path()) as tf:
        for i, page in enumerate(tf.pages):
            expected.append((page.offset, len(page.tags)))
            for j, offset in enumerate(page.subifds or ()):
                tf.filehandle.seek(offset)
                expected.append((offset, len(tifffile.TiffPage(tf, index=(i, j)).tags)))
    assert len(expected) == 16
    assert list(zip(ifds["offset"], ifds["tags"], strict=True)) == expected
    assert len(tags) == sum(n for _, n in expected)
    assert list(tags[tags["IFD"] == "IFD 0"]["code"]) == sorted(tags[tags["IFD"] == "IFD 0"]["code"])


def test_tags_are_decoded(rep) -> None:
    tags = tables.tags_table(rep, "IFD 0")
    value = dict(zip(tags["name"], tags["value"], strict=True))
    assert value["Compression"] == "8 (ADOBE_DEFLATE)"
    assert value["PhotometricInterpretation"] == "1 (MINISBLACK)"
    assert value["XResolution"] == "1/1"
    assert value["TileOffsets"].endswith("… (12 values)")
    assert value["ImageDescription"].startswith('<?xml version="1.0" encoding="UTF-8"?> <OME')
    sub = tables.tags_table(rep, "IFD 0 / SubIFD 1")
    assert dict(zip(sub["name"], sub["value"], strict=True))["NewSubfileType"] == "1 (REDUCEDIMAGE)"


@pytest.mark.parametrize(
    ("tag", "text"),
    [
        (Tag(code=324, type=16, count=5000, value=None, value_offset=1234, nbytes=40000), "(not fetched: 5,000 values at offset 1,234)"),
        (Tag(code=305, type=2, count=22, value=None, value_offset=2048, nbytes=22), "(not fetched: 22 characters at offset 2,048)"),
        (Tag(code=259, type=3, count=1, value=(60000,), value_offset=None, nbytes=2), "60000 (unknown)"),
        (Tag(code=254, type=4, count=1, value=(5,), value_offset=None, nbytes=4), "5 (REDUCEDIMAGE | MASK)"),
        (Tag(code=33723, type=7, count=20, value=bytes(range(20)), value_offset=8, nbytes=20), "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f … (20 bytes)"),
        (Tag(code=305, type=2, count=300, value="x" * 300, value_offset=8, nbytes=300), "x" * 160 + "… (300 characters)"),
        (Tag(code=282, type=5, count=1, value=(72, 1), value_offset=8, nbytes=8), "72/1"),
    ],
)  # fmt: skip
def test_tag_value_text(tag: Tag, text: str) -> None:
    assert tables.tag_value_text(tag) == text


# --- OME parts --------------------------------------------------------------------------------------------------------------


def test_channels_table_has_names_and_swatches(rep) -> None:
    table = tables.channels_table(rep)
    assert list(table.frame["Name"]) == DEMO_CHANNELS
    assert list(table.frame["swatch"]) == ["#0000FF", "#00FF00", "#FF0000", "#FFFF00"]
    for colour in ("#0000FF", "#00FF00", "#FF0000", "#FFFF00"):
        assert f"background:{colour}" in table.html
    assert "DAPI" in repr(table) and " at 0x" not in repr(table)


def test_ome_parts_of_the_demo(rep) -> None:
    assert len(tables.ome_part(rep, "planes")) == 4
    mapping = tables.ome_part(rep, "plane_mapping")
    assert list(mapping["IFD"]) == [0, 1, 2, 3] and list(mapping["C"]) == [0, 1, 2, 3]
    assert len(tables.ome_part(rep, "annotations")) == 5
    assert len(tables.ome_part(rep, "rois")) == 3
    assert len(tables.ome_part(rep, "shapes")) == 6
    assert "Demo Scope 3000" in set(tables.ome_part(rep, "instruments")["Model"])
    shapes = tables.ome_part(rep, "shapes")
    assert shapes["Z"].iloc[0] is None  # missing stays None, not NaN


@pytest.mark.parametrize(
    ("value", "css"),
    [(65535, "#0000FF"), (-16776961, "#FF0000"), (-1, "#FFFFFF"), ("#ff0000ff", "#FF0000"), ("0", "#000000"), ("x", None), (None, None)],
)  # fmt: skip
def test_colour_css(value: object, css: str | None) -> None:
    assert tables.colour_css(value) == css


def test_html_tables_escape_cells() -> None:
    hostile = Finding("X_TEST", Severity.WARNING, "<script>alert(1)</script>", "do & see", "IFD 0")
    table = tables.findings_table([Finding("Y_INFO", Severity.INFO, "fine"), hostile])
    assert "<script>" not in table.html and "&lt;script&gt;" in table.html
    assert list(table.frame["code"]) == ["X_TEST", "Y_INFO"]  # worst first
    assert tables.SEVERITY_COLOURS["warning"] in table.html
    none = tables.findings_table([])
    assert repr(none) == "No findings." and "No findings." in none.html


# --- requests --------------------------------------------------------------------------------------------------------------


def test_request_tables_without_times_are_reproducible(served_demo, rep) -> None:
    again = report.inspect(served_demo.url(demo.DEMO_NAME))
    a, b = tables.requests_table(rep.ledger, times=False), tables.requests_table(again.ledger, times=False)
    assert a.equals(b)
    assert list(a["start"]) == sorted(a["start"])
    assert int(a["bytes"].sum()) == rep.ledger.as_dict()["bytes"]
    assert "time" not in tables.requests_summary(rep.ledger, times=False).index
    assert tables.requests_summary(rep.ledger).loc["time", "value"].endswith(" s")
    assert {"at (ms)", "took (ms)"} <= set(tables.requests_table(rep.ledger).columns)


# --- raw XML pager -------------------------------------------------------------------------------------------------------------


def test_pretty_xml_lines_indent_and_keep_text_inline() -> None:
    xml = '<?xml version="1.0"?><OME><Image\n   ID="Image:0"><Description>a  b</Description><Pixels/></Image></OME>'
    assert tables.pretty_xml_lines(xml) == [
        '<?xml version="1.0"?>',
        "<OME>",
        '  <Image ID="Image:0">',
        "    <Description>a  b</Description>",
        "    <Pixels/>",
        "  </Image>",
        "</OME>",
    ]


def test_pretty_xml_lines_survives_broken_xml() -> None:
    lines = tables.pretty_xml_lines("</a></b><c><!-- <d> --><![CDATA[<e>]]>text <unclosed")
    assert lines[0] == "</a>" and any("CDATA" in line for line in lines)


def test_find_and_page() -> None:
    lines = [f"<Channel Name='c{i}'/>" for i in range(450)]
    assert tables.page_count(lines, 200) == 3
    assert tables.find_lines(lines, "NAME='C42'") == [42]
    assert tables.find_lines(lines, "  ") == []
    html = tables.page_html(lines, 5, 200, "c44")  # clamped to the last page
    assert ">450</span>" in html and ">400</span>" not in html and "<mark>c44</mark>9" in html
    assert "<mark>c44</mark>" in tables.page_html(lines, 0, 200, "c44")
    assert "&lt;Channel" in html and "<Channel" not in html


# --- plots -----------------------------------------------------------------------------------------------------------------


def test_pyramid_figure_draws_levels_to_scale(rep) -> None:
    levels = rep.levels()
    fig = plots.pyramid_figure(levels, title=plots.short_name(rep.display_name))
    try:
        rects = [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]
        assert [(r.get_width(), r.get_height()) for r in rects] == [(lv.width, lv.height) for lv in levels]
        assert len({r.get_edgecolor() for r in rects}) == len(levels)  # one colour per level
        labels = plots.figure_labels(fig)
        assert labels[0] == "Pyramid of demo.ome.tif"
        for lv in levels:
            assert f"level {lv.index}: {lv.width} × {lv.height} px, ×{2**lv.index}" in labels
    finally:
        plt.close(fig)


def test_pyramid_png_is_deterministic(rep) -> None:
    a = plots.figure_png(plots.pyramid_figure(rep.levels(), title="demo.ome.tif"))
    b = plots.figure_png(plots.pyramid_figure(rep.levels(), title="demo.ome.tif"))
    assert a.startswith(b"\x89PNG") and a == b
    assert plt.get_fignums() == []  # figure_png closed them


def test_pyramid_figure_handles_odd_levels() -> None:
    odd = [
        Level(0, 1000, 10, 1.0, None, None, None, "NONE", "IFD 0"),
        Level(1, 3, 1, 333.33, None, None, None, "NONE", "IFD 1"),
    ]
    fig = plots.pyramid_figure(odd)
    assert "level 1: 3 × 1 px, ×333.33" in plots.figure_labels(fig)
    plt.close(fig)
    empty = plots.pyramid_figure([])
    assert plots.figure_labels(empty) == ["Pyramid", "no image levels"]
    plt.close(empty)


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("https://h.example/a/b/x%20y.ome.tif?token=***", "x y.ome.tif"),
        ("http://127.0.0.1:8000/demo.ome.tif", "demo.ome.tif"),
        ("/data/local.ome.tiff", "local.ome.tiff"),
    ],
)
def test_short_name(name: str, short: str) -> None:
    assert plots.short_name(name) == short


def test_viewer_estimate_and_probes_tables_over_http() -> None:
    with demo.serve_demo() as server:
        rep = report.inspect(server.url(demo.DEMO_NAME))
    estimate = tables.viewer_estimate_table(rep)
    assert list(estimate.columns) == ["geotiff.js 2.x (estimate)", "this tool"]
    assert estimate.loc["requests", "this tool"] == f"{rep.ledger.count:,}"
    assert estimate.loc["IFDs opened", "this tool"] == "16 (all)"
    probes = tables.probes_table(rep)
    answers = dict(zip(probes["probe"], probes["status"], strict=True))
    assert answers["range past end of file"] == 206 and answers["CORS preflight"] in (200, 204)
    assert answers["offsets.json (sibling)"] == 404
    assert "access-control-allow-headers: Range" in probes.set_index("probe").loc["CORS preflight", "answer"]


def test_probes_table_is_empty_for_local_files() -> None:
    rep = report.inspect(str(demo.demo_path()))
    assert tables.probes_table(rep).empty
    assert tables.viewer_estimate_table(rep).loc["requests", "this tool"] == f"{rep.ledger.count:,}"


def test_pyramid_svg_shows_every_level_in_its_own_row(rep) -> None:
    from types import SimpleNamespace

    from ometiff_helpers.display.pyramid import pyramid_svg

    picture = pyramid_svg(rep.levels(), title="demo.ome.tif")
    root = ElementTree.fromstring(picture.svg)  # well-formed SVG
    ns = "{http://www.w3.org/2000/svg}"
    bars = root.findall(f"{ns}rect")
    assert len(bars) == len(rep.levels()) == 4
    assert all(float(b.get("width")) >= 4 for b in bars)
    assert (
        "level 3: 256 × 192 px, ×8, tiles 512 × 512 (1), ADOBE_DEFLATE  [first paint: channel statistics]"
        in (picture.lines)
    )
    assert "[first paint: fits 1024 px]" in picture.lines[2]
    # 36 levels down to 1 px: every bar visible, every label in its own row (no two texts share a y)
    deep = [
        SimpleNamespace(
            index=i, width=max(1, 2**35 >> i), height=max(1, 2**34 >> i), downsample=2.0**i,
            tile_width=512, tile_height=512, tile_count=1, compression="LZW", path=f"IFD 0 / SubIFD {i}",
        )
        for i in range(36)
    ]  # fmt: skip
    root = ElementTree.fromstring(pyramid_svg(deep).svg)
    assert all(float(b.get("width")) >= 4 for b in root.findall(f"{ns}rect"))
    labels = [t for t in root.findall(f"{ns}text") if t.get("fill") is None][1:]
    ys = [t.get("y") for t in labels]
    assert len(ys) == 36 and len(set(ys)) == 36
    # the first-paint marks sit in a column after the longest label (7 px per character at least)
    marks = [t for t in root.findall(f"{ns}text") if t.get("fill") == "#b71c1c"]
    longest = max(float(t.get("x")) + 7 * len(t.text) for t in labels)
    assert marks and all(float(m.get("x")) >= longest for m in marks)
    assert float(root.get("width")) >= max(float(m.get("x")) + 7 * len(m.text) for m in marks)
    assert int(root.get("height")) <= 30 + 22 * 36 + 8


def test_html_tables_render_a_bounded_number_of_rows() -> None:
    from ometiff_helpers.findings import Finding, Severity

    findings = [Finding(f"CODE{i}", Severity.WARNING, "x" * 200, "y" * 200, f"IFD {i}") for i in range(5000)]
    table = tables.findings_table(findings)
    assert len(table.frame) == 5000 and table.html.count("<tr") == tables.HTML_ROWS + 1
    assert "… and 4,800 more rows" in table.html and len(table.html.encode()) < 1_000_000
    page = table.page_html(table.frame.iloc[4990:])
    assert page.count("<tr") == 11 and f">{table.frame['code'].iloc[-1]}<" in page


def test_tags_table_never_reworks_a_whole_description(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 23 MB OME-XML description: only its head is collapsed to one line (it took seconds per table)."""
    from ometiff_helpers.display.inspect_app import InspectApp

    seen: list[int] = []
    one_line = tables._one_line
    monkeypatch.setattr(tables, "_one_line", lambda text: seen.append(len(text)) or one_line(text))
    rep = report.inspect(str(demo.demo_path()))
    rep.xml_bytes = (rep.xml_bytes or b"") + b" " * 3_000_000
    app = InspectApp()
    app._inspect = lambda location, **kwargs: rep
    app.run("demo")
    assert seen and max(seen) <= 8 * 160
    assert "(OME-XML: see Raw XML)" in app.tags_view.value or "characters)" in app.tags_view.value


def test_frame_keeps_plain_values_and_makes_the_others_friendly() -> None:
    """Column order as given, None not NaN, integers as integers, tuples joined and objects by ``str``, per column."""
    from enum import IntEnum

    from ometiff_helpers.display.tables import frame

    class Kind(IntEnum):
        A = 1

    rows = [
        {"n": 1, "name": "a", "ids": ("x", "y"), "kind": Kind.A, "x": None},
        {"n": None, "name": None, "ids": None, "kind": 2, "x": 1.5, "extra": True},
    ]
    df = frame(rows)
    assert list(df.columns) == ["n", "name", "ids", "kind", "x", "extra"]
    assert df.to_dict("records") == [
        {"n": 1, "name": "a", "ids": "x, y", "kind": Kind.A, "x": None, "extra": None},
        {"n": None, "name": None, "ids": None, "kind": 2, "x": 1.5, "extra": True},
    ]
    assert type(df.loc[0, "n"]) is int and df.loc[1, "n"] is None
    assert list(frame([], ["a", "b"]).columns) == ["a", "b"]
