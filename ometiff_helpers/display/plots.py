"""Matplotlib figures: the pyramid sketch (levels drawn to scale as nested rectangles) and ROI shapes.

Figures are made through pyplot so that a notebook cell ending with ``plt.show()`` displays them; `figure_png`
renders one to PNG bytes (for widgets) and closes it. Rendering is deterministic: fixed size, fixed DPI, the fonts
shipped with matplotlib, no timestamps in the PNG.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection, PatchCollection, PolyCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse, Rectangle
from matplotlib.ticker import FuncFormatter, NullLocator
from matplotlib.transforms import Affine2D

__all__ = [
    "channel_histograms_figure",
    "figure_labels",
    "figure_png",
    "level_colours",
    "level_label",
    "preview_figure",
    "pyramid_figure",
    "shapes_figure",
    "short_name",
]

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
_SHAPE_STROKE = _PALETTE[0]  # a shape without StrokeColor


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


def shapes_figure(
    shapes: Sequence[Any],
    *,
    extent: tuple[int, int] | None = None,
    name: str = "",
    filters: str = "",
    zoom: bool = False,
) -> Figure:
    """ROI shapes (`omexml.Shape` records) drawn to scale in image pixels, y downwards, each in its stroke colour,
    with its Transform applied; ``extent`` (width, height) is drawn dashed. ``name`` (a `short_name`) and
    ``filters`` ("Z=2, ROI=ROI:1") go into the title. With ``zoom``, the view is the shapes' own extent and an
    inset shows the image outline with that view marked."""
    fig, ax = plt.subplots(figsize=_FIGSIZE, dpi=_DPI)
    ax.set_aspect("equal")
    ax.set_xlabel("x (pixels)")
    ax.set_ylabel("y (pixels)")
    polys: list[list[tuple[float, float]]] = []
    poly_colours: list[str] = []
    lines: list[list[tuple[float, float]]] = []
    line_colours: list[str] = []
    patches: list[Any] = []
    patch_colours: list[str] = []
    points: list[tuple[float, float]] = []
    bounds: list[tuple[float, float]] = []
    for s in shapes:
        colour = s.stroke_colour.hex_rgb if s.stroke_colour is not None else _SHAPE_STROKE
        transform = Affine2D.from_values(*s.transform) if s.transform else None

        if s.kind in ("Polygon", "Polyline"):
            pts = _moved(transform, s.point_list())
            if pts:
                (polys if s.kind == "Polygon" else lines).append(pts)
                (poly_colours if s.kind == "Polygon" else line_colours).append(colour)
                bounds.extend(pts)
        elif s.kind == "Line" and None not in (s.x1, s.y1, s.x2, s.y2):
            pts = _moved(transform, [(s.x1, s.y1), (s.x2, s.y2)])  # type: ignore[list-item]
            lines.append(pts)
            line_colours.append(colour)
            bounds.extend(pts)
        elif s.kind in ("Rectangle", "Mask") and None not in (s.x, s.y, s.width, s.height):
            corners = [
                (s.x, s.y),
                (s.x + s.width, s.y),
                (s.x + s.width, s.y + s.height),
                (s.x, s.y + s.height),
            ]  # type: ignore[operator]
            pts = _moved(transform, corners)  # type: ignore[arg-type]
            polys.append(pts)
            poly_colours.append(colour)
            bounds.extend(pts)
        elif s.kind == "Ellipse" and None not in (s.x, s.y, s.radius_x, s.radius_y):
            patch = Ellipse((s.x, s.y), 2 * s.radius_x, 2 * s.radius_y)  # type: ignore[arg-type, operator]
            if transform is not None:  # the collection adds the axes' data transform itself
                patch.set_transform(transform)
            patches.append(patch)
            patch_colours.append(colour)
            bounds.extend(
                _moved(
                    transform, [(s.x - s.radius_x, s.y - s.radius_y), (s.x + s.radius_x, s.y + s.radius_y)]
                )
            )  # type: ignore[operator]
        elif s.kind in ("Point", "Label") and None not in (s.x, s.y):
            (x, y) = _moved(transform, [(s.x, s.y)])[0]  # type: ignore[list-item]
            points.append((x, y))
            bounds.append((x, y))
            if s.kind == "Label" or s.text:
                ax.annotate(
                    s.text or "", (x, y), fontsize=8, color=colour, xytext=(3, 3), textcoords="offset points"
                )
    if polys:
        ax.add_collection(PolyCollection(polys, facecolors="none", edgecolors=poly_colours, linewidths=1))
    if lines:
        ax.add_collection(LineCollection(lines, colors=line_colours, linewidths=1))
    if patches:
        ax.add_collection(
            PatchCollection(
                patches, facecolors="none", edgecolors=patch_colours, linewidths=1, match_original=False
            )
        )
    if points:
        ax.plot([p[0] for p in points], [p[1] for p in points], "+", color="#d62728", markersize=8)
    if extent is not None:
        ax.add_patch(
            Rectangle(
                (0, 0), extent[0], extent[1], fill=False, edgecolor="#555555", linestyle="--", linewidth=1
            )
        )
        width, height = float(extent[0]), float(extent[1])
    else:
        width = max((b[0] for b in bounds), default=1.0)
        height = max((b[1] for b in bounds), default=1.0)
    zoomed = zoom and bool(bounds)
    xs = ([] if zoomed else [0.0, width]) + [b[0] for b in bounds]
    ys = ([] if zoomed else [0.0, height]) + [b[1] for b in bounds]
    pad = max(0.1 * max(max(xs) - min(xs), max(ys) - min(ys)), 2.0) if zoomed else 0.02 * max(width, height)
    x0, x1, y0, y1 = min(xs) - pad, max(xs) + pad, min(ys) - pad, max(ys) + pad
    ax.set_xlim(x0, x1)
    ax.set_ylim(y1, y0)  # image coordinates: y grows downwards
    if zoomed:
        _overview(ax, width, height, (x0, y0, x1 - x0, y1 - y0), outline=extent is not None)
    size = f"{extent[0]} × {extent[1]} px image" if extent is not None else "no image size"
    title = f"{len(shapes):,} shape(s) of {name} ({size})" + (f"; {filters}" if filters else "")
    if zoomed:
        title += f"\nzoomed to x {x0:,.0f}-{x1:,.0f}, y {y0:,.0f}-{y1:,.0f}"
    ax.set_title(title)
    if not shapes:
        ax.text(0.5, 0.5, "no shapes match", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    return fig


def _overview(
    ax: Any, width: float, height: float, view: tuple[float, float, float, float], *, outline: bool
) -> None:
    """An inset in the corner of ``ax``: the image outline (dashed) and the zoomed ``view`` (x, y, w, h) in red."""
    inset = ax.inset_axes((0.74, 0.74, 0.24, 0.24))
    inset.set_aspect("equal")
    inset.set_xticks([])
    inset.set_yticks([])
    inset.set_facecolor("white")
    if outline:
        inset.add_patch(
            Rectangle((0, 0), width, height, fill=False, edgecolor="#555555", linestyle="--", linewidth=1)
        )
    inset.add_patch(
        Rectangle(view[:2], view[2], view[3], fill=True, alpha=0.5, edgecolor="#d62728", linewidth=1.5)
    )
    centre = (view[0] + view[2] / 2, view[1] + view[3] / 2)
    inset.plot([centre[0]], [centre[1]], "+", color="#d62728", markersize=9)  # visible when the view is tiny
    right, bottom = max(width, view[0] + view[2]), max(height, view[1] + view[3])
    left, top = min(0.0, view[0]), min(0.0, view[1])
    margin = 0.05 * max(right - left, bottom - top)
    inset.set_xlim(left - margin, right + margin)
    inset.set_ylim(bottom + margin, top - margin)
    inset.set_title("image", fontsize=7)


def _moved(transform: Affine2D | None, pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """``pts`` through a shape's Transform (unchanged without one)."""
    return pts if transform is None else [(float(x), float(y)) for x, y in transform.transform(pts)]


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


