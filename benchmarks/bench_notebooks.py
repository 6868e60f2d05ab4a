"""The inspect notebook in JupyterLab and the Voilà app, driven by headless Chromium: how soon the answer shows.

For each file (served by `tests/faultserver.py` with 50 ms added to every response) and each frontend: paste the URL,
click **Inspect**, and measure in the page (``performance.now()``, a MutationObserver):
- *verdict*: click -> the new verdict banner is in the DOM;
- *filled*: click -> the status says "Inspected <file>" (the app sets it after every tab and, in the notebook, every
  section below the form has been re-rendered; widget messages arrive in order);
- *DOM*: the page's size afterwards (``outerHTML`` bytes and element count).
Files: the bundled demo, the 36-IFD pyramid (49152 x 65536 px, 4 channels x 9 levels), a 180 x 3 many-plane classic
file, and a GeoMx-like file (20,000 polygon ROIs, a 23 MB OME-XML). Screenshots of each page after the GeoMx-like file
go to ``--shots`` (``docs/`` for the README's pictures).

Then the curator explorer (``explore_ome_xml``, served by Voilà) on the same files: click **Load** -> the tree shown
(the status names the file), a search and an XPath on it, the page's DOM size, and the tree rows (how many are in the
DOM and in view, the smallest row's height); with ``--shots``, ``explore-geomx-like-tree.png`` and
``explore-geomx-like-search.png``.

    .venv/bin/python benchmarks/bench_notebooks.py                     # both frontends, every file (a few minutes)
    .venv/bin/python benchmarks/bench_notebooks.py --frontend voila --shots docs
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_files import FileSpec, write_file  # noqa: E402
from faultserver import FaultServer  # noqa: E402

from ometiff_helpers import demo  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
NOTEBOOK = "inspect_remote_ometiff.ipynb"
EXPLORER = "explore_ome_xml.ipynb"
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}
FILES = [
    FileSpec("pyramid-36ifd.ome.tif", "scattered", 49152, 65536, channels=4, levels=8),
    FileSpec("planes-180x3.ome.tif", "classic", 1024, 1024, 3, planes=180, byteorder="<"),
    FileSpec("geomx-like.ome.tif", "tail", 16384, 16384, channels=4, levels=5, rois=20_000, points=100),
]

_OBSERVE = """name => {
  const old = document.querySelector('.ometiff-verdict-box .ometiff-verdict');
  if (old) old.dataset.bench = 'old';
  const b = window.__bench = {t0: performance.now(), verdict: null, filled: null};
  const look = () => {
    const v = document.querySelector('.ometiff-verdict-box .ometiff-verdict');
    if (b.verdict === null && v && v.dataset.bench !== 'old') b.verdict = performance.now() - b.t0;
    const s = document.querySelector('.ometiff-status');
    if (b.filled === null && s && s.textContent.includes('Inspected') && s.textContent.includes(name))
      b.filled = performance.now() - b.t0;
  };
  new MutationObserver(look).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"server not ready: {url}")


