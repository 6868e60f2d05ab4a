"""Viv's channel statistics (``getChannelStats`` in @vivjs/loaders 0.21.0), on a numpy array.

Avivator calls it on the whole lowest pyramid level of each channel it shows first and uses ``domain`` for the slider
range and ``contrastLimits`` as the default display window. The algorithm, as published (dist/index.mjs):

- min / max: a loop of ``<`` / ``>`` comparisons, so NaN never wins; mean and sd over every pixel (NaN propagates);
- contrast limits: the pixels ``> 0`` only (NaN and non-positive values dropped), ``n`` of them;
  ``top = floor(n * (1 - 0.0005))``, ``bottom = floor(n * 0.0005)``; quickselect puts the k-th smallest value at
  index k, so the limits are the sorted cut-off array's values at ``bottom`` and ``top``; ``|| 0`` gives 0 when
  there is no positive pixel.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

CUTOFF_PERCENTILE = 5e-4


def viv_channel_stats(arr: Any) -> dict[str, Any]:
    """``getChannelStats(arr)``: domain [min, max], mean, sd and Viv's default contrast limits."""
    flat = np.asarray(arr).ravel()
    n = flat.size
    if n == 0:
        return {"domain": (math.inf, -math.inf), "mean": math.nan, "sd": math.nan, "contrast_limits": (0, 0)}
    values = flat.astype(np.float64)
    finite_or_inf = values[~np.isnan(values)]
    lo = float(finite_or_inf.min()) if finite_or_inf.size else math.inf
    hi = float(finite_or_inf.max()) if finite_or_inf.size else -math.inf
    with np.errstate(invalid="ignore", over="ignore"):
        mean = float(values.sum() / n)
        sd = float((((values - mean) ** 2).sum() / n) ** 0.5)
    cutoff = flat[flat > 0]
    m = cutoff.size
    if m == 0:
        limits: tuple[float, float] = (0, 0)
    else:
        top = math.floor(m * (1 - CUTOFF_PERCENTILE))
        bottom = math.floor(m * CUTOFF_PERCENTILE)
        part = np.partition(cutoff, (bottom, top))
        limits = (_number(part[bottom]), _number(part[top]))
    return {"domain": (_number(lo), _number(hi)), "mean": mean, "sd": sd, "contrast_limits": limits}


def _number(v: Any) -> float:
    """A plain Python number (int when integral, as JavaScript prints it)."""
    f = float(v)
    return int(f) if math.isfinite(f) and f.is_integer() else f
