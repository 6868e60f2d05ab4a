"""Read the structure of a (remote) TIFF: header, IFD chain, SubIFDs and tags, in as few rounds as it can.

Public face of the TIFF reader: the records live in ``tiffmodel``, decoding in ``tiffparse``, read planning in
``tiffplan``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .tiffmodel import IFD, ReadOptions, Tag, TagValue, TiffStructure

if TYPE_CHECKING:
    from .progress import ProgressCallback
    from .source import ByteSource

__all__ = ["IFD", "ReadOptions", "Tag", "TagValue", "TiffStructure", "load_tag_value", "read_tiff"]


def read_tiff(
    source: ByteSource,
    *,
    options: ReadOptions | None = None,
    offsets: Sequence[int] | None = None,
    description_consumer: Callable[[bytes], None] | None = None,
    on_progress: ProgressCallback | None = None,
) -> TiffStructure:
    """Read header, every top-level IFD and SubIFD, and IFD 0's ImageDescription from ``source``.

    ``offsets``: top-level IFD offsets from an offsets.json sidecar (fetched at once, verified against the chain).
    ``description_consumer``: receives IFD 0's ImageDescription bytes in large chunks instead of keeping them.
    Raises ``NotATiff``/``CorruptTiff`` when IFD 0 cannot be read and ``LimitExceeded`` when a bound is hit;
    problems after that are recorded in ``TiffStructure.findings``.
    """
    raise NotImplementedError("read_tiff is being written")


def load_tag_value(source: ByteSource, structure: TiffStructure, tag: Tag) -> TagValue:
    """Fetch and decode a value ``read_tiff`` left unloaded (large arrays such as TileOffsets)."""
    raise NotImplementedError("load_tag_value is being written")
