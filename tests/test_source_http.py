"""Byte sources on the happy path: exact URLs, one ranged GET first, cache, coalescing, concurrency, rounds,
streaming to consumers, and the local sources planning the same requests as HTTP."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from faultserver import CANARY, FaultServer, assert_connections_released, sequential_rounds

from ometiff_helpers.errors import ConnectionFailed, NotFound
from ometiff_helpers.io.base import HttpOptions, coalesce
from ometiff_helpers.io.http.source import HttpSource
from ometiff_helpers.io.local import BytesSource, FileSource
from ometiff_helpers.io.open import open_source
from ometiff_helpers.urls import SecretURL

DATA = random.Random(11).randbytes(3_000_000)
KIB, MIB = 1024, 1024 * 1024


@pytest.fixture
def server(range_server) -> FaultServer:
    return range_server({"f.tif": DATA, "dir/x y.ome.tiff": DATA[:5000]})


def test_url_is_sent_byte_for_byte(server):
    # requests would turn %7E into ~ and %41 into A while preparing; signatures are computed on the exact bytes
    query = "X-Amz-Signature=ab%2Bcd%2F%3D%7E%41&token=CANARY5ecret&empty=&flag"
    src = HttpSource(f"{server.base_url}/f.tif?{query}")
    assert src.open(100) == DATA[:100]
    assert server.seen[0][2] == f"/f.tif?{query}"


def test_separate_token_is_appended(server):
    src = HttpSource(server.url("f.tif"), token="a b+c")
    src.open(10)
    assert server.seen[0][2] == "/f.tif?token=a%20b%2Bc"
    assert "a b+c" not in repr(src) and "token=***" in repr(src)


def test_first_request_is_one_ranged_get_never_head(server):
    src = HttpSource(server.url("f.tif", token=CANARY))
    head = src.open(64 * KIB)
    assert head == DATA[: 64 * KIB] and src.size == len(DATA)
    [(method, _path, _, headers, _)] = server.seen
    assert method == "GET" and headers["Range"] == "bytes=0-65535"
    assert headers["Accept-Encoding"] == "identity"
    info = src.info
    assert info.kind == "http" and info.etag and info.last_modified == "Mon, 01 Jan 2024 00:00:01 GMT"
    assert info.content_type == "image/tiff" and "token=***" in info.display_name


def test_cache_serves_repeated_and_contained_ranges_without_requests(server):
    src = HttpSource(server.url("f.tif", token=CANARY))
    src.open(1000)
    assert src.fetch([(10, 20), (500, 1000)]) == [DATA[10:20], DATA[500:1000]]
    assert src.ledger.count == 1 and src.ledger.rounds == 1
    src.fetch([(100_000, 200_000)])
    assert src.read(150_000, 150_010) == DATA[150_000:150_010]
    assert src.ledger.count == 2
    # a range overlapping cached bytes only asks for the missing part
    assert src.read(190_000, 210_000) == DATA[190_000:210_000]
    assert server.log[-1].range == "bytes=200000-209999"


def test_coalescing_gap_boundary():
    gap = 32 * KIB
    assert coalesce([(0, 10), (10 + gap, 20 + gap)], gap, 16 * MIB) == [(0, 20 + gap)]
    assert coalesce([(0, 10), (11 + gap, 20 + gap)], gap, 16 * MIB) == [(0, 10), (11 + gap, 20 + gap)]
    assert coalesce([(50, 60), (0, 100)], gap, 16 * MIB) == [(0, 100)]
    # a merged request never exceeds the cap; a longer single range is split
    assert coalesce([(0, 10), (20, 30)], gap, 25) == [(0, 10), (20, 30)]
    assert coalesce([(0, 100)], gap, 40) == [(0, 40), (40, 80), (80, 100)]


def test_ranges_of_one_fetch_run_concurrently_in_one_round(range_server):
    latency = (
        0.5  # far above what a busy machine adds to starting a request: overlapping requests stay one round
    )
    server = range_server({"f.tif": DATA}, latency=latency)
    src = HttpSource(server.url("f.tif", token=CANARY))
    src.open(1000)
    ranges = [(100_000 * k, 100_000 * k + 100) for k in range(1, 9)]
    t0 = time.monotonic()
    assert src.fetch(ranges) == [DATA[s:e] for s, e in ranges]
    assert time.monotonic() - t0 < 8 * latency  # one after the other would take at least 4 s
    assert src.ledger.rounds == 2
    assert sequential_rounds(server.log) == 2
    assert len({entry[4] for entry in server.seen}) > 1  # several connections in parallel
    assert_connections_released(src)


def test_rounds_count_batches_beyond_max_concurrency(server):
    options = HttpOptions(max_concurrency=2, coalesce_gap_max=0)
    src = HttpSource(server.url("f.tif", token=CANARY), options=options)
    src.open(1000)
    src.fetch([(100_000 * k, 100_000 * k + 10) for k in range(1, 6)])
    assert src.ledger.count == 6 and src.ledger.rounds == 1 + 3
    assert src.ledger.as_dict()["rounds"] == 4


def test_a_round_beyond_max_concurrency_reads_across_wider_gaps(server):
    """Five ranges 100 kB apart, two requests at a time: three batches, or one request through the gaps (the
    gap is widened, up to coalesce_gap_max, only because that saves a batch)."""
    src = HttpSource(server.url("f.tif", token=CANARY), options=HttpOptions(max_concurrency=2))
    src.open(1000)
    got = src.fetch([(100_000 * k, 100_000 * k + 10) for k in range(1, 6)])
    assert src.ledger.count == 2 and src.ledger.rounds == 1 + 1
    assert src.ledger.records[-1].nbytes == 400_010
    assert got[4] == DATA[500_000:500_010]
    src.fetch([(2_000_000 + 100_000 * k, 2_000_000 + 100_000 * k + 10) for k in range(2)])
    assert src.ledger.count == 2 + 2  # two requests fit one batch: no bytes read between them


def test_keep_alive_reuses_one_connection(server):
    src = HttpSource(server.url("f.tif", token=CANARY))
    src.open(1000)
    for k in range(1, 6):
        src.read(200_000 * k, 200_000 * k + 10)
    assert len({entry[4] for entry in server.seen}) == 1
    adapter = src._session.get_adapter(server.base_url)
    assert adapter._pool_maxsize >= src.options.max_concurrency


def test_consumer_gets_growing_chunks_and_bytes_are_not_kept(server):
    """A streamed range reaches its consumer first in a socket read's worth (256 KiB: the head of an XML is not
    held back on a slow link), then in chunks as large as what was passed on before, up to 1 MiB."""
    src = HttpSource(server.url("f.tif", token=CANARY))
    src.open(1000)
    chunks: list[bytes] = []
    out = src.fetch([(10, 20), (100_000, 2_600_000)], consumers={1: chunks.append})
    assert out == [DATA[10:20], None]
    assert b"".join(chunks) == DATA[100_000:2_600_000]
    sizes = [len(c) for c in chunks]
    assert 256 * 1024 <= sizes[0] < 512 * 1024  # the first: about one socket read, not a whole MiB
    assert all(n >= min(MIB, max(256 * 1024, sum(sizes[:i]))) for i, n in enumerate(sizes[:-1]))  # growing
    assert max(sizes) < MIB + 512 * 1024 and 4 <= len(chunks) <= 6
    before = src.ledger.count
    src.read(200_000, 200_100)  # streamed bytes were not cached
    assert src.ledger.count == before + 1


def test_consumer_of_cached_bytes_needs_no_request(server):
    src = HttpSource(server.url("f.tif", token=CANARY))
    src.open(10_000)
    got: list[bytes] = []
    assert src.fetch([(100, 5000)], consumers={0: got.append}) == [None]
    assert got == [DATA[100:5000]] and src.ledger.count == 1


def test_large_range_is_split_and_fetched_in_parallel(server):
    src = HttpSource(server.url("f.tif", token=CANARY), options=HttpOptions(max_request_bytes=MIB))
    src.open(1000)
    assert src.read(0, len(DATA)) == DATA
    assert src.ledger.count == 1 + 3 and src.ledger.rounds == 2


def test_empty_and_out_of_file_ranges(server):
    src = HttpSource(server.url("f.tif", token=CANARY))
    src.open(1000)
    assert src.fetch([(5, 5), (len(DATA) + 10, len(DATA) + 20)]) == [b"", b""]
    assert src.ledger.count == 1
    with pytest.raises(ValueError):
        src.fetch([(10, 5)])


def test_fetch_before_open_opens(server):
    src = HttpSource(server.url("f.tif", token=CANARY))
    assert src.read(100, 200) == DATA[100:200]
    assert server.log[0].range == "bytes=0-65535"


def test_close_and_context_manager(server):
    with HttpSource(server.url("f.tif", token=CANARY)) as src:
        src.open(100)
        src.fetch([(100_000, 100_010), (900_000, 900_010)])
    assert src._session is None and src._pool is None
    with pytest.raises(RuntimeError):
        src.read(0, 10)


def test_path_names_with_spaces(server):
    url = SecretURL(server.url("dir/x y.ome.tiff", token=CANARY))
    assert url.path_name == "x y.ome.tiff"
    assert HttpSource(url).open(10_000) == DATA[:5000]


# --- local sources -----------------------------------------------------------------------------------------------


def _plan(src) -> tuple[int, int]:
    src.open(1000)
    src.fetch([(10, 20), (5000, 6000), (7000, 8000), (500_000, 500_010), (2_000_000, 2_000_100)])
    src.fetch([(5000, 5100), (2_900_000, 3_100_000)])
    return src.ledger.count, src.ledger.rounds


def test_local_sources_plan_the_same_requests_as_http(server, tmp_path):
    path = tmp_path / "f.tif"
    path.write_bytes(DATA)
    http = _plan(HttpSource(server.url("f.tif", token=CANARY)))
    assert _plan(FileSource(path)) == http == _plan(BytesSource(DATA)) == (5, 3)


def test_file_source_reads_and_streams(tmp_path):
    path = tmp_path / "f.tif"
    path.write_bytes(DATA)
    with FileSource(path) as src:
        assert src.open(100) == DATA[:100] and src.size == len(DATA) and src.info.kind == "file"
        chunks: list[bytes] = []
        src.fetch([(0, 3_000_000)], consumers={0: chunks.append})
        assert b"".join(chunks) == DATA and max(len(c) for c in chunks) == MIB


def test_file_source_missing_file(tmp_path):
    with pytest.raises(NotFound) as info:
        FileSource(tmp_path / "nope.tif").open()
    assert "check the path" in str(info.value)


def test_open_source_dispatch(tmp_path, server):
    path = tmp_path / "f.tif"
    path.write_bytes(b"II*\0")
    assert isinstance(open_source(path), FileSource)
    assert isinstance(open_source(str(path)), FileSource)
    assert open_source(path.as_uri()).open(4) == b"II*\0"
    assert isinstance(open_source(b"II*\0"), BytesSource)
    assert isinstance(open_source(server.url("f.tif")), HttpSource)
    assert isinstance(open_source(SecretURL(server.url("f.tif")), token=CANARY), HttpSource)
    with pytest.raises(ConnectionFailed) as info:
        open_source(f"s3://bucket/key.tif?token={CANARY}")
    assert CANARY not in str(info.value) and "token=***" in str(info.value)
    assert isinstance(Path(path), Path)
