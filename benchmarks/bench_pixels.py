"""What the pixel preview adds to ``inspect``: requests, bytes and round trips, counted by the server.

Serves the reader benchmark's 36-IFD pyramids (4 channels x 9 levels, 512 px uncompressed uint16 tiles, full size
49152 x 65536 px) and the bundled demo from the loopback `FaultServer` with an injected latency, reads the
metadata (``report.inspect_source``, no probes), then the preview alone (``report.run_pixels``). Prints a Markdown table.

    .venv/bin/python benchmarks/bench_pixels.py [--quick | --tiny] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench_files import write_file
from bench_reader import DEMO, file_specs  # (also puts tests/ on sys.path: the fault server)
from faultserver import FaultServer, sequential_rounds

from ometiff_helpers.io.open import open_source
from ometiff_helpers.report import inspect_source, run_pixels


def measure(server: FaultServer, name: str) -> tuple[tuple[int, int, int], tuple[int, int, int], Any]:
    """(requests, bytes, sequential rounds) of reading the metadata, then of the preview alone, as the server saw
    them, and the preview."""
    server.reset_log()
    with open_source(server.url(name)) as source:
        rep = inspect_source(source, probes=False)
        meta = server.log
        server.reset_log()
        run_pixels(rep, source)
        pix = server.log
    count = [(len(log), sum(r.nbytes for r in log), sequential_rounds(log)) for log in (meta, pix)]
    return count[0], count[1], rep.pixels


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8192 px files")
    parser.add_argument("--tiny", action="store_true", help="1024 px files")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added per request (0.05)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_pixels_") as tmp:
        files: dict[str, Path] = {}
        for spec in file_specs("tiny" if args.tiny else "quick" if args.quick else "full", 200)[:2]:
            files[spec.name] = write_file(spec, Path(tmp) / spec.name)
        if DEMO.is_file():
            files["demo.ome.tif"] = DEMO
        with FaultServer(files, latency=args.latency) as server:
            for name in files:
                (n0, b0, r0), (n1, b1, r1), p = measure(server, name)
                skipped = "; ".join(p.notices) if p is not None else ""
                rows.append(
                    f"| {name} | {n0} / {b0 / 1024:,.1f} / {r0} | {n1} / {b1 / 1024:,.1f} / {r1} | "
                    f"{p.level if p else '-'} ({p.width} x {p.height}) | {p.tiles_read if p else 0} | {skipped or '-'} |"
                )
    print(
        f"Latency {args.latency * 1000:.0f} ms per request; requests / KiB / sequential rounds, counted by the server.\n"
    )
    print("| file | metadata (inspect) | added by the preview | level read | tiles | skipped |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
