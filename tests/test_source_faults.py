"""HttpSource against a misbehaving loopback server: one test per row of bad-inputs.md H1-H31 (+ S1, S2, S5, S6).

Every test also checks that the canary token in the URL leaks nowhere (message, repr, traceback with locals,
cause/context, DEBUG logs of every logger) and that the work stayed bounded (requests, bytes, time).
"""

from __future__ import annotations

import random
import re
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest
from faultserver import (
    CANARY,
    SERVER_SEND_CAP,
    FaultServer,
    assert_connections_released,
    assert_no_open_connections,
    assert_no_secret,
    enable_debug_logging,
    make_self_signed_cert,
    silent_listener,
    watchdog_threads,
)

from ometiff_helpers.errors import (
    AccessDenied,
    ConnectionFailed,
    CorruptTiff,
    DeadlineExceeded,
    LimitExceeded,
    NotATiff,
    NotFound,
    OmeTiffError,
    ProtocolError,
    RangeNotSupported,
    RateLimited,
    RedirectError,
    ServerError,
)
from ometiff_helpers.io.base import HttpOptions
from ometiff_helpers.io.http.source import HttpSource
from ometiff_helpers.urls import SecretURL

DATA = random.Random(7).randbytes(2_000_000)
SMALL = random.Random(8).randbytes(10_000)
MIB = 1024 * 1024
FAST = HttpOptions(
    connect_timeout=5.0,  # generous: a busy machine can be slow to accept or answer
    read_timeout=5.0,
    request_deadline=3.0,
    deadline=10.0,
    backoff_base=0.01,
    backoff_max=0.05,
    retry_after_cap=1.0,
)


@pytest.fixture
def fault(range_server) -> FaultServer:
    return range_server({"f.tif": DATA, "small.tif": SMALL})


@pytest.fixture
def debug_log(caplog):
    enable_debug_logging(caplog)
    return caplog


# What a busy machine may add to a bounded wait. The bounds below test "bounded" (a Retry-After of a day, a body that
# trickles for hours, a server that never answers end in seconds), not "fast"; request counts and bytes are the exact
# checks. Speed is measured in benchmarks/.
LOAD_ALLOWANCE = 10.0


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """The block ends within ``seconds`` (what it takes on an idle machine) plus `LOAD_ALLOWANCE`."""
    t0 = time.monotonic()
    yield
    elapsed = time.monotonic() - t0
    assert elapsed < seconds + LOAD_ALLOWANCE, f"took {elapsed:.2f} s, bound {seconds} + {LOAD_ALLOWANCE} s"


def failing_open(
    url: str, exc_type: type[OmeTiffError], options: HttpOptions = FAST, first_read: int = 65536
):
    src = HttpSource(url, options=options)
    with pytest.raises(exc_type) as info:
        src.open(first_read)
    assert type(info.value).__module__ == "ometiff_helpers.errors"
    assert (
        info.value.__cause__ is None and info.value.__suppress_context__
    ) or info.value.__context__ is None
    assert_connections_released(src)
    return src, info.value


def gets(server: FaultServer) -> list:
    """The server's log once every request it saw has been answered (handlers log after their last byte)."""
    end = time.monotonic() + 3
    while len(server.log) < len(server.seen) and time.monotonic() < end:
        time.sleep(0.01)
    assert all(r.method == "GET" for r in server.log), "only GET is ever sent (never HEAD)"
    return server.log


# --- H1, H2 ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [401, 403])
def test_h1_access_denied_is_not_retried_and_quotes_the_body(fault, debug_log, code):
    src, e = failing_open(fault.fault_url("status", "f.tif", code=code), AccessDenied)
    assert e.status == code
    # whole sentences: where, why, what the server said, what to do
    assert re.search(
        r"\?token=\*\*\*&code=\d+\. The token is likely missing or expired\. The server said: \"",
        str(e),
    )
    assert re.search(
        r' The server said: ".*Request has expired.*"\. Copy a fresh link', str(e)
    )  # the sanitised body
    assert "token=***" in str(e) and "<Error>" not in str(e)
    assert len(gets(fault)) == 1 and src.ledger.count == 1
    assert_no_secret(e, debug_log.text)


def test_h1_token_required_by_the_server(range_server, debug_log):
    server = range_server({"a.tif": SMALL}, require_token="right-token")
    _, e = failing_open(server.url("a.tif"), AccessDenied)
    assert e.status == 401
    _, e = failing_open(server.url("a.tif", token=CANARY), AccessDenied)
    assert e.status == 403
    assert_no_secret(e, debug_log.text)


@pytest.mark.parametrize("code", [404, 410])
def test_h2_not_found(fault, debug_log, code):
    url = (
        fault.url("missing.tif", token=CANARY)
        if code == 404
        else fault.fault_url("status", "f.tif", code=410)
    )
    _src, e = failing_open(url, NotFound)
    assert "no file at this URL: check the path" in str(e) and e.status == code
    assert len(gets(fault)) == 1
    assert_no_secret(e, debug_log.text)