# --- pixel preview (the lowest level, as Viv shows it) ----------------------------------------------------------------


def preview_figure(preview: Any, *, title: str = "") -> Figure:
    """Each channel through Viv's default contrast limits in its colour, then their additive composite."""
    from ometiff_helpers.pixels.render import composite, intensity

    chans = list(zip(preview.channels, preview.arrays, strict=True))
    n = len(chans) + 1
    fig, axes = plt.subplots(1, n, figsize=(min(2.4 * n, 16.0), 2.9), squeeze=False)
    limits = [c.contrast_limits for c, _ in chans]
    colours = [c.colour for c, _ in chans]
    for ax, (c, arr) in zip(axes[0], chans, strict=False):
        rgb = intensity(arr, c.contrast_limits)[:, :, None] * (np.asarray(c.colour, np.float32) / 255.0)
        ax.imshow(rgb, interpolation="nearest")
        ax.set_title(f"{c.index}: {c.name}"[:28], fontsize=9)
    axes[0][-1].imshow(composite([a for _, a in chans], limits, colours), interpolation="nearest")
    axes[0][-1].set_title("composite (additive)", fontsize=9)
    for ax in axes[0]:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(
        title
        or f"lowest level {preview.level} ({preview.width} × {preview.height} px), Viv's default contrast",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def _count_label(value: float, _position: Any = None) -> str:
    """A histogram count on a log axis: ``1000000`` -> ``"1M"``, ``100000`` -> ``"100k"``, ``10`` -> ``"10"``."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def channel_histograms_figure(preview: Any) -> Figure:
    """One histogram per channel (log counts) with the domain (grey, dotted) and Viv's contrast limits (black)."""
    chans = list(zip(preview.channels, preview.arrays, strict=True))
    n = max(1, len(chans))
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.0 * cols, 2.6 * rows), squeeze=False)
    for ax in axes.ravel()[len(chans) :]:
        ax.set_visible(False)
    for ax, (c, arr) in zip(axes.ravel(), chans, strict=False):
        values = np.asarray(arr, np.float64).ravel()
        values = values[np.isfinite(values)]
        colour = tuple(v / 255.0 for v in c.colour)
        if values.size:
            ax.hist(  # one filled outline, not 128 bar patches (half the drawing time)
                values,
                bins=128,
                color=colour if sum(c.colour) < 700 else "#555555",
                log=True,
                histtype="stepfilled",
            )
            # plain count labels, no minor ticks: matplotlib's 10^n math text took half of this figure's drawing
            ax.yaxis.set_minor_locator(NullLocator())
            ax.yaxis.set_major_formatter(FuncFormatter(_count_label))
        for x in c.domain:
            if np.isfinite(x):
                ax.axvline(x, color="#888888", linestyle=":", linewidth=1.2)
        for x in c.contrast_limits:
            ax.axvline(x, color="#000000", linewidth=1.2)
        ax.set_title(f"{c.index}: {c.name}"[:40], fontsize=9)
        ax.tick_params(labelsize=8)
        lo, hi = c.contrast_limits
        ax.set_xlabel(f"domain [{c.min:g}, {c.max:g}]  contrast limits [{lo:g}, {hi:g}]", fontsize=8)
    fig.tight_layout()
    return fig


