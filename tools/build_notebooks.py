"""Build notebooks/*.ipynb from their jupytext percent-format sources (notebooks/*.py), by executing them.

    .venv/bin/python tools/build_notebooks.py                     # every notebook pair in notebooks/
    .venv/bin/python tools/build_notebooks.py notebooks/x.py      # one
    .venv/bin/python tools/build_notebooks.py --check             # fail if a committed .ipynb is not what a build gives

The output is deterministic (building twice gives the same bytes): the kernel runs on the bundled demo (OMETIFF_URL
and OMETIFF_TOKEN are removed from its environment), cell ids are numbered, no execution timings or widget state are
saved (nbclient's ``store_widget_state=False``; widget views are dropped from outputs, their fixed plain-text
fallback stays), outputs of cells marked ``# NBVAL_IGNORE_OUTPUT`` (timings) are not saved, and the replacements in notebooks/sanitize.cfg (ports, addresses, temp paths) are applied to the
outputs, as nbval applies them when it compares.
"""

from __future__ import annotations

import argparse
import configparser
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SANITIZE_CFG = NOTEBOOKS / "sanitize.cfg"
KERNEL = "python3"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
SCRUBBED_ENV = ("OMETIFF_URL", "OMETIFF_TOKEN")
CELL_TIMEOUT = 300
VOLATILE_MARK = "# NBVAL_IGNORE_OUTPUT"


def sanitizers(path: Path = SANITIZE_CFG) -> list[tuple[re.Pattern[str], str]]:
    """The (regex, replacement) pairs of an nbval sanitize file, in file order."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path, encoding="utf-8")
    return [(re.compile(parser[s]["regex"]), parser[s]["replace"]) for s in parser.sections()]


def sanitize(text: str, rules: Iterable[tuple[re.Pattern[str], str]]) -> str:
    for regex, replacement in rules:
        text = regex.sub(replacement, text)
    return text


def _sanitize_value(value: object, rules: list[tuple[re.Pattern[str], str]]) -> object:
    if isinstance(value, str):
        return sanitize(value, rules)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [sanitize(v, rules) for v in value]
    return value


def clean(nb: nbformat.NotebookNode, rules: list[tuple[re.Pattern[str], str]]) -> nbformat.NotebookNode:
    """Drop widget state and views, timings and text-only metadata; number cell ids; sanitise text outputs."""
    nb.metadata.pop("widgets", None)
    nb.metadata.get("jupytext", {}).pop("text_representation", None)
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index:03d}"
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        if VOLATILE_MARK in cell.source.splitlines():
            cell.outputs = []  # timings and the like: nbval does not compare them, and they would change the bytes
            cell.execution_count = None
            continue
        for output in cell.outputs:
            if "text" in output:
                output["text"] = _sanitize_value(output["text"], rules)
            data = output.get("data")
            if data is None:
                continue
            data.pop(WIDGET_VIEW, None)
            for mime in list(data):
                if mime.startswith("text/"):
                    data[mime] = _sanitize_value(data[mime], rules)
            output.get("metadata", {}).pop(WIDGET_VIEW, None)
    return nb


def build(source: Path) -> Path:
    """Execute ``source`` (a percent-format .py) and write its .ipynb pair next to it."""
    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": KERNEL}
    env_backup = {k: os.environ.pop(k) for k in SCRUBBED_ENV if k in os.environ}
    try:
        NotebookClient(
            nb,
            kernel_name=KERNEL,
            timeout=CELL_TIMEOUT,
            store_widget_state=False,
            record_timing=False,
            resources={"metadata": {"path": str(source.parent)}},
        ).execute()
    finally:
        os.environ.update(env_backup)
    nb = clean(nb, sanitizers())
    target = source.with_suffix(".ipynb")
    target.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return target


def sources(args: list[str]) -> list[Path]:
    if args:
        return [Path(a).resolve() for a in args]
    return sorted(
        p for p in NOTEBOOKS.glob("*.py") if p.read_text(encoding="utf-8").startswith("# ---\n# jupyter:")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "notebooks", nargs="*", help="percent-format .py notebooks (default: all in notebooks/)"
    )
    parser.add_argument("--check", action="store_true", help="rebuild and fail if a committed .ipynb differs")
    args = parser.parse_args(argv)
    stale = []
    for source in sources(args.notebooks):
        target = source.with_suffix(".ipynb")
        before = target.read_bytes() if target.exists() else None
        build(source)
        if args.check and target.read_bytes() != before:
            stale.append(target)
            if before is not None:
                target.write_bytes(before)
        print(f"built {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
    if stale:
        print(
            "out of date (run tools/build_notebooks.py and commit): " + ", ".join(map(str, stale)),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
