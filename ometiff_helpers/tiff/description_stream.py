"""IFD 0's ImageDescription (the OME-XML) as it arrives: streamed to a consumer, or kept, in the rounds of a read.

The description can be megabytes; with a consumer (the OME-XML parser) its bytes go there as they arrive and only a
small description is also kept (to decode the tag value). Without one, every part is kept for
``TiffStructure.image_description``.
"""

from __future__ import annotations

from collections.abc import Callable

from ometiff_helpers.io.segments import Segments

Range = tuple[int, int]


class DescriptionStream:
    """Where IFD 0's description lies, what of it arrived, and where its bytes go."""

    def __init__(self, consumer: Callable[[bytes], None] | None, small_bytes: int) -> None:
        self.consumer = consumer
        self.small_bytes = small_bytes  # a description this small is kept even when streamed
        self.range: Range | None = None  # the part still to receive (out-of-line description)
        self.index: int | None = None  # IFD 0's entry index of an out-of-line description
        self.parts: list[bytes] = []  # kept when there is no consumer, or while the description is small
        self.keep = consumer is None
        self.total = 0
        self.done = False

    @property
    def wanted(self) -> Range | None:
        """The range still to read, or None (no out-of-line description, or all of it received)."""
        return None if self.range is None or self.done else self.range

    def inline(self, data: bytes) -> None:
        """The description held in the entry itself: complete at once."""
        self.parts = [data]
        self.done = True
        if self.consumer is not None:
            self.consumer(data)

    def locate(self, index: int, start: int, nbytes: int, buf: Segments) -> None:
        """An out-of-line description at ``start``: take what ``buf`` already holds, the rest is ``wanted``."""
        self.range = (start, start + nbytes)
        self.index = index
        self.total = nbytes
        self.take(buf)

    def take(self, buf: Segments) -> None:
        """Pass on the bytes of the wanted range that ``buf`` holds from its start (a cached tail, the first read)."""
        assert self.range is not None
        start, end = self.range
        have = buf.covered_until(start)
        if have <= start:
            return
        part = buf.get(start, min(have, end))
        assert part is not None
        self.received(part)
        if self.consumer is not None:
            self.consumer(part)
        if have >= end:
            self.done = True
        else:
            self.range = (have, end)

    def received(self, data: bytes) -> None:
        """Keep ``data`` if kept at all (a fetch gave it to the consumer already)."""
        if self.keep or self.total <= self.small_bytes:
            self.parts.append(data)

    def value(self) -> bytes | None:
        """The bytes kept (the whole description when kept), or None."""
        return b"".join(self.parts) if self.parts else None