def _start(frontend: str, work: Path, notebook: str = NOTEBOOK) -> tuple[subprocess.Popen, str]:
    port, token = _free_port(), "bench-token"
    env = {k: v for k, v in os.environ.items() if k not in ("OMETIFF_URL", "OMETIFF_TOKEN")}
    settings = work / "lab-settings"
    for name, value in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(value))
    env.update(JUPYTER_CONFIG_DIR=str(work / "config"), JUPYTER_RUNTIME_DIR=str(work / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(work / "workspaces"))  # fmt: skip
    root = work / "workspace"
    if frontend == "voila":
        cmd = [sys.executable, "-m", "voila", "--no-browser", "--Voila.ip=127.0.0.1", f"--port={port}",
               str(root / notebook)]  # fmt: skip
        ready, url = f"http://127.0.0.1:{port}/voila/static/voila.js", f"http://127.0.0.1:{port}/"
    else:
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               *(["--ServerApp.allow_root=True"] if os.geteuid() == 0 else [])]  # fmt: skip
        ready = f"http://127.0.0.1:{port}/api/status?token={token}"
        url = f"http://127.0.0.1:{port}/lab/tree/{notebook}?token={token}"
    log = (work / f"{frontend}.log").open("wb")
    proc = subprocess.Popen(
        cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    _wait(ready, proc)
    return proc, url


def _open(page: Page, frontend: str, url: str) -> None:
    """Load the page; the notebook (run all) or the app inspects the demo by itself."""
    page.goto(url, timeout=180_000)
    if frontend == "lab":
        page.get_by_text("Python 3 (ipykernel) | Idle").first.wait_for(timeout=90_000)
        page.locator(".lm-MenuBar-item", has_text="Run").first.click()
        page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
    page.locator(".ometiff-status", has_text="Inspected").wait_for(timeout=180_000)


def _measure(page: Page, url: str, name: str) -> dict[str, float]:
    """Paste ``url``, click Inspect, wait for the status to name ``name``: the page's own timings and DOM size."""
    page.locator(".ometiff-url input").fill(url)
    page.evaluate(_OBSERVE, name)
    page.locator("button.ometiff-inspect").click()
    page.wait_for_function("() => window.__bench.filled !== null", timeout=300_000, polling=100)
    bench = page.evaluate("() => window.__bench")
    dom = page.evaluate(
        "() => [document.documentElement.outerHTML.length, document.getElementsByTagName('*').length]"
    )
    return {"verdict_s": bench["verdict"] / 1000, "filled_s": bench["filled"] / 1000, "dom_mb": dom[0] / 1e6,
            "elements": dom[1]}  # fmt: skip


_TREE = """() => {
  const box = document.querySelector('.ometiff-tree').getBoundingClientRect();
  const rows = Array.from(document.querySelectorAll('.ometiff-tree .ometiff-tree-row'));
  const heights = rows.map(r => r.getBoundingClientRect().height);
  return {rows: rows.length, min_height: Math.min(...heights),
          visible: rows.filter(r => { const b = r.getBoundingClientRect(); return b.bottom > box.top && b.top < box.bottom; }).length};
}"""


def _explore(page: Page, url: str, name: str, shots: Path | None) -> dict[str, float]:
    """The explorer (Voila): paste ``url``, click Load, wait for the tree; then a search and an XPath on it."""
    page.locator(".ometiff-explore-tabs .lm-TabBar-tab", has_text="Tree").first.click()
    page.locator(".ometiff-explore-source input").fill(url)
    page.evaluate(
        """name => { const b = window.__bench = {t0: performance.now(), loaded: null};
          new MutationObserver(() => { const s = document.querySelector('.ometiff-explore-status');
            if (b.loaded === null && s && s.textContent.includes(name + ':') && s.textContent.includes('elements'))
              b.loaded = performance.now() - b.t0; }).observe(document.body, {subtree: true, childList: true,
              characterData: true}); }""",
        url.rsplit("/", 1)[-1],
    )
    page.locator("button.ometiff-explore-load").click()
    page.wait_for_function("() => window.__bench.loaded !== null", timeout=300_000, polling=100)
    loaded = page.evaluate("() => window.__bench.loaded") / 1000
    tree = page.evaluate(_TREE)
    dom = page.evaluate(
        "() => [document.documentElement.outerHTML.length, document.getElementsByTagName('*').length]"
    )
    if shots is not None:
        page.locator(".ometiff-explore-source").evaluate("el => el.scrollIntoView({block: 'start'})")
        page.screenshot(path=str(shots / f"explore-{name}-tree.png"))
    page.locator(".ometiff-explore-tabs .lm-TabBar-tab", has_text="Search").first.click()
    page.get_by_placeholder("text to find").fill("ROI:12")
    t0 = time.perf_counter()
    page.locator("button.ometiff-explore-search").click()
    page.locator(".ometiff-search-info", has_text="match(es)").wait_for(timeout=120_000)
    search = time.perf_counter() - t0
    page.get_by_placeholder("//ROI[@ID='ROI:1']/Union/*").fill("//ROI/Union/Polygon")
    t0 = time.perf_counter()
    page.locator("button.ometiff-explore-xpath").click()
    page.locator(".ometiff-xpath-info", has_text="result(s)").wait_for(timeout=120_000)
    xpath = time.perf_counter() - t0
    if shots is not None:
        page.locator(".ometiff-explore-source").evaluate("el => el.scrollIntoView({block: 'start'})")
        page.screenshot(path=str(shots / f"explore-{name}-search.png"))
    return {"load_s": loaded, "search_s": search, "xpath_s": xpath, "dom_mb": dom[0] / 1e6, "elements": dom[1],
            "tree_rows": tree["rows"], "visible_rows": tree["visible"], "min_row_px": tree["min_height"]}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--frontend", choices=["lab", "voila", "both", "none"], default="both", help="none: only the explorer"
    )
    ap.add_argument(
        "--latency", type=float, default=0.05, help="seconds added to every response (default 0.05)"
    )
    ap.add_argument("--shots", type=Path, help="folder for screenshots (e.g. docs)")
    ap.add_argument(
        "--no-explorer", action="store_true", help="skip the explorer notebook (Voila) on the files"
    )
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-notebooks-"))
    subprocess.run([sys.executable, str(ROOT / "tools" / "make_workspace.py"), str(work / "workspace")], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    files = {"demo.ome.tif": demo.demo_path()}
    for spec in FILES:
        files[spec.name] = write_file(spec, work / spec.name)
    served = {f"bench-{name}": path for name, path in files.items()}  # names the demo's own URL does not have
    server = FaultServer(served, latency=args.latency).start()
    rows = []
    explored = []
    try:
        with sync_playwright() as pw:
            for frontend in {"both": ["lab", "voila"], "none": []}.get(args.frontend, [args.frontend]):
                proc, url = _start(frontend, work)
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                try:
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    _open(page, frontend, url)
                    for name in served:
                        result = _measure(page, server.url(name), name)
                        rows.append({"frontend": frontend, "file": name.removeprefix("bench-"), **result})
                        print(json.dumps(rows[-1]), flush=True)
                    if args.shots:
                        args.shots.mkdir(parents=True, exist_ok=True)
                        page.locator(".ometiff-url").evaluate("el => el.scrollIntoView({block: 'start'})")
                        page.screenshot(path=str(args.shots / f"inspect-{frontend}-geomx-like.png"))
                        if frontend == "voila":  # the app's ROIs tab: a page of 200 of the 20,000 ROIs
                            page.locator(".ometiff-tabs .lm-TabBar-tab", has_text="ROIs").first.click()
                            page.locator(".ometiff-count", has_text="20,000 ROIs").first.wait_for()
                            page.screenshot(path=str(args.shots / "inspect-voila-geomx-like-rois.png"))
                finally:
                    browser.close()
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=30)
            if not args.no_explorer:
                proc, url = _start("voila", work, EXPLORER)
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                try:
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    page.goto(url, timeout=180_000)
                    page.locator(".ometiff-explore-status", has_text="elements").wait_for(timeout=180_000)
                    for name in served:
                        short = name.removeprefix("bench-").removesuffix(".ome.tif")
                        shots = args.shots if args.shots and short == "geomx-like" else None
                        result = _explore(page, server.url(name), short, shots)
                        explored.append({"file": short, **result})
                        print(json.dumps(explored[-1]), flush=True)
                finally:
                    browser.close()
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=30)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    if rows:
        print()
        print(
            "| frontend | file | click -> verdict (s) | click -> every tab filled (s) | DOM (MB) | elements |"
        )
        print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['frontend']} | {r['file']} | {r['verdict_s']:.2f} | {r['filled_s']:.2f} | {r['dom_mb']:.2f} | "
              f"{r['elements']:,} |")  # fmt: skip
    if explored:
        print()
        print("| explorer (Voila) | click Load -> tree (s) | search (s) | XPath (s) | DOM (MB) | elements | tree rows "
              "in the DOM | rows in view | smallest row (px) |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in explored:
            print(f"| {r['file']} | {r['load_s']:.2f} | {r['search_s']:.2f} | {r['xpath_s']:.2f} | {r['dom_mb']:.2f} | "
                  f"{r['elements']:,} | {r['tree_rows']} | {r['visible_rows']} | {r['min_row_px']:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