# --- H3-H5 -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [500, 502, 503, 504])
def test_h3_transient_5xx_then_ok(fault, debug_log, code):
    src = HttpSource(fault.fault_url("flaky", "f.tif", n=2, code=code), options=FAST)
    with within(2):
        assert src.open(1000) == DATA[:1000]
    records = src.ledger.records
    assert [r.status for r in records] == [code, code, 206]
    assert [r.attempt for r in records] == [1, 2, 3]
    assert src.ledger.rounds == 1  # retries stay in their round
    assert_connections_released(src)
    assert_no_secret(None, debug_log.text)


def test_h4_retry_after_far_away_fails_fast(fault, debug_log):
    with within(1.0):
        _src, e = failing_open(fault.fault_url("retry_after", "f.tif", ra=86400), RateLimited)
    assert e.retry_after == 86400 and "86,400 s" in str(e)
    assert len(gets(fault)) == 1
    assert_no_secret(e, debug_log.text)


def test_h4_retry_after_http_date_far_away(fault, debug_log):
    with within(1.0):
        _, e = failing_open(
            fault.fault_url("retry_after", "f.tif", ra="Wed, 01 Jan 2100 00:00:00 GMT", code=503), RateLimited
        )
    assert e.retry_after is not None and e.retry_after > 10**9 and e.status == 503
    assert_no_secret(e, debug_log.text)


def test_h4_retry_after_garbage_backs_off_then_gives_up(fault, debug_log):
    with within(2.0):
        _src, e = failing_open(fault.fault_url("retry_after", "f.tif", ra="soon-ish"), RateLimited)
    assert "after 4 attempts" in str(e) and e.status == 429
    assert len(gets(fault)) == 4  # 1 + max_retries
    assert_no_secret(e, debug_log.text)


def test_h4_short_retry_after_is_honoured(fault):
    src = HttpSource(fault.fault_url("retry_after", "f.tif", ra="0.3", n=1), options=FAST)
    t0 = time.monotonic()
    assert src.open(100) == DATA[:100]
    assert time.monotonic() - t0 >= 0.3
    log = gets(fault)
    # the second request starts at least 0.3 s after the first did (the client waited after the first answer);
    # load can only lengthen the gap, whereas t_end (stamped after the last byte is written) can come late
    assert len(log) == 2 and log[1].t_start - log[0].t_start >= 0.3


def test_h5_persistent_5xx(fault, debug_log):
    with within(2.0):
        _src, e = failing_open(fault.fault_url("flaky", "f.tif", n=100, code=503), ServerError)
    assert "after 4 attempts" in str(e) and e.status == 503
    assert len(gets(fault)) == 4
    assert_no_secret(e, debug_log.text)


# --- H6, H7, H13, H16: Range ignored -----------------------------------------------------------------------------


def _wait_for_log(server: FaultServer, n: int, timeout: float = 5.0) -> list:
    end = time.monotonic() + timeout
    while len(server.log) < n and time.monotonic() < end:
        time.sleep(0.02)
    return server.log


def test_h6_whole_multi_gb_body_is_refused_without_reading_it(fault, debug_log):
    with within(2.0):
        src, e = failing_open(fault.fault_url("ignore_range", "f.tif"), RangeNotSupported)
    assert (
        "ignores Range requests" in str(e) and "continuing would download" in str(e) and "5.0 GiB" in str(e)
    )
    assert src.ledger.bytes < MIB
    served = _wait_for_log(fault, 1)
    assert served[0].nbytes < SERVER_SEND_CAP, "the server stopped because we closed the connection"
    assert "client gone" in served[0].note
    assert_no_secret(e, debug_log.text)


def test_h6_small_whole_file_is_accepted(fault):
    src = HttpSource(fault.fault_url("ignore_range", "small/small.tif"), options=FAST)
    assert src.open(4096) == SMALL[:4096]
    assert src.size == len(SMALL)
    assert src.fetch([(5000, 6000), (9000, 20000)]) == [SMALL[5000:6000], SMALL[9000:]]
    assert src.ledger.count == 1  # the whole file came with the first answer


def test_h7_chunked_whole_body_is_cut_at_the_limit(fault, debug_log):
    with within(3.0):
        src, e = failing_open(fault.fault_url("chunked", "f.tif"), RangeNotSupported)
    assert "ignores Range requests" in str(e) and "no Content-Length" in str(e)
    assert src.ledger.bytes <= FAST.small_file_limit + 1
    served = _wait_for_log(fault, 1)
    assert served[0].nbytes < SERVER_SEND_CAP
    assert_no_secret(e, debug_log.text)


