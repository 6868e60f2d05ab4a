"""A real browser: JupyterLab and the Voila app on 127.0.0.1 driven by headless Chromium (Debian's, through Playwright).

Both work on working copies made by ``./dev.sh workspace`` (as ``./dev.sh demo`` and ``./dev.sh app`` do), and the
repository's ``git status`` is the same afterwards. Open the inspect notebook (or the app), which inspects the demo;
paste another URL with a fake token, click Inspect: the verdict banner is in view with the form, no tab title is cut,
the tabs show the file, every section below the form describes the second file and none the first, and the fake
token is neither in the page nor in the notebook saved to disk. The curator explorer (Voila) on the GeoMx-like file
(20,000 ROIs): readable tree rows, a small page, load progress, search and XPath totals equal to ElementTree's and
exports holding every match. Screenshots go to test-output/browser/.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from faultserver import FaultServer
from playwright.sync_api import Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from ometiff_helpers import demo

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "inspect_remote_ometiff.ipynb"
CHROMIUM = "/usr/bin/chromium"
OUT = REPO / "test-output" / "browser"
FAKE_TOKEN = "FAKEtok3n-d0-not-leak"
SECOND = "tonsil-copy.ome.tif"  # the second file inspected (the demo's bytes under another name)
DEMO_CHANNELS = ["DAPI", "CD31", "Ki-67", "Pan-cytokeratin"]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# JupyterLab settings: no news/update toasts over the page
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    # every cell in the DOM (no windowing), so the test reads every output
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"JupyterLab exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"JupyterLab not ready after {timeout:.0f} s:\n{log.read_text(errors='replace')[-3000:]}")


def _git_status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.fixture
def workspace() -> Iterator[Path]:
    """Working copies made by ``./dev.sh workspace`` in a git-ignored folder of the repository (as ``./dev.sh demo``
    makes them); the repository's ``git status`` must be the same after the session."""
    before = _git_status()
    folder = REPO / "workspace" / f"browser-test-{os.getpid()}"
    env = {**os.environ, "WORKSPACE": str(folder)}
    subprocess.run(["bash", str(REPO / "dev.sh"), "workspace"], cwd=REPO, env=env, check=True)
    try:
        yield folder
        assert not list(folder.glob("*.py")), "jupytext paired a working copy with a .py file"
        assert _git_status() == before, "using the notebooks changed the repository"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _start(cmd: list[str], root: Path, tmp_path: Path, ready: str, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("OMETIFF_URL", "OMETIFF_TOKEN")}
    env.update(
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
    )
    with log.open("wb") as log_fh:
        proc = subprocess.Popen(
            cmd, cwd=root, env=env, stdout=log_fh, stderr=subprocess.STDOUT, start_new_session=True
        )
    _wait_ready(ready, proc, log)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@pytest.fixture
def lab(workspace: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """JupyterLab serving the working copies: yields (notebook URL, notebook path)."""
    settings = tmp_path / "lab-settings"
    for name, value in LAB_SETTINGS.items():
        target = settings / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value), encoding="utf-8")
    port, token = _free_port(), "browser-test-lab-token"
    proc = _start(
        [
            sys.executable, "-m", "jupyterlab",
            "--no-browser", "--ServerApp.open_browser=False",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={workspace}",
            *(["--ServerApp.allow_root=True"] if os.geteuid() == 0 else []),  # CI containers run as root
        ],
        workspace, tmp_path, f"http://127.0.0.1:{port}/api/status?token={token}", tmp_path / "jupyterlab.log",
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK.name}?token={token}", workspace / NOTEBOOK.name
    finally:
        _stop(proc)


