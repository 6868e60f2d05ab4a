"""A progress bar for a file arriving: the bytes received of the total, the rate, and the time left.

The readers report `progress.Progress` events (``"xml"``: OME-XML bytes, ``"ifds"``: IFDs parsed); `ByteProgress`
turns them into a bar and one line of text such as ``"OME-XML: 12.0 MiB of 22.6 MiB, 8.1 MiB/s, about 2 s left"``.
Events can come from the reader's worker threads and arrive every megabyte: the widgets are redrawn at most every
``interval`` seconds (and always for the last byte), so a fast network does not flood the page with messages.
`progress_text` is the plain function the line comes from (tested without widgets or clocks).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import ipywidgets as w

from ometiff_helpers.fmt import human_bytes
from ometiff_helpers.progress import Progress

__all__ = ["ByteProgress", "progress_text"]

STAGES = {"xml": "OME-XML", "ifds": "IFDs read"}


def _duration(seconds: float) -> str:
    """``3.2`` -> ``"about 4 s"``, ``75`` -> ``"about 1 min 15 s"``."""
    whole = max(1, int(seconds + 0.999))
    if whole < 60:
        return f"about {whole} s"
    return f"about {whole // 60} min {whole % 60:02d} s"


def progress_text(stage: str, done: int, total: int | None, seconds: float) -> str:
    """One line: what arrived of the total, the rate since the start and the time left at that rate.

    ``stage`` "xml" counts bytes, any other stage counts items (IFDs); the rate needs ``seconds`` > 0, the time
    left a known ``total``.
    """
    name = STAGES.get(stage, stage)
    if stage != "xml":
        return f"{name}: {done:,}" + (f" of {total:,}" if total else "")
    parts = [f"{name}: {human_bytes(done)}" + (f" of {human_bytes(total)}" if total else "")]
    if seconds > 0 and done > 0:
        rate = done / seconds
        parts.append(f"{human_bytes(rate)}/s")
        if total and total > done:
            parts.append(f"{_duration((total - done) / rate)} left")
    if total and done >= total:
        parts.append("all received")
    return ", ".join(parts)


class ByteProgress:
    """An `ipywidgets.IntProgress` and a label fed with `Progress` events; ``widget`` shows both."""

    def __init__(
        self,
        *,
        width: str = "300px",
        interval: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bar = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width=width))
        self.bar.add_class("ometiff-progress")
        self.label = w.Label("")
        self.label.add_class("ometiff-progress-label")
        self.widget = w.HBox([self.bar, self.label])
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._started: dict[str, float] = {}  # stage -> time of its first event
        self._drawn = float("-inf")

    def start(self, text: str = "") -> None:
        """A new download: the bar empty, ``text`` in the label, the clocks reset."""
        with self._lock:
            self._started = {}
            self._drawn = float("-inf")
            self.bar.bar_style = ""
            self.bar.max, self.bar.value = 1, 0
            self.label.value = text

    def __call__(self, event: Progress) -> None:
        """Take one event (from any thread); redraw when ``interval`` has passed or the total is reached."""
        now = self._clock()
        with self._lock:
            began = self._started.setdefault(event.stage, now)
            last = event.total is not None and event.done >= event.total
            if not last and now - self._drawn < self.interval:
                return
            self._drawn = now
            if event.total:
                self.bar.max = max(1, event.total)
                self.bar.value = min(event.done, event.total)
            else:  # the total unknown: the bar keeps a little ahead of what arrived
                self.bar.max = max(self.bar.max, event.done + event.done // 4 + 1)
                self.bar.value = event.done
            self.label.value = progress_text(event.stage, event.done, event.total, now - began)

    def finish(self, text: str, *, error: bool = False) -> None:
        """The download is over: the bar full (red after a failure) and ``text`` in the label."""
        with self._lock:
            self.bar.value = self.bar.max
            self.bar.bar_style = "danger" if error else "success"
            self.label.value = text