def test_h16_gcs_transcoding_hint(fault, debug_log):
    _, e = failing_open(fault.fault_url("chunked", "f.tif", gzip=1), RangeNotSupported)
    assert "Content-Encoding: gzip" in str(e)
    assert_no_secret(e, debug_log.text)


# --- H8-H10, H30: Content-Range ----------------------------------------------------------------------------------


def test_h8_content_range_mismatch(fault, debug_log):
    _src, e = failing_open(fault.fault_url("wrong_start", "f.tif"), ProtocolError)
    assert "Content-Range mismatch" in str(e) and "asked for bytes 0-65535" in str(e)
    assert_no_secret(e, debug_log.text)


def test_h9_missing_content_range_on_first_read_is_refused(fault, debug_log):
    _, e = failing_open(fault.fault_url("no_content_range", "f.tif"), ProtocolError)
    assert "without Content-Range" in str(e)
    assert_no_secret(e, debug_log.text)


def test_h9_missing_content_range_accepted_when_size_known_and_length_matches(fault):
    src = HttpSource(fault.fault_url("no_content_range", "f.tif", after=1), options=FAST)
    src.open(1000)
    assert src.fetch([(500_000, 600_000)]) == [DATA[500_000:600_000]]


@pytest.mark.parametrize("length", ["100, 100", "abc", "\u00b2"])
def test_h9_unreadable_content_length_is_a_protocol_error(fault, debug_log, length):
    """Without Content-Range the length decides; a header that is no plain number must not escape as ValueError."""
    src = HttpSource(fault.fault_url("no_content_range", "f.tif", after=1, cl=length), options=FAST)
    src.open(1000)
    with pytest.raises(ProtocolError) as info:
        src.fetch([(500_000, 500_100)])
    assert "without Content-Range" in str(info.value)
    assert_no_secret(info.value, debug_log.text)


def test_h10_unknown_total_is_refused(fault, debug_log):
    _, e = failing_open(fault.fault_url("star_total", "f.tif"), ProtocolError)
    assert "without the file size" in str(e)
    assert_no_secret(e, debug_log.text)


def test_h30_content_length_disagreeing_with_content_range(fault, debug_log):
    _, e = failing_open(fault.fault_url("length_mismatch", "f.tif"), ProtocolError)
    assert "disagrees with Content-Range" in str(e)
    assert_no_secret(e, debug_log.text)


def test_h30_size_comes_from_content_range_total(fault):
    src = HttpSource(fault.fault_url("small_total", "f.tif", total=1000), options=FAST)
    assert src.open(65536) == DATA[:1000]
    assert src.size == 1000
    assert src.fetch([(2000, 3000)]) == [b""]  # beyond the reported size: clamped, no request
    assert src.ledger.count == 1


# --- H11, H12, H21: bodies ---------------------------------------------------------------------------------------


def test_h11_truncated_once_then_resumed(fault):
    src = HttpSource(fault.fault_url("short", "f.tif", n=1), options=FAST)
    assert src.open(100_000) == DATA[:100_000]
    log = gets(fault)
    assert len(log) == 2
    assert log[1].range == "bytes=50000-99999"  # the retry asks only for what is missing


def test_h11_truncated_twice_is_a_protocol_error(fault, debug_log):
    with within(2.0):
        _src, e = failing_open(fault.fault_url("short", "f.tif"), ProtocolError, first_read=100_000)
    assert "truncated response" in str(e)
    assert len(gets(fault)) == 2
    assert_no_secret(e, debug_log.text)


def test_h12_reads_past_eof_are_clamped(fault):
    src = HttpSource(fault.url("small.tif", token=CANARY), options=FAST)
    assert src.open(1 * MIB) == SMALL  # short 206 at EOF accepted
    assert src.size == len(SMALL)
    big = HttpSource(fault.url("f.tif", token=CANARY), options=FAST)
    big.open(1000)
    assert big.fetch([(len(DATA) - 100, len(DATA) + 5000)]) == [DATA[-100:]]
    assert gets(fault)[-1].range == f"bytes={len(DATA) - 100}-{len(DATA) - 1}"  # H13: never past EOF


def test_h21_reset_mid_body_is_retried(fault):
    src = HttpSource(fault.fault_url("reset", "f.tif", n=1), options=FAST)
    assert src.open(200_000) == DATA[:200_000]
    assert len(gets(fault)) == 2


def test_h21_persistent_reset_mid_body(fault, debug_log):
    with within(3.0):
        # a deadline no busy machine reaches: this test is about the retries ending, the one below about the deadline
        patient = replace(FAST, request_deadline=30.0, deadline=60.0)
        _src, e = failing_open(fault.fault_url("reset", "f.tif"), ProtocolError, patient, first_read=200_000)
    assert "after 4 attempts" in str(e) or "truncated" in str(e)
    assert 2 <= len(gets(fault)) <= 4
    assert_no_secret(e, debug_log.text)


