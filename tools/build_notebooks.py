"""Build notebooks/*.ipynb from their jupytext percent-format sources (notebooks/*.py), by executing them.

    .venv/bin/python tools/build_notebooks.py                     # every notebook pair in notebooks/
    .venv/bin/python tools/build_notebooks.py notebooks/x.py      # one
    .venv/bin/python tools/build_notebooks.py --check             # fail if a committed .ipynb is not what a build gives

The output is deterministic (building twice gives the same bytes): the kernel runs on the bundled demo (it gets the
minimal environment records use, without OMETIFF_URL or OMETIFF_TOKEN), cell ids are numbered, no execution timings or widget state are
saved (nbclient's ``store_widget_state=False``; widget views are dropped from outputs, their fixed plain-text
fallback stays), outputs of cells marked ``# NBVAL_IGNORE_OUTPUT`` (timings) are not saved, and the replacements in notebooks/sanitize.cfg (ports, addresses, temp paths) are applied to the
outputs, as nbval applies them when it compares. The executor and the sanitiser parser are the ones records use
(`ometiff_helpers.records.notebook`).

The notebooks records are rebuilt from (and notebooks/sanitize.cfg) are copied into the package
(ometiff_helpers/records/templates/), so that `record` and `recheck` work from an installed package; --check fails when
a copy is not current.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import jupytext
import nbformat

from ometiff_helpers.records.notebook import (
    KERNEL_NAME,
    TEMPLATES,
    execute_notebook,
    load_sanitize_patterns,
    sanitize_text,
)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SANITIZE_CFG = NOTEBOOKS / "sanitize.cfg"
#: the notebooks records are made from: copied with sanitize.cfg into the package's records/templates/
PACKAGED = ("inspect_remote_ometiff.py", "sanitize.cfg")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
CELL_TIMEOUT = 300
VOLATILE_MARK = "# NBVAL_IGNORE_OUTPUT"

Rules = list[tuple[str, str]]


def _sanitize_value(value: object, rules: Rules) -> object:
    """A text output (a string or a list of lines) with the sanitiser's replacements applied."""
    if isinstance(value, str):
        return sanitize_text(value, rules)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [sanitize_text(v, rules) for v in value]
    return value


def _merge_streams(outputs: list[nbformat.NotebookNode]) -> list[nbformat.NotebookNode]:
    """Adjacent outputs of one stream joined into one, as nbval joins them: how a kernel's writes were split into
    messages depends on timing, and must not change the built bytes."""
    merged: list[nbformat.NotebookNode] = []
    for output in outputs:
        last = merged[-1] if merged else None
        if (
            last is not None
            and output.get("output_type") == "stream"
            and last.get("output_type") == "stream"
            and last.get("name") == output.get("name")
        ):
            last["text"] = "".join(last["text"]) + "".join(output["text"])
        else:
            merged.append(output)
    return merged


def clean(nb: nbformat.NotebookNode, rules: Rules) -> nbformat.NotebookNode:
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
        cell.outputs = _merge_streams(cell.outputs)
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
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": KERNEL_NAME,
    }
    execute_notebook(nb, cwd=source.parent, token=None, timeout=CELL_TIMEOUT, allow_errors=False)
    nb = clean(nb, load_sanitize_patterns(SANITIZE_CFG))
    target = source.with_suffix(".ipynb")
    target.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return target


def copy_templates(*, check: bool = False) -> list[Path]:
    """Copy the notebooks records are made from (and the sanitiser) into the package; the copies that were stale."""
    stale = []
    for name in PACKAGED:
        source, copy = NOTEBOOKS / name, TEMPLATES / name
        if copy.is_file() and copy.read_bytes() == source.read_bytes():
            continue
        stale.append(copy)
        if not check:
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, copy)
    return stale


def sources(args: list[str]) -> list[Path]:
    """The notebooks to build: those given, else every jupytext pair in notebooks/."""
    if args:
        return [Path(a).resolve() for a in args]
    return sorted(
        p for p in NOTEBOOKS.glob("*.py") if p.read_text(encoding="utf-8").startswith("# ---\n# jupyter:")
    )


def main(argv: list[str] | None = None) -> int:
    """Build (or with --check, verify) the notebooks and the packaged copies; 1 when something was out of date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "notebooks", nargs="*", help="percent-format .py notebooks (default: all in notebooks/)"
    )
    parser.add_argument("--check", action="store_true", help="rebuild and fail if a committed .ipynb differs")
    args = parser.parse_args(argv)
    stale = copy_templates(check=True) if args.check else []
    copy_templates()
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