def _serve_voila(notebook: Path, workspace: Path, tmp_path: Path) -> Iterator[str]:
    """Voila serving ``notebook`` (a working copy in ``workspace``) until the fixture ends: yields the page's URL."""
    port = _free_port()
    proc = _start(
        [
            sys.executable, "-m", "voila", "--no-browser", "--Voila.ip=127.0.0.1", f"--port={port}",
            str(notebook),
        ],
        workspace, tmp_path, f"http://127.0.0.1:{port}/voila/static/voila.js", tmp_path / "voila.log",
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        _stop(proc)


@pytest.fixture
def voila(workspace: Path, tmp_path: Path) -> Iterator[str]:
    """The Voila app (as ``./dev.sh app`` serves it) on the working copy: yields the app's URL."""
    yield from _serve_voila(workspace / NOTEBOOK.name, workspace, tmp_path)


def _menu(page: Page, menu: str, command: str) -> None:
    page.locator(".lm-MenuBar-item", has_text=menu).first.click()
    page.locator(f'.lm-Menu-item[data-command="{command}"]').click()


def _accept_kernel_dialog(page: Page) -> None:
    """Should JupyterLab still ask which kernel to use, take the notebook's own (the venv's "python3")."""
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    try:
        dialog.wait_for(timeout=2_000)
    except PlaywrightTimeout:
        return
    dialog.locator("button.jp-mod-accept").click()


def _tab(page: Page, title: str) -> None:
    page.locator(".ometiff-tabs .lm-TabBar-tab", has_text=title).first.click()


def _notebook_text(page: Page, selector: str) -> str:
    """Every text under ``selector`` (rendered or not: textContent), e.g. every cell output."""
    return page.eval_on_selector_all(selector, "els => els.map(e => e.textContent).join('\\n')")


def _check_form_results(page: Page, server: FaultServer, shots: str) -> None:
    """After inspecting the second file from the form: the verdict in view, tab titles whole, every tab filled."""
    status = page.locator(".ometiff-status")
    expect(status).to_contain_text(
        f"Inspected http://127.0.0.1:{server.port}/{SECOND}?token=***", timeout=90_000
    )
    expect(page.locator(".ometiff-url input")).to_have_value(
        f"http://127.0.0.1:{server.port}/{SECOND}?token=***"
    )
    # the server answers range requests (206) only with the token: the pasted token was used
    assert [r.status for r in server.log].count(206) >= 3

    # the verdict banner is in view with the form, without scrolling further
    page.locator(".ometiff-url").evaluate("el => el.scrollIntoView({block: 'start'})")
    banner = page.locator(".ometiff-verdict-box .ometiff-verdict")
    expect(banner).to_be_visible()
    box = banner.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= page.viewport_size["height"]
    page.screenshot(path=str(OUT / f"{shots}_verdict.png"))

    # no tab title is cut
    cut = page.eval_on_selector_all(
        ".ometiff-tabs .lm-TabBar-tabLabel",
        "els => els.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)",
    )
    assert cut == []

    _tab(page, "Preview")
    preview = page.locator("img.ometiff-preview")
    expect(preview).to_be_visible()
    assert preview.evaluate("img => img.complete && img.naturalWidth > 200")
    page.locator(".ometiff-tabs").scroll_into_view_if_needed()
    page.screenshot(path=str(OUT / f"{shots}_preview.png"))

    _tab(page, "Channels")
    tabs = page.locator(".ometiff-tabs")
    for name in DEMO_CHANNELS:
        expect(tabs).to_contain_text(name)
    expect(tabs).to_contain_text("4 channels")
    tabs.scroll_into_view_if_needed()
    page.screenshot(path=str(OUT / f"{shots}_channels.png"))

    _tab(page, "Pyramid")
    figure = page.locator(".ometiff-tabs .ometiff-pyramid svg")
    expect(figure).to_be_visible()
    expect(figure).to_contain_text("level 3: 256 × 192 px")
    figure.scroll_into_view_if_needed()
    page.screenshot(path=str(OUT / f"{shots}_pyramid.png"))

    # the fake token is nowhere in the page: text, HTML, or any input's value
    assert FAKE_TOKEN not in page.inner_text("body")
    assert FAKE_TOKEN not in page.content()
    values = page.eval_on_selector_all("input, textarea", "els => els.map(e => e.value).join(' ')")
    assert FAKE_TOKEN not in values


def _second_server() -> FaultServer:
    """The demo's bytes under another name, answering only requests carrying the fake token."""
    return FaultServer({SECOND: demo.demo_path()}, require_token=FAKE_TOKEN).start()


@contextmanager
def _chromium_page(tmp_path: Path, timeout_ms: int, failure_png: str) -> Iterator[Page]:
    """A page of Debian's headless Chromium (its profile under ``tmp_path``); on a failure inside, a screenshot of
    the page is saved to ``OUT / failure_png`` before the error goes on; the browser is closed afterwards."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            page = browser.pages[0] if browser.pages else browser.new_page()
            page.set_default_timeout(timeout_ms)
            try:
                yield page
            except Exception:
                page.screenshot(path=str(OUT / failure_png))
                print(f"\nscreenshot of the failure: {OUT / failure_png}")
                raise
        finally:
            browser.close()


def test_inspect_notebook_in_jupyterlab(lab: tuple[str, Path], tmp_path: Path) -> None:
    url, saved_path = lab
    server = _second_server()
    pasted = server.url(SECOND, token=FAKE_TOKEN)
    OUT.mkdir(parents=True, exist_ok=True)
    try:
        with _chromium_page(tmp_path, 60_000, "failure.png") as page:
            page.goto(url)
            page.locator(".jp-Notebook").first.wait_for()
            # the kernel is started and idle (running before that would ask which kernel to use)
            page.get_by_text("Python 3 (ipykernel) | Idle").first.wait_for(timeout=60_000)
            _menu(page, "Run", "runmenu:run-all")
            _accept_kernel_dialog(page)

            # the notebook loads the demo by itself; its sections below the form describe it
            status = page.locator(".ometiff-status")
            expect(status).to_contain_text("Inspected", timeout=90_000)
            outputs = ".jp-Cell .jp-OutputArea"
            expect(page.locator(outputs).last).to_contain_text("requests", timeout=90_000)
            assert demo.DEMO_NAME in _notebook_text(page, outputs)

            # paste a URL with a (fake) token and inspect
            page.locator(".ometiff-url input").fill(pasted)
            page.locator("button.ometiff-inspect").click()
            _check_form_results(page, server, "inspect")

            # one truth: no cell output shows the first file any more; they describe the second
            deadline = time.monotonic() + 30
            while demo.DEMO_NAME in _notebook_text(page, outputs) and time.monotonic() < deadline:
                time.sleep(0.3)
            text = _notebook_text(page, outputs)
            assert demo.DEMO_NAME not in text
            assert SECOND in text and "Inspecting the URL given in the form" in text

            # ... nor in the notebook saved to disk (a working copy: nothing tracked changes)
            before = saved_path.stat().st_mtime_ns
            _menu(page, "File", "docmanager:save")
            deadline = time.monotonic() + 30
            while saved_path.stat().st_mtime_ns == before and time.monotonic() < deadline:
                time.sleep(0.2)
            assert saved_path.stat().st_mtime_ns != before, "the notebook was not saved"
            saved = saved_path.read_text(encoding="utf-8")
            while not saved.rstrip().endswith("}") and time.monotonic() < deadline:  # still being written
                time.sleep(0.2)
                saved = saved_path.read_text(encoding="utf-8")
            assert FAKE_TOKEN not in saved
            assert "widget-state" not in saved
            assert "Pan-cytokeratin" in saved  # the saved file holds this session's outputs
            saved_outputs = json.dumps([c.get("outputs", []) for c in json.loads(saved)["cells"]])
            assert demo.DEMO_NAME not in saved_outputs and SECOND in saved_outputs
    finally:
        server.stop()


def test_inspect_app_in_voila(voila: str, tmp_path: Path) -> None:
    server = _second_server()
    OUT.mkdir(parents=True, exist_ok=True)
    try:
        with _chromium_page(tmp_path, 60_000, "failure_app.png") as page:
            page.goto(voila, timeout=120_000)
            status = page.locator(".ometiff-status")
            expect(status).to_contain_text("Inspected", timeout=120_000)
            # a code-free app: no code cell, no code in the page
            body = page.inner_text("body")
            assert page.locator(".jp-InputArea-editor, .CodeMirror, .cm-editor").count() == 0
            assert "app.section(" not in body and "import " not in body
            banner = page.locator(".ometiff-verdict-box .ometiff-verdict")
            expect(banner).to_be_visible()
            page.screenshot(path=str(OUT / "app_demo.png"))

            page.locator(".ometiff-url input").fill(server.url(SECOND, token=FAKE_TOKEN))
            page.locator("button.ometiff-inspect").click()
            _check_form_results(page, server, "app")
            # the sections below the form follow: they describe the second file, not the demo
            outputs = ".ometiff-live"
            expect(page.locator(outputs).first).to_contain_text(SECOND)
            text = _notebook_text(page, outputs)
            assert demo.DEMO_NAME not in text and SECOND in text

            # a failing inspection: the red banner, and every section says so instead of the last results
            page.locator(".ometiff-url input").fill(server.url("missing.ome.tif"))
            page.locator("button.ometiff-inspect").click()
            expect(page.locator(".ometiff-verdict-box")).to_contain_text("This file could not be read.")
            expect(page.locator(outputs).first).to_contain_text("the last inspection failed")
            text = _notebook_text(page, outputs)
            assert SECOND not in text and "No problems found" not in text
            page.screenshot(path=str(OUT / "app_failed.png"))
    finally:
        server.stop()


# --- the curator explorer at scale ------------------------------------------------------------------------------------

EXPLORER = REPO / "notebooks" / "explore_ome_xml.ipynb"
GEOMX = "geomx-like.ome.tif"
OME_NS = "{http://www.openmicroscopy.org/Schemas/OME/2016-06}"


def _geomx_file(folder: Path) -> Path:
    """The benchmarks' GeoMx-like OME-TIFF: 20,000 polygon ROIs of 100 points, a 23 MB OME-XML (a sparse file)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from bench_files import FileSpec, write_file
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    spec = FileSpec(GEOMX, "tail", 16384, 16384, channels=4, levels=5, rois=20_000, points=100)
    return write_file(spec, folder / GEOMX)


def _throttled(server: FaultServer, chunk: int = 256 * 1024, pause: float = 0.02) -> None:
    """Long range reads (the OME-XML) arrive at about 12 MB/s, as from a portal: the progress line has time to show."""
    from faultmodes import PathFaults

    def slow(handler: PathFaults) -> bool:
        name = handler.url_path.lstrip("/")
        entry = handler.owner._entry(name)
        if entry is None or handler.command != "GET" or "Range" not in handler.headers:
            return False
        start, end = handler.requested_span(entry.size)
        if end - start < 2 * chunk:
            return False
        handler.send_status(
            206,
            {"Content-Range": f"bytes {start}-{end - 1}/{entry.size}", "Content-Length": str(end - start)},
        )
        handler.end_headers()
        for at in range(start, end, chunk):
            if server.stopping.wait(pause):
                return True
            handler.write_body(entry.read(at, min(end, at + chunk)))
        return True

    server.behaviour = slow


def _search_count(root: ET.Element, query: str) -> int:
    """ElementTree's count of what the explorer's search counts: per element, a tag that contains ``query``, each
    attribute whose name (else value) contains it, and text that contains it (case-insensitive)."""
    needle = query.casefold()
    total = 0
    for el in root.iter():
        total += needle in el.tag.rsplit("}", 1)[-1].casefold()
        for name, value in el.attrib.items():
            total += needle in name.casefold() or needle in value.casefold()
        total += bool(el.text and el.text.strip() and needle in el.text.strip().casefold())
    return total


@pytest.fixture
def voila_explorer(workspace: Path, tmp_path: Path) -> Iterator[str]:
    """The explorer notebook served by Voila from its working copy: yields the page's URL."""
    yield from _serve_voila(workspace / EXPLORER.name, workspace, tmp_path)


def _tree_rows(page: Page) -> list[dict[str, object]]:
    """Each tree row in the DOM: its height, label, and whether it is in the tree's visible box and not covered."""
    return page.evaluate(
        """() => {
          const box = document.querySelector('.ometiff-tree').getBoundingClientRect();
          return Array.from(document.querySelectorAll('.ometiff-tree .ometiff-tree-row')).map(row => {
            const r = row.getBoundingClientRect();
            const label = row.querySelector('.ometiff-tree-label');
            const l = label.getBoundingClientRect();
            const visible = r.bottom > box.top && r.top < box.bottom;
            const inside = l.top >= box.top && l.bottom <= box.bottom;
            const hit = inside ? document.elementFromPoint(l.left + 8, l.top + l.height / 2) : null;
            return {height: r.height, labelHeight: l.height, text: label.textContent.trim(), visible,
                    inside, shown: hit !== null && label.contains(hit)};
          });
        }"""
    )


def test_explorer_at_scale_in_voila(voila_explorer: str, tmp_path: Path) -> None:
    """The GeoMx-like file: readable fixed-height tree rows, a small page, progress while loading, search and XPath
    totals equal to ElementTree's, and exports that hold every match."""
    from ometiff_helpers.display.explore.xmltree import XmlTree
    from ometiff_helpers.io.local import FileSource
    from ometiff_helpers.tiff.read import read_tiff

    path = _geomx_file(tmp_path)
    with FileSource(path) as src:
        xml = read_tiff(src).image_description
    assert xml is not None and len(xml) > 20_000_000
    xml = xml.rstrip(b"\0")
    root = ET.fromstring(xml)
    tree = XmlTree.parse(xml)
    first_page = [tree.label(i) for i in tree.children(tree.root, 0, 100)]
    polygons = len(list(root.iter(f"{OME_NS}Polygon")))
    query = "ROI:12"
    searched = _search_count(root, query)
    assert polygons == 20_000 and searched > 1_000

    server = FaultServer({GEOMX: path}, latency=0.05).start()
    _throttled(server)
    OUT.mkdir(parents=True, exist_ok=True)
    exports = tmp_path / "exports"
    try:
        with _chromium_page(tmp_path, 120_000, "failure_explorer.png") as page:
            page.goto(voila_explorer, timeout=180_000)
            status = page.locator(".ometiff-explore-status")
            expect(status).to_contain_text("elements", timeout=180_000)  # the demo, loaded on start

            # every text the progress line shows while the GeoMx-like file loads
            page.evaluate(
                """() => {
                  const seen = window.__progress = [];
                  const label = document.querySelector('.ometiff-progress-label');
                  new MutationObserver(() => seen.push(label.textContent)).observe(
                    label, {subtree: true, childList: true, characterData: true});
                }"""
            )
            page.locator(".ometiff-explore-source input").fill(server.url(GEOMX))
            load = page.locator("button.ometiff-explore-load")
            load.click()
            expect(load).to_be_disabled()
            expect(status).to_contain_text(f"{len(tree):,} elements", timeout=180_000)
            expect(load).to_be_enabled()
            seen = page.evaluate("() => window.__progress")
            assert any("MiB of" in t and "MiB/s" in t and "left" in t for t in seen), seen
            assert "of XML loaded and indexed" in seen[-1]

            # the tree: fixed-height rows, each showing its label; only a page of them in the DOM
            page.locator(".ometiff-tree").scroll_into_view_if_needed()
            page.screenshot(path=str(OUT / "explorer_tree.png"))
            rows = _tree_rows(page)
            assert len(rows) == 1 + 100 and [r["text"] for r in rows[1:]] == first_page
            assert rows[0]["text"] == tree.label(tree.root)
            assert all(r["height"] >= 16 and r["labelHeight"] >= 16 for r in rows), rows[:5]
            visible = [r for r in rows if r["visible"]]
            assert len(visible) >= 10 and all(r["shown"] for r in visible if r["inside"]), visible
            page.locator(".ometiff-tree").evaluate("el => el.scrollTop = el.scrollHeight")
            rows = _tree_rows(page)
            assert [r["text"] for r in rows if r["inside"]][-1] == first_page[-1]
            assert all(r["shown"] for r in rows if r["inside"])
            dom = page.evaluate("() => document.documentElement.outerHTML.length")
            assert dom < 5_000_000

            # search and XPath: the totals shown are ElementTree's
            page.locator(".ometiff-explore-tabs .lm-TabBar-tab", has_text="Search").first.click()
            page.get_by_placeholder("text to find").fill(query)
            page.locator("button.ometiff-explore-search").click()
            expect(page.locator(".ometiff-search-info")).to_contain_text(f"{searched:,} match(es)")
            page.get_by_placeholder("//ROI[@ID='ROI:1']/Union/*").fill("//ROI/Union/Polygon")
            page.locator("button.ometiff-explore-xpath").click()
            expect(page.locator(".ometiff-xpath-info")).to_contain_text(f"{polygons:,} result(s)")
            page.screenshot(path=str(OUT / "explorer_search.png"))

            # the export holds every match, not just the page shown
            page.locator(".ometiff-explore-tabs .lm-TabBar-tab", has_text="Export").first.click()
            folder = page.locator(".ometiff-explore-folder input")
            folder.fill(str(exports))
            page.locator("button.ometiff-explore-export").click()
            expect(page.locator(".ometiff-export-info")).to_contain_text("Wrote")
    finally:
        server.stop()
    stem = GEOMX.removesuffix(".ome.tif")
    with (exports / f"{stem}_search.csv").open(encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == searched
    with (exports / f"{stem}_xpath.csv").open(encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == polygons