def test_h21_resets_that_use_up_the_deadline_are_named_as_such(fault, debug_log):
    """When the time runs out because connections keep breaking, the error says so (not "the server sends too
    slowly", which sends support staff looking at bandwidth)."""
    slow_retries = replace(FAST, request_deadline=1.0, backoff_base=5.0, backoff_max=5.0)
    _src, e = failing_open(
        fault.fault_url("reset", "f.tif"), DeadlineExceeded, slow_retries, first_read=200_000
    )
    assert "1 earlier attempt failed" in str(e) and "ConnectionResetError" in str(e), str(e)
    assert "too slowly" not in str(e) and "keeps breaking" in (e.hint or ""), (str(e), e.hint)
    assert len(gets(fault)) == 1
    assert_no_secret(e, debug_log.text)


@pytest.mark.parametrize(
    "plan",
    ["cut206,whole200", "reset206,whole200", "reset206,cut200", "reset206,cut200,whole200"],
)
def test_h11_h13_a_broken_range_resumed_by_a_whole_file_answer_keeps_the_right_bytes(fault, plan):
    """A 206 cut short, then (on the retry) a 200 with the whole small file or another cut: the bytes that arrived
    first are kept and the rest continues after them, never shifted or doubled."""
    src = HttpSource(fault.fault_url("steps", "small.tif", plan=plan, after=1), options=FAST)
    src.open(100)
    assert src.read(2000, 9000) == SMALL[2000:9000]
    assert src.read(0, len(SMALL)) == SMALL  # the block cache holds the right bytes too
    streamed: list[bytes] = []
    assert src.fetch([(2000, 9000)], consumers={0: streamed.append}) == [None]
    assert b"".join(streamed) == SMALL[2000:9000]


# --- H14, H15, H17, H18 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("total", [0, 5])
def test_h14_416_on_a_tiny_file(fault, debug_log, total):
    _, e = failing_open(fault.fault_url("unsatisfiable", "f.tif", total=total), NotATiff)
    assert "file too short" in str(e) and f"{total} bytes" in str(e)
    assert e.kind == ("empty" if total == 0 else "too-short")
    assert len(gets(fault)) == 1
    assert_no_secret(e, debug_log.text)


def test_h14_416_later_is_corrupt_tiff(fault, debug_log):
    src = HttpSource(fault.fault_url("unsatisfiable", "f.tif", total=5000, after=1), options=FAST)
    src.open(1000)
    with pytest.raises(CorruptTiff) as info:
        src.fetch([(100_000, 100_100)])
    assert "too small" in str(info.value) and info.value.offset == 100_000
    assert_no_secret(info.value, debug_log.text)


def test_h15_gzip_on_a_range_is_refused_not_decoded(fault, debug_log):
    assert len(fault.gzip_bomb()) < 100_000  # built before the clock starts: 50 MB of zeros, gzipped
    with within(2.0):
        src, e = failing_open(fault.fault_url("gzip", "f.tif"), ProtocolError)
    assert "Content-Encoding: gzip" in str(e)
    assert src.ledger.bytes == 0  # nothing read, nothing inflated
    assert fault.seen[0][3].get("Accept-Encoding") == "identity"
    assert_no_secret(e, debug_log.text)


@pytest.mark.parametrize("ctype", ["text/html; charset=utf-8", "application/octet-stream"])
def test_h17_html_login_page(fault, debug_log, ctype):
    _, e = failing_open(fault.fault_url("html", "f.tif", ctype=ctype), NotATiff)
    assert e.kind == "html"
    assert "the server returned an HTML page (login or error page?), not a TIFF" in str(e)
    assert_no_secret(e, debug_log.text)


def test_h18_json_error_document(fault, debug_log):
    _, e = failing_open(fault.fault_url("json", "f.tif"), NotATiff)
    assert e.kind == "json" and "token expired" in str(e)
    assert "\x07" not in str(e)  # sanitised snippet
    assert_no_secret(e, debug_log.text)


@pytest.mark.parametrize("mode", ["html", "json", "page206"])
def test_h17_h18_a_failed_open_leaves_the_source_unopened(range_server, debug_log, mode):
    """After NotATiff the source is as new (size unknown, nothing cached): reusing it re-runs the web-page check
    instead of serving the page's bytes as file bytes."""
    page = b"<!DOCTYPE html><html><body>Please sign in</body></html>" + b" " * 20_000
    server = range_server({"f.tif": DATA, "page.tif": page})
    url = server.url("page.tif", token=CANARY) if mode == "page206" else server.fault_url(mode, "f.tif")
    src, e = failing_open(url, NotATiff)
    assert not src.is_open and src._cache.nbytes == 0
    with pytest.raises(RuntimeError, match="size unknown"):
        _ = src.size
    with pytest.raises(NotATiff) as again:
        src.read(0, 8)
    assert again.value.kind == e.kind == ("json" if mode == "json" else "html")
    assert len(server.seen) == 2  # the first read was sent again
    assert not src.is_open and src._cache.nbytes == 0
    assert_no_secret(e, debug_log.text)
    assert_no_secret(again.value, debug_log.text)


