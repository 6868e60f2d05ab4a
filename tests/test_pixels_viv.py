"""The preview's statistics equal Viv's own ``getChannelStats`` (@vivjs/loaders 0.21.0, run in Node from tests/viv,
installed by ``npm ci`` in ./dev.sh test) on the same arrays: the lowest level of corpus files and generated data."""

from __future__ import annotations

import json
import logging
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np

from ometiff_helpers.errors import OmeTiffError
from ometiff_helpers.io.local import FileSource
from ometiff_helpers.pixels.stats import viv_channel_stats
from ometiff_helpers.report import inspect_source, run_pixels

VIV = Path(__file__).parent / "viv"


def viv_stats(arrays: list[np.ndarray]) -> list[dict]:
    """Run Viv's getChannelStats in Node on each array."""
    node = shutil.which("node")
    assert node, "node is needed for the Viv oracle (./dev.sh test installs it with the npm packages)"
    assert (VIV / "node_modules" / "@vivjs" / "loaders").is_dir(), (
        "run `npm ci` in tests/viv (./dev.sh test does)"
    )
    jobs = [{"dtype": str(a.dtype), "values": [None if isinstance(v, float) and math.isnan(v) else v
                                                for v in a.ravel().tolist()]} for a in arrays]  # fmt: skip
    done = subprocess.run([node, "channel_stats.mjs"], cwd=VIV, input=json.dumps(jobs), capture_output=True,
                          text=True, check=True, timeout=120)  # fmt: skip
    return json.loads(done.stdout)


def test_contrast_limits_equal_vivs_on_corpus_and_generated(corpus_dir: Path) -> None:
    logging.getLogger("tifffile").setLevel(logging.CRITICAL)
    arrays: list[np.ndarray] = []
    files = 0
    for path in sorted(p for p in corpus_dir.rglob("*") if p.suffix.lower() in (".tif", ".tiff")):
        if files >= 30:
            break
        try:
            with FileSource(str(path)) as src:
                rep = inspect_source(src, probes=False, checks=False)
                run_pixels(rep, src)
        except OmeTiffError:  # files the metadata reader refuses are tested elsewhere
            continue
        if rep.pixels is None or not rep.pixels.arrays or rep.pixels.arrays[0].dtype.kind == "f":
            continue
        if rep.pixels.arrays[0].size > 300_000:
            continue
        arrays.append(np.ascontiguousarray(rep.pixels.arrays[0]))
        files += 1
    assert files >= 20
    rng = np.random.default_rng(3)
    arrays += [rng.integers(0, 4096, (97, 89), dtype=np.uint16), rng.integers(-100, 100, (50, 41), dtype=np.int16),
               np.zeros((10, 10), np.uint8), rng.gamma(2.0, 100.0, (64, 64)).astype(np.uint32)]  # fmt: skip
    expected = viv_stats(arrays)
    for arr, viv in zip(arrays, expected, strict=True):
        ours = viv_channel_stats(arr)
        assert list(ours["contrast_limits"]) == viv["contrastLimits"]
        assert list(ours["domain"]) == viv["domain"]
        assert math.isclose(ours["mean"], viv["mean"], rel_tol=1e-9)
