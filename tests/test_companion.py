"""A multi-file set inspected through its companion file, over HTTP with a token in the query."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ometiff_helpers.__main__ import main
from ometiff_helpers.companion import inspect_companion, is_companion, member_location
from ometiff_helpers.diagnose.viewer import ViewerVersion
from ometiff_helpers.findings import Severity

SET = ["multifile.companion.ome"] + [f"multifile-Z{z}.ome.tiff" for z in range(1, 6)]


def _serve(range_server: Callable[..., object], corpus_dir: Path, token: str, skip: str = "") -> object:
    folder = corpus_dir / "viv" / "avivator" / "data"
    return range_server({f"set/{n}": folder / n for n in SET if n != skip}, require_token=token)


def test_member_location_keeps_the_query() -> None:
    url = "https://h.example/a/b/x.companion.ome?token=T&x=1"
    assert member_location(url, "x-Z1.ome.tiff") == "https://h.example/a/b/x-Z1.ome.tiff?token=T&x=1"
    assert is_companion(url) and not is_companion("https://h.example/x.ome.tif?f=.companion.ome")


def test_the_set_over_http_with_a_token(
    range_server: Callable[..., object], corpus_dir: Path, canary: str, capsys: pytest.CaptureFixture[str]
) -> None:
    server = _serve(range_server, corpus_dir, canary)
    url = server.url("set/multifile.companion.ome", token=canary)  # type: ignore[attr-defined]
    report = inspect_companion(url)
    assert [m.file_name for m in report.files] == SET[1:]
    assert all(m.error is None and m.ifds == 1 and (m.width, m.height) == (18, 24) for m in report.files)
    assert report.errors == [] and report.verdict() == "no problems found"
    assert [f.code for f in report.findings] == ["MULTI_FILE"] and "without its query" in report.findings[
        0
    ].message
    assert canary not in json.dumps(report.to_dict())
    assert main([url, "--checks"]) == 0
    out = capsys.readouterr().out
    assert "multifile-Z5.ome.tiff: 1 IFD(s), 18 x 24" in out and canary not in out
    old = inspect_companion(url, viewer=ViewerVersion.parse("0.13.8"))
    assert old.errors and "Viv 0.13.8 cannot open a multi-file set" in old.errors[0].message


def test_a_missing_member_is_an_error(
    range_server: Callable[..., object], corpus_dir: Path, canary: str, capsys: pytest.CaptureFixture[str]
) -> None:
    server = _serve(range_server, corpus_dir, canary, skip="multifile-Z3.ome.tiff")
    url = server.url("set/multifile.companion.ome", token=canary)  # type: ignore[attr-defined]
    report = inspect_companion(url)
    [error] = report.errors
    assert (
        error.severity is Severity.ERROR
        and error.code == "MULTI_FILE"
        and "'multifile-Z3.ome.tiff'" in error.message
    )
    assert canary not in error.message
    assert main([url, "--checks", "--json"]) == 1
    assert canary not in capsys.readouterr().out


def test_a_stub_member_names_the_sets_verdict(
    range_server: Callable[..., object], corpus_dir: Path, canary: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A BinaryOnly stub opened alone fails in the viewer (exit 1); its companion beside it is read and judged."""
    server = _serve(range_server, corpus_dir, canary)
    url = server.url("set/multifile-Z2.ome.tiff", token=canary)  # type: ignore[attr-defined]
    assert main([url, "--checks", "--no-probes"]) == 1
    out = capsys.readouterr().out
    assert "MULTI_FILE" in out and canary not in out
    assert "The set, opened through its companion" in out and "(5 files): no problems found" in out
