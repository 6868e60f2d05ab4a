"""Byte-source defects, each pinned against a real loopback server: the offsets.json side file read as JSON, a round
that reacts to its first failure, multipart/byteranges named, one sniffer, one send for reads and probes, the
redaction of presigned URLs, the declared urllib3 floor and honest type hints."""

from __future__ import annotations

import json
import random
import re
import ssl
import threading
import time
import tomllib
import typing
from pathlib import Path

import pytest
import urllib3
from faultserver import FaultHandler as _Handler
from faultserver import FaultServer as _Server
from faultserver import make_self_signed_cert

from ometiff_helpers.__main__ import main
from ometiff_helpers.demo import demo_path
from ometiff_helpers.diagnose.probes import ProbeOptions, run_probes
from ometiff_helpers.errors import AccessDenied, NotATiff, ProtocolError
from ometiff_helpers.io.base import HttpOptions
from ometiff_helpers.io.http.source import HttpSource
from ometiff_helpers.io.local import FileSource
from ometiff_helpers.io.sniff import sniff_kind
from ometiff_helpers.report import inspect
from ometiff_helpers.tiff.read import read_tiff
from ometiff_helpers.urls import SecretURL, redact_text, redact_url

SECRET = "IoDefectCanary77"
REPO = Path(__file__).resolve().parents[1]
DATA = b"II*\x00" + random.Random(5).randbytes(3_000_000)


def _no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text


def _demo_offsets() -> list[int]:
    with FileSource(demo_path()) as src:
        return [ifd.offset for ifd in read_tiff(src).ifds]


# --- the offsets.json side file ---------------------------------------------------------------------------------------


