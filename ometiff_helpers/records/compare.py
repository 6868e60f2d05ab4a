"""Comparing a record's outputs with a rerun's, cell by cell, the way nbval does: nbval's own stream coalescing,
markers (``NBVAL_IGNORE_OUTPUT``, ``NBVAL_SKIP``, as comments or tags) and sanitiser patterns, the MIME types it leaves
out (images, widget views), then a short readable diff per changed cell (HTML tables as ``a | b`` rows).

nbval's own ``compare_outputs`` is a method of its pytest item (it needs a pytest session and stops at the first
difference, formatted for a terminal); the comparison here groups outputs by key exactly as it does and keeps every
differing cell, with a diff a person can read.
"""

from __future__ import annotations

import copy
import difflib
import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ometiff_helpers.errors import OmeTiffError
from ometiff_helpers.frozen import record
from ometiff_helpers.records.notebook import FACTS_TAG, INJECTED_TAG, nbval_options, sanitize_text, tags

__all__ = ["CellChange", "align_cells", "code_differences", "compare_notebooks"]

# What nbval leaves out of its comparison (nbval.plugin.IPyNbFile.skip_compare without --nbdime)
_SKIP_MIME = frozenset({"application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg"})
_MAX_DIFF_LINES = 14


def _joined(value: Any) -> str:
    """A notebook string field (a string or a list of lines) as one string."""
    return "".join(value) if isinstance(value, list) else str(value)


