"""A whole inspect of the GeoMx-like file over HTTP: requests, rounds, bytes, time and peak memory, per reader.

Writes the GeoMx-like file (`bench_reader.geomx_spec`: BigTIFF, big-endian, 49152 x 65536 x 4 channels, 8 SubIFD
levels, about 23 MB of OME-XML with 20,000 ROIs and 4,000 StructuredAnnotations; sparse pixel data), serves it from
the loopback test server (`tests/faultserver.py`) with a per-request latency, and runs each reader in a fresh
subprocess, one after the other:

- ``ometiff_helpers inspect``: ``ometiff_helpers.report.inspect(url)``: structure, OME-XML model, probes, checks;
- ``seed notebook``: the starting notebook's logic (``seed_reader.py``; ElementTree on the whole XML);
- ``tifffile+fsspec``: every page, SubIFD and tag of ``tifffile.TiffFile(fsspec.open(url))`` plus the OME-XML
  string (no model), with fsspec's default 5 MiB blocks;
- ``CLI process``: ``python -m ometiff_helpers URL --no-pixels`` timed as a user sees it (start-up, inspect, print);
  its memory is the process' whole peak resident set (``wait4``), not a rise.

Requests, bytes and sequential rounds are counted by the server. Time is the reader's wall time after its imports;
peak memory is the rise of the worker's resident set (Linux ``VmHWM``, reset after the imports) over its baseline.
Ours also gives the time to its first answer (the ``summary`` stage of ``inspect(..., on_stage=...)``: summary and
verdict so far; the other readers show nothing before they return) and, in a run of its own under ``tracemalloc``,
the peak of Python's allocations and what the report still holds after the inspect.

    .venv/bin/python benchmarks/bench_inspect.py [--latency 0.05] [--mbit 20] [--quick | --tiny] [--rois 20000]
        [--json]

``--mbit``: throttle every connection to that many Mbit/s (an object store's per-connection rate; 0: loopback
speed). The first answer's cell also says how much of the OME-XML had arrived then.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # run as a script: sibling modules
sys.path.insert(0, str(HERE.parent))  # and the package from the checkout
sys.path.insert(0, str(HERE.parent / "tests"))  # the test server: latency and a request log

READERS = ("ometiff_helpers inspect", "seed notebook", "tifffile+fsspec")
CLI = "CLI process (--no-pixels)"  # python -m ometiff_helpers URL --no-pixels: start-up, inspect, print


def _status_kib(name: str) -> int:
    """A field of /proc/self/status in KiB (0 where there is none)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def _run(reader: str, url: str, t0: float) -> dict[str, float | int]:
    """Run one reader on ``url``; what it saw: IFDs and OME-XML bytes (ours: when its summary stage came)."""
    if reader == "ometiff_helpers inspect":
        from ometiff_helpers.report import Stage, inspect

        first: dict[str, float | int] = {}
        received = [0]  # OME-XML bytes arrived so far

        def on_progress(event: Any) -> None:
            if event.stage == "xml":
                received[0] = event.done

        def on_stage(stage: Stage) -> None:
            if not first:
                stage.report.summary()  # what the CLI prints first
                first.update(
                    first_answer_s=time.perf_counter() - t0,
                    first_xml_parsed=stage.xml_parsed,
                    first_xml_received=received[0],
                )

        report = inspect(url, on_stage=on_stage, on_progress=on_progress)
        ifds = len(report.tiff.all_ifds())
        return {"ifds": ifds, "xml": len(report.xml_bytes or b""), "findings": len(report.findings), **first}
    if reader == "seed notebook":
        from seed_reader import read_like_seed

        result = read_like_seed(url)
        return {"ifds": result.ifds_covered, "xml": result.ome_xml_bytes}
    if reader == "tifffile+fsspec":
        import fsspec
        import tifffile

        ifds = xml = 0
        with fsspec.open(url, mode="rb") as fh, tifffile.TiffFile(fh) as tif:
            for page in tif.pages:
                for p in (page, *(getattr(page, "pages", None) or [])):
                    for tag in p.tags.values():
                        _ = tag.value
                    ifds += 1
            xml = len(tif.pages[0].description.encode("utf-8"))
        return {"ifds": ifds, "xml": xml}
    raise ValueError(reader)


