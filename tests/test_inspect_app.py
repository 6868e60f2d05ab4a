"""The inspect app (widgets driven from Python against a real loopback server) and the committed notebook pair."""

from __future__ import annotations

import html
import importlib.util
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import ipywidgets as w
import jupytext
import nbformat
import pytest
from faultserver import FaultServer
from gen_defects import Spec, write

from ometiff_helpers import demo
from ometiff_helpers.display import tables
from ometiff_helpers.display.inspect_app import TAB_TITLES, InspectApp
from ometiff_helpers.errors import OmeTiffError
from ometiff_helpers.records.notebook import load_sanitize_patterns, sanitize_text
from ometiff_helpers.target import resolve_target
from ometiff_helpers.urls import SecretURL

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "inspect_remote_ometiff"
DEMO_CHANNELS = ["DAPI", "CD31", "Ki-67", "Pan-cytokeratin"]


def _load_build_tool():
    spec = importlib.util.spec_from_file_location("build_notebooks", REPO / "tools" / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def _all_widget_state() -> str:
    """Every live widget's state (what the frontend, and a notebook saving widget state, would get)."""
    return repr(w.Widget.get_manager_state(drop_defaults=False))


def _html_of(widget: w.Widget) -> str:
    """The HTML of every `w.HTML` inside ``widget`` (boxes walked), in order."""
    if isinstance(widget, w.HTML):
        return widget.value
    return "".join(_html_of(child) for child in getattr(widget, "children", ()))


def _pane_html(app: InspectApp, title: str) -> str:
    return _html_of(app.tabs.children[TAB_TITLES.index(title)])


@pytest.fixture
def token_server(canary: str):
    server = FaultServer({demo.DEMO_NAME: demo.demo_path()}, require_token=canary).start()
    yield server
    server.stop()


# --- where to read -----------------------------------------------------------------------------------------------------


def test_resolve_target_prefers_parameters_then_environment_then_demo(canary: str) -> None:
    env = {"OMETIFF_URL": "https://env.example/a.ome.tif", "OMETIFF_TOKEN": canary}
    given = resolve_target("https://param.example/b.ome.tif?v=1", "", environ=env)
    assert given.origin == "parameters" and given.note is None
    assert isinstance(given.location, SecretURL)
    assert (
        given.location.reveal() == f"https://param.example/b.ome.tif?v=1&token={canary}"
    )  # param URL + env token
    from_env = resolve_target("", "", environ=env)
    assert from_env.origin == "environment"
    assert isinstance(from_env.location, SecretURL)
    assert from_env.location.reveal() == f"https://env.example/a.ome.tif?token={canary}"
    assert canary not in from_env.describe() and canary not in repr(from_env)
    demo_target = resolve_target("", "", environ={})
    assert demo_target.origin == "demo"
    assert demo_target.display_name == demo.demo_url()
    local = resolve_target(str(demo.demo_path()), "", environ={})
    assert local.location == str(demo.demo_path())


@pytest.mark.parametrize(
    ("url", "token", "environ", "set_aside"),
    [
        ("https://param.example/b.ome.tif?token=abc", "", {"OMETIFF_TOKEN": "ENVCANARY"}, "$OMETIFF_TOKEN"),
        ("https://param.example/b.ome.tif?token=abc", "ENVCANARY", {}, "the separate token"),
        ("", "", {"OMETIFF_URL": "https://env.example/b.ome.tif?token=abc", "OMETIFF_TOKEN": "ENVCANARY"},
         "$OMETIFF_TOKEN"),
    ],
)  # fmt: skip
def test_the_urls_own_token_wins_and_the_target_says_so(
    url: str, token: str, environ: dict[str, str], set_aside: str
) -> None:
    """A URL with its own token is sent with that token only (not ``token=abc&token=...``), and a note says why the
    other token was not used."""
    target = resolve_target(url, token, environ=environ)
    assert isinstance(target.location, SecretURL)
    assert target.location.reveal().endswith("b.ome.tif?token=abc")
    assert target.display_name.count("token=") == 1
    assert target.note is not None and set_aside in target.note and "own token" in target.note
    assert "ENVCANARY" not in target.describe() and target.note in target.describe()


def test_the_form_keeps_the_urls_own_token_and_says_so(token_server, canary: str) -> None:
    app = InspectApp()
    app.url.value = token_server.url(demo.DEMO_NAME, token=canary)
    app.token.value = "WRONGCANARY"
    assert app.inspect_form() is not None  # the URL's own (right) token was sent, not both
    assert "own token" in app.status.value and "WRONGCANARY" not in app.status.value
    statuses = [r.status for r in token_server.log]  # the right token was let in (a wrong one gets 403)
    assert statuses.count(206) >= 2 and 403 not in statuses


# --- the app -----------------------------------------------------------------------------------------------------------


def test_inspect_from_the_form_redacts_the_url_and_keeps_the_token_in_memory(
    token_server, canary: str
) -> None:
    app = InspectApp()
    url = token_server.url(demo.DEMO_NAME, token=canary)
    app.url.value = url
    app.inspect_form()
    assert app.error is None, app.error
    assert app.url.value == url.replace(canary, "***")
    assert app.token.value == ""
    assert canary not in _all_widget_state()
    # the redacted text left in the field still reads the file: the token is in memory
    app.inspect_form()
    assert app.error is None and app.report is not None
    assert canary not in _all_widget_state()
    assert len([r for r in token_server.log if r.status == 206]) >= 2


def test_separate_token_field_is_used_and_emptied(token_server, canary: str) -> None:
    app = InspectApp()
    app.url.value = token_server.url(demo.DEMO_NAME)
    app.token.value = canary
    app.inspect_form()
    assert app.error is None, app.error
    assert app.token.value == ""
    assert app.url.value.endswith("/demo.ome.tif?token=***")
    assert canary not in _all_widget_state()


def test_refused_token_is_reported_without_the_token(token_server, canary: str) -> None:
    app = InspectApp()
    wrong = canary[::-1]
    app.url.value = token_server.url(demo.DEMO_NAME, token=wrong)
    assert app.inspect_form() is None
    assert app.error is not None and "403" in app.error
    assert wrong not in app.status.value and wrong not in _all_widget_state()
    assert app.button.disabled is False


def test_empty_form_asks_for_a_url() -> None:
    app = InspectApp()
    assert app.inspect_form() is None
    assert "Paste a URL" in app.status.value


def test_tabs_show_the_demo(token_server, canary: str) -> None:
    app = InspectApp()
    rep = app.run(token_server.url(demo.DEMO_NAME), token=canary)
    assert rep is not None
    assert list(app.tabs.titles) == list(TAB_TITLES)
    assert all(name in _pane_html(app, "Channels") for name in DEMO_CHANNELS)
    assert "background:#FF0000" in _pane_html(app, "Channels")
    assert "0.325" in _pane_html(app, "Summary")
    pyramid = _pane_html(app, "Pyramid")
    assert pyramid.count("<svg") == 1 and "level 3: 256 × 192 px" in pyramid
    assert "Germinal centre" in _pane_html(app, "ROIs")
    assert "Human tonsil" in _pane_html(app, "Annotations")
    assert "Demo Scope 3000" in _pane_html(app, "Instrument")
    assert "ExposureTime" not in _pane_html(app, "Planes") and "300.0" in _pane_html(app, "Planes")
    assert "IFD 3 / SubIFD 2" in _pane_html(app, "IFDs & tags")
    assert "rounds" in _pane_html(app, "Requests")
    # progress was reported
    assert app.progress.value == app.progress.max > 1
    assert app.progress_label.value.startswith("done: ") and "rounds" in app.progress_label.value
    # tags of another IFD
    app.ifd_picker.value = "IFD 2 / SubIFD 1"
    assert "IFD 2 / SubIFD 1" in app.tags_view.value and "IFD 0 / SubIFD 0" not in app.tags_view.value


def test_preview_tab_comes_first_among_the_details(token_server, canary: str) -> None:
    app = InspectApp()
    rep = app.run(token_server.url(demo.DEMO_NAME), token=canary)
    assert TAB_TITLES[:2] == ("Summary", "Preview")
    assert rep.pixels is not None and len(rep.pixels.channels) == len(DEMO_CHANNELS)
    preview = app.tabs.children[TAB_TITLES.index("Preview")].children
    images = [c for c in preview if isinstance(c, w.Image)]
    assert len(images) == 2 and all(bytes(i.value).startswith(b"\x89PNG") for i in images)
    text = _pane_html(app, "Preview")
    assert all(name in text for name in DEMO_CHANNELS)
    lo, hi = rep.pixels.channels[0].contrast_limits
    assert f"[{lo:g}, {hi:g}]" in text and "Lowest pyramid level 3 of 4" in text
    assert canary not in text + _all_widget_state()
    # the notebook's sections show the same drawings, not drawn a second time
    from ometiff_helpers.display import plots

    assert plots.preview_section(rep).png is plots.preview_png(rep.pixels) == bytes(images[0].value)
    assert plots.histograms_section(rep).png is plots.histograms_png(rep.pixels) == bytes(images[1].value)


def test_raw_xml_search_moves_to_the_matching_page(token_server, canary: str) -> None:
    app = InspectApp()
    app.run(token_server.url(demo.DEMO_NAME, token=canary))
    assert "page 1 of 1" in app.xml_info.value  # the demo's XML fits one page
    app.xml_search.value = "pan-CYTOKERATIN"
    assert "<mark>Pan-cytokeratin</mark>" in app.xml_view.value
    assert "matching lines" in app.xml_info.value


def test_raw_xml_pages(monkeypatch: pytest.MonkeyPatch, token_server, canary: str) -> None:
    monkeypatch.setattr("ometiff_helpers.display.inspect_app.XML_LINES_PER_PAGE", 20)
    app = InspectApp()
    app.run(token_server.url(demo.DEMO_NAME, token=canary))
    pages = -(-len(app._xml_lines) // 20)
    assert f"page 1 of {pages}" in app.xml_info.value
    app.xml_search.value = "ROI:2"
    first_hit = app._xml_hits[0]
    assert app._xml_page == first_hit // 20
    app.xml_next.click()
    assert app._xml_page == min(first_hit // 20 + 1, pages - 1)
    app.xml_prev.click()
    app.xml_prev.click()
    assert app._xml_page == max(first_hit // 20 - 1, 0)


def test_display_fallback_text_is_fixed() -> None:
    bundle = InspectApp()._repr_mimebundle_()
    assert bundle["text/plain"] == "Inspect form (widgets: run the notebook to use it)"
    assert "application/vnd.jupyter.widget-view+json" in bundle


# --- the committed notebook ------------------------------------------------------------------------------------------------


def test_committed_notebook_matches_its_percent_source() -> None:
    source = jupytext.read(NOTEBOOK.with_suffix(".py"))
    committed = nbformat.read(NOTEBOOK.with_suffix(".ipynb"), as_version=4)
    assert [(c.cell_type, c.source) for c in committed.cells] == [
        (c.cell_type, c.source) for c in source.cells
    ]
    assert committed.metadata["kernelspec"]["name"] == "python3"
    assert any("parameters" in c.metadata.get("tags", []) for c in committed.cells)


def test_committed_notebook_has_outputs_but_no_widget_state_ports_or_paths() -> None:
    text = NOTEBOOK.with_suffix(".ipynb").read_text(encoding="utf-8")
    nb = json.loads(text)
    assert "widgets" not in nb["metadata"]
    assert "application/vnd.jupyter.widget" not in text
    assert "/tmp/" not in text and str(REPO) not in text
    assert "127.0.0.1:PORT/demo.ome.tif" in text
    code = [
        c
        for c in nb["cells"]
        if c["cell_type"] == "code" and "parameters" not in c["metadata"].get("tags", [])
    ]
    quiet = ("NBVAL_IGNORE_OUTPUT", "import ")  # the imports cell shows nothing
    assert all(c["outputs"] or any(q in "".join(c["source"]) for q in quiet) for c in code)
    assert any("image/svg+xml" in o.get("data", {}) for c in code for o in c["outputs"])
    assert all(name in text for name in DEMO_CHANNELS)


def test_clean_strips_widget_state_and_sanitises() -> None:
    tool = _load_build_tool()
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={
                "text/plain": "at http://127.0.0.1:51234/x",
                "application/vnd.jupyter.widget-view+json": {},
            },
        ),
        nbformat.v4.new_output("stream", text="served from localhost:8888 and /tmp/pytest-1/a.tif"),
    ]
    volatile = nbformat.v4.new_code_cell("# NBVAL_IGNORE_OUTPUT\nt")
    volatile.outputs = [nbformat.v4.new_output("stream", text="0.123 s")]
    nb.cells = [cell, volatile]
    cleaned = tool.clean(nb, load_sanitize_patterns(tool.SANITIZE_CFG))
    assert "widgets" not in cleaned.metadata
    assert cleaned.cells[0].outputs[0]["data"] == {"text/plain": "at http://127.0.0.1:PORT/x"}
    assert cleaned.cells[0].outputs[1]["text"] == "served from localhost:PORT and TMPPATH"
    assert cleaned.cells[1].outputs == []
    assert [c.id for c in cleaned.cells] == ["cell-000", "cell-001"]


def test_sanitisers_are_narrow() -> None:
    """No rule may blank whole outputs: each leaves a description of the file untouched."""
    tool = _load_build_tool()
    rules = load_sanitize_patterns(tool.SANITIZE_CFG)
    assert rules, "notebooks/sanitize.cfg has no rules"
    sample = (
        "X 2048 × Y 1536 × Z 1 × C 4 × T 1 (uint16, XYCZT); 371.7 KiB (380,659 bytes); offset 49136; DAPI"
    )
    assert sanitize_text(sample, rules) == sample


def test_headless_run_reads_the_environment_and_saves_no_token(
    monkeypatch: pytest.MonkeyPatch, token_server, canary: str
) -> None:
    """The notebook run headless with $OMETIFF_URL / $OMETIFF_TOKEN: it inspects that URL, and even with nbclient
    storing widget state (its default) the executed notebook holds no trace of the token."""
    from nbclient import NotebookClient

    monkeypatch.setenv("OMETIFF_URL", token_server.url(demo.DEMO_NAME))
    monkeypatch.setenv("OMETIFF_TOKEN", canary)
    nb = jupytext.read(NOTEBOOK.with_suffix(".py"))
    NotebookClient(nb, kernel_name="python3", timeout=120, store_widget_state=True).execute()
    text = nbformat.writes(nb)
    assert canary not in text
    assert (
        f"Inspecting the URL in $OMETIFF_URL: http://127.0.0.1:{token_server.port}/demo.ome.tif?token=***"
        in text
    )
    assert "widget-state" in text  # the state was stored, and it holds only the redacted URL
    assert all(name in text for name in DEMO_CHANNELS)
    assert [r.status for r in token_server.log].count(206) >= 3  # the token reached the server


def test_save_record_button_saves_a_record_without_the_token(
    token_server, canary: str, tmp_path: Path
) -> None:
    """The "Save record" button runs the real records.make_record: the notebook is executed again for the URL read."""
    app = InspectApp()
    app.records_dir = tmp_path
    assert app.save_button.disabled  # nothing read yet
    app.url.value = token_server.url(demo.DEMO_NAME, token=canary)
    app.inspect_form()
    assert not app.save_button.disabled
    app.save_record(wait=True)
    assert app.saved_record is not None and app.saved_record.parent == tmp_path, app.status.value
    saved = app.saved_record.read_bytes()
    assert canary.encode() not in saved
    assert b"CD31" in saved and b"Saved record" in app.status.value.encode()
    assert canary not in _all_widget_state()


def test_save_record_before_inspecting_is_refused() -> None:
    app = InspectApp()
    with pytest.raises(OmeTiffError, match="inspect a file"):
        app.save_record()


# --- at scale: bounded pages, the verdict first, one truth per notebook --------------------------------------------------


def _bench_files():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import bench_files
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    return bench_files


@pytest.fixture(scope="module")
def many_rois(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 20,000-ROI OME-TIFF (sparse pixels, a ~3 MB OME-XML), as portal files with annotations have."""
    bench_files = _bench_files()
    spec = bench_files.FileSpec("rois.ome.tif", "tail", 4096, 4096, channels=3, levels=3, rois=20_000)
    return bench_files.write_file(spec, tmp_path_factory.mktemp("rois") / spec.name)


def _widget_html_sizes(app: InspectApp) -> dict[str, int]:
    return {title: len(_pane_html(app, title).encode()) for title in TAB_TITLES}


def test_every_tab_renders_a_bounded_page_of_a_20000_roi_file(many_rois: Path) -> None:
    app = InspectApp()
    rep = app.run(str(many_rois))
    assert rep is not None, app.error
    sizes = _widget_html_sizes(app)
    assert all(size < 1_000_000 for size in sizes.values()), sizes
    rois = app._pagers["rois"]
    assert len(rois.frame) == 20_000 and rois.view.value.count("<tr") == 200 + 1  # a page and its header
    assert "20,000 ROIs" in rois.info.value and "page 1 of 100" in rois.info.value
    rois.next.click()
    assert "rows 201–400" in rois.info.value and "ROI:200" in rois.view.value
    rois.filter.value = "ROI:19999"
    assert "1 of 20,000 ROIs match" in rois.info.value and "ROI:19999" in rois.view.value
    rois.filter.value = "no such roi"
    assert "no row matches" in rois.view.value
    shapes = app._pagers["shapes"]
    assert len(shapes.frame) == 20_000 and len(shapes.view.value.encode()) < 1_000_000
    # the notebook's sections are bounded too
    section = app.section(lambda r: tables.ome_part(r, "rois"))
    assert len(section.html.encode()) < 1_000_000


def test_small_tables_show_their_count_and_a_filter(token_server, canary: str) -> None:
    app = InspectApp()
    app.run(token_server.url(demo.DEMO_NAME, token=canary))
    channels = app._pagers["channels"]
    assert channels.info.value.startswith("4 channels") and channels.filter in channels.bar.children
    channels.filter.value = "ki-67"
    assert "Ki-67" in channels.view.value and "DAPI" not in channels.view.value
    assert (
        "background:#FF0000" in app._pagers["channels"].frame.to_string() or "swatch" in channels.view.value
    )


def test_verdict_banner_comes_first_with_every_error_and_its_remedy(tmp_path: Path) -> None:
    path = write(tmp_path / "defects.ome.tif", Spec(xml_size_x=100, ome_type="float", tile=None))
    app = InspectApp()
    rep = app.run(str(path))
    assert rep is not None and rep.errors
    banner = app.verdict.value
    assert app.widget.children.index(app.verdict) < app.widget.children.index(app.tabs)
    assert "ometiff-verdict-error" in banner and "will not render this file" in banner
    for f in rep.errors:
        assert f.code in banner and html.escape(f.remedy) in banner


def test_verdict_banner_of_the_demo_is_green(token_server, canary: str) -> None:
    app = InspectApp()
    rep = app.run(token_server.url(demo.DEMO_NAME, token=canary))
    assert not rep.errors
    assert "ometiff-verdict-error" not in app.verdict.value
    assert "ometiff-verdict-ok" in app.verdict.value or "ometiff-verdict-warning" in app.verdict.value


def test_tab_titles_are_never_cut() -> None:
    style = InspectApp().widget.children[0].value
    assert "flex: 0 0 auto" in style and "flex-wrap: wrap" in style


def test_sections_follow_the_file_last_inspected(tmp_path: Path, canary: str) -> None:
    other = tmp_path / "second-file.ome.tif"
    other.write_bytes(demo.demo_path().read_bytes())
    server = FaultServer({demo.DEMO_NAME: demo.demo_path(), other.name: other}).start()
    try:
        app = InspectApp()
        app.run(server.url(demo.DEMO_NAME))
        sections = [
            app.section(tables.summary_table),
            app.section(lambda r: tables.findings_table(r.findings)),
            app.section(lambda r: r.display_name),
        ]
        assert all(demo.DEMO_NAME in s.text + s.html for s in sections[::2])
        app.run(server.url(other.name))
        for s in sections:
            shown = s.text + s.html + repr(s.output.outputs)
            assert demo.DEMO_NAME not in shown
        assert "second-file.ome.tif" in sections[0].text
        # a failing inspection replaces every section with a note (no stale verdict under the red error)
        app.run(server.url("missing.ome.tif"))
        assert app.error
        for s in sections:
            shown = s.text + s.html + repr(s.output.outputs)
            assert "second-file" not in shown and "Verdict" not in shown
            assert "the last inspection failed" in s.text
        assert "ometiff-verdict-error" in app.verdict.value and "could not be read" in app.verdict.value
    finally:
        server.stop()


# --- the repository stays clean ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["inspect_remote_ometiff", "explore_ome_xml"])
def test_pairing_writes_the_reviewed_source_unchanged(name: str) -> None:
    """What jupytext writes to the paired .py when JupyterLab saves a notebook (with an editor's metadata: language
    info, collapsed cells) is the reviewed source itself: no metadata block is added."""
    from jupytext.config import load_jupytext_config

    config = load_jupytext_config(str(REPO / "notebooks"))
    nb = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.2"}
    nb.cells[1].metadata.update(collapsed=True, scrolled=True)
    text = jupytext.writes(nb, fmt="py:percent", config=config)
    assert text == (REPO / "notebooks" / f"{name}.py").read_text(encoding="utf-8")


def test_working_copies_are_unpaired(tmp_path: Path) -> None:
    from jupytext.config import load_jupytext_config

    spec = importlib.util.spec_from_file_location("make_workspace", REPO / "tools" / "make_workspace.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    copies = module.make_workspace(tmp_path / "ws")
    assert {p.name for p in copies} == {
        "inspect_remote_ometiff.ipynb",
        "explore_ome_xml.ipynb",
        "audit_portal.ipynb",
    }
    for copy in copies:
        nb = nbformat.read(copy, as_version=4)
        assert "formats" not in nb.metadata.get("jupytext", {})
        assert len(nb.cells) == len(nbformat.read(REPO / "notebooks" / copy.name, as_version=4).cells)
    assert load_jupytext_config(str(tmp_path / "ws")).formats in ("ipynb", ["ipynb"])
    # a copy the user changed is kept
    mine = tmp_path / "ws" / "inspect_remote_ometiff.ipynb"
    mine.write_text(mine.read_text(encoding="utf-8").replace("Inspect", "Looked at"), encoding="utf-8")
    module.make_workspace(tmp_path / "ws")
    assert "Looked at" in mine.read_text(encoding="utf-8")


def test_origin_field_is_what_the_cors_probes_send() -> None:
    server = FaultServer({demo.DEMO_NAME: demo.demo_path()}).start()
    try:
        app = InspectApp()
        assert app.origin.value == "https://portal.hubmapconsortium.org"  # the documented default
        app.origin.value = "https://viewer.example.org"
        assert app.run(server.url(demo.DEMO_NAME)) is not None
        origins = {h.get("Origin") for _, _, _, h, _ in server.seen if h.get("Origin")}
        assert origins == {"https://viewer.example.org"}
        app.origin.value = "not an origin"
        assert app.run(server.url(demo.DEMO_NAME)) is None
        assert "not a page origin" in app.error and "could not be read" in app.verdict.value
    finally:
        server.stop()


def test_a_big_xml_is_laid_out_when_its_tab_opens(
    monkeypatch: pytest.MonkeyPatch, token_server, canary
) -> None:
    monkeypatch.setattr("ometiff_helpers.display.inspect_app.XML_EAGER_CHARS", 100)
    app = InspectApp()
    app.run(token_server.url(demo.DEMO_NAME, token=canary))
    assert app._xml_lines == [] and "laid out when this tab is opened" in app.xml_view.value
    app.tabs.selected_index = TAB_TITLES.index("Raw XML")
    assert len(app._xml_lines) > 50 and "page 1 of 1" in app.xml_info.value
    app.tabs.selected_index = 0
    app.run(token_server.url(demo.DEMO_NAME, token=canary))
    app.xml_search.value = "Pan-cytokeratin"  # a search lays it out too
    assert "<mark>Pan-cytokeratin</mark>" in app.xml_view.value
