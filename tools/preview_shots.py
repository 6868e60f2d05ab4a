"""Screenshots of the app's Preview tab: docs/preview-tab-demo.png (the bundled demo) and docs/preview-tab-defects.png
(a generated file where channel 1 is empty, channel 2 holds 12-bit data in uint16 and channel 3's lowest level was
built from channel 0: the verdict lists the pixel findings above the tab).

The inspect notebook runs as the Voilà app (as ``./dev.sh app`` serves it, on working copies made by
``tools/make_workspace.py`` in a temporary folder) and is driven by Debian's headless Chromium through Playwright, as
``tests/test_browser.py`` and ``benchmarks/bench_notebooks.py`` drive it: the app inspects the demo when it opens;
then the defect file, served from 127.0.0.1 by ``tests/faultserver.py``, is pasted and inspected.

    .venv/bin/python tools/preview_shots.py [--out docs]      (needs the test and app extras, /usr/bin/chromium)
"""

from __future__ import annotations

import argparse
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
sys.path.insert(0, str(ROOT / "tools"))

from faultserver import FaultServer  # noqa: E402
from preview_figures import write_defect_file  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
NOTEBOOK = "inspect_remote_ometiff.ipynb"
DEFECTS = "defects.ome.tif"


def _free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_voila(work: Path) -> tuple[subprocess.Popen, str]:
    """Voilà on a working copy of the inspect notebook; its URL once it answers."""
    root = work / "workspace"
    subprocess.run([sys.executable, str(ROOT / "tools" / "make_workspace.py"), str(root)], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("OMETIFF_URL", "OMETIFF_TOKEN")}
    env.update(JUPYTER_CONFIG_DIR=str(work / "config"), JUPYTER_RUNTIME_DIR=str(work / "runtime"))
    cmd = [sys.executable, "-m", "voila", "--no-browser", "--Voila.ip=127.0.0.1", f"--port={port}",
           str(root / NOTEBOOK)]  # fmt: skip
    log = (work / "voila.log").open("wb")
    proc = subprocess.Popen(
        cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    ready = f"http://127.0.0.1:{port}/voila/static/voila.js"
    end = time.monotonic() + 120
    while time.monotonic() < end and proc.poll() is None:
        try:
            with urllib.request.urlopen(ready, timeout=2) as r:
                if r.status == 200:
                    return proc, f"http://127.0.0.1:{port}/"
        except OSError:
            time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGTERM)
    raise SystemExit(f"Voilà did not start: see {work / 'voila.log'}")


def _shoot_preview(page: Page, out: Path) -> None:
    """Open the Preview tab and save the app from the URL field to the end of the tab."""
    page.locator(".ometiff-tabs .lm-TabBar-tab", has_text="Preview").first.click()
    page.locator("img.ometiff-histograms").wait_for(state="visible")
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.ometiff-preview, img.ometiff-histograms')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    page.locator(".ometiff-url").evaluate("el => el.scrollIntoView({block: 'start'})")
    top = page.locator(".ometiff-url").bounding_box()
    tabs = page.locator(".ometiff-tabs").bounding_box()
    assert top is not None and tabs is not None
    y = max(0.0, top["y"] - 8)
    bottom = min(tabs["y"] + tabs["height"] + 8, page.viewport_size["height"])
    page.screenshot(
        path=str(out), clip={"x": 0, "y": y, "width": page.viewport_size["width"], "height": bottom - y}
    )


def main(argv: list[str] | None = None) -> int:
    """Write both screenshots."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs", help="folder of the screenshots (docs)")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="preview-shots-"))
    server = FaultServer({DEFECTS: write_defect_file(work / DEFECTS)}).start()
    proc, url = _start_voila(work)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            try:
                # tall enough for the form and the whole tab: the app scrolls inside its own container, which a
                # full-page screenshot does not unroll
                page = browser.new_page(viewport={"width": 1280, "height": 2800})
                page.set_default_timeout(120_000)
                page.goto(url, timeout=180_000)
                page.locator(".ometiff-status", has_text="Inspected").wait_for()
                _shoot_preview(page, args.out / "preview-tab-demo.png")
                page.locator(".ometiff-url input").fill(server.url(DEFECTS))
                page.locator("button.ometiff-inspect").click()
                page.locator(".ometiff-status", has_text=f"Inspected {server.url(DEFECTS)}").wait_for()
                _shoot_preview(page, args.out / "preview-tab-defects.png")
            finally:
                browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    for name in ("preview-tab-demo.png", "preview-tab-defects.png"):
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
