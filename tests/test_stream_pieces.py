"""A large streamed range (the OME-XML) read as several concurrent ranges, passed on to its consumer in order."""

from __future__ import annotations

import itertools
import random
import threading
import time

import pytest
from faultserver import FaultServer, sequential_rounds

from ometiff_helpers.io.base import HttpOptions
from ometiff_helpers.io.http.source import HttpSource
from ometiff_helpers.io.local import BytesSource
from ometiff_helpers.io.ordered import OrderedStream, split_range

DATA = random.Random(12).randbytes(1_200_000)
START, END = 100_000, 1_100_000  # a 1,000,000-byte "description"


def test_split_range_covers_the_range_in_order() -> None:
    pieces = split_range(10, 110, 8)
    assert pieces[0][0] == 10 and pieces[-1][1] == 110 and len(pieces) == 8
    assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))
    assert split_range(0, 3, 8) == [(0, 1), (1, 2), (2, 3)]


def test_ordered_stream_passes_pieces_on_in_order_whatever_order_they_arrive_in() -> None:
    pieces = split_range(0, 900, 3)
    got: list[bytes] = []
    stream = OrderedStream(got.append, pieces)
    parts = [DATA[s:e] for s, e in pieces]
    stream.part(2)(parts[2][:100])
    stream.part(1)(parts[1])
    assert got == []  # nothing of piece 0 yet: the later pieces are held
    stream.part(0)(parts[0][:50])
    assert got == [parts[0][:50]]
    stream.part(0)(parts[0][50:])  # piece 0 complete: piece 1 (complete) and what came of piece 2 follow
    stream.part(2)(parts[2][100:])
    assert b"".join(got) == DATA[:900] and stream.complete
    assert 100 + 300 <= stream.held_peak <= 900  # piece 1 and the start of piece 2 waited for piece 0


def test_ordered_stream_from_threads() -> None:
    pieces = split_range(0, 120_000, 6)
    got: list[bytes] = []
    stream = OrderedStream(got.append, pieces)

    def send(k: int) -> None:
        s, e = pieces[k]
        for pos in range(s, e, 1000):
            stream.part(k)(DATA[pos : min(e, pos + 1000)])

    threads = [threading.Thread(target=send, args=(k,)) for k in reversed(range(6))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert b"".join(got) == DATA[:120_000] and stream.complete


@pytest.mark.parametrize("rate", [0.0, 4_000_000.0])
def test_a_large_streamed_range_is_read_as_concurrent_pieces_delivered_in_order(rate: float) -> None:
    """The request plan: 8 concurrent ranges that tile the range, its bytes read once, passed on in order."""
    options = HttpOptions(stream_piece_min=100_000)
    # 0.4 s per answer: server timestamps show the pieces overlapping even when a busy machine starts them late
    with FaultServer({"f.tif": DATA}, latency=0.4, rate=rate) as server:
        got: list[bytes] = []
        with HttpSource(server.url("f.tif"), options=options) as src:
            src.open(1000)
            assert len(server.log) == 1  # waits until the open is logged
            server.reset_log()
            out = src.fetch([(START, END)], consumers={0: got.append})
            ledger = src.ledger.as_dict()
        log = server.log
    assert out == [None]
    assert b"".join(got) == DATA[START:END]
    assert len(log) == 8 and all(r.status == 206 for r in log)
    spans = sorted(tuple(int(x) for x in r.range.removeprefix("bytes=").split("-")) for r in log)
    assert spans[0][0] == START and spans[-1][1] == END - 1
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(spans))  # contiguous, no overlap
    assert sum(r.nbytes for r in log) == END - START
    assert sequential_rounds(log) == 1 and ledger["rounds"] == 2  # the open, then one round of 8


def test_a_small_streamed_range_or_a_local_source_stays_one_request() -> None:
    with FaultServer({"f.tif": DATA}) as server, HttpSource(server.url("f.tif")) as src:
        src.open(1000)
        got: list[bytes] = []
        src.fetch([(START, END)], consumers={0: got.append})  # 1 MB < 2 x stream_piece_min (2 MiB)
        assert src.ledger.count == 2 and b"".join(got) == DATA[START:END]
    local = BytesSource(DATA)
    local.open(1000)
    got = []
    local.fetch([(START, END)], consumers={0: got.append})
    assert local.ledger.count == 2 and b"".join(got) == DATA[START:END]