def _coalesce(outputs: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Outputs -> {key: [text, ...]} as nbval compares them: streams merged per name (nbval's `coalesce_streams`),
    MIME types flattened, the types nbval skips left out."""
    import nbformat
    from nbval.plugin import coalesce_streams

    nodes = [nbformat.from_dict(copy.deepcopy(dict(o))) for o in outputs]
    for node in nodes:
        if node.get("output_type") == "stream":
            node["text"] = _joined(node.get("text", ""))
            node.setdefault("name", "stdout")
    grouped: dict[str, list[str]] = {}
    for out in coalesce_streams(nodes):
        kind = out.get("output_type")
        if kind == "stream":
            grouped[str(out["name"])] = [out["text"]]
        elif kind in ("execute_result", "display_data"):
            for mime, value in out.get("data", {}).items():
                if mime not in _SKIP_MIME:
                    text = value if isinstance(value, str | list) else json.dumps(value, sort_keys=True)
                    grouped.setdefault(mime, []).append(_joined(text))
        elif kind == "error":
            grouped.setdefault("error", []).append(f"{out.get('ename', '')}: {out.get('evalue', '')}")
    return grouped


def _normalise(text: str, patterns: Sequence[tuple[str, str]], url_map: Sequence[tuple[str, str]]) -> str:
    """``text`` with the recorded URL mapped to the rerun's, then sanitised."""
    for old, new in url_map:
        text = text.replace(old, new)
    return sanitize_text(text, patterns)


_TAG_RE = re.compile(r"<[^>]+>")


def _html_to_text(markup: str) -> str:
    """Tables as ``a | b | c`` rows: enough to read a diff of a DataFrame's HTML."""
    markup = re.sub(r"(?is)<style.*?</style>", "", markup)
    markup = re.sub(r"(?i)</t[dh]>", " | ", markup)
    markup = re.sub(r"(?i)</tr>|<br\s*/?>|</p>|</div>|</li>|</h\d>", "\n", markup)
    text = html.unescape(_TAG_RE.sub("", markup))
    lines = (re.sub(r"[ \t]+", " ", line).strip(" |") for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _readable(key: str, text: str) -> str:
    """An output as text to diff (HTML as table rows)."""
    return _html_to_text(text) if key == "text/html" else text


def _squeeze(line: str, width: int = 150) -> str:
    """A diff line for reading: runs of table padding shortened, long lines cut."""
    line = re.sub(r"(?<=\S) {3,}", "  ", line.rstrip())
    return line if len(line) <= width else line[: width - 1] + "…"


def _short_diff(old: str, new: str) -> tuple[str, ...]:
    """The changed lines of two texts (``-old``/``+new``), at most a screenful."""
    lines = [
        line
        for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
        if not line.startswith(("---", "+++", "@@"))
    ]
    lines = [_squeeze(line) for line in lines]
    if len(lines) > _MAX_DIFF_LINES:
        lines = [*lines[:_MAX_DIFF_LINES], f"  ... and {len(lines) - _MAX_DIFF_LINES} more changed lines"]
    return tuple(lines)


@record
class CellChange:
    """One code cell whose (normalised) outputs differ; ``diff`` is a short ``-old``/``+new`` line list."""

    index: int  # position in the notebook (nbval's "Cell N")
    title: str  # the nearest heading above it, or its first source line
    what: str  # which outputs: "stdout", "text/plain", "text/html", "error", "number of outputs", ...
    diff: tuple[str, ...]


def _cell_titles(nb: Any) -> list[str]:
    """Each cell's title: the nearest heading above it and its first code line."""
    titles: list[str] = []
    heading = ""
    for cell in nb.cells:
        source = str(cell.get("source", ""))
        if cell.get("cell_type") == "markdown":
            for line in source.splitlines():
                if line.lstrip().startswith("#"):
                    heading = line.lstrip("# ").strip()
                    break
            titles.append(heading)
            continue
        first = next(
            (ln.strip() for ln in source.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), ""
        )
        if FACTS_TAG in tags(cell):
            titles.append("record facts")
        elif INJECTED_TAG in tags(cell):
            titles.append("parameters")
        else:
            titles.append(f"{heading}: {first[:50]}" if heading else first[:60])
    return titles


def compare_notebooks(
    old: Any,
    new: Any,
    *,
    patterns: Sequence[tuple[str, str]] = (),
    url_map: Sequence[tuple[str, str]] = (),
    pairs: Sequence[tuple[int, int]] | None = None,
) -> list[CellChange]:
    """Cells whose outputs differ between a record (``old``) and its rerun (``new``), compared like nbval does.

    Both sides are normalised with ``patterns`` (nbval sanitiser pairs); ``url_map`` rewrites the recorded URL into
    the rerun's (``recheck --url``) in the *recorded* outputs. Cells marked ``NBVAL_IGNORE_OUTPUT``/``NBVAL_SKIP``
    (comment or tag) are not compared. ``pairs`` says which record cell goes with which rerun cell (`align_cells`);
    without it the notebooks must have the same cells.
    """
    if pairs is None:
        if len(old.cells) != len(new.cells):
            raise OmeTiffError("the rerun has a different number of cells than the record (was it edited?)")
        pairs = [(i, i) for i in range(len(old.cells))]
    titles = _cell_titles(old)
    changes: list[CellChange] = []
    for i, j in pairs:
        a, b = old.cells[i], new.cells[j]
        if a.get("cell_type") != "code" or b.get("cell_type") != "code":
            continue
        options = nbval_options(b)
        if options.get("skip") or options.get("check") is False:
            continue
        ref = {
            k: [_normalise(t, patterns, url_map) for t in v]
            for k, v in _coalesce(a.get("outputs", [])).items()
        }
        got = {
            k: [_normalise(t, patterns, ()) for t in v] for k, v in _coalesce(b.get("outputs", [])).items()
        }
        change = _cell_change(i, titles[i], ref, got)
        if change is not None:
            changes.append(change)
    return changes


def _key(cell: Mapping[str, Any]) -> tuple[str, str]:
    """What identifies a cell when aligning two notebooks: its type and source."""
    return str(cell.get("cell_type", "")), _joined(cell.get("source", ""))


def align_cells(record: Any, expected: Any) -> list[tuple[int, int]]:
    """Pairs (record cell, expected cell): equal cells, and cells edited in place (one for one)."""
    a = [_key(c) for c in record.cells]
    b = [_key(c) for c in expected.cells]
    pairs: list[tuple[int, int]] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal" or (op == "replace" and i2 - i1 == j2 - j1):
            pairs += zip(range(i1, i2), range(j1, j2), strict=True)
    return pairs


def code_differences(record: Any, expected: Any) -> list[str]:
    """How the record's code cells differ from the ones the template gives: one line per cell edited, added or
    removed (empty when the record's code is the template's)."""
    a = [(i, c) for i, c in enumerate(record.cells) if c.get("cell_type") == "code"]
    b = [c for c in expected.cells if c.get("cell_type") == "code"]
    matcher = difflib.SequenceMatcher(None, [_key(c) for _, c in a], [_key(c) for c in b], autojunk=False)
    out: list[str] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op in ("replace", "delete"):
            for index, cell in a[i1:i2]:
                first = next(
                    (ln.strip() for ln in _joined(cell.get("source", "")).splitlines() if ln.strip()), ""
                )
                verb = (
                    "not in the template"
                    if op == "delete" or i2 - i1 > j2 - j1
                    else "differs from the template"
                )
                out.append(f"cell {index} ({first[:60]!r}) {verb}")
        if op in ("replace", "insert") and j2 - j1 > i2 - i1:
            out.append(f"{(j2 - j1) - (i2 - i1)} code cell(s) of the template missing from the record")
    return out


def _cell_change(
    index: int, title: str, ref: dict[str, list[str]], got: dict[str, list[str]]
) -> CellChange | None:
    """The `CellChange` of one cell's grouped outputs, or None when they are the same."""
    if ref == got:
        return None
    # show the most readable differing key: plain text first, HTML as rows, then the rest
    order = ["stdout", "stderr", "error", "text/plain", "text/markdown", "text/html"]
    keys = sorted(set(ref) | set(got), key=lambda k: (order.index(k) if k in order else len(order), k))
    differing = [k for k in keys if ref.get(k) != got.get(k)]
    key = differing[0]
    if len(ref.get(key, [])) != len(got.get(key, [])) and key in ref and key in got:
        what = f"{key} (number of outputs {len(ref[key])} -> {len(got[key])})"
    elif key not in got:
        what = f"{key} (missing from the rerun)"
    elif key not in ref:
        what = f"{key} (new in the rerun)"
    else:
        what = key
    old_text = "\n".join(_readable(key, t) for t in ref.get(key, []))
    new_text = "\n".join(_readable(key, t) for t in got.get(key, []))
    diff = _short_diff(old_text, new_text)
    if not diff:  # differences in whitespace/markup only
        diff = ("  (the outputs differ in markup or whitespace only)",)
    if len(differing) > 1:
        what += " and " + ", ".join(differing[1:])
    return CellChange(index=index, title=title, what=what, diff=diff)
