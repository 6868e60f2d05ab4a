"""The command line, run as a user runs it (a subprocess): output, exit status, errors, secrets."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import tifffile
from faultserver import FaultServer

from ometiff_helpers.demo import demo_path

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


MAIN_SOURCE = (Path(__file__).resolve().parents[1] / "ometiff_helpers" / "__main__.py").read_text()


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ometiff_helpers", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_json_matches_tifffile_on_the_demo() -> None:
    done = run_cli(str(demo_path()), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with tifffile.TiffFile(demo_path()) as tif:
            offsets = [page.offset for page in tif.pages]
            sub_offsets = [list(page.tags["SubIFDs"].value) for page in tif.pages]
            size = tif.filehandle.size
            description_count = tif.pages[0].tags["ImageDescription"].count  # bytes, with the NUL
    assert data["size"] == size and data["bigtiff"] is True and data["byteorder"] == ">"
    assert [ifd["offset"] for ifd in data["ifds"]] == offsets
    assert [[sub["offset"] for sub in ifd["subifds"]] for ifd in data["ifds"]] == sub_offsets
    ifd0 = data["ifds"][0]
    assert (ifd0["width"], ifd0["height"], ifd0["tile_width"], ifd0["tile_height"]) == (2048, 1536, 512, 512)
    assert ifd0["compression"] == 8
    assert {"code": 256, "name": "ImageWidth", "type": "LONG", "count": 1} in [
        {k: t[k] for k in ("code", "name", "type", "count")} for t in ifd0["tags"]
    ]
    assert data["image_description_length"] in (description_count, description_count - 1)
    assert set(data["requests"]) >= {"count", "bytes", "rounds"} and data["requests"]["count"] >= 1
    assert data["ome"]["channels"] == ["DAPI", "CD31", "Ki-67", "Pan-cytokeratin"]
    assert [lv["width"] for lv in data["levels"]] == [2048, 1024, 512, 256]
    assert data["findings"] == [] and data["verdict"] == "no problems found"


def test_text_summary_over_http_from_the_demo_server() -> None:
    done = run_cli("--demo")
    assert done.returncode == 0, done.stderr
    for expected in (
        "BigTIFF, big-endian; OME-TIFF (schema 2016-06)",
        "4: DAPI, CD31, Ki-67, Pan-cytokeratin",
        "Pyramid levels",
        "0.325 µm × 0.325 µm",
        "Requests:",
        "Fingerprint: size=",
    ):
        assert expected in done.stdout


def test_checks_exit_1_when_the_viewer_cannot_render() -> None:
    done = run_cli(str(CORPUS / "viv/avivator/data/multifile-Z1.ome.tiff"), "--checks")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "ERROR" in done.stdout and "MULTI_FILE" in done.stdout and "fix:" in done.stdout


def test_not_a_tiff_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    page = tmp_path / "login.ome.tif"
    page.write_bytes(b"<!DOCTYPE html><html><body>Please log in</body></html>")
    done = run_cli(str(page))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_refused_token_names_the_problem_and_never_prints_the_token(canary: str) -> None:
    with FaultServer({"x.ome.tif": demo_path()}, require_token="the-right-one") as server:
        done = run_cli(server.url("x.ome.tif", token=canary), "--json")
    assert done.returncode == 2
    assert "token" in done.stderr.lower() and "Traceback" not in done.stderr
    assert canary not in done.stdout + done.stderr


def test_token_from_the_environment_is_used_and_not_printed(canary: str) -> None:
    import os

    with FaultServer({"x.ome.tif": demo_path()}, require_token=canary) as server:
        done = run_cli(server.url("x.ome.tif"), env={**os.environ, "OMETIFF_TOKEN": canary})
    assert done.returncode == 0, done.stderr
    assert "DAPI" in done.stdout and canary not in done.stdout + done.stderr


def test_offsets_file_fetches_all_ifds_at_once(tmp_path: Path) -> None:
    data = json.loads(run_cli(str(demo_path()), "--json").stdout)
    offsets = tmp_path / "demo.offsets.json"
    offsets.write_text(json.dumps([ifd["offset"] for ifd in data["ifds"]]))
    with_offsets = json.loads(run_cli(str(demo_path()), "--json", "--offsets", str(offsets)).stdout)
    assert [i["offset"] for i in with_offsets["ifds"]] == [i["offset"] for i in data["ifds"]]
    assert with_offsets["requests"]["rounds"] <= data["requests"]["rounds"]


def test_bad_offsets_file_is_a_clear_error(tmp_path: Path) -> None:
    offsets = tmp_path / "bad.offsets.json"
    offsets.write_text('{"not": "a list"}')
    done = run_cli(str(demo_path()), "--offsets", str(offsets))
    assert done.returncode == 2 and "list of non-negative integers" in done.stderr


@pytest.mark.parametrize("args", [(), ("--json",)])
def test_closed_pipe_is_not_an_error(args: tuple[str, ...]) -> None:
    command = f"{sys.executable} -m ometiff_helpers {demo_path()} {' '.join(args)} | head -c 20"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_help_lists_every_command_and_the_origin_default() -> None:
    out = run_cli("--help").stdout
    for command in (
        "record URL",
        "recheck RECORD",
        "offsets URL",
        "fix-xml URL",
        "audit LIST",
        "--demo",
        "--origin",
    ):
        assert command in out
    subcommands = {"record", "recheck", "offsets", "fix-xml", "audit"}  # every name __main__ dispatches on
    dispatched = set(re.findall(r'argv\[0\] == "([a-z-]+)"', MAIN_SOURCE)) | {"record", "recheck"}
    assert dispatched == subcommands
    assert "https://portal.hubmapconsortium.org" in " ".join(out.split())


def test_origin_option_is_what_the_cors_probes_send() -> None:
    server = FaultServer({"demo.ome.tif": demo_path()}).start()
    try:
        r = run_cli(server.url("demo.ome.tif"), "--origin", "https://viewer.example.org:8443")
        assert r.returncode == 0, r.stderr
        origins = {h.get("Origin") for _, _, _, h, _ in server.seen if h.get("Origin")}
        assert origins == {"https://viewer.example.org:8443"}
    finally:
        server.stop()


def test_a_bad_origin_is_one_clear_line() -> None:
    r = run_cli(str(demo_path()), "--origin", "https://x.org/\r\nEvil: 1")
    assert r.returncode == 2 and r.stderr.startswith("error: not a page origin:")
    assert "An origin is a scheme and a host" in r.stderr and "Traceback" not in r.stderr


# the HTTP and pixel libraries, pandas, and what xml.sax.saxutils pulled in (urllib.request: http, email): tens of
# milliseconds of start-up a local inspect does not need
_HEAVY = (
    "requests",
    "urllib3",
    "numpy",
    "imagecodecs",
    "pandas",
    "xml.sax",
    "urllib.request",
    "http.client",
    "email",
    "concurrent.futures",
)
_IMPORTED = "import sys; print(' '.join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)"


def _heavy_imported(code: str) -> set[str]:
    """Which of the HTTP and pixel libraries a fresh interpreter has imported after running ``code``."""
    done = subprocess.run(
        [sys.executable, "-c", code + "\n" + _IMPORTED.format(heavy=_HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return set(done.stderr.strip().splitlines()[-1].split()) if done.stderr.strip() else set()


def test_importing_the_report_loads_no_http_or_pixel_library() -> None:
    assert _heavy_imported("import ometiff_helpers.report") == set()


def test_cli_on_a_local_file_without_pixels_loads_no_http_or_pixel_library() -> None:
    code = (
        "from ometiff_helpers.__main__ import main\n"
        f"assert main([{str(demo_path())!r}, '--no-pixels', '--checks']) in (0, 1)"
    )
    assert _heavy_imported(code) == set()


def test_cli_over_http_and_with_pixels_loads_what_it_needs() -> None:
    """The deferred imports still happen where they are needed: a URL brings requests, pixels bring numpy."""
    with FaultServer({"demo.ome.tif": demo_path()}) as server:
        code = (
            "from ometiff_helpers.__main__ import main\n"
            f"assert main([{server.url('demo.ome.tif')!r}, '--checks']) in (0, 1)"
        )
        loaded = _heavy_imported(code)
    assert {"requests", "urllib3", "numpy"} <= loaded


def _modules_after(code: str) -> set[str]:
    """Every module a fresh interpreter has imported after running ``code``."""
    done = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sorted(sys.modules)), file=sys.stderr)"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return set(done.stderr.strip().splitlines()[-1].split())


#: modules a local inspect of the demo does not need, imported only where they are used (a URL's probes, a companion
#: file, the records of plates, projects, datasets, groups and BinaryOnly stubs, the JSON module for ``--json``,
#: hashlib and with it OpenSSL for an OME-XML over 1 MiB, logging for a URL or a configured log)
_DEFERRED = (
    "ometiff_helpers.diagnose.probes",
    "ometiff_helpers.companion",
    "ometiff_helpers.ome.model_containers",
    "json",
    "hashlib",
    "_hashlib",
    "logging",
)


@pytest.mark.parametrize("extra", [["--no-pixels"], []], ids=["no-pixels", "default"])
def test_cli_on_a_local_file_leaves_the_url_and_companion_modules_unimported(extra: list[str]) -> None:
    code = f"from ometiff_helpers.__main__ import main\nassert main([{str(demo_path())!r}, *{extra!r}]) in (0, 1)"
    loaded = _modules_after(code)
    assert "ometiff_helpers.report" in loaded
    assert not loaded & set(_DEFERRED)


def test_cli_over_http_imports_the_probes() -> None:
    """The deferred probes module is still imported, and the probes still sent, when the target is a URL."""
    with FaultServer({"demo.ome.tif": demo_path()}) as server:
        code = (
            "from ometiff_helpers.__main__ import main\n"
            f"assert main([{server.url('demo.ome.tif')!r}, '--no-pixels', '--checks']) in (0, 1)"
        )
        loaded = _modules_after(code)
    assert "ometiff_helpers.diagnose.probes" in loaded


def test_evaluate_still_offers_the_probe_records() -> None:
    """``ProbeOptions`` and ``ProbeResults`` stay importable from ``diagnose.evaluate`` (loaded on first use)."""
    from ometiff_helpers.diagnose import evaluate, probes

    assert evaluate.ProbeOptions is probes.ProbeOptions
    assert evaluate.ProbeResults is probes.ProbeResults
    assert probes.DEFAULT_ORIGIN == "https://portal.hubmapconsortium.org"
    with pytest.raises(AttributeError):
        _ = evaluate.NoSuchName  # type: ignore[attr-defined]


_BLAS_SEEN = """
import os, sys
seen = []
class Spy:
    def find_spec(self, name, path=None, target=None):
        if name == "numpy":
            seen.append(os.environ.get("OPENBLAS_NUM_THREADS"))
