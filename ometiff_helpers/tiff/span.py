"""Sibling-span templates: what to read for an IFD not yet seen, learnt from a parsed sibling.

An IFD not yet seen is read with the span its parsed siblings (the IFDs of the same depth) needed: its entries
through the last value that had to be read when only small values lie between (a Software string after the entries,
a strip-offset array of a few KB), so an IFD and its values arrive in one request. A needed value that lies past a
large run of values nobody reads (the SubIFDs array after a 150 KB tile-offset array) is not read through: its place
relative to the IFD becomes a separate range of the same round (``SpanTemplate.values``).
"""

from __future__ import annotations

from collections.abc import Container

from ometiff_helpers.frozen import record
from ometiff_helpers.tiff.codes import LARGE_ARRAY_TAGS, TiffFormat
from ometiff_helpers.tiff.model import ReadOptions
from ometiff_helpers.tiff.nodes import IfdNode

DEFAULT_SPAN = 4096  # bytes read for an IFD before any IFD size was seen
MAX_TEMPLATE_VALUES = 4  # needed values read as ranges of their own, per template
_BLOCK_GAP = 64  # padding tolerated between the out-of-line values of one IFD's block

Range = tuple[int, int]


@record
class SpanTemplate:
    """What to read for a sibling at offset ``o``: ``[o, o + span)`` and each ``[o + a, o + b)`` of ``values``
    (offsets relative to the IFD, margins included)."""

    span: int
    values: tuple[Range, ...] = ()

    def ranges(self, offset: int, size: int) -> list[Range]:
        """The value ranges of a sibling at ``offset`` in a file of ``size`` bytes (not the span itself)."""
        out = []
        for a, b in self.values:
            start, end = max(0, offset + a), min(size, offset + b)
            if start < end:
                out.append((start, end))
        return out

    def merged(self, other: SpanTemplate) -> SpanTemplate:
        """This template widened by ``other`` (the larger span, the value ranges of both, overlaps joined)."""
        values: list[Range] = []
        for a, b in sorted({*self.values, *other.values}):
            if values and a <= values[-1][1]:
                values[-1] = (values[-1][0], max(b, values[-1][1]))
            else:
                values.append((a, b))
        return SpanTemplate(max(self.span, other.span), tuple(values[:MAX_TEMPLATE_VALUES]))


def sibling_span(
    fmt: TiffFormat, node: IfdNode, needed: Container[int], lacking: int | None, opt: ReadOptions
) -> SpanTemplate:
    """What to read for a sibling of ``node`` (parsed: ``node.span`` bytes of entries at ``node.offset``).

    Writers store an IFD's out-of-line values as one block right after its entries. The sibling's read span is
    this IFD's span through the end of the last value that had to be read (entry indices in ``needed``, offset
    arrays left out: the SubIFDs array, a Software string), following the block across values that were not needed
    (tile offset arrays) as long as they add at most ``opt.read_through_max`` bytes, less the value the siblings
    lack (entry index ``lacking``: IFD 0's description); no further than ``opt.template_span_max``, plus
    ``opt.ifd_read_margin``. A needed value further on becomes one of the template's ``values``: its place relative
    to the IFD, the margin added on both sides.
    """
    offset, size, entries = node.offset, node.span, node.entries
    span_max, margin, read_through = opt.template_span_max, opt.ifd_read_margin, opt.read_through_max
    located = []
    for idx, e in enumerate(entries):
        n = e.nbytes()
        if n is not None and not e.is_inline(fmt):
            located.append((e.value_offset(fmt), n, idx))
    block_end = offset + size
    end_rel = (
        size  # where the span ends, relative to the IFD as a sibling would have it (without ``lacking``)
    )
    skipped = 0  # bytes of the siblings-lack value passed
    extra: list[Range] = []
    for voff, n, idx in sorted(located):
        if voff < offset:
            continue
        if voff > block_end + _BLOCK_GAP:
            break
        block_end = max(block_end, voff + n)
        if idx == lacking:
            skipped += n
            continue
        if idx not in needed or entries[idx].code in LARGE_ARRAY_TAGS:
            continue
        rel = voff - offset - skipped
        if rel - end_rel <= read_through and rel + n <= span_max:
            end_rel = max(end_rel, rel + n)
        elif extra and rel - margin <= extra[-1][1]:
            extra[-1] = (extra[-1][0], max(extra[-1][1], rel + n + margin))
        elif len(extra) < MAX_TEMPLATE_VALUES:
            extra.append((rel - margin, rel + n + margin))
    return SpanTemplate(end_rel + margin, tuple(extra))