def test_offsets_json_is_fetched_over_http_as_json(range_server, capsys) -> None:
    """``--offsets URL``: served as application/json (as nginx and S3 do), read as JSON with the URL's token."""
    offsets = _demo_offsets()
    server = range_server(
        {"demo.ome.tif": demo_path(), "demo.offsets.json": json.dumps(offsets).encode()}, cls=_Server
    )
    url = server.url("demo.ome.tif", token=SECRET)
    offsets_url = server.url("demo.offsets.json", token=SECRET)
    assert main([url, "--offsets", offsets_url, "--json", "--no-probes"]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert [ifd["offset"] for ifd in report["ifds"]] == offsets
    json_requests = [p for p in server.paths if p.startswith("/demo.offsets.json")]
    assert json_requests and all(f"token={SECRET}" in p for p in json_requests)  # the token went along
    _no_secret(out, err)


def test_offsets_json_larger_than_the_limit_is_refused_unread(range_server, capsys, monkeypatch) -> None:
    import ometiff_helpers.__main__ as cli

    monkeypatch.setattr(cli, "_MAX_OFFSETS_JSON", 100_000)
    big = json.dumps(list(range(200_000))).encode()  # ~1.4 MB
    server = range_server({"demo.ome.tif": demo_path(), "big.offsets.json": big}, cls=_Server)
    rc = main(
        [server.url("demo.ome.tif", token=SECRET), "--offsets", server.url("big.offsets.json", token=SECRET)]
    )
    _, err = capsys.readouterr()
    assert rc == 2
    assert "larger than the 97.7 KiB an offsets.json may have" in err
    assert "big.offsets.json?token=***" in err
    _no_secret(err)
    assert server.paths == [f"/big.offsets.json?token={SECRET}"]  # one bounded first read, nothing more


def test_offsets_json_location_answering_a_login_page(range_server, capsys) -> None:
    page = b"<!DOCTYPE html><html><body>Please sign in</body></html>"
    server = range_server({"demo.ome.tif": demo_path(), "login.offsets.json": page}, cls=_Server)
    server.behaviour = lambda h: (
        h.url_path.endswith(".json") and (h.send_simple(200, page, "text/html; charset=utf-8") or True)
    )
    rc = main([server.url("demo.ome.tif"), "--offsets", server.url("login.offsets.json", token=SECRET)])
    _, err = capsys.readouterr()
    assert rc == 2
    assert "an HTML page" in err and "not the JSON document expected" in err
    _no_secret(err)


def test_offsets_json_that_is_not_a_list_of_offsets(range_server, capsys) -> None:
    server = range_server(
        {"demo.ome.tif": demo_path(), "bad.offsets.json": b'{"error": "expired"}'}, cls=_Server
    )
    rc = main([server.url("demo.ome.tif"), "--offsets", server.url("bad.offsets.json", token=SECRET)])
    _, err = capsys.readouterr()
    assert rc == 2 and "must be a JSON list of non-negative integers" in err
    assert "bad.offsets.json?token=***" in err
    _no_secret(err)


# --- one sniffer -------------------------------------------------------------------------------------------------------


def test_a_tiff_served_with_a_json_content_type_is_read(range_server) -> None:
    """The bytes decide before the Content-Type: a TIFF labelled application/json is still a TIFF."""
    server = range_server({"mislabelled.json": DATA}, cls=_Server)
    with HttpSource(server.url("mislabelled.json")) as src:
        assert src.open(1000) == DATA[:1000]
        assert src.info.content_type == "application/json"


def test_one_sniffer_names_pages_alike_over_http_and_in_the_header_parser(range_server) -> None:
    page = b'{"error": "token expired"}'
    server = range_server({"page.tif": page}, cls=_Server)
    with pytest.raises(NotATiff) as http:
        HttpSource(server.url("page.tif")).open(1000)
    assert http.value.kind == sniff_kind(page) == "json"
    assert sniff_kind(b"II*\x00\x08\x00\x00\x00") == "tiff"
    assert sniff_kind(b"<h1>hi</h1>", "text/html") == "html"


# --- a round reacts to its first failure -------------------------------------------------------------------------------


def test_a_round_acts_on_its_first_failure_not_in_submission_order(range_server) -> None:
    """The first range of a round stalls, the second is refused with 403: the 403 ends the round at once and the
    stalled request is cut, instead of waiting for the stalled one's deadline (60 s here)."""
    server = range_server({"f.tif": DATA}, cls=_Server)

    def behaviour(h: _Handler) -> bool:
        rng = h.headers.get("Range", "")
        if rng.startswith("bytes=0-"):
            return False  # the first read
        if rng.startswith("bytes=200000-"):
            h.owner.stopping.wait(60)  # stalls: headers never come
            h.close_connection = True
            return True
        h.send_simple(403, b"denied\n")
        return True

    server.behaviour = behaviour
    options = HttpOptions(request_deadline=60, read_timeout=60, coalesce_gap=0)
    src = HttpSource(server.url("f.tif", token=SECRET), options=options)
    src.open(1000)
    t0 = time.monotonic()
    with pytest.raises(AccessDenied) as info:
        src.fetch([(200_000, 200_100), (2_000_000, 2_000_100)])
    elapsed = time.monotonic() - t0
    assert elapsed < 20  # bounded by the 403, not by the stalled request's 60 s deadline
    assert "HTTP 403" in str(info.value)
    notes = [r.note for r in src.ledger.records]
    assert "access denied" in notes
    assert src.ledger.rounds == 2  # the open, then one round
    assert not [t for t in threading.enumerate() if t.name == "ometiff-deadline"]
    src.close()
    _no_secret(str(info.value))


def test_a_round_without_failure_returns_every_range_in_order(range_server) -> None:
    server = range_server({"f.tif": DATA}, cls=_Server)
    src = HttpSource(server.url("f.tif"), options=HttpOptions(coalesce_gap=0))
    spans = [(2_000_000, 2_000_100), (100_000, 100_050), (1_000_000, 1_000_010)]
    assert src.fetch(spans) == [DATA[s:e] for s, e in spans]
    src.close()


# --- multipart/byteranges ----------------------------------------------------------------------------------------------


def test_a_multipart_answer_to_one_range_is_named(range_server) -> None:
    server = range_server({"f.tif": DATA}, cls=_Server)

    def behaviour(h: _Handler) -> bool:
        body = (
            b"--XYZ\r\nContent-Type: image/tiff\r\nContent-Range: bytes 0-999/3000004\r\n\r\n"
            + DATA[:1000]
            + b"\r\n--XYZ--\r\n"
        )
        h.send_simple(206, body, "multipart/byteranges; boundary=XYZ")
        return True

    server.behaviour = behaviour
    with pytest.raises(ProtocolError) as info:
        HttpSource(server.url("f.tif", token=SECRET)).open(1000)
    message = str(info.value)
    assert "multipart/byteranges answer to the single range bytes=0-999" in message
    assert "f.tif?token=***" in message  # where
    assert info.value.hint and "plain 206" in info.value.hint  # what to do
    _no_secret(message, info.value.hint)


# --- one send for range reads and probes -------------------------------------------------------------------------------


def test_probes_trust_the_ca_bundle_from_the_environment(range_server, tmp_path, monkeypatch) -> None:
    """REQUESTS_CA_BUNDLE applies to the probes as to the range reads: they share one send."""
    cert, key = make_self_signed_cert(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = range_server({"demo.ome.tif": demo_path()}, cls=_Server, ssl_context=context)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    with HttpSource(server.url("demo.ome.tif", token=SECRET)) as src:
        src.open(64 * 1024)
        results = run_probes(src, _demo_offsets(), options=ProbeOptions(timeout=5.0))
    assert results.head is not None and results.head.status == 200, results.head
    assert results.range_eof is not None and results.range_eof.status == 206
    _no_secret(json.dumps(results.as_dict()))


def test_probes_follow_redirects_by_the_same_rules_as_reads(range_server) -> None:
    """A probe redirected to a non-HTTP URL is refused with the reads' words, not followed or silently kept."""
    server = range_server({"demo.ome.tif": demo_path()}, cls=_Server)

    def behaviour(h: _Handler) -> bool:
        if h.command == "HEAD":
            h.send_status(302, {"Location": f"ftp://example.org/x?token={SECRET}", "Content-Length": "0"})
            h.end_headers()
            return True
        return False

    server.behaviour = behaviour
    with HttpSource(server.url("demo.ome.tif")) as src:
        src.open(64 * 1024)
        results = run_probes(src, _demo_offsets(), options=ProbeOptions(timeout=5.0))
    assert results.head is not None and results.head.status == 302
    assert "refused a redirect to a non-HTTP URL" in results.head.error
    _no_secret(json.dumps(results.as_dict()))


# --- redaction ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(HTTP 404 for http://h/x.tif?token=ABCDEF)", "(HTTP 404 for http://h/x.tif?token=***)"),
        ("see http://h/x.tif?token=ABCDEF.", "see http://h/x.tif?token=***."),
        ("[http://h/x.tif?a=1&sig=ABCDEF], next", "[http://h/x.tif?a=1&sig=***], next"),
        ("http://h/x.tif?token=AB(CD)EF", "http://h/x.tif?token=***"),
    ],
)
def test_redaction_keeps_the_text_after_the_secret(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_redaction_keeps_the_bracket_after_a_remembered_secret() -> None:
    url = SecretURL(f"http://h/x.tif?token={SECRET}")
    assert redact_text(f"(HTTP 404 for {url.reveal()})") == "(HTTP 404 for http://h/x.tif?token=***)"


@pytest.mark.parametrize(
    "key",
    [
        "AWSAccessKeyId",  # S3 SigV2
        "Signature",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "X-Amz-Security-Token",
        "x-goog-signature",
        "GoogleAccessId",
        "OSSAccessKeyId",
        "sig",  # Azure SAS
    ],
)
def test_presigned_url_keys_are_redacted(key: str) -> None:
    url = f"https://bucket.example/f.tif?{key}=VALUE1234&Expires=1700000000"
    assert redact_url(url) == f"https://bucket.example/f.tif?{key}=***&Expires=1700000000"
    assert "VALUE1234" not in redact_text(f"GET {url} failed")


def test_azure_sas_fields_that_are_not_secrets_stay_readable() -> None:
    url = "https://acct.blob.core.windows.net/c/f.tif?sv=2022-11-02&se=2030-01-01&sp=r&sig=SECRETSIG1"
    assert redact_url(url).endswith("?sv=2022-11-02&se=2030-01-01&sp=r&sig=***")


# --- declared dependencies and types -----------------------------------------------------------------------------------


def test_the_urllib3_floor_is_declared_and_met() -> None:
    """Bodies are read with ``HTTPResponse.read1(amt, decode_content=False)`` (urllib3 2.2)."""
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    floors = [d for d in deps if re.match(r"urllib3\s*>=", d)]
    assert floors == ["urllib3>=2.2"]
    major, minor = (int(x) for x in urllib3.__version__.split(".")[:2])
    assert (major, minor) >= (2, 2)
    assert "decode_content" in typing.get_type_hints(urllib3.HTTPResponse.read1)


def test_inspect_is_typed_for_what_it_receives(range_server) -> None:
    hints = typing.get_type_hints(inspect)["url_or_path"]
    assert SecretURL in typing.get_args(hints) and Path in typing.get_args(hints)
    server = range_server({"demo.ome.tif": demo_path()}, cls=_Server)
    report = inspect(SecretURL(server.url("demo.ome.tif", token=SECRET)), probes=False)
    assert report.tiff.ifds
