"""Network probes against the loopback test FaultServer (with its modes), with a canary token that must never leak."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import tifffile
from faultserver import FaultServer
from gen_defects import Spec, write

from ometiff_helpers.demo import demo_path
from ometiff_helpers.diagnose.probes import compare_offsets, offsets_name, portal_offsets_url, without_secrets
from ometiff_helpers.findings import Finding, Severity
from ometiff_helpers.report import Report, inspect
from ometiff_helpers.urls import SecretURL

CANARY = "CANARY-t0k3n-5ecret"
NET = {"SERVER_RANGE", "CORS", "AUTH", "OFFSETS_MISSING", "OFFSETS_WRONG", "URL_NOT_OME_NAME"}
TIF = "ometiff-pyramids/run1/demo.ome.tif"
SIBLING = "ometiff-pyramids/run1/demo.offsets.json"
PORTAL = "output_offsets/run1/demo.offsets.json"


def offsets_of(path: Path) -> list[int]:
    with tifffile.TiffFile(path) as tif:
        return [p.offset for p in tif.pages]


@pytest.fixture
def demo_offsets() -> bytes:
    return json.dumps(offsets_of(demo_path())).encode()


def serve(files: dict[str, Path | bytes], **kw: object) -> FaultServer:
    kw.setdefault("require_token", CANARY)
    return FaultServer(files, **kw).start()  # type: ignore[arg-type]


@pytest.fixture
def servers() -> Iterator[list[FaultServer]]:
    started: list[FaultServer] = []
    yield started
    for s in started:
        s.stop()


def run(server: FaultServer, name: str = TIF, token: str | None = CANARY) -> Report:
    return inspect(server.url(name, token=token), probes=True)


def net(report: Report) -> list[Finding]:
    return [f for f in report.findings if f.code in NET]


def assert_no_canary(report: Report, caplog: pytest.LogCaptureFixture) -> None:
    text = report.to_json() + repr(report.findings) + caplog.text
    assert CANARY not in text
    assert "token=***" in json.dumps(report.extra["probes"]) or "token" not in json.dumps(
        report.extra["probes"]
    )


def test_healthy_server_with_both_offsets(
    servers: list[FaultServer], demo_offsets: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    s = serve({TIF: demo_path(), SIBLING: demo_offsets, PORTAL: demo_offsets})
    servers.append(s)
    report = run(s)
    assert net(report) == [], net(report)
    probes = report.extra["probes"]
    assert [o["outcome"] for o in probes["offsets"]] == ["valid", "valid"]
    assert probes["offsets"][1]["url"].endswith("/output_offsets/run1/demo.offsets.json?token=***")
    assert probes["range_eof"]["status"] == 206 and probes["preflight"]["status"] == 204
    assert probes["without_token"]["status"] == 401
    assert probes["requests"] <= 6 and probes["bytes"] <= 64 * 1024 + 4096
    assert_no_canary(report, caplog)
    # the probes are counted apart: the main ledger is what a run without probes needs
    plain = inspect(s.url(TIF, token=CANARY), probes=False)
    assert report.ledger.count == plain.ledger.count and report.ledger.bytes == plain.ledger.bytes
    est = report.extra["viewer_estimate"]
    assert est["geotiff_js"]["used_offsets"] is True and est["this_tool"]["count"] == report.ledger.count


def test_missing_cors_headers(servers: list[FaultServer], caplog: pytest.LogCaptureFixture) -> None:
    s = serve({TIF: demo_path()}, cors=False)
    servers.append(s)
    report = run(s)
    cors = [f for f in report.findings if f.code == "CORS"]
    assert {f.severity for f in cors} == {Severity.ERROR}
    assert any("Access-Control-Allow-Origin is 'missing'" in f.message for f in cors)
    assert any(
        "Access-Control-Allow-Headers is missing (it must include Range);" in f.message for f in cors
    ) or any("Access-Control-Allow-Headers is missing (it must include Range). " in f.message for f in cors)
    assert not any("missing does not include" in f.message for f in cors)
    assert_no_canary(report, caplog)


def test_content_range_not_exposed(servers: list[FaultServer], caplog: pytest.LogCaptureFixture) -> None:
    s = serve({TIF: demo_path()}, modes={"no_expose"})
    servers.append(s)
    report = run(s)
    (cors,) = [f for f in report.findings if f.code == "CORS"]
    assert cors.severity is Severity.WARNING and "does not expose Content-Range" in cors.message
    assert "Access-Control-Expose-Headers: Content-Range" in cors.remedy


def test_head_refused_but_get_works(servers: list[FaultServer], caplog: pytest.LogCaptureFixture) -> None:
    s = serve({TIF: demo_path()}, modes={"head403"})
    servers.append(s)
    report = run(s)
    (auth,) = [f for f in report.findings if f.code == "AUTH"]
    assert (
        auth.severity is Severity.INFO and "HEAD is refused (HTTP 403) while ranged GET works" in auth.message
    )
    statuses = {(r.method, r.status) for r in s.log}
    assert ("HEAD", 403) in statuses and ("GET", 206) in statuses
    assert_no_canary(report, caplog)


def test_token_not_needed(servers: list[FaultServer]) -> None:
    s = serve({TIF: demo_path()}, require_token=None)
    servers.append(s)
    report = run(s)
    (auth,) = [f for f in report.findings if f.code == "AUTH"]
    assert "read without its token" in auth.message and "HTTP 206" in auth.message


@pytest.mark.parametrize(
    ("mode", "severity", "evidence"),
    [
        ("eof416", Severity.ERROR, "got HTTP 416"),
        ("eof200", Severity.ERROR, "got the whole file (HTTP 200)"),
        ("no_total", Severity.WARNING, "without the total size"),
    ],
)
def test_range_straddling_eof(
    servers: list[FaultServer], mode: str, severity: Severity, evidence: str, caplog: pytest.LogCaptureFixture
) -> None:
    s = serve({TIF: demo_path()}, modes={mode})
    servers.append(s)
    report = run(s)
    hits = [f for f in report.findings if f.code == "SERVER_RANGE"]
    assert any(f.severity is severity and evidence in f.message for f in hits), hits
    size = demo_path().stat().st_size
    assert f"bytes={size - 32768}-{size + 32767}" in report.extra["probes"]["range_eof"]["request_range"]
    assert report.extra["probes"]["range_eof"]["nbytes"] <= 64 * 1024 + 1
    assert_no_canary(report, caplog)


def test_whole_file_answer_to_the_first_range(servers: list[FaultServer]) -> None:
    s = serve({TIF: demo_path()}, modes={"ignore_range"})
    servers.append(s)
    report = run(s)
    assert any(f.code == "SERVER_RANGE" and "HTTP 200 instead of 206" in f.message for f in report.errors)


def test_wrong_offsets_at_both_locations(
    servers: list[FaultServer], caplog: pytest.LogCaptureFixture
) -> None:
    real = offsets_of(demo_path())
    s = serve({
        TIF: demo_path(),
        SIBLING: json.dumps(real[:3]).encode(),
        PORTAL: json.dumps([real[0], real[1] + 2, *real[2:]]).encode(),
    })  # fmt: skip
    servers.append(s)
    report = run(s)
    wrong = {f.where: f for f in report.findings if f.code == "OFFSETS_WRONG"}
    assert set(wrong) == {"sibling", "output_offsets"}
    assert wrong["sibling"].severity is Severity.ERROR
    assert "3 offsets, but the file has 4 top-level IFDs" in wrong["sibling"].message
    assert (
        f"first at index 1: {real[1] + 2:,} listed, IFD 1 is at {real[1]:,}"
        in wrong["output_offsets"].message
    )
    assert "generate_tiff_offsets" in wrong["sibling"].remedy
    assert_no_canary(report, caplog)


def test_offsets_not_json(servers: list[FaultServer]) -> None:
    s = serve({TIF: demo_path(), SIBLING: b"<html>login</html>"})
    servers.append(s)
    report = run(s)
    (f,) = [f for f in report.findings if f.code == "OFFSETS_WRONG"]
    assert "not JSON (starts with '<html>login</html>')" in f.message


def test_many_ifds_without_offsets(
    tmp_path: Path, servers: list[FaultServer], caplog: pytest.LogCaptureFixture
) -> None:
    p = write(tmp_path / "many.ome.tif", Spec(size_c=41, size_x=8, size_y=8, tile=None))
    name = "ometiff-pyramids/many.ome.tif"
    s = serve({name: p})
    servers.append(s)
    report = run(s, name)
    (f,) = [f for f in report.findings if f.code == "OFFSETS_MISSING"]
    assert f.severity is Severity.WARNING and "41 top-level IFDs and no usable offsets.json" in f.message
    assert "sibling: HTTP 404" in f.message and "output_offsets: HTTP 404" in f.message
    est = report.extra["viewer_estimate"]["geotiff_js"]
    assert est["used_offsets"] is False and est["ifds_opened"] == 6
    # with a valid portal offsets file the warning goes away
    s.set_file("output_offsets/many.offsets.json", json.dumps(offsets_of(p)).encode())
    assert not [f for f in run(s, name).findings if f.code == "OFFSETS_MISSING"]
    assert_no_canary(report, caplog)


def test_url_not_named_ome(tmp_path: Path, servers: list[FaultServer]) -> None:
    s = serve({"data/image.tif": demo_path()})
    servers.append(s)
    report = run(s, "data/image.tif")
    (f,) = [f for f in report.findings if f.code == "URL_NOT_OME_NAME"]
    assert f.severity is Severity.WARNING and "'image.tif'" in f.message
    skipped = report.extra["probes"]["offsets"][1]
    assert skipped["outcome"] == "skipped" and "ometiff-pyramids" in skipped["detail"]


def test_local_files_are_not_probed() -> None:
    report = inspect(str(demo_path()), probes=True)
    assert "probes" not in report.extra


def test_url_helpers() -> None:
    url = SecretURL(f"https://h.example/a/ometiff-pyramids/x/y/S1.ome.tiff?token={CANARY}&v=2")
    assert offsets_name("S1.ome.tiff") == "S1.offsets.json" and offsets_name("a.TIF") == "a.offsets.json"
    portal = portal_offsets_url(url)
    assert portal is not None
    assert portal.redacted == "https://h.example/a/output_offsets/x/y/S1.offsets.json?token=***&v=2"
    assert portal_offsets_url(SecretURL("https://h.example/a/S1.ome.tif")) is None
    bare = without_secrets(url)
    assert bare is not None and CANARY not in bare.reveal() and bare.reveal().endswith("S1.ome.tiff?v=2")
    assert without_secrets(SecretURL("https://h.example/a.ome.tif?v=1")) is None
    assert compare_offsets(b"[8, 16]", [8, 16]) is None
    assert compare_offsets(b'{"offsets": [8]}', [8]) == "not a JSON list of integers (found dict)"


def test_offsets_error_page_echoing_the_token(
    servers: list[FaultServer], caplog: pytest.LogCaptureFixture
) -> None:
    """A non-JSON offsets answer is quoted in the finding: a page that echoes the token is quoted redacted."""
    s = serve({TIF: demo_path(), SIBLING: f"bad token {CANARY}".encode()})
    servers.append(s)
    report = run(s)
    (f,) = [f for f in report.findings if f.code == "OFFSETS_WRONG"]
    assert "not JSON (starts with 'bad token ***')" in f.message
    assert_no_canary(report, caplog)


def test_slow_bodies_are_cut_by_the_probe_deadline(range_server) -> None:
    """A server that sends one byte now and then never trips the per-read timeout: each probe body stops at
    twice the probe timeout (raw reads, one socket read at a time), so the probes end in seconds, not hours.
    (The bounds are wide: a whole probe body at this pace would take over ten minutes.)"""
    from faultserver import CANARY as FAULT_CANARY

    from ometiff_helpers.diagnose.probes import ProbeOptions, run_probes
    from ometiff_helpers.io.base import HttpOptions
    from ometiff_helpers.io.http.source import HttpSource

    data = demo_path().read_bytes()
    s = range_server({"f.ome.tif": data})
    src = HttpSource(s.fault_url("slow", "f.ome.tif", after=1, every=0.02), options=HttpOptions())
    src.open(1000)  # the first request is served normally, every later one one byte at a time
    t0 = time.monotonic()
    results = run_probes(src, [8], options=ProbeOptions(timeout=1.0))
    assert time.monotonic() - t0 < 60
    assert results.range_eof is not None and results.range_eof.status == 206
    assert 0 < results.range_eof.nbytes < 1000  # ~2 s of one byte every 20 ms (of 32 KiB)
    assert FAULT_CANARY not in json.dumps(results.as_dict())
    src.close()


def test_a_probe_whose_headers_trickle_is_cut_at_its_deadline(servers: list[FaultServer]) -> None:
    """HEAD answered one header byte every 0.5 s: each read is quick, so only the watchdog ends it, before the
    status line is complete (8.5 s; the whole header would take over 100 s)."""
    from ometiff_helpers.diagnose.probes import ProbeOptions, run_probes
    from ometiff_helpers.io.http.source import HttpSource

    s = serve({TIF: demo_path()}, modes={"trickle_head"})
    s.trickle_every = 0.5
    servers.append(s)
    source = HttpSource(s.url(TIF, token=CANARY))
    source.open(64 * 1024)
    t0 = time.monotonic()
    results = run_probes(source, offsets_of(demo_path()), options=ProbeOptions(timeout=1.5))
    elapsed = time.monotonic() - t0
    source.close()
    assert elapsed < 30  # the HEAD probe is cut after 3 x 1.5 s; the others answer at once
    assert results.head is not None and results.head.status is None
    assert results.head.error == "no answer within 4.5 s"
    assert results.preflight is not None and results.preflight.status in (200, 204)
    assert CANARY not in json.dumps(results.as_dict())
