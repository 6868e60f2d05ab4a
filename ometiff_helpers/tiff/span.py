"""Sibling-span templates: how many bytes to read for an IFD not yet seen, learnt from a parsed sibling.

An IFD not yet seen is read with the span its parsed siblings (the IFDs of the same depth) needed: its entries
through the last value that had to be read, e.g. a SubIFDs array stored after the tile offset arrays, so an IFD and
its SubIFDs arrive in one request.
"""

from __future__ import annotations

from collections.abc import Container, Sequence

from ometiff_helpers.tiff.codes import TiffFormat
from ometiff_helpers.tiff.parse import RawEntry

DEFAULT_SPAN = 4096  # bytes read for an IFD before any IFD size was seen
_BLOCK_GAP = 64  # padding tolerated between the out-of-line values of one IFD's block


def sibling_span(
    fmt: TiffFormat,
    offset: int,
    size: int,
    entries: Sequence[RawEntry],
    needed: Container[int],
    lacking: int | None,
    *,
    span_max: int,
    margin: int,
) -> int:
    """Bytes to read for a sibling of the IFD at ``offset`` (``size`` bytes of entries, ``entries`` parsed).

    Writers store an IFD's out-of-line values as one block right after its entries. The sibling's read span is
    this IFD's span through the end of the last value that had to be read (entry indices in ``needed``: the SubIFDs
    array, a Software string), following the block across values that were not needed (tile offset arrays), less
    the value the siblings lack (entry index ``lacking``: IFD 0's description); no further than ``span_max``
    (``ReadOptions.template_span_max``), plus ``margin`` (``ReadOptions.ifd_read_margin``).
    """
    located = []
    for idx, e in enumerate(entries):
        n = e.nbytes()
        if n is not None and not e.is_inline(fmt):
            located.append((e.value_offset(fmt), n, idx))
    block_end = needed_end = offset + size
    skipped = lacked = 0  # bytes of the siblings-lack values passed, and those before needed_end
    for voff, n, idx in sorted(located):
        if voff < offset:
            continue
        if voff > block_end + _BLOCK_GAP:
            break
        block_end = max(block_end, voff + n)
        if idx == lacking:
            skipped += n
        elif idx in needed:
            if voff + n - offset - skipped > span_max:
                break
            needed_end, lacked = max(needed_end, voff + n), skipped
    return needed_end - offset - lacked + margin