# --- H19, H20, H22, H23: slow, silent, unreachable ---------------------------------------------------------------


def test_h19_slow_loris_hits_the_wall_clock_deadline(fault, debug_log):
    options = HttpOptions(read_timeout=5.0, request_deadline=1.5, backoff_base=0.01)
    with within(1.5 + 1.0):
        src, e = failing_open(fault.fault_url("slow", "f.tif", every=0.2), DeadlineExceeded, options=options)
    assert "ran out of time" in str(e)
    assert src.ledger.bytes < 100
    assert_no_secret(e, debug_log.text)


@pytest.mark.timeout(20)
def test_h19_status_line_and_headers_trickled_hit_the_wall_clock_deadline(fault, debug_log):
    """One byte of the status line and headers every 0.2 s: each socket read succeeds and http.client's line and
    header limits allow hours, so only a watchdog that cuts the connection at the deadline bounds it."""
    deadline = 1.5
    options = HttpOptions(read_timeout=5.0, request_deadline=deadline, backoff_base=0.01)
    with within(deadline + 1.0):
        src, e = failing_open(
            fault.fault_url("slow_head", "f.tif", every=0.2), DeadlineExceeded, options=options
        )
    text = str(e)
    assert "bytes 0-65,535" in text and "ran out of time" in text and "too slow" in text
    waited = re.search(r"after (\d+\.\d) s", text)
    assert (
        waited and deadline - 0.1 <= float(waited.group(1)) <= deadline + LOAD_ALLOWANCE
    )  # how long it waited
    assert "raise the deadline" in e.hint
    assert len(fault.seen) == 1  # not retried: the time is up
    trickled = fault.counters.get("slow_head:bytes", 0)  # header bytes the server sent (of ~330, i.e. 66 s)
    assert 0 < trickled < 300  # cut long before the headers ended
    assert src.ledger.bytes == 0
    assert not src.is_open
    assert_no_open_connections(src)
    assert watchdog_threads() == []
    assert_no_secret(e, debug_log.text)


def test_watchdog_ends_with_each_request_and_leaves_connections_alive(fault):
    with HttpSource(fault.url("f.tif", token=CANARY), options=FAST) as src:
        src.open()
        assert watchdog_threads() == []
        got = src.fetch([(i * 100_000, i * 100_000 + 1000) for i in range(1, 9)])  # one concurrent round
        assert got == [DATA[i * 100_000 : i * 100_000 + 1000] for i in range(1, 9)]
        assert watchdog_threads() == []
        assert src.read(1_500_000, 1_500_100) == DATA[1_500_000:1_500_100]
        ports = {seen[4] for seen in fault.seen}
        assert len(ports) < len(fault.seen)  # keep-alive connections are reused, not cut
    assert watchdog_threads() == []


def test_h19_headers_never_sent(fault, debug_log):
    options = HttpOptions(read_timeout=0.5, request_deadline=2.0, backoff_base=0.01, backoff_max=0.02)
    with within(2.0 + 1.0):
        _src, e = failing_open(fault.fault_url("silent", "f.tif"), DeadlineExceeded, options=options)
    assert 2 <= len(fault.seen) <= 4  # read timeout, retried, then out of time or attempts
    assert_no_secret(e, debug_log.text)


def test_h20_accepts_tcp_but_never_answers(debug_log):
    sock, port = silent_listener()
    try:
        options = HttpOptions(read_timeout=0.4, request_deadline=1.5, backoff_base=0.01, backoff_max=0.02)
        with within(1.5 + 1.0):
            _, e = failing_open(
                f"http://127.0.0.1:{port}/x.tif?token={CANARY}", DeadlineExceeded, options=options
            )
    finally:
        sock.close()
    assert "127.0.0.1" in str(e)
    assert_no_secret(e, debug_log.text)


def test_h22_connection_refused_names_the_host(debug_log):
    with within(1.0):
        src, e = failing_open(f"http://127.0.0.1:1/x.tif?token={CANARY}", ConnectionFailed)
    assert "could not connect to host 127.0.0.1" in str(e) and "refused" in str(e)
    assert src.ledger.count == 0
    assert_no_secret(e, debug_log.text)


def test_h22_dns_failure_names_the_host(debug_log):
    _, e = failing_open(f"https://no-such-host.invalid/x.tif?token={CANARY}", ConnectionFailed)
    assert "no-such-host.invalid" in str(e) and "DNS" in str(e)
    assert_no_secret(e, debug_log.text)


