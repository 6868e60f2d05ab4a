"""What the pixel preview adds to ``inspect``: requests, bytes and round trips, counted by the server.

Serves the reader benchmark's 36-IFD pyramids (4 channels x 9 levels, 512 px uncompressed uint16 tiles, full size
49152 x 65536 px), the GeoMx-like file (``bench_reader.geomx_spec``: the same pyramid with 23 MB of OME-XML) and the
bundled demo from the loopback `FaultServer` with an injected latency, reads the metadata (``report.inspect_source``,
no probes), then the preview alone (``report.run_pixels``). Each file is read twice: with the default options (a band
of rows of an uncompressed tile above the lowest level) and with ``PixelOptions(compare_rows=0)`` (whole tiles above,
what the preview read before), each time on a fresh connection. Prints a Markdown table.

    .venv/bin/python benchmarks/bench_pixels.py [--quick | --tiny] [--latency 0.05] [--rois 20000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench_files import write_file
from bench_reader import DEMO, file_specs, geomx_spec  # (also puts tests/ on sys.path: the fault server)
from faultserver import FaultServer, sequential_rounds

from ometiff_helpers.io.open import open_source
from ometiff_helpers.pixels.model import PixelOptions
from ometiff_helpers.report import inspect_source, run_pixels

Counts = tuple[int, int, int]


def measure(
    server: FaultServer, name: str, options: PixelOptions | None = None
) -> tuple[Counts, Counts, Any]:
    """(requests, bytes, sequential rounds) of reading the metadata, then of the preview alone, as the server saw
    them, and the preview."""
    server.reset_log()
    with open_source(server.url(name)) as source:
        rep = inspect_source(source, probes=False)
        meta = server.log
        server.reset_log()
        run_pixels(rep, source, options)
        pix = server.log
    count = [(len(log), sum(r.nbytes for r in log), sequential_rounds(log)) for log in (meta, pix)]
    return count[0], count[1], rep.pixels


def _cell(c: Counts) -> str:
    """requests / KiB / rounds."""
    return f"{c[0]} / {c[1] / 1024:,.1f} / {c[2]}"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8192 px files")
    parser.add_argument("--tiny", action="store_true", help="1024 px files")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added per request (0.05)")
    parser.add_argument(
        "--rois", type=int, default=20_000, help="polygon ROIs of the GeoMx-like file (20000)"
    )
    args = parser.parse_args(argv)
    scale = "tiny" if args.tiny else "quick" if args.quick else "full"
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_pixels_") as tmp:
        files: dict[str, Path] = {}
        for spec in [*file_specs(scale, 200)[:2], geomx_spec(scale, args.rois)]:
            files[spec.name] = write_file(spec, Path(tmp) / spec.name)
        if DEMO.is_file():
            files["demo.ome.tif"] = DEMO
        with FaultServer(files, latency=args.latency) as server:
            for name in files:
                meta, pix, p = measure(server, name)
                _, whole, _ = measure(server, name, PixelOptions(compare_rows=0))
                skipped = "; ".join(p.notices) if p is not None else ""
                rows.append(
                    f"| {name} | {_cell(meta)} | **{_cell(pix)}** | {_cell(whole)} | "
                    f"{p.level if p else '-'} ({p.width} x {p.height}) | {p.tiles_read if p else 0} | "
                    f"{skipped or '-'} |"
                )
    print(
        f"Latency {args.latency * 1000:.0f} ms per request; requests / KiB / sequential rounds, counted by the server.\n"
    )
    print(
        "| file | metadata (inspect) | added by the preview | with whole tiles above (compare_rows=0) "
        "| level read | tiles | skipped |"
    )
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
