"""The pyramid picture as SVG: one bar per level on a log scale (every level visible), labels in their own rows.

Vector, so it is crisp at any zoom; compact (a 22 px row per level); deterministic text (no ids, no timestamps).
Each row says the level's size, downsampling, tiles and compression, and marks the levels a geotiff.js viewer
(Viv) reads for its first paint: the lowest level (channel statistics) and the first level fitting its viewport.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

from ometiff_helpers.diagnose.viewer_cost import VIEWPORT
from ometiff_helpers.frozen import record

__all__ = ["PyramidPicture", "level_row_text", "pyramid_svg"]

_ROW = 22
_TOP = 30
_BAR_X = 10
_BAR_MAX = 300
_TEXT_X = _BAR_X + _BAR_MAX + 14
_CHAR = 7.2  # a generous width of one 12 px character: labels never reach the next column
_MARK_WIDTH = 270
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")


def _factor(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _first_paint(levels: Sequence[Any]) -> dict[int, str]:
    """Level index -> why the viewer reads it before its first paint."""
    if not levels:
        return {}
    marks = {levels[-1].index: "first paint: channel statistics"}
    fits = next((lv for lv in levels if max(lv.width, lv.height) <= VIEWPORT), levels[-1])
    marks[fits.index] = (
        "first paint: statistics and first tiles"
        if fits.index in marks
        else f"first paint: fits {VIEWPORT} px"
    )
    return marks


def level_row_text(level: Any) -> str:
    """``"level 1: 1,024 × 768 px, ×2, tiles 512 × 512 (4), LZW"``: one row of the picture."""
    tiles = (
        f"tiles {level.tile_width} × {level.tile_height} ({level.tile_count:,})"
        if level.tile_width and level.tile_height and level.tile_count is not None
        else "strips"
    )
    return (
        f"level {level.index}: {level.width:,} × {level.height:,} px, ×{_factor(level.downsample)}, "
        f"{tiles}, {level.compression}"
    )


@record
class PyramidPicture:
    """The SVG and the same facts as text lines (what a notebook without a browser shows)."""

    svg: str
    lines: tuple[str, ...]

    def _repr_svg_(self) -> str:
        return self.svg

    def _repr_html_(self) -> str:
        return f"<div class='ometiff-pyramid'>{self.svg}</div>"

    def __repr__(self) -> str:
        return "\n".join(self.lines)


def pyramid_svg(levels: Sequence[Any], *, title: str = "") -> PyramidPicture:
    """The picture of ``levels`` (`report.Level` records); ``title`` is a `plots.short_name` (never a raw URL)."""
    head = f"Pyramid of {title}" if title else "Pyramid"
    height = _TOP + _ROW * max(1, len(levels)) + 8
    texts = [level_row_text(lv) for lv in levels]
    mark_x = _TEXT_X + _CHAR * max((len(t) for t in texts), default=0) + 16  # one column, after every label
    width = int(max(mark_x + _MARK_WIDTH, _CHAR * len(head) + 2 * _BAR_X))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12" '
        f'role="img" aria-label="{escape(head)}">',
        f'<text x="{_BAR_X}" y="18" font-size="14" font-weight="bold">{escape(head)}</text>',
    ]
    lines = [head]
    if not levels:
        parts.append(f'<text x="{_BAR_X}" y="{_TOP + 14}" fill="#555">no image levels</text>')
        lines.append("no image levels")
    top = math.log2(max((max(lv.width, 1) for lv in levels), default=1))
    low = math.log2(min((max(lv.width, 1) for lv in levels), default=1))
    marks = _first_paint(levels)
    for row, (lv, text) in enumerate(zip(levels, texts, strict=True)):
        y = _TOP + row * _ROW
        colour = _COLOURS[row % len(_COLOURS)]
        # log scale: every halving of the width is the same step, and the smallest level is still one step long
        length = max(4.0, _BAR_MAX * (math.log2(max(lv.width, 1)) - low + 1) / (top - low + 1))
        mark = marks.get(lv.index)
        parts.append(
            f'<rect x="{_BAR_X}" y="{y + 3}" width="{length:.1f}" height="{_ROW - 6}" fill="{colour}" '
            f'fill-opacity="0.75"><title>{escape(text)}</title></rect>'
        )
        parts.append(f'<text x="{_TEXT_X}" y="{y + 15}">{escape(text)}</text>')
        if mark:
            parts.append(
                f'<text x="{mark_x:.0f}" y="{y + 15}" fill="#b71c1c" '
                f'font-style="italic">{escape(mark)}</text>'
            )
        lines.append(text + (f"  [{mark}]" if mark else ""))
    parts.append("</svg>")
    return PyramidPicture("".join(parts), tuple(lines))
