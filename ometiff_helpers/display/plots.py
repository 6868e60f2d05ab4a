"""Matplotlib figures: the pyramid sketch (levels drawn to scale as nested rectangles).

Figures are made through pyplot so that a notebook cell ending with ``plt.show()`` displays them; `figure_png`
renders one to PNG bytes (for widgets) and closes it. Rendering is deterministic: fixed size, fixed DPI, the fonts
shipped with matplotlib, no timestamps in the PNG.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import matplotlib.pyplot as plt
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

__all__ = ["figure_labels", "figure_png", "level_colours", "level_label", "pyramid_figure", "short_name"]

#: one colour per level (matplotlib's "tab10", cycled)
_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
_FIGSIZE = (9.0, 6.0)
_DPI = 80


def level_colours(n: int) -> list[str]:
    """``n`` colours, one per level, distinct for the first ten."""
    return [_PALETTE[i % len(_PALETTE)] for i in range(n)]


def _factor(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def level_label(level: Any) -> str:
    """``"level 1: 1024 × 768 px, ×2"``."""
    return f"level {level.index}: {level.width} × {level.height} px, ×{_factor(level.downsample)}"


def short_name(display_name: str) -> str:
    """The file name of a (redacted) URL or path, without query: what a figure title shows."""
    path = urlsplit(display_name).path if "://" in display_name else display_name
    name = unquote(path.rstrip("/").rsplit("/", 1)[-1])
    return name or display_name


def pyramid_figure(levels: Sequence[Any], *, title: str = "") -> Figure:
    """The levels drawn to scale as nested rectangles sharing the top-left corner, one colour per level.

    Each rectangle is labelled (when it is big enough) with its level, size and downsampling factor; the legend
    repeats every label so that tiny levels are named too. ``title`` should be `short_name` of the report's
    redacted display name (never a raw URL).
    """
    fig, ax = plt.subplots(figsize=_FIGSIZE, dpi=_DPI)
    ax.set_aspect("equal")
    ax.set_xlabel("x (pixels at each level)")
    ax.set_ylabel("y (pixels at each level)")
    if not levels:
        ax.text(0.5, 0.5, "no image levels", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    width = max((lv.width for lv in levels), default=1)
    height = max((lv.height for lv in levels), default=1)
    colours = level_colours(len(levels))
    for lv, colour in zip(levels, colours, strict=True):
        label = level_label(lv)
        ax.add_patch(
            Rectangle(
                (0, 0),
                lv.width,
                lv.height,
                facecolor=to_rgba(colour, 0.16),
                edgecolor=colour,
                linewidth=2,
                label=label,
            )
        )
        # in the rectangle's bottom-right corner: the full label when it has room, else the downsampling only
        inline = label if lv.width >= 0.45 * width else f"×{_factor(lv.downsample)}"
        if lv.width >= 0.06 * width and lv.height >= 0.06 * height:
            ax.text(
                lv.width - 0.008 * width,
                lv.height - 0.012 * height,
                inline,
                ha="right",
                va="bottom",
                fontsize=9,
                color=colour,
                fontweight="bold",
            )
    ax.set_xlim(0, width * 1.02)
    ax.set_ylim(height * 1.02, 0)  # image coordinates: y grows downwards
    ax.set_title(f"Pyramid of {title}" if title else "Pyramid")
    if levels:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def figure_labels(fig: Figure) -> list[str]:
    """Every distinct text a figure shows (title, labels, legend): a stable text view of a figure."""
    texts: list[str] = []
    for ax in fig.axes:
        texts.append(ax.get_title())
        texts.extend(t.get_text() for t in ax.texts)
        legend = ax.get_legend()
        if legend is not None:
            texts.extend(t.get_text() for t in legend.get_texts())
    return list(dict.fromkeys(t for t in texts if t))  # each once, first appearance first


def figure_png(fig: Figure, *, close: bool = True) -> bytes:
    """The figure as PNG bytes (no timestamp: the same figure gives the same bytes); closes it by default."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight", metadata={"Software": None})
    if close:
        plt.close(fig)
    return buf.getvalue()
