"""The repository's set-up files agree with each other (pyproject.toml is the one dependency list)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_environment_yml_follows_pyproject() -> None:
    env = (ROOT / "environment.yml").read_text(encoding="utf-8")
    project = _pyproject()["project"]
    # The Python constraint is the same as requires-python.
    python = re.search(r"^\s*-\s*python(\S*)\s*$", env, re.MULTILINE)
    assert python is not None, "environment.yml must list python"
    assert python.group(1) == project["requires-python"]
    # It installs this package with pip, with extras that exist, and lists no dependency of its own
    # (which could drift from pyproject.toml).
    pip_lines = re.findall(r"^\s{6}-\s*(.+)$", env, re.MULTILINE)
    assert pip_lines == ["-e .[notebooks,pixels]"]
    extras = re.search(r"\[(.+)\]", pip_lines[0]).group(1).split(",")
    assert set(extras) <= set(project["optional-dependencies"])
    conda_deps = re.findall(r"^\s{2}-\s*([A-Za-z][\w.-]*)(:?)", env.split("dependencies:")[1], re.MULTILINE)
    assert conda_deps == [("python", ""), ("pip", ""), ("pip", ":")]


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "./dev.sh test" in readme
    assert "./dev.sh demo" in readme
    assert re.search(r"^exec \./dev\.sh test$", ci, re.MULTILINE)


def test_core_depends_only_on_requests() -> None:
    deps = _pyproject()["project"]["dependencies"]
    # urllib3 comes with requests; it is listed for its floor only (the raw body reads need urllib3 2.2)
    assert [re.split(r"[<>=!~ ]", d)[0] for d in deps] == ["requests", "urllib3"]


def test_core_modules_do_not_import_display_libraries() -> None:
    """Only display/ imports the notebook libraries, only pixels/ (the optional ``pixels`` extra) imports numpy."""
    heavy = re.compile(
        r"^\s*(import|from)\s+(pandas|matplotlib|ipywidgets|IPython|numpy|tifffile)\b", re.MULTILINE
    )
    package = ROOT / "ometiff_helpers"
    offenders = [
        str(p.relative_to(package))
        for p in package.rglob("*.py")
        # records/templates/ holds notebooks (jupytext .py) run in a kernel, not modules of the package
        if not {"display", "pixels", "templates"} & set(p.relative_to(package).parts)
        and heavy.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_public_api_is_importable_from_the_package_and_lazy() -> None:
    """`import ometiff_helpers` loads no HTTP stack; each public name resolves to its stage's object."""
    code = (
        "import sys, ometiff_helpers as o\n"
        "assert 'requests' not in sys.modules, 'import ometiff_helpers loaded requests'\n"
        "from ometiff_helpers.report import inspect\n"
        "assert o.inspect is inspect\n"
        "missing = [n for n in o.__all__ if not hasattr(o, n)]\n"
        "assert not missing, missing\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
