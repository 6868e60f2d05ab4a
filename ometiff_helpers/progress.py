"""Progress events: the library never prints, it calls ``on_progress(Progress(...))``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """``stage`` is "ifds" (IFDs read so far) or "xml" (OME-XML bytes received); ``total`` is None when unknown."""

    stage: str
    done: int
    total: int | None = None


ProgressCallback = Callable[[Progress], None]
