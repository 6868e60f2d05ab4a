"""Structure-aware mutation fuzz of the reader: every mutant inspected in its own process with a time and memory cap.

    python tools/fuzz.py --count 10000 --seed 1 --out fuzz-out      # the long run (see README.md)
    python tools/fuzz.py --count 300 --seed 7 --out /tmp/f --jobs 2  # a short one (tests/test_fuzz.py)
    python tools/fuzz.py --seed 1 --only 4711 --out /tmp/f --keep    # one mutant again, kept on disk

Seeds: the TIFF files of the shared corpus (``../shared/corpus``) and small files generated with tifffile (by a child
process, so that this one never imports numpy). Mutants come from ``fuzz_mutate.py`` (structure-aware mutations of
the TIFF and of the OME-XML), each reproducible from ``(seed, index)`` whatever the order, job count or machine.

Each mutant runs ``python -m ometiff_helpers FILE --json --no-probes`` in a forked child (the package imported once
by this process, so a child costs no interpreter start) under ``RLIMIT_AS`` and ``RLIMIT_CPU`` (``--cpu``) and a
wide wall-clock timeout (``--timeout``: a busy machine stretches wall time, not CPU time), with ``OMETIFF_DEBUG=1``
so that an internal error shows its traceback. Classes: ``ok`` (exit 0), ``error`` (exit 2 and one ``error: ...``
line on stderr: a clean ometiff_helpers error), ``crash`` (a traceback or any other exit), ``hang`` (killed at the
timeout or the CPU limit), ``memory`` (MemoryError or killed at the address-space limit).
The summary (``summary.json`` and ``summary.txt`` in ``--out``)
gives the counts, the distribution of wall time, CPU time, peak memory and JSON size, and the slowest five with their
mutations and the functions they spent their time in (re-run under cProfile). Mutants that crash, hang, run out of
memory or exceed the budgets are kept in ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import resource
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, Path(__file__).resolve().parent):  # the package from this checkout, and fuzz_mutate
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from fuzz_mutate import CORPUS, Plan, corpus_seeds, make_generated_seeds  # noqa: E402

from ometiff_helpers.__main__ import main as inspect_main  # noqa: E402

#: modules the inspection imports lazily: imported here once, so that no forked child pays for them
_WARM = ("ometiff_helpers.diagnose.evaluate",)
for _name in _WARM:
    with contextlib.suppress(ImportError):
        importlib.import_module(_name)

#: budgets every mutant must meet (the reader's promise: no small file costs more)
TIME_BUDGET_S = 5.0
MEMORY_BUDGET_MB = 300
JSON_BUDGET_KB = 300
CLASSES = ("ok", "error", "crash", "hang", "memory")

# --- running -----------------------------------------------------------------------------------------------------------


@dataclass
class Result:
    """One mutant's outcome."""

    index: int
    seed_file: str
    mutations: list[str]
    cls: str
    exit: int | None
    signal: int | None
    wall_s: float
    cpu_s: float
    peak_mb: float
    json_kb: float
    size: int
    stderr: str
    over_budget: list[str] = field(default_factory=list)
    profile: list[str] = field(default_factory=list)


def _child(path: str, out: str, err: str, mem_mb: int, cpu_s: int, profile: str | None) -> None:
    """In the forked child: caps, redirections, then the command line's main; never returns."""
    code = 70
    try:
        resource.setrlimit(resource.RLIMIT_AS, (mem_mb << 20, mem_mb << 20))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
        for fd, name in ((1, out), (2, err)):
            f = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(f, fd)
            os.close(f)
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        os.environ["OMETIFF_DEBUG"] = "1"
        main = inspect_main
        argv = [path, "--json", "--no-probes"]
        if profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            code = prof.runcall(main, argv)
            with open(profile, "w") as fh:
                pstats.Stats(prof, stream=fh).sort_stats("tottime").print_stats(8)
        else:
            code = main(argv)
        sys.stdout.flush()
        sys.stderr.flush()
    except MemoryError:
        code = 71
        with contextlib.suppress(BaseException):
            os.write(2, b"MemoryError\n")
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
            sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 70)


