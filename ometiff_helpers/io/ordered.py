"""One streamed range read as several concurrent pieces, its bytes passed on to one consumer in file order.

On links where each connection is slow (per-connection throttling of object stores, long fat pipes), a large range
such as a 23 MB OME-XML arrives sooner as several concurrent ranges. The consumer keeps its interface: it receives
the bytes once each, in order, one call at a time. The piece now due is passed on as it arrives; later pieces are
held until every piece before them is complete. Held bytes are bounded (``hold_max``): past it, a later piece's
thread waits (its connection pauses) until the consumer has caught up; the piece due never waits. ``abort()``
(the round failed) releases the waiting threads and drops what arrives after, and calls the consumer's own
``abort()`` when it has one (it learns that no more bytes come).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

Range = tuple[int, int]
Consumer = Callable[[bytes], None]

__all__ = ["OrderedStream", "split_range"]


def split_range(start: int, end: int, pieces: int) -> list[Range]:
    """``[start, end)`` as ``pieces`` consecutive ranges of about equal size (fewer for a short range)."""
    n = max(1, min(pieces, end - start))
    step, extra = divmod(end - start, n)
    out: list[Range] = []
    pos = start
    for k in range(n):
        size = step + (1 if k < extra else 0)
        out.append((pos, pos + size))
        pos += size
    return out


class _Part:
    """The consumer of one piece (callable), with the stream's ``abort`` for the round that runs it."""

    def __init__(self, stream: OrderedStream, index: int) -> None:
        self.stream = stream
        self.index = index

    def __call__(self, data: bytes) -> None:
        self.stream._take(self.index, data)

    def abort(self) -> None:
        """The round failed: nothing more is passed on, no thread waits."""
        self.stream.abort()


class OrderedStream:
    """Hands the bytes of consecutive pieces (received concurrently) to ``consumer`` in order."""

    def __init__(self, consumer: Consumer, pieces: Sequence[Range], hold_max: int = 0) -> None:
        """``hold_max``: bytes held ahead of their turn before later pieces wait (0: no bound)."""
        self._consumer = consumer
        self._sizes = [e - s for s, e in pieces]
        self._got = [0] * len(pieces)
        self._held: list[list[bytes]] = [[] for _ in pieces]
        self._next = 0  # the piece whose bytes are due
        self._state = threading.Condition(threading.Lock())
        self._delivering = False  # a thread is calling the consumer (only one at a time)
        self._aborted = False
        self._hold_max = hold_max
        self._held_bytes = 0
        self.held_peak = 0  # the most bytes held at once (received ahead of their turn, or being handed over)

    def part(self, index: int) -> _Part:
        """The consumer for piece ``index``."""
        return _Part(self, index)

    def abort(self) -> None:
        """Stop: waiting threads return, bytes arriving later are dropped, the consumer is not called again (a
        consumer with an ``abort()`` of its own is told so)."""
        with self._state:
            if self._aborted:
                return
            self._aborted = True
            for held in self._held:
                held.clear()
            self._held_bytes = 0
            self._state.notify_all()
        abort = getattr(self._consumer, "abort", None)
        if abort is not None:
            abort()

    def _take(self, index: int, data: bytes) -> None:
        """Bytes of piece ``index`` arrived: hold them (waiting while too much is held, unless the piece is due),
        and pass on whatever is due unless another thread does."""
        with self._state:
            while (
                self._hold_max > 0
                and index != self._next
                and self._held_bytes >= self._hold_max
                and not self._aborted
            ):
                self._state.wait()
            if self._aborted:
                return
            self._got[index] += len(data)
            self._held[index].append(data)
            self._held_bytes += len(data)
            self.held_peak = max(self.held_peak, self._held_bytes)
            if self._delivering:
                return  # that thread passes these on too: it stops only once nothing is due
            self._delivering = True
        try:
            self._drain()
        except BaseException:
            with (
                self._state
            ):  # the consumer failed: its round ends with that error, nothing more is passed on
                self._delivering = False
            self.abort()
            raise

    def _drain(self) -> None:
        """Pass on the bytes due, piece after piece, until none are (the consumer is called outside the lock)."""
        while True:
            with self._state:
                chunks = [] if self._aborted else self._due()
                self._state.notify_all()  # held bytes went down, or the next piece became due
                if not chunks:
                    self._delivering = False
                    return
            for chunk in chunks:
                self._consumer(chunk)

    def _due(self) -> list[bytes]:
        """The held bytes now due, in order (called under the lock)."""
        chunks: list[bytes] = []
        while self._next < len(self._sizes):
            k = self._next
            chunks += self._held[k]
            self._held_bytes -= sum(len(c) for c in self._held[k])
            self._held[k] = []
            if self._got[k] < self._sizes[k]:
                break
            self._next += 1
        return chunks

    @property
    def complete(self) -> bool:
        """Every byte of every piece was passed on."""
        with self._state:
            return self._next >= len(self._sizes)