def _warm(reader: str) -> None:
    """Import what the reader needs, so that neither the time nor the memory counts the imports."""
    if reader == "ometiff_helpers inspect":
        import ometiff_helpers.io.http.source
        import ometiff_helpers.report  # noqa: F401
    elif reader == "seed notebook":
        import seed_reader  # noqa: F401
    else:
        import fsspec.implementations.http  # noqa: F401
        import tifffile  # noqa: F401


def worker(reader: str, url: str) -> dict[str, float | int]:
    """In a fresh process: the reader's wall time and peak resident-set rise on ``url``."""
    _warm(reader)
    gc.collect()
    base = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    t0 = time.perf_counter()
    seen = _run(reader, url, t0)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "peak_rise_kib": _status_kib("VmHWM") - base, "base_kib": base, **seen}


def traced_worker(url: str) -> dict[str, float | int]:
    """In a fresh process: the peak of Python's own allocations (``tracemalloc``) during our inspect of ``url``, and
    what the report still holds after it (tracing makes the run slower: its time is not reported)."""
    import tracemalloc

    _warm("ometiff_helpers inspect")
    from ometiff_helpers.report import inspect

    gc.collect()
    tracemalloc.start()
    report = inspect(url)
    gc.collect()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "traced_peak_kib": peak // 1024,
        "traced_held_kib": held // 1024,
        "xml": len(report.xml_bytes or b""),
    }


def _cli_process(url: str) -> dict[str, Any]:
    """Whole-process wall time and peak resident set of the command line on ``url`` (no pixels)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ometiff_helpers", url, "--no-pixels"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=HERE.parent,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": f"exit status {proc.returncode}"}
    return {"seconds": seconds, "peak_total_kib": usage.ru_maxrss}


def _finish(row: dict[str, Any], log: list[Any], rounds: Any) -> None:
    """Add the server's counts to ``row``."""
    row.update(requests=len(log), rounds=rounds(log), bytes=sum(r.nbytes for r in log))


