"""Progress events: the library never prints, it calls ``on_progress(Progress(...))``."""

from __future__ import annotations

from collections.abc import Callable

from ometiff_helpers.frozen import record


@record
class Progress:
    """``stage`` is "ifds" (IFDs read so far), "xml" (OME-XML bytes received) or "description" (sent once by the
    TIFF reader when IFD 0's out-of-line ImageDescription is found: ``done`` 0, ``total`` its bytes; `report.inspect`
    uses it as the total of its "xml" events); ``total`` is None when unknown."""

    stage: str
    done: int
    total: int | None = None


ProgressCallback = Callable[[Progress], None]
