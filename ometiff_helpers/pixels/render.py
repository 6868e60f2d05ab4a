"""Display-free rendering as Viv draws it: each channel through its contrast limits, then an additive blend.

Viv's shaders map a value to an intensity ``clamp((v - lo) / max(0.0005, hi - lo), 0, 1)`` and the colour palette
extension sums ``intensity × colour / 255`` over the channels, clamped to 1. Arrays are float32 in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: Avivator's default channel colours when the OME Channel has no Color (and white for a single channel)
AVIVATOR_PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 0, 255),
    (0, 255, 0),
    (255, 0, 255),
    (255, 255, 0),
    (255, 128, 0),
    (0, 255, 255),
    (255, 255, 255),
    (255, 0, 0),
)


def intensity(arr: Any, limits: tuple[float, float]) -> np.ndarray:
    """One channel as Viv shades it: (value - lo) / max(0.0005, hi - lo), clamped to [0, 1]; NaN shows as 0."""
    lo, hi = float(limits[0]), float(limits[1])
    out = (np.asarray(arr, dtype=np.float64) - lo) / max(0.0005, hi - lo)
    return np.nan_to_num(np.clip(out, 0.0, 1.0), nan=0.0).astype(np.float32)


def composite(
    arrays: Sequence[Any], limits: Sequence[tuple[float, float]], colours: Sequence[tuple[int, int, int]]
) -> np.ndarray:
    """The additive blend of the channels in their colours: an (height, width, 3) float32 RGB image in [0, 1]."""
    if not arrays:
        return np.zeros((1, 1, 3), np.float32)
    shape = np.asarray(arrays[0]).shape[:2]
    rgb = np.zeros((*shape, 3), np.float32)
    for arr, lim, colour in zip(arrays, limits, colours, strict=True):
        level = intensity(arr, lim)
        if level.shape != shape:
            continue
        rgb += level[:, :, None] * (np.asarray(colour, np.float32) / 255.0)
    return np.clip(rgb, 0.0, 1.0)


def to_uint8(rgb: Any) -> np.ndarray:
    """A [0, 1] float image as 8-bit (for PNG)."""
    return (np.clip(np.asarray(rgb), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def png_bytes(rgb: Any) -> bytes:
    """Encode a [0, 1] float RGB image as PNG with imagecodecs."""
    import imagecodecs

    return bytes(imagecodecs.png_encode(to_uint8(rgb)))


def preview_strip(preview: Any, gap: int = 4) -> np.ndarray:
    """Each channel in its colour through its contrast limits, then the composite, side by side (RGB, [0, 1])."""
    arrays = list(preview.arrays)
    limits = [c.contrast_limits for c in preview.channels]
    colours = [c.colour for c in preview.channels]
    panels = [
        intensity(a, lim)[:, :, None] * (np.asarray(col, np.float32) / 255.0)
        for a, lim, col in zip(arrays, limits, colours, strict=True)
    ]
    panels.append(composite(arrays, limits, colours))
    height = max(p.shape[0] for p in panels)
    width = sum(p.shape[1] for p in panels) + gap * (len(panels) - 1)
    out = np.full((height, width, 3), 0.25, np.float32)
    x = 0
    for p in panels:
        out[: p.shape[0], x : x + p.shape[1]] = p
        x += p.shape[1] + gap
    return out