def classify(exit_code: int | None, sig: int | None, stderr: str, timed_out: bool) -> str:
    """ok / error / crash / hang / memory from how the child ended and what it said."""
    if timed_out or sig == signal.SIGXCPU:
        return "hang"
    if exit_code == 71 or "MemoryError" in stderr:
        return "memory"
    if sig is not None:
        return "crash"
    if exit_code == 0:
        return "ok"
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    if exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "):
        return "error"
    return "crash"


@dataclass
class _Running:
    index: int
    pid: int
    t0: float
    path: Path
    seed_file: str
    mutations: list[str]
    size: int
    killed: bool = False


def run(
    plan: Plan,
    *,
    seed: int,
    indices: list[int],
    out: Path,
    jobs: int = 2,
    timeout_s: float = 300.0,
    cpu_s: int = 30,
    mem_mb: int = 2048,
    keep: bool = False,
    on_result: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Inspect the mutants ``indices`` of run ``seed``, ``jobs`` at a time, each in a forked child.

    A child is a hang when it uses ``cpu_s`` seconds of CPU (``RLIMIT_CPU``) or runs ``timeout_s`` wall seconds
    (a blocked child); the wall bound is wide because a busy machine stretches wall time, not CPU time.
    """
    work = Path(tempfile.mkdtemp(prefix="fuzz-", dir=out))
    results: list[Result] = []
    pending = list(indices)
    running: dict[int, _Running] = {}
    try:
        while pending or running:
            while pending and len(running) < jobs:
                index = pending.pop(0)
                seed_file, data, mutations = plan.mutant(seed, index)
                path = work / f"{index}.tif"
                path.write_bytes(data)
                pid = _fork(path, mem_mb, cpu_s, None)
                running[pid] = _Running(
                    index, pid, time.monotonic(), path, _rel(seed_file), mutations, len(data)
                )
            pid, status, usage = os.wait4(-1, os.WNOHANG)
            if pid == 0:
                now = time.monotonic()
                for r in running.values():
                    if not r.killed and now - r.t0 > timeout_s:
                        os.kill(r.pid, signal.SIGKILL)
                        r.killed = True
                time.sleep(0.002)
                continue
            r = running.pop(pid)
            res = _result(r, status, usage, time.monotonic() - r.t0)
            if res.cls not in ("ok", "error") or res.over_budget or keep:
                kept = out / f"{res.cls}-{seed}-{res.index}.tif"
                r.path.replace(kept)
            for suffix in ("", ".out", ".err"):
                with contextlib.suppress(FileNotFoundError):
                    Path(str(r.path) + suffix).unlink()
            results.append(res)
            if on_result is not None:
                on_result(res)
    finally:
        for r in running.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(r.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(r.pid, 0)
        for p in work.iterdir():
            p.unlink()
        work.rmdir()
    results.sort(key=lambda r: r.index)
    return results


def _fork(path: Path, mem_mb: int, cpu_s: int, profile: str | None) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(str(path), str(path) + ".out", str(path) + ".err", mem_mb, cpu_s, profile)
    return pid


def _result(r: _Running, status: int, usage: resource.struct_rusage, wall: float) -> Result:
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    err_path, out_path = Path(str(r.path) + ".err"), Path(str(r.path) + ".out")
    stderr = err_path.read_text(errors="replace")[-4000:] if err_path.exists() else ""
    json_kb = out_path.stat().st_size / 1024 if out_path.exists() else 0.0
    cls = classify(code, sig, stderr, r.killed)
    res = Result(
        r.index,
        r.seed_file,
        r.mutations,
        cls,
        code,
        sig,
        round(wall, 3),
        round(usage.ru_utime + usage.ru_stime, 3),
        round(usage.ru_maxrss / 1024, 1),
        round(json_kb, 1),
        r.size,
        stderr.strip().splitlines()[-1][:300] if stderr.strip() else "",
    )
    if res.cpu_s > TIME_BUDGET_S:
        res.over_budget.append(f"cpu {res.cpu_s:.1f} s > {TIME_BUDGET_S} s")
    if res.peak_mb > MEMORY_BUDGET_MB:
        res.over_budget.append(f"memory {res.peak_mb:.0f} MB > {MEMORY_BUDGET_MB} MB")
    if res.json_kb > JSON_BUDGET_KB:
        res.over_budget.append(f"json {res.json_kb:.0f} KB > {JSON_BUDGET_KB} KB")
    return res


def profile_of(path: Path, *, timeout_s: float = 60.0, mem_mb: int = 2048) -> list[str]:
    """Re-run one file under cProfile in a child: the functions it spent most time in (own time)."""
    prof = Path(str(path) + ".prof")
    pid = _fork(path, mem_mb, int(timeout_s) + 1, str(prof))
    t0 = time.monotonic()
    while True:
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - t0 > timeout_s:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return ["(profile timed out)"]
        time.sleep(0.01)
    for suffix in (".out", ".err"):
        with contextlib.suppress(FileNotFoundError):
            Path(str(path) + suffix).unlink()
    if not prof.exists():
        return []
    lines = prof.read_text().splitlines()
    prof.unlink()
    start = next((i for i, ln in enumerate(lines) if ln.strip().startswith("ncalls")), None)
    if start is None:
        return []
    return [" ".join(ln.split()) for ln in lines[start + 1 : start + 5] if ln.strip()]


def _rel(path: Path) -> str:
    for base in (ROOT.parent / "shared", ROOT):
        with contextlib.suppress(ValueError):
            return str(path.resolve().relative_to(base.resolve()))
    return path.name


# --- summary -----------------------------------------------------------------------------------------------------------


def _quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    v = sorted(values)

    def q(p: float) -> float:
        return v[min(len(v) - 1, round(p * (len(v) - 1)))]

    return {"min": v[0], "median": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": v[-1]}


def summarise(results: list[Result], *, seed: int, seconds: float) -> dict:
    """Counts per class, distributions, the slowest five and every non-ok/error result."""
    counts = {c: sum(r.cls == c for r in results) for c in CLASSES}
    slowest = sorted(results, key=lambda r: -r.cpu_s)[:5]
    return {
        "seed": seed,
        "mutants": len(results),
        "seconds": round(seconds, 1),
        "counts": counts,
        "cpu_s": _quantiles([r.cpu_s for r in results]),
        "wall_s": _quantiles([r.wall_s for r in results]),
        "peak_mb": _quantiles([r.peak_mb for r in results]),
        "json_kb": _quantiles([r.json_kb for r in results]),
        "over_budget": [asdict(r) for r in results if r.over_budget],
        "slowest": [asdict(r) for r in slowest],
        "bad": [asdict(r) for r in results if r.cls in ("crash", "hang", "memory")],
    }


def summary_text(s: dict) -> str:
    """The summary as a few readable lines."""

    def dist(name: str, unit: str) -> str:
        d = s[name]
        return f"{name:8s} " + "  ".join(f"{k} {v:g}{unit}" for k, v in d.items())

    lines = [
        f"fuzz seed {s['seed']}: {s['mutants']:,} mutants in {s['seconds']:,} s",
        "classes  " + "  ".join(f"{k} {v:,}" for k, v in s["counts"].items()),
    ]
    if s["mutants"]:
        lines += [dist("cpu_s", " s"), dist("wall_s", " s"), dist("peak_mb", " MB"), dist("json_kb", " KB")]
    lines.append(f"over budget ({TIME_BUDGET_S} s cpu, {MEMORY_BUDGET_MB} MB, {JSON_BUDGET_KB} KB json): "
                 f"{len(s['over_budget'])}")  # fmt: skip
    for r in s["over_budget"][:20]:
        lines.append(
            f"  #{r['index']} {r['seed_file']}: {'; '.join(r['over_budget'])} ({'; '.join(r['mutations'])})"
        )
    lines.append("slowest five (cpu s, wall s, peak MB, class, seed file, mutations, hottest functions):")
    for r in s["slowest"]:
        lines.append(
            f"  #{r['index']} {r['cpu_s']:.2f} s cpu, {r['wall_s']:.2f} s wall, {r['peak_mb']:.0f} MB, {r['cls']}, "
            f"{r['seed_file']}: {'; '.join(r['mutations'])}"
        )
        lines += [f"      {p}" for p in r.get("profile", [])[:3]]
    for r in s["bad"][:30]:
        lines.append(
            f"  {r['cls'].upper()} #{r['index']} {r['seed_file']} ({'; '.join(r['mutations'])}): {r['stderr']}"
        )
    return "\n".join(lines) + "\n"


def default_seeds(out: Path, corpus: Path = CORPUS) -> list[Path]:
    """The corpus TIFFs and the generated seeds (written under ``out/seeds``)."""
    return corpus_seeds(corpus) + make_generated_seeds(out / "seeds")


def fuzz(
    *,
    seed: int,
    count: int,
    out: Path,
    start: int = 0,
    jobs: int = 2,
    timeout_s: float = 300.0,
    cpu_s: int = 30,
    mem_mb: int = 2048,
    corpus: Path = CORPUS,
    keep: bool = False,
    profile_slowest: bool = True,
    progress: Callable[[int, Result], None] | None = None,
) -> dict:
    """A whole run: seeds, mutants ``start .. start + count - 1``, summary files in ``out``; returns the summary."""
    out.mkdir(parents=True, exist_ok=True)
    plan = Plan(default_seeds(out, corpus))
    t0 = time.monotonic()
    done: list[Result] = []

    def on_result(r: Result) -> None:
        done.append(r)
        if progress is not None:
            progress(len(done), r)
        if len(done) % 500 == 0:  # a partial summary, in case the run is stopped
            _write(
                out, summarise(sorted(done, key=lambda x: x.index), seed=seed, seconds=time.monotonic() - t0)
            )

    results = run(
        plan,
        seed=seed,
        indices=list(range(start, start + count)),
        out=out,
        jobs=jobs,
        timeout_s=timeout_s,
        cpu_s=cpu_s,
        mem_mb=mem_mb,
        keep=keep,
        on_result=on_result,
    )
    summary = summarise(results, seed=seed, seconds=time.monotonic() - t0)
    if profile_slowest:
        for r in summary["slowest"]:
            _src, data, _log = plan.mutant(seed, r["index"])
            path = out / f"profile-{r['index']}.tif"
            path.write_bytes(data)
            r["profile"] = profile_of(path, timeout_s=timeout_s, mem_mb=mem_mb)
            path.unlink()
    _write(out, summary)
    return summary


def _write(out: Path, summary: dict) -> None:
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "summary.txt").write_text(summary_text(summary))


def main(argv: list[str] | None = None) -> int:
    """Command line; exit status 1 when a mutant crashed, hung or ran out of memory."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--start", type=int, default=0, help="first mutant index (to continue a run)")
    p.add_argument("--only", type=int, help="run this one mutant index (kept in --out)")
    p.add_argument("--out", type=Path, default=ROOT / "test-output" / "fuzz")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--cpu", type=int, default=30, help="CPU seconds per mutant before it counts as a hang")
    p.add_argument(
        "--timeout", type=float, default=300, help="wall seconds per mutant before it counts as a hang"
    )
    p.add_argument("--mem-mb", type=int, default=2048, help="address-space limit per mutant (RLIMIT_AS)")
    p.add_argument("--corpus", type=Path, default=CORPUS)
    p.add_argument("--keep", action="store_true", help="keep every mutant in --out")
    p.add_argument("--no-profile", action="store_true", help="do not re-run the slowest five under cProfile")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.only is not None:
        args.start, args.count, args.keep = args.only, 1, True

    def progress(n: int, r: Result) -> None:
        if not args.quiet and (n % 250 == 0 or r.cls in ("crash", "hang", "memory")):
            print(f"{n:,}/{args.count:,} #{r.index} {r.cls} {r.cpu_s:.2f} s {r.stderr[:120]}", flush=True)

    summary = fuzz(
        seed=args.seed,
        count=args.count,
        out=args.out,
        start=args.start,
        jobs=args.jobs,
        timeout_s=args.timeout,
        cpu_s=args.cpu,
        mem_mb=args.mem_mb,
        corpus=args.corpus,
        keep=args.keep,
        profile_slowest=not args.no_profile,
        progress=progress,
    )
    print(summary_text(summary), end="")
    return 1 if summary["bad"] else 0


if __name__ == "__main__":
    sys.exit(main())
