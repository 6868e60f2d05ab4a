"""``python -m ometiff_helpers audit LIST --out FILE.csv|FILE.parquet``: the command's options and its progress bar.

The bar (tqdm, from the ``audit`` extra; without it a line every few seconds) goes to stderr and shows the rate, the
ETA and the running counts of unreadable files and of files the viewer will not render. It never shows a URL.
Exit status: 0 when every listed file has its row, 2 otherwise (bad options, an interrupted run, lost Dask tasks).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from ometiff_helpers.audit.dask import DaskRunner
from ometiff_helpers.audit.inputs import read_list
from ometiff_helpers.audit.rows import AuditSettings
from ometiff_helpers.audit.run import AuditStats, run_audit

__all__ = ["main", "progress_printer"]


def _parser() -> argparse.ArgumentParser:
    defaults = AuditSettings()
    parser = argparse.ArgumentParser(
        prog="python -m ometiff_helpers audit",
        description="Inspect every file of a list and write one row per file (and one per finding).",
        epilog="Rerun with the same --out to resume: files already there are skipped. Tokens come from a 'token' "
        "column of the CSV or from OMETIFF_TOKEN, and are never written.",
    )
    parser.add_argument(
        "list", help="a text file with one URL or path per line, or a CSV with a 'url' column"
    )
    parser.add_argument("--out", required=True, help="the table to write (FILE.csv or FILE.parquet); resumed")
    parser.add_argument("--findings", help="also write one row per finding to this table (.csv or .parquet)")
    parser.add_argument(
        "--concurrency", type=int, default=defaults.concurrency, help="files in flight (default %(default)s)"
    )
    parser.add_argument(
        "--per-host",
        type=int,
        default=defaults.per_host,
        help="files in flight per server (scheme, host, port) (default %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=defaults.timeout,
        help="seconds one file may take (default %(default)s)",
    )
    parser.add_argument(
        "--no-probes", action="store_true", help="skip the network probes (CORS, offsets.json)"
    )
    parser.add_argument(
        "--dask", metavar="ADDRESS", help="run on the Dask cluster whose scheduler is at ADDRESS"
    )
    parser.add_argument(
        "--batch-size", type=int, default=64, help="files per Dask task (with --dask; default %(default)s)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def progress_printer(stream: TextIO, total: int) -> tuple[Callable[[AuditStats], None], Callable[[], None]]:
    """(callback, close): a tqdm bar on ``stream``, or a plain line every 5 s when tqdm is not installed."""
    try:
        from tqdm import tqdm
    except ImportError:
        last = [0.0]

        def plain(stats: AuditStats) -> None:
            now = time.monotonic()
            if now - last[0] >= 5 or stats.done == stats.todo:
                last[0] = now
                print(_line(stats), file=stream, flush=True)

        return plain, lambda: None

    bar: Any = tqdm(total=total, unit="file", file=stream, dynamic_ncols=True, smoothing=0.05)

    def update(stats: AuditStats) -> None:
        if bar.n == 0 and stats.skipped:
            bar.set_description(f"{stats.skipped} already done")
        bar.update(stats.skipped + stats.done - bar.n)
        bar.set_postfix(unreadable=stats.unreadable, will_not_render=stats.will_not_render, refresh=False)

    return update, bar.close


def _line(stats: AuditStats) -> str:
    left = stats.todo - stats.done
    eta = f", ETA {left / stats.rate:.0f} s" if stats.rate > 0 else ""
    return (
        f"{stats.skipped + stats.done}/{stats.total} files ({stats.rate:.1f}/s{eta}); "
        f"unreadable {stats.unreadable}, will not render {stats.will_not_render}"
    )


def main(argv: Sequence[str]) -> int:
    """Run the audit command; returns the exit status."""
    args = _parser().parse_args(argv)
    items = read_list(args.list, token=os.environ.get("OMETIFF_TOKEN") or None)
    settings = AuditSettings(
        probes=not args.no_probes,
        timeout=args.timeout,
        concurrency=max(1, args.concurrency),
        per_host=max(1, args.per_host),
    )
    runner = DaskRunner(args.dask, batch_size=args.batch_size) if args.dask else None
    callback, close = (None, lambda: None)
    if not args.no_progress:
        callback, close = progress_printer(sys.stderr, len(items))
    try:
        stats = run_audit(
            items, args.out, findings=args.findings, settings=settings, runner=runner, on_progress=callback
        )
    finally:
        close()
    print(
        f"{stats.total} files in the list: {stats.skipped} already in {args.out}, {stats.done} audited now "
        f"({stats.unreadable} unreadable, {stats.will_not_render} will not render)."
    )
    if runner is not None and runner.profilers_stopped:
        print(
            f"Turned off the statistical profiler of {runner.profilers_stopped} Dask worker(s): with Python 3.11 "
            "it can deadlock a worker during an audit (DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False keeps it "
            "off from the start).",
            file=sys.stderr,
        )
    if runner is not None and runner.lost:
        print(
            f"{runner.lost} files were not audited (Dask task failures: {'; '.join(runner.failures[:3])}); "
            "rerun the same command to audit them.",
            file=sys.stderr,
        )
        return 2
    return 0
