"""A real browser: JupyterLab on 127.0.0.1 driven by headless Chromium (Debian's, through Playwright).

Open the inspect notebook, run all cells, paste the demo URL with a fake token, click Inspect; the Channels tab
lists the demo's channels, the pyramid figure is shown, and the fake token is neither in the page nor in the
notebook saved to disk. Screenshots go to test-output/browser/.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
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
    }
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


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """JupyterLab serving a temp folder holding a copy of the notebook: yields (notebook URL, notebook path)."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    settings = tmp_path / "lab-settings"
    for name, value in LAB_SETTINGS.items():
        target = settings / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value), encoding="utf-8")
    port, token = _free_port(), "browser-test-lab-token"
    env = {k: v for k, v in os.environ.items() if k not in ("OMETIFF_URL", "OMETIFF_TOKEN")}
    env.update(
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
    )
    log = tmp_path / "jupyterlab.log"
    with log.open("wb") as log_fh:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "jupyterlab",
                "--no-browser", "--ServerApp.open_browser=False",
                "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
                *(["--ServerApp.allow_root=True"] if os.geteuid() == 0 else []),  # CI containers run as root
            ],
            cwd=root, env=env, stdout=log_fh, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        _wait_ready(f"http://127.0.0.1:{port}/api/status?token={token}", proc, log)
        yield f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK.name}?token={token}", root / NOTEBOOK.name
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


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


def test_inspect_notebook_in_jupyterlab(lab: tuple[str, Path], tmp_path: Path) -> None:
    url, saved_path = lab
    server = FaultServer(
        {demo.DEMO_NAME: demo.demo_path()}, require_token=FAKE_TOKEN
    ).start()  # answers only requests carrying the fake token
    pasted = server.url(demo.DEMO_NAME, token=FAKE_TOKEN)
    OUT.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"),
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 1100},
            )
            try:
                page = browser.pages[0] if browser.pages else browser.new_page()
                page.set_default_timeout(60_000)
                page.goto(url)
                page.locator(".jp-Notebook").first.wait_for()
                # the kernel is started and idle (running before that would ask which kernel to use)
                page.get_by_text("Python 3 (ipykernel) | Idle").first.wait_for(timeout=60_000)
                _menu(page, "Run", "runmenu:run-all")
                _accept_kernel_dialog(page)

                # the notebook loads the demo by itself
                status = page.locator(".ometiff-status")
                expect(status).to_contain_text("Inspected", timeout=90_000)

                # paste a URL with a (fake) token and inspect
                field = page.locator(".ometiff-url input")
                field.fill(pasted)
                page.locator("button.ometiff-inspect").click()
                expect(status).to_contain_text(
                    f"Inspected http://127.0.0.1:{server.port}/demo.ome.tif?token=***", timeout=90_000
                )
                expect(field).to_have_value(f"http://127.0.0.1:{server.port}/demo.ome.tif?token=***")
                # the server answers range requests (206) only with the token: the pasted token was used
                # (inspect's probes add a preflight, a request without the token (401) and a sidecar lookup)
                assert [r.status for r in server.log].count(206) >= 3

                _tab(page, "Preview")
                preview = page.locator("img.ometiff-preview")
                expect(preview).to_be_visible()
                assert preview.evaluate("img => img.complete && img.naturalWidth > 200")
                page.locator(".ometiff-tabs").scroll_into_view_if_needed()
                page.screenshot(path=str(OUT / "inspect_preview.png"))

                _tab(page, "Channels")
                tabs = page.locator(".ometiff-tabs")
                for name in DEMO_CHANNELS:
                    expect(tabs).to_contain_text(name)
                tabs.scroll_into_view_if_needed()
                page.screenshot(path=str(OUT / "inspect_channels.png"))

                _tab(page, "Pyramid")
                figure = page.locator("img.ometiff-pyramid")
                expect(figure).to_be_visible()
                assert figure.evaluate(
                    "img => img.complete && img.naturalWidth > 200 && img.naturalHeight > 200"
                )
                figure.scroll_into_view_if_needed()
                page.screenshot(path=str(OUT / "inspect_pyramid.png"))
                print(f"\nscreenshots: {OUT / 'inspect_channels.png'} {OUT / 'inspect_pyramid.png'}")

                # the fake token is nowhere in the page: text, HTML, or any input's value
                assert FAKE_TOKEN not in page.inner_text("body")
                assert FAKE_TOKEN not in page.content()
                values = page.eval_on_selector_all(
                    "input, textarea", "els => els.map(e => e.value).join(' ')"
                )
                assert FAKE_TOKEN not in values

                # ... nor in the notebook saved to disk
                before = saved_path.stat().st_mtime_ns
                _menu(page, "File", "docmanager:save")
                deadline = time.monotonic() + 30
                while saved_path.stat().st_mtime_ns == before and time.monotonic() < deadline:
                    time.sleep(0.2)
                assert saved_path.stat().st_mtime_ns != before, "the notebook was not saved"
                saved = saved_path.read_text(encoding="utf-8")
                assert FAKE_TOKEN not in saved
                assert "widget-state" not in saved
                assert "Pan-cytokeratin" in saved  # the saved file holds this session's outputs
            except Exception:
                page.screenshot(path=str(OUT / "failure.png"))
                print(f"\nscreenshot of the failure: {OUT / 'failure.png'}")
                raise
            finally:
                browser.close()
    finally:
        server.stop()