_PNG_MEMO: dict[str, tuple[Any, bytes]] = {}  # kind -> (the preview last drawn, its PNG)


def _memo_png(kind: str, preview: Any, make: Callable[[Any], Figure]) -> bytes:
    """The PNG of ``make(preview)``, drawn once per preview (the app's tab and its notebook section share it)."""
    held = _PNG_MEMO.get(kind)
    if held is not None and held[0] is preview:
        return held[1]
    png = figure_png(make(preview))
    _PNG_MEMO[kind] = (preview, png)
    return png


def preview_png(preview: Any) -> bytes:
    """`preview_figure` as PNG bytes, drawn once per preview."""
    return _memo_png("preview", preview, preview_figure)


def histograms_png(preview: Any) -> bytes:
    """`channel_histograms_figure` as PNG bytes, drawn once per preview."""
    return _memo_png("histograms", preview, channel_histograms_figure)


class PngFigure:
    """A figure for a notebook section: a PNG with a plain-text caption (nbval compares the text, not the pixels)."""

    def __init__(self, caption: str, png: bytes | None) -> None:
        self.caption = caption
        self.png = png

    def _repr_mimebundle_(self, **_: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": self.caption}
        if self.png is not None:
            bundle["image/png"] = base64.b64encode(self.png).decode("ascii")
        return bundle


def preview_caption(report: Any) -> str:
    """One line on what the preview read (level, size, tiles, bytes, rounds) and its notices, or why it read nothing."""
    preview = getattr(report, "pixels", None)
    if preview is None or not preview.arrays:
        info = report.extra.get("pixels") or {}
        why = info.get("skipped") or info.get("error") or "; ".join(getattr(preview, "notices", ()) or ())
        return f"No pixels read: {why or 'nothing to preview'}."
    lines = [
        f"level {preview.level} of {preview.level_count}: {preview.width} x {preview.height} px, "
        f"{preview.tiles_read} tiles, {preview.bytes_read:,} bytes in {preview.rounds} extra round(s)"
    ]
    lines += [f"note: {note}" for note in preview.notices]
    return "\n".join(lines)


def preview_section(report: Any) -> PngFigure:
    """The Preview section: each channel through Viv's default contrast limits, and their composite."""
    preview = getattr(report, "pixels", None)
    png = preview_png(preview) if preview is not None and preview.arrays else None
    return PngFigure(preview_caption(report), png)


def histograms_section(report: Any) -> PngFigure:
    """The histogram of each previewed channel, its domain and Viv's default contrast limits marked."""
    preview = getattr(report, "pixels", None)
    if preview is None or not preview.arrays:
        return PngFigure("No histograms: no pixels read.", None)
    names = ", ".join(c.name for c in preview.channels)
    return PngFigure(f"histograms of {names}", histograms_png(preview))
