"""Bytes received so far from a file: sorted, disjoint segments, merged when they touch or overlap."""

from __future__ import annotations

import threading
from bisect import bisect_right

Range = tuple[int, int]  # half-open [start, end)


class Segments:
    """A thread-safe store of received byte segments (the source's cache, the TIFF planner's view of the file)."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._data: list[bytes] = []
        self._lock = threading.Lock()

    def add(self, start: int, data: bytes) -> None:
        """Keep ``data`` at ``start``, merged with every segment it touches (new bytes win where they overlap)."""
        if not data:
            return
        end = start + len(data)
        with self._lock:
            i = bisect_right(self._starts, start) - 1
            lo = i if i >= 0 and self._starts[i] + len(self._data[i]) >= start else i + 1
            hi = lo
            new_start, new_end = start, end
            while hi < len(self._starts) and self._starts[hi] <= end:
                new_start = min(new_start, self._starts[hi])
                new_end = max(new_end, self._starts[hi] + len(self._data[hi]))
                hi += 1
            if hi == lo:
                self._starts.insert(lo, start)
                self._data.insert(lo, bytes(data))
                return
            buf = bytearray(new_end - new_start)
            for s, d in zip(self._starts[lo:hi], self._data[lo:hi], strict=True):
                buf[s - new_start : s - new_start + len(d)] = d
            buf[start - new_start : end - new_start] = data
            self._starts[lo:hi] = [new_start]
            self._data[lo:hi] = [bytes(buf)]

    def _segment(self, pos: int) -> int | None:
        """Index of the segment holding byte ``pos`` (call with the lock held)."""
        i = bisect_right(self._starts, pos) - 1
        if i >= 0 and pos < self._starts[i] + len(self._data[i]):
            return i
        return None

    def get(self, start: int, end: int) -> bytes | None:
        """Bytes ``[start, end)``, or None unless all of them were received."""
        if start >= end:
            return b""
        with self._lock:
            i = self._segment(start)
            if i is None or end > self._starts[i] + len(self._data[i]):
                return None
            s, d = self._starts[i], self._data[i]
        return d[start - s : end - s]

    def covered_until(self, start: int) -> int:
        """End of the received bytes that run on from ``start`` (``start`` itself when it was not received)."""
        with self._lock:
            i = self._segment(start)
            return start if i is None else self._starts[i] + len(self._data[i])

    def missing(self, start: int, end: int) -> list[Range]:
        """The parts of ``[start, end)`` not received."""
        gaps: list[Range] = []
        pos = start
        with self._lock:
            i = max(0, bisect_right(self._starts, start) - 1)
            while pos < end and i < len(self._starts):
                s, e = self._starts[i], self._starts[i] + len(self._data[i])
                if e <= pos:
                    i += 1
                    continue
                if s >= end:
                    break
                if s > pos:
                    gaps.append((pos, s))
                pos = max(pos, e)
                i += 1
        if pos < end:
            gaps.append((pos, end))
        return gaps

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        with self._lock:
            return sum(len(d) for d in self._data)

    def clear(self) -> None:
        """Forget everything held."""
        with self._lock:
            self._starts.clear()
            self._data.clear()
