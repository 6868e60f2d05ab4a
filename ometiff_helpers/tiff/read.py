"""Read the structure of a (remote) TIFF: header, IFD chain, SubIFDs and tags, in as few rounds as it can.

Public face of the TIFF reader: the records live in ``tiffmodel``, decoding in ``tiffparse``, read planning in
``tiffplan``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ometiff_helpers.errors import CorruptTiff, LimitExceeded
from ometiff_helpers.tiff.model import IFD, ReadOptions, Tag, TagValue, TiffStructure
from ometiff_helpers.tiff.parse import decode_value
from ometiff_helpers.tiff.planner import TiffPlanner

if TYPE_CHECKING:
    from ometiff_helpers.io.base import ByteSource
    from ometiff_helpers.progress import ProgressCallback

__all__ = [
    "IFD",
    "ReadOptions",
    "Tag",
    "TagValue",
    "TiffStructure",
    "load_tag_value",
    "read_tiff",
]


def read_tiff(
    source: ByteSource,
    *,
    options: ReadOptions | None = None,
    offsets: Sequence[int] | None = None,
    description_consumer: Callable[[bytes], None] | None = None,
    on_progress: ProgressCallback | None = None,
    on_structure: Callable[[TiffStructure], None] | None = None,
) -> TiffStructure:
    """Read header, every top-level IFD and SubIFD, and IFD 0's ImageDescription from ``source``.

    ``offsets``: top-level IFD offsets from an offsets.json sidecar (fetched at once, verified against the chain).
    ``description_consumer``: receives IFD 0's ImageDescription bytes in large chunks instead of keeping them; a
    large one is streamed beside the later rounds (they do not wait for it).
    ``on_structure``: called once with the structure as soon as every IFD is read, while a large streamed
    description may still be arriving (in the caller's thread; the read waits for it, and an error it raises ends
    the read). The structure returned is the same object, complete with its description.
    Raises ``NotATiff``/``CorruptTiff`` when IFD 0 cannot be read and ``LimitExceeded`` when a bound is hit;
    problems after that are recorded in ``TiffStructure.findings``.
    """
    planner = TiffPlanner(
        source, options or ReadOptions(), offsets, description_consumer, on_progress, on_structure
    )
    return planner.run()


def load_tag_value(
    source: ByteSource, structure: TiffStructure, tag: Tag, *, max_bytes: int = 64 * 1024 * 1024
) -> TagValue:
    """Fetch and decode a value ``read_tiff`` left unloaded (large arrays such as TileOffsets).

    ``max_bytes`` caps the value's size (checked before fetching).
    """
    if tag.value is not None:
        return tag.value
    if tag.value_offset is None or tag.nbytes == 0:
        raise CorruptTiff(
            f"tag {tag.code} ({tag.name}) has field type {tag.type} ({tag.type_name}), which cannot be decoded.",
            offset=tag.entry_offset,
        )
    end = tag.value_offset + tag.nbytes
    if tag.value_offset < structure.format.header_size or end > structure.size:
        raise CorruptTiff(
            f"tag {tag.code} ({tag.name}) value ({tag.nbytes:,} bytes at offset {tag.value_offset:,}) lies outside "
            f"the file ({structure.size:,} bytes).",
            offset=tag.entry_offset,
            hint="The file is damaged or truncated; upload or convert it again.",
        )
    if tag.nbytes > max_bytes:
        raise LimitExceeded(
            f"tag {tag.code} ({tag.name}) value is {tag.nbytes:,} bytes; the limit is {max_bytes:,}.",
            name="tag value bytes",
            value=tag.nbytes,
            limit=max_bytes,
            hint="Pass a larger max_bytes to load it.",
        )
    data = source.fetch([(tag.value_offset, end)])[0] or b""
    value = decode_value(structure.format, tag.type, tag.count, data)
    if value is None:
        raise CorruptTiff(
            f"tag {tag.code} ({tag.name}) value at offset {tag.value_offset:,} could not be read in full.",
            offset=tag.value_offset,
        )
    return value
