"""Whole-process time of the command line on a local file, against ``python -m tifffile --maxplots 0``.

Each command runs ``--runs`` times, interleaved (one run of each command in turn, so that a change of load on a shared
machine hits every command alike); the table gives the median and the fastest run, and the median's ratio to
tifffile's. Also lists the heavy modules each command imports (requests, urllib3, numpy, imagecodecs), read from
``python -X importtime``.

    .venv/bin/python benchmarks/bench_startup.py [--runs 21] [--package-path DIR] [--without-demo] [--before DIR]

Bytecode is cached as for an installed package (pip compiles it at install; an editable checkout under
``PYTHONDONTWRITEBYTECODE=1`` would compile every module at every start, about 70 ms here): the runs use a
``PYTHONPYCACHEPREFIX`` in a temporary directory, filled by a first untimed run of each command. ``--no-bytecode-cache``
keeps the environment as it is.

``--package-path DIR`` puts ``DIR`` first on ``PYTHONPATH``: time another checkout's ``ometiff_helpers`` (say the one
before a change, from ``git archive``) with the same interpreter and libraries. ``--without-demo`` leaves ``--demo``
(a URL inspect: a server, the HTTP library, the probes) out of the rotation, so that only local start-ups alternate.
``--before DIR`` adds the two local ``ometiff_helpers`` commands run with ``DIR`` first on ``PYTHONPATH`` (another
checkout, say the one before a change) to the same rotation, so that both sides meet the same load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "ometiff_helpers" / "data" / "demo.ome.tif"
HEAVY = ("requests", "urllib3", "numpy", "imagecodecs")


def commands(path: Path) -> list[tuple[str, list[str]]]:
    """(label, argv) of every command timed; ``path`` is the local file."""
    py = sys.executable
    return [
        ("python -c pass", [py, "-c", "pass"]),
        ("python -m tifffile --maxplots 0 FILE", [py, "-m", "tifffile", "--maxplots", "0", str(path)]),
        ("python -c 'import ometiff_helpers.report'", [py, "-c", "import ometiff_helpers.report"]),
        (
            "python -m ometiff_helpers FILE --no-pixels",
            [py, "-m", "ometiff_helpers", str(path), "--no-pixels"],
        ),
        ("python -m ometiff_helpers FILE", [py, "-m", "ometiff_helpers", str(path)]),
        ("python -m ometiff_helpers --demo", [py, "-m", "ometiff_helpers", "--demo"]),
    ]


def _env(package_path: Path | None, pycache: str | None) -> dict[str, str]:
    """The commands' environment: ``package_path`` first on PYTHONPATH, bytecode cached under ``pycache``."""
    env = dict(os.environ)
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    if package_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(package_path), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def time_once(argv: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one run (output discarded); a failing command is an error, not a time."""
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True, cwd="/")
    return time.perf_counter() - t0


def heavy_imports(argv: list[str], env: dict[str, str]) -> list[str]:
    """Which of HEAVY the command imports (``-X importtime`` lists every module imported)."""
    proc = subprocess.run(
        [argv[0], "-X", "importtime", *argv[1:]], capture_output=True, text=True, env=env, check=True, cwd="/"
    )
    names = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    return [m for m in HEAVY if m in names]


def main(argv: list[str] | None = None) -> int:
    """Time every command, print one markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21, help="runs per command (21)")
    ap.add_argument("--file", type=Path, default=DEMO, help="the local file (the bundled demo)")
    ap.add_argument("--package-path", type=Path, help="time the ometiff_helpers found in this directory")
    ap.add_argument(
        "--without-demo", action="store_true", help="leave `--demo` (a URL inspect) out of the rotation"
    )
    ap.add_argument(
        "--no-bytecode-cache", action="store_true", help="keep PYTHONDONTWRITEBYTECODE if it is set"
    )
    ap.add_argument(
        "--before", type=Path, help="also time the local commands of the ometiff_helpers in this directory"
    )
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_startup_") as pycache:
        cache = None if args.no_bytecode_cache else pycache
        env = _env(args.package_path, cache)
        cmds = [
            (label, cmd, env)
            for label, cmd in commands(args.file)
            if not (args.without_demo and "--demo" in cmd)
        ]
        if args.before is not None:
            before = _env(args.before, cache)
            cmds += [
                (f"before: {label}", cmd, before)
                for label, cmd in commands(args.file)
                if label.startswith("python -m ometiff_helpers FILE")
            ]
        return _measure(args, cmds)


def _measure(args: argparse.Namespace, cmds: list[tuple[str, list[str], dict[str, str]]]) -> int:
    """Time every (label, argv, environment) command, print the table."""
    times: dict[str, list[float]] = {label: [] for label, _, _ in cmds}
    for _label, cmd, env in cmds:
        time_once(cmd, env)  # warm the file cache
    for _ in range(args.runs):
        for label, cmd, env in cmds:
            times[label].append(time_once(cmd, env))
    ref = statistics.median(times[cmds[1][0]])
    load = os.getloadavg()
    print(
        f"{args.runs} runs each, interleaved; load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; "
        f"file {args.file.name}; bytecode {'as the environment says' if args.no_bytecode_cache else 'cached'}."
    )
    print()
    print("| command | median s | fastest s | median / tifffile | imports |")
    print("|---|---:|---:|---:|---|")
    for label, cmd, env in cmds:
        med = statistics.median(times[label])
        heavy = ", ".join(heavy_imports(cmd, env)) or "none of " + "/".join(HEAVY)
        print(f"| `{label}` | {med:.3f} | {min(times[label]):.3f} | {med / ref:.2f} | {heavy} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
