"""Regenerate docs/preview-demo.png and docs/preview-defects.png: the Preview tab's figures (channels through Viv's
default contrast limits, additive composite, histograms) for the bundled demo and for a generated file with defects
(channel 1 empty, channel 2 12-bit data in uint16, channel 3's lowest level built from channel 0).

    .venv/bin/python tools/preview_figures.py          (needs the test extra: tifffile writes the defect file)

The screenshots of the Preview tab in the app (docs/preview-tab-*.png) come from tools/preview_shots.py.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import imagecodecs
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_pixels import blobs, write_pyramid  # noqa: E402

from ometiff_helpers import demo  # noqa: E402
from ometiff_helpers.display import plots  # noqa: E402
from ometiff_helpers.report import Report, inspect  # noqa: E402


def tab_png(rep: Report, out: Path) -> None:
    """The preview figure above the histograms, as one PNG."""
    top = imagecodecs.png_decode(plots.figure_png(plots.preview_figure(rep.pixels)))[..., :3]
    bottom = imagecodecs.png_decode(plots.figure_png(plots.channel_histograms_figure(rep.pixels)))[..., :3]
    width = max(top.shape[1], bottom.shape[1])

    def pad(a: np.ndarray) -> np.ndarray:
        return np.pad(a, ((0, 0), (0, width - a.shape[1]), (0, 0)), constant_values=255)

    out.write_bytes(imagecodecs.png_encode(np.concatenate([pad(top), pad(bottom)])))


def write_defect_file(path: Path) -> Path:
    """A 4-channel pyramid (512 px, 3 levels) whose channel 1 is empty, channel 2 holds 12-bit data in uint16 and
    channel 3's lowest level was built from channel 0."""
    chans = [blobs((512, 512), 0), np.zeros((512, 512), np.uint16), blobs((512, 512), 2, peak=4000)]
    chans.append(blobs((512, 512), 3))
    write_pyramid(path, chans, override=lambda c, level, a: chans[0][::4, ::4] if (c, level) == (3, 2) else a)
    return path


def main() -> int:
    """Write both figures and print the pixel findings of the defect file."""
    with demo.serve_demo() as server:
        tab_png(
            inspect(server.url("demo.ome.tif"), probes=False, pixels=True), ROOT / "docs" / "preview-demo.png"
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = write_defect_file(Path(tmp) / "defects.ome.tif")
        rep = inspect(str(path), probes=False, pixels=True)
    tab_png(rep, ROOT / "docs" / "preview-defects.png")
    for f in rep.findings:
        if f.code.startswith(("PIXELS", "SIGNIFICANT")):
            print(f"{f.code}: {f.message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
