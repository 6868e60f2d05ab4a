"""Audit N URLs served from loopback with latency: wall time, files per second, peak memory; then through Dask.

    .venv/bin/python benchmarks/bench_audit.py [--n 10000] [--quick] [--latency 0.05] [--no-dask]

The servers run in a separate process (so that they do not share this interpreter's GIL), every response delayed by
``--latency`` seconds, on three origins: the portal (good pyramids: the bundled demo and a tifffile-written SubIFD
pyramid; defect files: no physical sizes, no pyramid; 404s), a misbehaving server (HTML login pages) and a server
that ignores Range (whole small files answered with 200). Each URL is distinct (``?n=<i>``). The same list then runs
through a ``distributed.LocalCluster`` with two worker processes, and the tables are compared (every column but
``seconds``, and the findings tables); the result is printed.
Peak memory is the maximum resident set size of the auditing process (and of each Dask worker).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the package from the checkout
sys.path.insert(
    0, str(Path(__file__).resolve().parents[1] / "tests")
)  # the fixture writers, the fault server

from ometiff_helpers.audit.inputs import items_from_lines
from ometiff_helpers.audit.rows import AuditSettings
from ometiff_helpers.audit.run import run_audit
from ometiff_helpers.audit.writers import read_table

MIX = (  # (share, kind): what the list is made of
    (0.25, "demo"),
    (0.15, "pyramid"),
    (0.10, "nophys"),
    (0.10, "flat"),
    (0.15, "404"),
    (0.15, "html"),
    (0.10, "ignore_range"),
)


def _serve(folder: str, latency: float, ports: Any, stop: Any) -> None:
    """In the server process: start the three servers, send their ports, wait for ``stop``."""
    from faultserver import FaultServer
    from gen_defects import Spec, write

    from ometiff_helpers.demo import demo_path

    d = Path(folder)
    files = {
        "demo.ome.tif": demo_path(),
        "pyramid.ome.tif": write(d / "pyramid.ome.tif", Spec(size_x=256, size_y=192, levels=3)),
        "nophys.ome.tif": write(d / "nophys.ome.tif", Spec(physical=False, levels=2, size_x=128, size_y=96)),
        "flat.ome.tif": write(d / "flat.ome.tif", Spec(size_x=512, size_y=384, tile=(128, 128))),
    }
    servers = [
        FaultServer(files, latency=latency).start(),
        FaultServer(files, latency=latency).start(),
        FaultServer(files, latency=latency).start(),
    ]
    ports.put([s.port for s in servers])
    stop.wait()
    for s in servers:
        s.stop()


def make_urls(n: int, ports: list[int]) -> list[str]:
    """``n`` distinct URLs following MIX, interleaved."""
    portal, faults, ignoring = (f"http://127.0.0.1:{p}" for p in ports)
    kinds = [kind for share, kind in MIX for _ in range(round(share * 20))]  # 20 slots, visited with stride 7
    template = {
        "demo": f"{portal}/demo.ome.tif",
        "pyramid": f"{portal}/pyramid.ome.tif",
        "nophys": f"{portal}/nophys.ome.tif",
        "flat": f"{portal}/flat.ome.tif",
        "404": f"{portal}/missing.ome.tif",
        "html": f"{faults}/html/demo.ome.tif",
        "ignore_range": f"{ignoring}/ignore_range/small/pyramid.ome.tif",
    }
    return [f"{template[kinds[(i * 7) % len(kinds)]]}?n={i}" for i in range(n)]


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _comparable(path: Path) -> list[tuple]:
    rows = read_table(path)
    return sorted(tuple((k, v) for k, v in r.items() if k != "seconds") for r in rows)


def main() -> int:
    """Run the benchmark and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="URLs (default %(default)s)")
    parser.add_argument("--quick", action="store_true", help="300 URLs")
    parser.add_argument(
        "--latency", type=float, default=0.05, help="seconds per response (default %(default)s)"
    )
    parser.add_argument("--concurrency", type=int, default=AuditSettings().concurrency)
    parser.add_argument("--per-host", type=int, default=AuditSettings().per_host)
    parser.add_argument("--no-probes", action="store_true", help="skip the network probes")
    parser.add_argument("--no-dask", action="store_true", help="skip the LocalCluster run")
    parser.add_argument(
        "--no-threads", action="store_true", help="skip the threaded run (Dask rows not compared)"
    )
    args = parser.parse_args()
    n = 300 if args.quick else args.n
    settings = AuditSettings(
        probes=not args.no_probes, concurrency=args.concurrency, per_host=args.per_host, timeout=60
    )
    ctx = multiprocessing.get_context("spawn")
    ports_q, stop = ctx.Queue(), ctx.Event()
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        server = ctx.Process(target=_serve, args=(tmp, args.latency, ports_q, stop), daemon=True)
        server.start()
        try:
            ports = ports_q.get(timeout=60)
            urls = make_urls(n, ports)
            items = items_from_lines(urls)
            print(f"{n} URLs, {args.latency * 1000:.0f} ms per response, settings {settings}")
            print("| run | files | wall (s) | files/s | peak RSS (MiB) |")
            print("|---|---:|---:|---:|---:|")
            if not args.no_threads:
                t0 = time.monotonic()
                stats = run_audit(items, tmpdir / "local.csv", findings=tmpdir / "lf.csv", settings=settings)
                wall = time.monotonic() - t0
                print(
                    f"| threads, one process | {stats.done} | {wall:.1f} | {stats.done / wall:.1f} | "
                    f"{_peak_mib():.0f} |"
                )
            if not args.no_dask:
                _dask_run(items, settings, tmpdir)
            name = "dask.csv" if args.no_threads else "local.csv"
            outcome = Counter(
                "unreadable" if not r["ok"] else ("will not render" if r["n_errors"] else "renders")
                for r in read_table(tmpdir / name)
            )
            print(f"outcomes: {dict(outcome)}")
        finally:
            stop.set()
            server.join(timeout=30)
            if server.is_alive():
                server.terminate()
    return 0


def _dask_run(items: list, settings: AuditSettings, tmpdir: Path) -> None:
    from distributed import Client, LocalCluster

    from ometiff_helpers.audit.dask import DaskRunner

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        runner = DaskRunner(cluster.scheduler_address, batch_size=64)
        t0 = time.monotonic()
        stats = run_audit(
            items, tmpdir / "dask.csv", findings=tmpdir / "df.csv", settings=settings, runner=runner
        )
        wall = time.monotonic() - t0
        workers = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    local = tmpdir / "local.csv"
    same: object = "not compared"
    if local.exists():
        same = _comparable(tmpdir / "dask.csv") == _comparable(local) and sorted(
            map(str, read_table(tmpdir / "df.csv"))
        ) == sorted(map(str, read_table(tmpdir / "lf.csv")))
    peak = " + ".join(f"{v:.0f}" for v in workers.values())
    print(
        f"| LocalCluster, 2 worker processes | {stats.done} | {wall:.1f} | {stats.done / wall:.1f} | "
        f"{_peak_mib():.0f} (client) + {peak} (workers) |"
    )
    print(
        f"Dask rows and findings equal the threaded run's (all columns but seconds): {same}; "
        f"lost files: {runner.lost}"
    )
    print(f"worker profilers stopped by the audit (CPython before 3.12 only): {runner.profilers_stopped}")


if __name__ == "__main__":
    sys.exit(main())
