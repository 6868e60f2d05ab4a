"""A short seeded mutation fuzz (tools/fuzz.py): no crash, hang or memory blow-up, and small JSON for every mutant.

The long run (10,000 mutants and more) is the command in README.md; this one keeps to a few hundred mutants.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fuzz(monkeypatch: pytest.MonkeyPatch):
    """The harness's runner (tools/ is a folder of scripts, not a package)."""
    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    import fuzz as module

    return module


@pytest.fixture
def mutate(monkeypatch: pytest.MonkeyPatch):
    """The harness's mutations."""
    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    import fuzz_mutate as module

    return module


def test_short_seeded_run_has_no_crash_hang_or_memory_blowup(tmp_path: Path, corpus_dir: Path) -> None:
    out = tmp_path / "fuzz"
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "fuzz.py"), "--seed", "7", "--count", "200", "--jobs", "2",
         "--out", str(out), "--corpus", str(corpus_dir), "--no-profile", "--quiet"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mutants"] == 200
    counts = summary["counts"]
    assert counts["crash"] == counts["hang"] == counts["memory"] == 0, summary["bad"]
    assert counts["ok"] > 0 and counts["error"] > 0  # both a report and a clean error were seen
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary["json_kb"]["max"] <= 300  # every --json at most a few hundred KB
    assert summary["peak_mb"]["max"] < 1024
    assert "classes  ok" in (out / "summary.txt").read_text()
    assert not list(out.glob("crash-*")) and not list(out.glob("hang-*"))


def test_mutants_are_reproducible_and_structure_aware(mutate, corpus_dir: Path) -> None:
    seeds = mutate.corpus_seeds(corpus_dir)[:20]
    assert len(seeds) == 20
    first = list(mutate.iter_mutants(3, 40, seeds))
    again = list(mutate.iter_mutants(3, 40, seeds))
    assert first == again
    assert all(log for _i, _data, log in first)  # every mutant says what was done to it
    other = list(mutate.iter_mutants(4, 40, seeds))
    assert [d for _, d, _ in other] != [d for _, d, _ in first]


def test_each_mutator_changes_a_seed(mutate, corpus_dir: Path) -> None:
    seed = corpus_dir / "ome-types" / "ome.tiff"
    info = mutate.analyse(seed)
    assert info.ifds and info.entries and info.desc_entry > 0 and info.description.startswith(b"<?xml")
    data = seed.read_bytes()
    for func, _weight in mutate.MUTATORS:
        for k in range(5):
            m = mutate.Mutant(data, info, random.Random(f"{func.__name__}:{k}"))
            func(m)
            assert m.log, func.__name__
            if bytes(m.buf) != data:
                break
        else:
            pytest.fail(f"{func.__name__} never changed the file")


def test_xml_mutations_cover_the_hostile_families(mutate) -> None:
    info = mutate.SeedInfo(
        "x", 0, description=b'<?xml version="1.0"?><OME><Image><Pixels SizeX="1"/></Image></OME>'
    )
    seen = set()
    for k in range(400):
        m = mutate.Mutant(b"", info, random.Random(k))
        _new, what = mutate._xml_text_mutations(m, info.description.decode())
        seen.add(what.split(" ")[0])
    for family in ("unclosed", "DOCTYPE", "attribute", "invalid", "UTF-16", "absurd", "negative", "XML"):
        assert family in seen, family


@pytest.mark.parametrize(
    ("exit_code", "sig", "stderr", "timed_out", "expected"),
    [
        (0, None, "", False, "ok"),
        (2, None, "error: not a TIFF: expected ...", False, "error"),
        (2, None, "internal error (KeyError): 5. Please report it", False, "crash"),
        (70, None, "Traceback (most recent call last):\n  ...\nKeyError: 5", False, "crash"),
        (71, None, "MemoryError", False, "memory"),
        (None, signal.SIGKILL, "", True, "hang"),
        (None, signal.SIGXCPU, "", False, "hang"),
        (None, signal.SIGSEGV, "", False, "crash"),
        (2, None, "error: one\nerror: two", False, "crash"),
    ],
)
def test_classification(fuzz, exit_code, sig, stderr, timed_out, expected) -> None:
    assert fuzz.classify(exit_code, sig, stderr, timed_out) == expected


# Mutants of the seeded long run (seed 2029) that broke the pixel preview once it read pixels by default: NaN or
# huge values in layout tags (IndexError, ValueError), tile sizes near 2^63 (MemoryError), a 2^32-row image (hang);
# and four whose --json listed every one of up to 30,465 missing tiles (537 KB to 3,985 KB).
PREVIEW_REGRESSIONS = (
    622,
    943,
    1275,
    1791,
    1917,
    3947,
    4231,
    6671,
    6754,
    8781,
    9597,
    9863,
    140,
    1044,
    4424,
    7302,
)


@pytest.mark.parametrize("index", PREVIEW_REGRESSIONS)
def test_seeded_mutants_that_broke_the_preview_now_end_cleanly(
    index: int, tmp_path: Path, corpus_dir: Path
) -> None:
    out = tmp_path / "fuzz"
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "fuzz.py"), "--seed", "2029", "--only", str(index),
         "--out", str(out), "--corpus", str(corpus_dir), "--no-profile", "--quiet"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mutants"] == 1
    counts = summary["counts"]
    assert counts["crash"] == counts["hang"] == counts["memory"] == 0, summary["bad"]
    assert summary["json_kb"]["max"] <= 300
    assert done.returncode == 0, done.stdout + done.stderr
