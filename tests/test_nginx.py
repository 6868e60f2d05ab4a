"""HttpSource against Debian's nginx on loopback, serving the shared corpus in place."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import requests
from faultserver import CANARY

from ometiff_helpers.errors import ProtocolError
from ometiff_helpers.io.base import HttpOptions
from ometiff_helpers.io.http.source import HttpSource

pytestmark = pytest.mark.nginx

NGINX = "/usr/sbin/nginx"
FILES = [
    "ome-types/ome.tiff",
    "viv/fixtures/multi-channel.ome.tif",
    "viv/avivator/data/multi-channel.ome.tif",
    "pennsieve-ometiff-processor/multi-channel-time-series.ome.tiff",
    "pennsieve-ometiff-processor/4D-series.ome.tiff",
]

CONFIG = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
{user}
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ image/tiff tif tiff; application/xml xml ome; }}
    default_type application/octet-stream;
    keepalive_timeout 30s;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location /scratch/ {{ alias {tmp}/scratch/; }}
    }}
}}
"""


class Nginx(NamedTuple):
    base: str  # http://127.0.0.1:<port>
    scratch: Path  # a writable directory served at /scratch/


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def nginx(tmp_path_factory, corpus_dir) -> Iterator[Nginx]:
    if not Path(NGINX).exists():
        pytest.fail(
            f"nginx not found at {NGINX}: install it with `apt-get install -y nginx-light` (or nginx)"
        )
    tmp = tmp_path_factory.mktemp("nginx")
    (tmp / "scratch").mkdir()
    port = _free_port()
    user = "user root root;" if os.geteuid() == 0 else ""
    conf = tmp / "nginx.conf"
    conf.write_text(CONFIG.format(tmp=tmp, port=port, root=corpus_dir, user=user))
    proc = subprocess.Popen(
        [NGINX, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    log = (tmp / "error.log").read_text() if (tmp / "error.log").exists() else ""
                    pytest.fail(f"nginx did not start: {err} {log}")
                time.sleep(0.05)
        yield Nginx(base, tmp / "scratch")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.parametrize("name", FILES)
def test_corpus_files_read_through_nginx_equal_the_local_bytes(nginx, corpus_dir, name):
    local = (corpus_dir / name).read_bytes()
    with HttpSource(f"{nginx.base}/{name}?token={CANARY}") as src:
        head = src.open(64 * 1024)
        assert head == local[: 64 * 1024] and src.size == len(local)
        assert src.info.etag and src.info.content_type == "image/tiff"
        n = len(local)
        ranges = [(0, 8), (n // 3, n // 3 + 4096), (n // 2, n // 2 + 100), (n - 500, n)]
        assert src.fetch(ranges) == [local[s:e] for s, e in ranges]
        assert src.read(0, n) == local
        assert all(r.status == 206 for r in src.ledger.records)


def test_range_past_eof_is_clamped(nginx, corpus_dir):
    name = FILES[1]
    local = (corpus_dir / name).read_bytes()
    with HttpSource(f"{nginx.base}/{name}") as src:
        assert src.open(1024 * 1024) == local  # short 206 at EOF accepted
        n = src.size
    with HttpSource(f"{nginx.base}/{FILES[4]}") as big:
        big.open(1000)
        size = big.size
        assert big.read(size - 10, size + 10_000) == (corpus_dir / FILES[4]).read_bytes()[-10:]
        last = big.ledger.records[-1]
        assert (last.start, last.end, last.status) == (size - 10, size, 206)
    assert n == len(local)


def test_suffix_probe(nginx, corpus_dir):
    name = FILES[2]
    local = (corpus_dir / name).read_bytes()
    r = requests.get(
        f"{nginx.base}/{name}", headers={"Range": "bytes=-100", "Accept-Encoding": "identity"}, timeout=5
    )
    assert r.status_code == 206 and r.content == local[-100:]
    assert r.headers["Content-Range"] == f"bytes {len(local) - 100}-{len(local) - 1}/{len(local)}"


def test_file_replaced_on_nginx_is_detected(nginx):
    target = nginx.scratch / "changing.tif"
    target.write_bytes(b"II*\0" + b"\1" * 300_000)
    with HttpSource(f"{nginx.base}/scratch/changing.tif", options=HttpOptions(max_retries=0)) as src:
        src.open(1000)
        time.sleep(1.1)  # nginx's ETag is mtime (seconds) + size
        target.write_bytes(b"II*\0" + b"\2" * 300_000)
        with pytest.raises(ProtocolError) as info:
            src.read(200_000, 200_100)
    assert "file changed during read" in str(info.value) and info.value.status == 412
