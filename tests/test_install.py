"""`record` and `recheck` from a plain (non-editable) install in a fresh venv, run from a directory outside the
checkout: the notebook template and the sanitiser come from the installed package, not from notebooks/.

The package is built from a copy of its sources (pyproject.toml, README.md, ometiff_helpers/) without build isolation
and installed with ``--no-deps --no-index``; the fresh venv reaches the dependencies of this test environment through
one ``.pth`` line. Nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run(argv: list[str | Path], *, cwd: Path, env: dict[str, str], timeout: int = 300) -> str:
    """Run a command, failing the test with its output when it fails; its stdout."""
    run = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert run.returncode == 0, f"{argv}: {run.returncode}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return run.stdout


def test_record_and_recheck_work_from_a_non_editable_install(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(
        REPO / "ometiff_helpers", source / "ometiff_helpers", ignore=shutil.ignore_patterns("__pycache__")
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "OMETIFF_", "PIP_"))}
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp_path, env=env)
    python = venv / "bin" / "python"
    purelib = _run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp_path, env=env
    )
    Path(purelib.strip(), "test-environment.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    _run(
        [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index",
         "--no-build-isolation", source],
        cwd=tmp_path, env=env,
    )  # fmt: skip
    shutil.rmtree(source)  # the installed package must not need its sources

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run(
        [python, "-c", "import ometiff_helpers; print(ometiff_helpers.__file__)"], cwd=elsewhere, env=env
    )
    assert Path(where.strip()).is_relative_to(venv)  # the installed copy, not the checkout
    out = _run(
        [python, "-m", "ometiff_helpers", "record", "--demo", "-o", "demo.ipynb"], cwd=elsewhere, env=env
    )
    assert "Saved record: demo.ipynb" in out
    text = (elsewhere / "demo.ipynb").read_text(encoding="utf-8")
    assert str(tmp_path) not in text and str(REPO) not in text  # no absolute local path in the record
    info = json.loads(text)["metadata"]["ometiff_record"]
    assert info["url"] == "" and info["notebook"] == "inspect_remote_ometiff.py"
    checked = _run([python, "-m", "ometiff_helpers", "recheck", "demo.ipynb"], cwd=elsewhere, env=env)
    assert "UNCHANGED" in checked and "ALTERED" not in checked
