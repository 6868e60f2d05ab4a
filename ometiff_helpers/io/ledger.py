"""The request ledger: every request a byte source sent, with totals and logical rounds."""

from __future__ import annotations

import math
import threading

from ometiff_helpers.frozen import record

__all__ = ["Ledger", "RequestRecord"]


@record
class RequestRecord:
    """One request sent (or one read of a local file): half-open byte range, bytes received, status, times."""

    start: int
    end: int
    nbytes: int
    status: int
    t_start: float
    t_end: float
    attempt: int = 1
    note: str = ""
    t_headers: float | None = None  # when the answer's headers arrived (HTTP): latency before, transfer after


class Ledger:
    """Every request a source made, with totals; safe to update from several threads."""

    def __init__(self, max_concurrency: int = 16) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []
        self._rounds = 0
        self._max_concurrency = max(1, max_concurrency)

    def add(self, record: RequestRecord) -> None:
        """Record one request."""
        with self._lock:
            self._records.append(record)

    def add_round(self, n_requests: int) -> None:
        """Count the round(s) of one `open`/`fetch` call that sends ``n_requests`` requests."""
        if n_requests > 0:
            with self._lock:
                self._rounds += math.ceil(n_requests / self._max_concurrency)

    @property
    def records(self) -> list[RequestRecord]:
        """A copy of the records so far."""
        with self._lock:
            return list(self._records)

    @property
    def count(self) -> int:
        """How many requests were sent."""
        with self._lock:
            return len(self._records)

    @property
    def bytes(self) -> int:
        """How many bytes arrived."""
        with self._lock:
            return sum(r.nbytes for r in self._records)

    @property
    def rounds(self) -> int:
        """How many sequential rounds the requests took."""
        with self._lock:
            return self._rounds

    @property
    def seconds(self) -> float:
        """Wall-clock time from the first request's start to the last one's end."""
        with self._lock:
            if not self._records:
                return 0.0
            return max(r.t_end for r in self._records) - min(r.t_start for r in self._records)

    def round_trip_bytes(self) -> int | None:
        """Bytes the link delivers in one round trip's latency, measured on the first request (its latency to the
        headers, its bytes over the time after them): what an extra round costs, in bytes. None when unknown
        (a local source, or too little data to time)."""
        timed = self._first_timed()
        if timed is None:
            return None
        latency, rate = timed
        return int(rate * latency)

    def connection_rate(self) -> float | None:
        """Bytes per second one connection delivers, measured on the first request (its bytes over the time after
        its headers; a TCP connection still in slow start gives a low estimate). None when unknown."""
        timed = self._first_timed()
        return None if timed is None else timed[1]

    def _first_timed(self) -> tuple[float, float] | None:
        """The first request's latency to its headers and its body's rate; None without one of 16 KiB or more."""
        with self._lock:
            first = self._records[0] if self._records else None
        if first is None or first.t_headers is None or first.nbytes < 16 * 1024:
            return None
        latency = max(0.0, first.t_headers - first.t_start)
        transfer = max(first.t_end - first.t_headers, 1e-4)  # a loopback burst: at least 0.1 ms
        return latency, first.nbytes / transfer

    def as_dict(self) -> dict[str, int | float]:
        """The totals as a JSON-ready dict."""
        return {
            "count": self.count,
            "bytes": self.bytes,
            "rounds": self.rounds,
            "seconds": round(self.seconds, 6),
        }

    def __repr__(self) -> str:
        d = self.as_dict()
        return f"Ledger(count={d['count']}, bytes={d['bytes']}, rounds={d['rounds']})"