def test_held_bytes_are_bounded_and_the_piece_due_never_waits() -> None:
    """Later pieces wait while too much is held; the piece due goes on, and then they follow, in order."""
    pieces = split_range(0, 40_000, 4)
    got: list[bytes] = []
    stream = OrderedStream(got.append, pieces, hold_max=5_000)

    def send(k: int) -> None:
        s, e = pieces[k]
        for pos in range(s, e, 1000):
            stream.part(k)(DATA[pos : min(e, pos + 1000)])

    threads = [threading.Thread(target=send, args=(k,)) for k in (3, 2, 1)]
    for t in threads:
        t.start()
    threads[0].join(0.3)
    assert all(t.is_alive() for t in threads)  # waiting: 5,000 bytes are held and piece 0 has not come
    send(0)
    for t in threads:
        t.join(10)
    assert b"".join(got) == DATA[:40_000] and stream.complete
    assert stream.held_peak <= 5_000 + 1000


def test_abort_releases_the_waiting_pieces() -> None:
    pieces = split_range(0, 20_000, 2)
    got: list[bytes] = []
    stream = OrderedStream(got.append, pieces, hold_max=1000)
    part = stream.part(1)
    part(DATA[10_000:11_000])
    waiter = threading.Thread(target=part, args=(DATA[11_000:12_000],))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive()
    part.abort()
    waiter.join(5)
    assert not waiter.is_alive() and got == []
    stream.part(0)(DATA[:10_000])
    assert got == []  # nothing is passed on after an abort


def test_a_consumer_error_ends_the_stream() -> None:
    pieces = split_range(0, 2000, 2)
    calls: list[bytes] = []

    def consumer(data: bytes) -> None:
        calls.append(data)
        raise ValueError("parser refused")

    stream = OrderedStream(consumer, pieces)
    with pytest.raises(ValueError, match="parser refused"):
        stream.part(0)(DATA[:1000])
    stream.part(0)(DATA[1000:1000])
    stream.part(1)(DATA[1000:2000])
    assert len(calls) == 1


def test_over_http_a_slow_consumer_bounds_what_is_held_and_gets_every_byte_in_order() -> None:
    options = HttpOptions(stream_piece_min=100_000, stream_hold_max=200_000, consumer_chunk=50_000)
    got: list[bytes] = []

    def slow(data: bytes) -> None:
        time.sleep(0.005)
        got.append(data)

    with FaultServer({"f.tif": DATA}) as server, HttpSource(server.url("f.tif"), options=options) as src:
        src.open(1000)
        src.fetch([(START, END)], consumers={0: slow})
    assert b"".join(got) == DATA[START:END]


def test_over_http_a_consumer_error_ends_the_round_without_waiting_pieces() -> None:
    options = HttpOptions(stream_piece_min=100_000, stream_hold_max=100_000, consumer_chunk=50_000)

    def refuse(data: bytes) -> None:
        raise ValueError("parser refused")

    with (
        FaultServer({"f.tif": DATA}, latency=0.02) as server,
        HttpSource(server.url("f.tif"), options=options) as src,
    ):
        src.open(1000)
        t0 = time.monotonic()
        with pytest.raises(ValueError, match="parser refused"):
            src.fetch([(START, END)], consumers={0: refuse})
        assert time.monotonic() - t0 < 30  # bounded: no piece is left waiting for its turn
        assert src.read(0, 10) == DATA[:10]  # the source still reads


def test_read_tiff_streams_a_large_description_as_concurrent_pieces_in_order(tmp_path) -> None:
    """A 10 MB ImageDescription: after the first read, its remaining bytes come as concurrent ranges (2 MiB or
    more each) in one round, and reach the consumer in order, once."""
    import numpy as np
    import tifffile

    from ometiff_helpers.tiff.read import read_tiff

    text = "<OME>" + "".join(f'<ROI ID="ROI:{i}"/>' for i in range(500_000)) + "</OME>"
    path = tmp_path / "big.tif"
    tifffile.imwrite(path, np.zeros((8, 8), "uint8"), description=text, metadata=None)
    got: list[bytes] = []
    split = HttpOptions(
        stream_piece_seconds=0
    )  # as many pieces as their size allows, whatever the link's rate
    with (
        FaultServer({"big.tif": path}, latency=0.4) as server,
        HttpSource(server.url("big.tif"), options=split) as src,
    ):
        structure = read_tiff(src, description_consumer=got.append)
        log = server.log
    xml = b"".join(got).rstrip(b"\0")
    assert xml == text.encode() and structure.image_description is None
    tag = structure.ifds[0].tag(270)
    assert tag is not None and tag.value_offset is not None
    start, end = 64 * 1024, tag.value_offset + tag.nbytes  # the description's rest after the first read
    desc = [r for r in log if r.range and start <= int(r.range.split("=")[1].split("-")[0]) < end]
    assert len(desc) == (end - start) // (2 * 1024 * 1024) >= 4  # pieces of 2 MiB or more
    assert sequential_rounds(desc) == 1  # concurrent
    assert sum(r.nbytes for r in desc) == end - start