@pytest.fixture
def tls_server(range_server, tmp_path):
    cert, key = make_self_signed_cert(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = range_server({"f.tif": DATA}, ssl_context=context)
    return server, cert


def test_h23_self_signed_certificate_is_refused(tls_server, debug_log):
    server, _ = tls_server
    _, e = failing_open(server.url("f.tif", token=CANARY), ConnectionFailed)
    assert "certificate verification failed" in str(e) and "stays on" in str(e)
    assert_no_secret(e, debug_log.text)


@pytest.mark.timeout(20)
def test_h19_trickled_headers_over_tls_hit_the_wall_clock_deadline(tls_server, monkeypatch, debug_log):
    """The watchdog cuts the TCP socket under the TLS layer too."""
    server, cert = tls_server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    options = HttpOptions(read_timeout=5.0, request_deadline=1.0, backoff_base=0.01)
    with within(1.0 + 1.0):
        src, e = failing_open(
            server.fault_url("slow_head", "f.tif", every=0.2), DeadlineExceeded, options=options
        )
    assert "ran out of time" in str(e)
    assert len(server.seen) == 1
    assert_no_open_connections(src)
    assert watchdog_threads() == []
    assert_no_secret(e, debug_log.text)


def test_h23_trusted_certificate_works(tls_server, monkeypatch):
    server, cert = tls_server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    src = HttpSource(server.url("f.tif", token=CANARY), options=FAST)
    assert src.open(1000) == DATA[:1000]


# --- H24-H27, S6: redirects --------------------------------------------------------------------------------------


def test_h24_redirect_loop(fault, debug_log):
    _, e = failing_open(fault.fault_url("loop", "a"), RedirectError)
    assert "redirect loop" in str(e)
    assert len(gets(fault)) <= 6
    assert_no_secret(e, debug_log.text)


def test_h24_too_many_redirects(fault, debug_log):
    _, e = failing_open(fault.fault_url("chain", "7/f.tif"), RedirectError)
    assert "too many redirects (more than 5)" in str(e)
    assert len(gets(fault)) == 6
    assert_no_secret(e, debug_log.text)


def test_h24_a_few_redirects_are_followed_and_reused(fault):
    src = HttpSource(fault.fault_url("chain", "3/f.tif"), options=FAST)
    assert src.open(1000) == DATA[:1000]
    assert src.fetch([(1_000_000, 1_000_100)]) == [DATA[1_000_000:1_000_100]]
    paths = [r.path for r in gets(fault)]
    assert paths == ["/chain/3/f.tif", "/chain/2/f.tif", "/chain/1/f.tif", "/f.tif", "/f.tif"]


@pytest.mark.parametrize("target", ["ftp://example.org/f.tif", "file:///etc/passwd", "javascript:alert(1)"])
def test_h25_non_http_redirect_is_refused(fault, debug_log, target):
    _, e = failing_open(fault.fault_url("redirect", "f.tif", to=target), RedirectError)
    assert "non-HTTP" in str(e)
    assert_no_secret(e, debug_log.text)


def test_h24_the_body_of_a_redirect_is_not_downloaded(fault):
    """requests reads a 3xx's whole body even with allow_redirects=False (to fill Response.next): not here."""
    src = HttpSource(fault.fault_url("fat_redirect", "f.tif"), options=FAST)
    with within(2.0):
        assert src.open(1000) == DATA[:1000]
    redirect = next(r for r in gets(fault) if r.path.startswith("/fat_redirect/"))
    assert redirect.nbytes < 16 * MIB  # what the sockets' buffers took before the client hung up, not 64 MiB
    assert_connections_released(src)


def test_h25_redirect_to_an_unparseable_location(fault, debug_log):
    """A Location urllib cannot split (bad IPv6 literal) is a RedirectError, not a raw ValueError."""
    _, e = failing_open(
        fault.fault_url("redirect", "f.tif", to=f"http://[::1/f.tif?token={CANARY}"), RedirectError
    )
    assert "not a valid URL" in str(e)
    assert_no_secret(e, debug_log.text)


def test_h25_https_to_http_downgrade_is_refused(tls_server, monkeypatch, debug_log):
    server, cert = tls_server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    _, e = failing_open(
        server.fault_url("redirect", "f.tif", to="http://127.0.0.1:{port}/f.tif"), RedirectError
    )
    assert "from https to plain http" in str(e)
    assert_no_secret(e, debug_log.text)


def test_h25_cross_host_redirect_drops_auth_and_token(fault, debug_log):
    options = HttpOptions(headers={"Authorization": f"Bearer {CANARY}"}, connect_timeout=5, read_timeout=5)
    src = HttpSource(fault.fault_url("presign", "f.tif"), options=options)
    assert src.open(1000) == DATA[:1000]
    first, second = fault.seen[0], fault.seen[1]
    assert first[3].get("Authorization") == f"Bearer {CANARY}"  # same origin: the configured header goes
    assert second[1] == "/signed/f.tif"
    assert "Authorization" not in second[3]  # S6: never to another host
    assert "token=" not in second[2]  # our token is not appended to the presigned URL
    assert "localhost" in src.effective_url.redacted and "X-Amz-Signature=***" in src.effective_url.redacted
    assert_no_secret(None, debug_log.text)
    assert CANARY not in repr(src) + str(src.effective_url) + repr(src.ledger.records)


def test_h25_cross_host_redirect_can_be_refused(fault, debug_log):
    options = HttpOptions(follow_cross_host_redirects=False)
    _, e = failing_open(fault.fault_url("presign", "f.tif"), RedirectError, options=options)
    assert "another host" in str(e)
    assert_no_secret(e, debug_log.text)


def test_h26_redirect_that_drops_the_token(fault, debug_log):
    _, e = failing_open(fault.fault_url("drop_query", "f.tif"), AccessDenied)
    message = str(e)
    assert "after redirect from" in message and "/drop_query/f.tif?token=***" in message
    assert "/need_token/f.tif" in message
    assert_no_secret(e, debug_log.text)


def test_h27_presigned_s3_target_reused_for_later_ranges(fault, debug_log):
    src = HttpSource(fault.fault_url("presign", "f.tif"), options=FAST)
    src.open(1000)
    assert src.fetch([(100_000, 100_500), (1_500_000, 1_500_500)]) == [
        DATA[100_000:100_500],
        DATA[1_500_000:1_500_500],
    ]
    paths = [r.path for r in gets(fault)]
    assert paths.count("/presign/f.tif") == 1 and paths.count("/signed/f.tif") == 3
    assert_no_secret(None, debug_log.text)


# --- H28, H31: many ranges ---------------------------------------------------------------------------------------


def test_h28_never_multi_range_and_nearby_ranges_coalesced(fault):
    src = HttpSource(fault.url("f.tif", token=CANARY), options=FAST)
    src.open(1000)
    ranges = [(100_000 + i * 1000, 100_000 + i * 1000 + 100) for i in range(100)]  # 100 ranges, 900-byte gaps
    ranges += [(1_500_000 + i * 100_000, 1_500_000 + i * 100_000 + 10) for i in range(5)]  # far apart
    out = src.fetch(ranges)
    assert out == [DATA[s:e] for s, e in ranges]
    log = gets(fault)
    assert all("," not in (r.range or "") for r in log)
    assert len(log) == 1 + 1 + 5
    assert src.ledger.rounds == 2


def test_h31_request_budget_stops_a_scattered_walk(fault, debug_log):
    options = HttpOptions(max_requests=20)
    src = HttpSource(fault.url("f.tif", token=CANARY), options=options)
    src.open(1000)
    for k in range(3):  # a walk: one IFD per round, each far from the others
        src.read(100_000 + k * 100_000, 100_000 + k * 100_000 + 200)
    with pytest.raises(LimitExceeded) as info:
        src.fetch([(400_000 + i * 50_000, 400_000 + i * 50_000 + 200) for i in range(30)])
    e = info.value
    assert e.name == "max_requests" and e.limit == 20
    assert "offsets.json" in str(e)
    assert len(gets(fault)) == 4  # the refused round sent nothing
    assert_no_secret(e, debug_log.text)


def test_byte_budget(fault, debug_log):
    src = HttpSource(fault.url("f.tif", token=CANARY), options=HttpOptions(max_bytes=500_000))
    src.open(1000)
    with pytest.raises(LimitExceeded) as info:
        src.read(0, 1_000_000)
    assert info.value.name == "max_bytes" and "offsets.json" in str(info.value)
    assert len(gets(fault)) == 1
    assert_no_secret(info.value, debug_log.text)


# --- H29: file replaced ------------------------------------------------------------------------------------------


def test_h29_file_changed_if_match_412(fault, debug_log):
    src = HttpSource(fault.url("f.tif", token=CANARY), options=FAST)
    src.open(1000)
    fault.set_file("f.tif", DATA[::-1])
    with pytest.raises(ProtocolError) as info:
        src.read(500_000, 500_100)
    assert "file changed during read" in str(info.value) and info.value.status == 412
    assert fault.seen[-1][3].get("If-Match") == src.info.etag
    assert_no_secret(info.value, debug_log.text)


def test_h29_file_changed_without_if_match_support(fault, debug_log):
    src = HttpSource(fault.fault_url("no_if_match", "f.tif"), options=FAST)
    src.open(1000)
    fault.set_file("f.tif", DATA[::-1])
    with pytest.raises(ProtocolError) as info:
        src.read(500_000, 500_100)
    assert "file changed during read" in str(info.value)
    assert_no_secret(info.value, debug_log.text)


# --- S2, S3, S5 --------------------------------------------------------------------------------------------------


def test_s2_reprs_are_redacted(fault):
    src = HttpSource(fault.url("f.tif", token=CANARY), options=FAST)
    src.open(1000)
    shown = [repr(src), str(src.url), repr(src.url), src.url._repr_html_(), src.display_name, repr(src.info)]
    shown += [repr(src.options), repr(src.ledger), repr(src.ledger.records), str(src.info.as_dict())]
    for text in shown:
        assert CANARY not in text
    assert "token=***" in repr(src)


def _open_secret(url: SecretURL) -> None:
    """Fails inside the library; no frame between here and the raise holds the raw URL."""
    HttpSource(url, options=FAST).open(1000)


def test_s5_verbose_traceback_shows_only_redacted_reprs(fault):
    url = SecretURL(fault.fault_url("status", "f.tif", code=403))
    with pytest.raises(AccessDenied) as info:
        _open_secret(url)
    import traceback

    te = traceback.TracebackException.from_exception(info.value, capture_locals=True)
    text = "".join(te.format())
    frames = [f for f in te.stack if f.locals]
    assert len(frames) >= 3 and any("self" in f.locals for f in frames)
    assert CANARY not in text and "token=***" in text
    for frame in te.stack:  # every local of every frame, the test's included (it holds only a SecretURL)
        assert CANARY not in repr(frame.locals)


def test_s3_urllib3_debug_log_leaks_unless_filtered(fault, caplog):
    """urllib3 logs the request line, query included, at DEBUG: our filter (installed on import) redacts it."""
    import logging

    from ometiff_helpers.urls import _FILTER, install_secret_filter

    enable_debug_logging(caplog)
    pool_logger = logging.getLogger("urllib3.connectionpool")
    pool_logger.removeFilter(_FILTER)
    try:
        HttpSource(fault.url("f.tif", token=CANARY), options=FAST).open(100)
        assert CANARY in caplog.text, "urllib3 no longer leaks; the filter may be unnecessary"
    finally:
        install_secret_filter("urllib3")
    caplog.clear()
    HttpSource(fault.url("f.tif", token=CANARY), options=FAST).open(100)
    assert "urllib3.connectionpool" in caplog.text or "GET /f.tif" in caplog.text
    assert CANARY not in caplog.text and "token=***" in caplog.text


def test_source_deadline_counts_time_in_requests_not_idle_time(range_server, debug_log):
    """A 2 s budget for the file: the first read takes 0.3 s; an idle pause longer than the whole budget is not
    counted, so the second read is sent, and cut when the budget is spent (the server now needs 3 s); the third is
    refused without a request. The margins (1.7 s, 1.3 s) are far above a busy machine's noise."""
    server = range_server({"f.tif": DATA}, latency=0.3)
    options = HttpOptions(deadline=2.0, backoff_base=0.01, backoff_max=0.02)
    src = HttpSource(server.url("f.tif", token=CANARY), options=options)
    src.open(1000)
    time.sleep(2.2)  # idle time between calls is not counted
    server.latency = 3.0
    with within(1.7), pytest.raises(DeadlineExceeded) as info:
        src.read(500_000, 500_010)
    assert "ran out of time" in str(info.value)
    assert len(_wait_for_log(server, 2, timeout=20)) == 2  # the second read was sent
    with pytest.raises(DeadlineExceeded) as info:
        src.read(900_000, 900_010)
    assert "the limit for one file" in str(info.value)
    assert len(server.log) == 2  # refused before sending anything
    assert_no_secret(info.value, debug_log.text)


def test_error_message_and_hint_are_separate_sentences() -> None:
    from ometiff_helpers.errors import OmeTiffError

    assert str(OmeTiffError("server said: forbidden: token required", hint="Copy a fresh link")) == (
        "server said: forbidden: token required. Copy a fresh link."
    )
    assert str(OmeTiffError("it failed.", hint="Try again!")) == "it failed. Try again!"
    assert str(OmeTiffError('it said "no"', hint="")) == 'it said "no"'


def test_the_first_read_is_logged_at_debug_by_its_caller_and_filtered(fault, caplog):
    """A byte source logs its first read at DEBUG (``logging`` looked up when the record is made, not imported by the
    module): the record names ``open`` as its origin, and the logger carries the secret filter."""
    import logging

    from ometiff_helpers.io.local import BytesSource
    from ometiff_helpers.urls import _FILTER

    enable_debug_logging(caplog)
    HttpSource(fault.url("f.tif", token=CANARY), options=FAST).open(100)
    BytesSource(DATA, name="local.tif").open(100)
    records = [r for r in caplog.records if r.name == "ometiff_helpers.io.base"]
    assert [r.funcName for r in records] == ["open", "open"]
    assert "opened" in records[0].getMessage() and "local.tif" in records[1].getMessage()
    assert _FILTER in logging.getLogger("ometiff_helpers.io.base").filters
    assert CANARY not in caplog.text