sys.meta_path.insert(0, Spy())
from ometiff_helpers.__main__ import main
assert main([{path!r}]) in (0, 1)
print(seen, os.environ.get("OPENBLAS_NUM_THREADS"), file=sys.stderr)
"""


@pytest.mark.parametrize(("given", "at_import"), [(None, "1"), ("3", "3")])
def test_cli_loads_numpy_without_the_blas_thread_pool_unless_told(given: str | None, at_import: str) -> None:
    """numpy is imported with OPENBLAS_NUM_THREADS=1 during an inspect (a user's own value is kept); after the
    inspect the environment is as it was."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    done = subprocess.run(
        [sys.executable, "-c", _BLAS_SEEN.format(path=str(demo_path()))],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == f"[{at_import!r}] {given}"


def test_cli_with_pixels_on_a_local_file_loads_only_the_codec_in_use() -> None:
    """The default command (pixels and their checks) on the Deflate-compressed demo: numpy and imagecodecs' Deflate
    (libdeflate) and zlib, no other codec's extension module, no plotting, table or widget library, no HTTP
    library."""
    code = f"from ometiff_helpers.__main__ import main\nassert main([{str(demo_path())!r}]) in (0, 1)"
    loaded = _modules_after(code)
    assert {"numpy", "imagecodecs", "imagecodecs._deflate"} <= loaded
    codecs = {m for m in loaded if m.startswith("imagecodecs._") and not m.startswith("imagecodecs._shared")}
    assert codecs == {
        "imagecodecs._deflate",
        "imagecodecs._zlib",
    }  # imagecodecs' Deflate module imports its zlib
    tops = {m.split(".")[0] for m in loaded}
    assert not tops & {"matplotlib", "pandas", "ipywidgets", "IPython", "PIL", "requests", "urllib3"}
    assert "concurrent.futures" not in loaded