@pytest.mark.parametrize("rate", [0.0, 1_000_000.0])
def test_a_description_is_split_only_when_one_connection_would_be_slow(tmp_path, rate: float) -> None:
    """The first read measures one connection's rate: a 3 MB description that one connection delivers within
    ``stream_piece_seconds`` (the unthrottled loopback, even on a busy machine) is one request; at 1 MB/s per
    connection it is split into pieces that each take about that long."""
    import numpy as np
    import tifffile

    from ometiff_helpers.tiff.read import read_tiff

    text = "<OME>" + "".join(f'<ROI ID="ROI:{i}"/>' for i in range(150_000)) + "</OME>"
    path = tmp_path / "big.tif"
    tifffile.imwrite(path, np.zeros((8, 8), "uint8"), description=text, metadata=None)
    options = HttpOptions(stream_piece_min=256 * 1024, stream_piece_seconds=1.0)
    got: list[bytes] = []
    with (
        FaultServer({"big.tif": path}, latency=0.05, rate=rate) as server,
        HttpSource(server.url("big.tif"), options=options) as src,
    ):
        structure = read_tiff(src, description_consumer=got.append)
        measured = src.ledger.connection_rate()
        log = server.log
    assert b"".join(got).rstrip(b"\0") == text.encode()
    tag = structure.ifds[0].tag(270)
    assert tag is not None and tag.value_offset is not None
    start, end = 64 * 1024, tag.value_offset + tag.nbytes  # the description's rest after the first read
    desc = [r for r in log if r.range and start <= int(r.range.split("=")[1].split("-")[0]) < end]
    assert measured is not None and sum(r.nbytes for r in desc) > 2_900_000
    if rate:
        assert measured < 2 * rate  # the throttle bounds what the first read can measure
        assert 2 <= len(desc) <= 8 and sequential_rounds(desc) == 1
    else:
        assert len(desc) == 1


def test_read_tiff_gives_the_structure_while_a_large_description_still_streams(tmp_path) -> None:
    """``on_structure`` is called once, when every IFD is read and before the throttled description has arrived;
    ``read_tiff`` returns the same structure once every byte has reached the consumer, in the same rounds."""
    import numpy as np
    import tifffile

    from ometiff_helpers.tiff.read import read_tiff

    text = "<OME>" + "".join(f'<ROI ID="ROI:{i}"/>' for i in range(300_000)) + "</OME>"
    path = tmp_path / "big.tif"
    tifffile.imwrite(path, np.zeros((2, 8, 8), "uint8"), description=text, metadata=None)
    got: list[bytes] = []
    seen: list[tuple[object, int]] = []

    def structure_known(structure) -> None:
        seen.append((structure, sum(len(c) for c in got)))

    with (
        FaultServer({"big.tif": path}, latency=0.05, rate=400_000) as server,
        HttpSource(server.url("big.tif")) as src,
    ):
        structure = read_tiff(src, description_consumer=got.append, on_structure=structure_known)
        rounds = src.ledger.rounds
    assert len(seen) == 1 and seen[0][0] is structure and len(structure.ifds) == 2
    assert seen[0][1] < len(text) // 2  # the description was still arriving
    assert b"".join(got).rstrip(b"\0") == text.encode()
    with BytesSource(path.read_bytes()) as local:
        assert read_tiff(local, description_consumer=lambda b: None).ifds == structure.ifds
        assert local.ledger.rounds == rounds  # the same rounds as a read that waits for the description


def test_a_detached_stream_returns_the_other_ranges_first_and_raises_the_failure_that_ended_it() -> None:
    """``fetch_detached``: the plain range comes back while the throttled pieces still run; when the last piece
    fails (404), the others are cut, the consumer is told (``abort``), and ``wait`` raises that 404, not a cut."""
    from ometiff_helpers.errors import NotFound

    class Consumer:
        def __init__(self) -> None:
            self.got: list[bytes] = []
            self.aborted = False

        def __call__(self, data: bytes) -> None:
            self.got.append(data)

        def abort(self) -> None:
            self.aborted = True

    last_end = END - 1

    def refuse_the_last_piece(handler) -> bool:
        if not handler.headers.get("Range", "").endswith(f"-{last_end}"):
            return False
        time.sleep(0.3)  # the other pieces are under way
        handler.send_error(404)
        return True

    consumer = Consumer()
    options = HttpOptions(stream_piece_min=100_000)
    with FaultServer({"f.tif": DATA}, rate=100_000) as server:
        server.behaviour = refuse_the_last_piece
        with HttpSource(server.url("f.tif"), options=options) as src:
            src.open(1000)
            out, running = src.fetch_detached([(10, 20), (START, END)], consumers={1: consumer})
            assert out == [DATA[10:20], None]
            assert sum(len(c) for c in consumer.got) < END - START  # still streaming
            with pytest.raises(NotFound):
                running.wait()
            assert consumer.aborted
            assert src.read(0, 10) == DATA[:10]  # the source still reads
