"""The loopback servers: the demo's RangeServer (range semantics, validators, CORS) and what the test FaultServer
adds to it (tokens, latency, TLS, the request log and its rounds)."""

from __future__ import annotations

import http.client
import time

import pytest
from faultserver import FaultServer, ServedRequest, sequential_rounds

from ometiff_helpers.demo.server import RangeServer, parse_range_header

DATA = bytes(range(256)) * 40  # 10,240 bytes


def _get(server: RangeServer, path: str, method: str = "GET", **headers: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
    conn.request(method, path, headers=headers)
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


@pytest.fixture
def server(range_server) -> RangeServer:
    return range_server({"a.ome.tif": DATA, "meta.xml": b"<OME/>"})


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", (0, 100)),
        ("bytes=100-", (100, 10_240)),
        ("bytes=-100", (10_140, 10_240)),
        ("bytes=-99999", (0, 10_240)),
        ("bytes=10000-99999", (10_000, 10_240)),
        ("bytes=10240-", "unsatisfiable"),
        ("bytes=-0", "unsatisfiable"),
        ("bytes=5-1", None),
        ("bytes=0-1,5-9", None),
        ("items=0-1", None),
    ],
)
def test_parse_range_header(header, expected):
    assert parse_range_header(header, 10_240) == expected


def test_single_ranges_suffix_and_open(server):
    r = _get(server, "/a.ome.tif", Range="bytes=10-19")
    assert r.status == 206 and r.body == DATA[10:20]
    assert r.headers["Content-Range"] == "bytes 10-19/10240" and r.headers["Content-Length"] == "10"
    r = _get(server, "/a.ome.tif", Range="bytes=-16")
    assert (
        r.status == 206 and r.body == DATA[-16:] and r.headers["Content-Range"] == "bytes 10224-10239/10240"
    )
    r = _get(server, "/a.ome.tif", Range="bytes=10000-")
    assert r.status == 206 and r.body == DATA[10000:]


def test_416_and_200(server):
    r = _get(server, "/a.ome.tif", Range="bytes=20000-20010")
    assert r.status == 416 and r.headers["Content-Range"] == "bytes */10240" and r.body == b""
    r = _get(server, "/a.ome.tif")
    assert r.status == 200 and r.body == DATA and r.headers["Accept-Ranges"] == "bytes"


def test_head_options_and_cors(server):
    r = _get(server, "/a.ome.tif", method="HEAD")
    assert r.status == 200 and r.body == b"" and r.headers["Content-Length"] == "10240"
    r = _get(server, "/a.ome.tif", method="OPTIONS", Origin="http://localhost:8888")
    assert r.status == 204
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "range" in r.headers["Access-Control-Allow-Headers"].lower()
    exposed = r.headers["Access-Control-Expose-Headers"].lower()
    assert all(h in exposed for h in ("content-range", "content-length", "etag"))
    r = _get(server, "/a.ome.tif", Range="bytes=0-1")
    assert r.headers["Access-Control-Allow-Origin"] == "*"


def test_no_cors_when_disabled(range_server):
    server = range_server({"a": b"x"}, cors=False)
    assert "Access-Control-Allow-Origin" not in _get(server, "/a").headers


def test_content_types_and_deterministic_validators(server, range_server, tmp_path):
    assert _get(server, "/a.ome.tif").headers["Content-Type"] == "image/tiff"
    assert _get(server, "/meta.xml").headers["Content-Type"] == "application/xml"
    r1 = _get(server, "/a.ome.tif")
    other = range_server({"a.ome.tif": DATA})
    r2 = _get(other, "/a.ome.tif")
    assert r1.headers["ETag"] == r2.headers["ETag"]
    assert r1.headers["Last-Modified"] == r2.headers["Last-Modified"] == "Mon, 01 Jan 2024 00:00:01 GMT"
    path = tmp_path / "p.tif"
    path.write_bytes(DATA)
    on_disk = range_server({"p.tif": path})
    assert _get(on_disk, "/p.tif", Range="bytes=5-9").body == DATA[5:10]


def test_set_file_changes_etag_and_if_match(server):
    etag = _get(server, "/a.ome.tif").headers["ETag"]
    assert _get(server, "/a.ome.tif", Range="bytes=0-3", **{"If-Match": etag}).status == 206
    server.set_file("a.ome.tif", DATA[::-1])
    r = _get(server, "/a.ome.tif", Range="bytes=0-3", **{"If-Match": etag})
    assert r.status == 412
    r = _get(server, "/a.ome.tif", Range="bytes=0-3")
    assert r.headers["ETag"] != etag and r.body == DATA[::-1][:4]


def test_require_token(range_server):
    server = range_server({"a": DATA}, require_token="s+cret")
    assert _get(server, "/a").status == 401
    assert _get(server, "/a?token=wrong").status == 403
    assert _get(server, "/a?token=s%2Bcret").status == 200
    assert server.url("a", token="s+cret").endswith("/a?token=s%2Bcret")


def test_404(server):
    assert _get(server, "/nope.tif").status == 404