def main(argv: list[str] | None = None) -> int:
    """Write the file, serve it, run every reader in its own process, print a markdown table (or JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.05, help="seconds added to every response (0.05)")
    ap.add_argument("--mbit", type=float, default=0.0, help="Mbit/s per connection (0: unthrottled)")
    ap.add_argument("--quick", action="store_true", help="8192 px images, same OME-XML")
    ap.add_argument("--tiny", action="store_true", help="1024 px images, 200 ROIs (the smoke test)")
    ap.add_argument("--rois", type=int, default=20_000, help="ROIs in the OME-XML (20,000: about 23 MB)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--worker", nargs=2, metavar=("READER", "URL"), help=argparse.SUPPRESS)
    ap.add_argument("--traced-worker", metavar="URL", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return 0
    if args.traced_worker:
        print(json.dumps(traced_worker(args.traced_worker)))
        return 0

    from bench_files import write_file
    from bench_reader import _settled_log, file_facts, geomx_spec
    from faultserver import FaultServer, sequential_rounds

    spec = geomx_spec("tiny" if args.tiny else "quick" if args.quick else "full", args.rois)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_inspect_") as tmp:
        path = write_file(spec, Path(tmp) / spec.name)
        facts = file_facts(spec.name, path)
        rate = args.mbit * 1e6 / 8
        with FaultServer({spec.name: path}, latency=args.latency, rate=rate) as server:
            for reader in (*READERS, CLI):
                server.reset_log()
                if reader == CLI:
                    rows.append({"reader": reader, **_cli_process(server.url(spec.name))})
                    _finish(rows[-1], _settled_log(server), sequential_rounds)
                    continue
                if reader == READERS[0]:  # Python's allocations, in a run of its own (tracing slows it down)
                    traced = subprocess.run(
                        [sys.executable, __file__, "--traced-worker", server.url(spec.name)],
                        capture_output=True,
                        text=True,
                        timeout=900,
                        check=False,
                    )
                    traced_row = json.loads(traced.stdout) if traced.returncode == 0 else {}
                    server.reset_log()
                proc = subprocess.run(
                    [sys.executable, __file__, "--worker", reader, server.url(spec.name)],
                    capture_output=True,
                    text=True,
                    timeout=900,
                    check=False,
                )
                log = _settled_log(server)
                row: dict[str, Any] = {
                    "reader": reader,
                    "requests": len(log),
                    "rounds": sequential_rounds(log),
                    "bytes": sum(r.nbytes for r in log),
                }
                if proc.returncode != 0:
                    row["error"] = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                else:
                    row.update(json.loads(proc.stdout))
                if reader == READERS[0]:
                    row.update({k: v for k, v in traced_row.items() if k != "xml"})
                rows.append(row)
    if args.json:
        link = {"latency": args.latency, "mbit_per_connection": args.mbit}
        print(json.dumps({"file": facts.__dict__, **link, "rows": rows}, indent=1))
        return 0
    print(markdown(facts, rows, args.latency, args.mbit))
    return 0


def markdown(facts: Any, rows: list[dict[str, Any]], latency: float, mbit: float = 0.0) -> str:
    """One table: a row per reader."""
    xml_mib = facts.ome_xml / 2**20
    link = f", {mbit:g} Mbit/s per connection" if mbit else ""
    lines = [
        f"{facts.name}: {facts.size / 2**30:,.2f} GiB, {facts.ifds} IFDs, "
        f"OME-XML {xml_mib:,.2f} MiB; latency {latency * 1000:.0f} ms per request{link}.",
        "",
        "| reader | requests | rounds | KiB | IFDs | OME-XML read | first answer s | whole inspect s "
        "| peak RSS rise MiB | peak / XML | traced peak / XML | held after / XML |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(
                f"| {r['reader']} crashed ({r['error']}) | {r['requests']} | {r['rounds']} "
                f"| {int(r['bytes']) / 1024:,.1f} | | | | | | | | |"
            )
            continue
        if (
            "peak_total_kib" in r
        ):  # the CLI process: what it read is the inspect's, its memory the whole process'
            lines.append(
                f"| {r['reader']} | {r['requests']} | {r['rounds']} | {int(r['bytes']) / 1024:,.1f} | | "
                f"| | {float(r['seconds']):.2f} | {int(r['peak_total_kib']) / 1024:,.1f} (whole process) | | | |"
            )
            continue
        peak = int(r["peak_rise_kib"]) / 1024
        xml_ok = "yes" if int(r["xml"]) >= facts.ome_xml - 1 else "no"
        first = (
            f"{float(r['first_answer_s']):.2f}" if "first_answer_s" in r else f"= {float(r['seconds']):.2f}"
        )
        if "first_xml_received" in r and facts.ome_xml:
            first += f" ({100 * int(r['first_xml_received']) / facts.ome_xml:.0f} % of the XML in)"
        traced = held = ""
        if "traced_peak_kib" in r and xml_mib:
            traced = f"{int(r['traced_peak_kib']) / 1024 / xml_mib:.1f}"
            held = f"{int(r['traced_held_kib']) / 1024 / xml_mib:.1f}"
        lines.append(
            f"| {r['reader']} | {r['requests']} | {r['rounds']} | {int(r['bytes']) / 1024:,.1f} "
            f"| {r['ifds']}/{facts.ifds} | {xml_ok} | {first} | {float(r['seconds']):.2f} "
            f"| {peak:,.1f} | {peak / xml_mib if xml_mib else 0:.1f} | {traced} | {held} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