def test_log_records_each_request(server):
    server.reset_log()
    _get(server, "/a.ome.tif?token=abc", Range="bytes=0-9")
    _get(server, "/a.ome.tif", method="HEAD")
    log = server.log  # in start order: the HEAD was sent only after the GET's answer arrived
    assert [(r.method, r.path, r.range, r.status, r.nbytes) for r in log] == [
        ("GET", "/a.ome.tif", "bytes=0-9", 206, 10),
        ("HEAD", "/a.ome.tif", None, 200, 0),
    ]
    assert all(r.t_end >= r.t_start for r in log)
    server.reset_log()
    assert server.log == []


def test_latency_is_added_per_server_and_per_request(range_server):
    server = range_server({"a": DATA}, latency=0.15)
    t0 = time.monotonic()
    _get(server, "/a", Range="bytes=0-0")
    assert time.monotonic() - t0 >= 0.15  # a lower bound: load only makes it longer
    t0 = time.monotonic()
    _get(server, "/a?latency=0.2", Range="bytes=0-0")
    assert time.monotonic() - t0 >= 0.35
    (first, second) = server.log
    assert first.t_end - first.t_start >= 0.15 and second.t_end - second.t_start >= 0.35


def test_the_demo_server_has_no_test_switches() -> None:
    """The demo's server serves files; latency, tokens, TLS and the log are the test server's."""
    import inspect

    params = set(inspect.signature(RangeServer).parameters)
    assert params == {"files", "host", "port", "cors"}
    assert not hasattr(RangeServer({"a": b"x"}), "log")
    with RangeServer({"a": b"x"}) as server:
        assert _get(server, "/a?token=anything").status == 200  # no token gate


def test_sequential_rounds():
    def req(t0: float, t1: float) -> ServedRequest:
        return ServedRequest("GET", "/a", None, 206, 0, t0, t1)

    assert sequential_rounds([]) == 0
    assert sequential_rounds([req(0, 1), req(0.5, 1.5), req(0.9, 2)]) == 1  # overlapping
    assert sequential_rounds([req(0, 1), req(1, 2), req(2, 3)]) == 3  # each after the previous
    assert sequential_rounds([req(0, 1), req(1.1, 2), req(1.2, 2.5), req(2.6, 3)]) == 3


def test_server_is_silent_on_stderr(range_server, capfd):
    server = range_server({"a": DATA})
    _get(server, "/a")
    _get(server, "/missing")
    conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
    conn.request("GET", "/a")
    conn.close()  # client gone before reading
    deadline = time.monotonic() + 30
    while len(server.log) < 3 and time.monotonic() < deadline:  # the server has handled all three requests
        time.sleep(0.05)
    assert len(server.log) == 3
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_lifecycle(range_server):
    server = RangeServer({"a": b"x"})
    with pytest.raises(RuntimeError):
        _ = server.base_url
    with server:
        assert server.base_url.startswith("http://127.0.0.1:") and server.port > 0
        assert _get(server, "/a").body == b"x"
    assert "stopped" in repr(server)


def test_served_connections_disable_nagle() -> None:
    """Headers and body are separate writes: with Nagle on, each response waits for the client's delayed ACK."""
    import socket

    from ometiff_helpers.demo.server import RangeRequestHandler

    seen: list[int] = []

    class Recording(RangeRequestHandler):
        def setup(self) -> None:
            super().setup()
            seen.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    class Server(RangeServer):
        handler_class = Recording

    with Server({"f.bin": b"x" * 100}) as server:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
        conn.request("GET", "/f.bin", headers={"Range": "bytes=0-9"})
        assert conn.getresponse().read() == b"x" * 10
        conn.close()
    assert seen and all(seen)


def test_a_round_of_many_fresh_connections_is_one_round() -> None:
    """One fetch opens many connections at once; a listen backlog that drops SYNs would split the round in two.

    A dropped SYN is sent again after 1 s: with 0.6 s of latency a late request starts after the first ones ended
    (two rounds), while scheduling noise on a busy machine (well under 0.6 s) cannot split the round."""
    from ometiff_helpers.io.base import HttpOptions
    from ometiff_helpers.io.http.source import HttpSource

    data = bytes(range(256)) * 16384  # 4 MiB
    with FaultServer({"f.bin": data}, latency=0.6) as server:
        source = HttpSource(server.url("f.bin"), options=HttpOptions(max_concurrency=32))
        source.open(1024)
        server.reset_log()
        spans = [(i * 65536, i * 65536 + 100) for i in range(1, 33)]  # far apart: not coalesced, not cached
        got = source.fetch(spans)
        source.close()
        # the open() request can be logged just after reset_log() (logged once its response is out): leave it out
        log = [r for r in server.log if r.range != "bytes=0-1023"]
    assert got == [data[a:b] for a, b in spans]
    assert len(log) == 32
    assert sequential_rounds(log) == 1


def test_a_tests_own_behaviour_answers_first(range_server):
    """``behaviour`` takes the requests it returns True for (before fault modes and the token check)."""
    server = range_server({"a": DATA}, require_token="t")

    def behaviour(handler) -> bool:
        if handler.command != "HEAD":
            return False
        handler.send_simple(418, b"")
        return True

    server.behaviour = behaviour
    assert _get(server, "/a", method="HEAD").status == 418
    assert _get(server, "/a?token=t", Range="bytes=0-1").status == 206
    assert _get(server, "/a").status == 401
    assert server.paths == ["/a", "/a?token=t", "/a"]
