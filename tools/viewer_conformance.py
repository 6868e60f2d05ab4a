"""Conformance of the diagnosis with the real viewer: Viv's own loaders (``tests/viv``) against ``inspect``.

Every TIFF of the shared corpus and one generated file per defect class (``tests/viewer_defects.py``) is served over
a loopback HTTP server with Range support; one Node process (``tests/viv/viewer_run.mjs``) opens each URL the way
Avivator does, and ``inspect`` diagnoses the same URL. A file agrees when the project reports an error exactly when
the viewer fails. ``python tools/viewer_conformance.py`` rewrites ``docs/viewer-conformance.md`` (run
``cd tests/viv && npm ci`` first); ``tests/test_viewer_conformance.py`` asserts the same agreement.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
VIV_DIR = REPO / "tests" / "viv"
CORPUS = REPO.parent / "shared" / "corpus"
DOC = REPO / "docs" / "viewer-conformance.md"
TIFF_SUFFIXES = (".tif", ".tiff")
#: the whole run (every file) may take this long; each file has its own 30 s limit inside the runner
NODE_TIMEOUT_S = 900

sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from ometiff_helpers.companion import inspect_companion, is_companion  # noqa: E402
from ometiff_helpers.demo.server import RangeServer  # noqa: E402
from ometiff_helpers.errors import OmeTiffError  # noqa: E402
from ometiff_helpers.findings import Severity  # noqa: E402
from ometiff_helpers.report import inspect  # noqa: E402


@dataclass(frozen=True)
class Case:
    """One served file: its URL name (the route and offsets.json depend on it) and where it comes from."""

    name: str
    path: Path
    origin: str  # "corpus" or "defect"
    note: str = ""


@dataclass
class Outcome:
    """What the viewer and the project made of one file."""

    case: Case
    viewer: dict[str, Any]
    project_error: bool
    project_codes: list[str] = field(default_factory=list)
    project_text: str = ""
    render_problems: list[str] = field(default_factory=list)
    unwarned: list[str] = field(default_factory=list)

    @property
    def viewer_error(self) -> bool:
        """The viewer fails, or opens the file but decodes wrong pixels (another type or size than it declares)."""
        return not self.viewer.get("ok", False) or bool(self.viewer.get("wrong_pixels"))

    @property
    def agrees(self) -> bool:
        """The project reports an error exactly when the viewer fails or decodes garbage."""
        return self.viewer_error == self.project_error


def corpus_cases(corpus: Path = CORPUS) -> list[Case]:
    """Every TIFF and companion file of the corpus, served under its path inside the corpus."""
    out = []
    for path in sorted(corpus.rglob("*")):
        if path.is_file() and (path.suffix.lower() in TIFF_SUFFIXES or path.name.endswith(".companion.ome")):
            out.append(Case(path.relative_to(corpus).as_posix(), path, "corpus"))
    return out


def defect_cases(folder: Path) -> list[Case]:
    """One generated file per defect class (see tests/viewer_defects.py), written into ``folder``."""
    import viewer_defects

    return [
        Case(f"defects/{name}", path, "defect", note) for name, path, note in viewer_defects.write_all(folder)
    ]


def node_command() -> list[str]:
    """The Node command that runs the viewer runner."""
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        raise RuntimeError("Node.js is not installed: ./dev.sh test installs Debian's nodejs and npm")
    if not (VIV_DIR / "node_modules" / "@vivjs" / "loaders").is_dir():
        raise RuntimeError("Viv's loaders are not installed: run `cd tests/viv && npm ci`")
    return [node, str(VIV_DIR / "viewer_run.mjs")]


def run_viewer(jobs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run every job in one Node process; one outcome dict per job, in order."""
    proc = subprocess.run(
        node_command(),
        input=json.dumps(list(jobs)),
        capture_output=True,
        text=True,
        cwd=VIV_DIR,
        timeout=NODE_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the viewer runner failed ({proc.returncode}): {proc.stderr[-2000:]}")
    results: list[dict[str, Any]] = json.loads(proc.stdout)
    return results


@contextmanager
def serving(cases: Sequence[Case], extra: dict[str, Path | bytes] | None = None) -> Iterator[RangeServer]:
    """A loopback Range server with every case under its name (plus ``extra`` files such as offsets.json)."""
    files: dict[str, Path | bytes] = {c.name: c.path for c in cases}
    files.update(extra or {})
    server = RangeServer(files).start()
    try:
        yield server
    finally:
        server.stop()


def project_verdict(url: str) -> tuple[bool, list[str], str]:
    """(error?, finding codes by severity, first error text) of ``inspect`` on ``url`` (no network probes)."""
    try:
        if is_companion(url):
            companion = inspect_companion(url)
            found = companion.findings
            errors = companion.errors
            codes = [f"{f.severity.value[0].upper()}:{f.code}" for f in found]
            return bool(errors), codes, errors[0].message if errors else ""
        report = inspect(url, probes=False)
    except OmeTiffError as exc:
        return True, [f"exit:{type(exc).__name__}"], str(exc)
    errors = [f for f in report.findings if f.severity is Severity.ERROR]
    codes = [f"{f.severity.value[0].upper()}:{f.code}" for f in report.findings]
    return bool(errors), codes, errors[0].message if errors else ""


def render_problems(viewer: dict[str, Any]) -> list[str]:
    """Where the viewer opens a file but renders it badly: tiles under 16 px in a pyramid (strips of a few rows),
    levels that are not ``size >> level``, separate channels guessed to be RGB, a channel count other than the XML's."""
    out = []
    if not viewer.get("ok"):
        return out
    tile = viewer.get("tile_size")
    if isinstance(tile, int) and tile < 16 and (viewer.get("levels") or 1) > 1:
        out.append(f"tile size {tile}")
    if viewer.get("rgb") and not viewer.get("interleaved"):
        out.append(f"rgb guess ({viewer.get('channels')} separate channels blended as red, green, blue)")
    if viewer.get("xml_channels") not in (None, viewer.get("channels")) and not viewer.get("rgb"):
        out.append(
            f"channel count ({viewer.get('xml_channels')} Channel elements, {viewer.get('channels')} shown)"
        )
    if viewer.get("level_mismatch"):
        out.append(f"level shapes ({viewer['level_mismatch']})")
    return out


#: which finding codes answer each kind of render problem
_WARN_CODES = {
    "tile size": ("TILE_GEOMETRY",),
    "level shapes": ("PYRAMID_NOT_HALVING",),
    "rgb guess": ("RGB_AMBIGUOUS", "SAMPLES_MISMATCH"),
    "channel count": ("CHANNELS", "SAMPLES_MISMATCH", "PLANE_COUNT"),
}


def _problem_kind(problem: str) -> str:
    """Which kind of render problem (a key of _WARN_CODES) ``problem`` describes."""
    return next(kind for kind in _WARN_CODES if problem.startswith(kind))


def compare(cases: Sequence[Case], viewer: Sequence[dict[str, Any]], server: RangeServer) -> list[Outcome]:
    """Pair the viewer's outcomes with the project's verdicts on the same URLs."""
    out = []
    for case, result in zip(cases, viewer, strict=True):
        error, codes, text = project_verdict(server.url(case.name))
        plain = {c.split(":", 1)[1] for c in codes}
        problems = render_problems(result)
        unwarned = [p for p in problems if not plain & set(_WARN_CODES[_problem_kind(p)])]
        out.append(Outcome(case, result, error, codes, text, problems, unwarned))
    return out


def run_all(cases: Sequence[Case]) -> list[Outcome]:
    """Serve ``cases``, run the viewer and the project on each, and pair the results."""
    with serving(cases) as server:
        jobs = [{"name": c.name, "url": server.url(c.name)} for c in cases]
        viewer = run_viewer(jobs)
        return compare(cases, viewer, server)


def _cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _viewer_cell(v: dict[str, Any]) -> str:
    """The viewer's outcome in one table cell: where it failed and with which words, or what it opened."""
    if not v.get("ok"):
        return f"fails at {v.get('stage', '?')}: `{_cell(v.get('error', ''))}`"
    if v.get("wrong_pixels"):
        return f"opens, wrong pixels: {_cell('; '.join(v['wrong_pixels']))}"
    shapes = v.get("shapes") or []
    low = shapes[-1] if shapes else []
    return f"ok: {v.get('levels')} level(s), C={v.get('channels')}, tile {v.get('tile_size')}, lowest {low}"


def markdown(outcomes: Sequence[Outcome]) -> str:
    """The conformance table for docs/viewer-conformance.md."""
    agree = sum(o.agrees for o in outcomes)
    lines = [
        "# Viewer conformance",
        "",
        "The diagnosis checked against the viewer itself: Viv's loaders (`@vivjs/loaders` 0.21.0, the newest release,",
        "with geotiff.js 2.1.3, pinned by `tests/viv/package-lock.json`) open every TIFF and companion file",
        "(`.companion.ome`, a multi-file set, inspected as a set) of the shared corpus and one",
        "generated file per defect class over a loopback HTTP server with Range requests, in Node, doing what Avivator",
        "does: fetch `<name>.offsets.json` when the URL names an OME-TIFF, `loadOmeTiff(url, {images: 'all'})`, the",
        "image count, channel statistics on the lowest level (unless it guesses RGB), and tile (0, 0) of the highest",
        "and lowest level for every channel. The project's verdict (`inspect(url, probes=False)`: any error finding, or",
        "no report at all) must equal the viewer's: it fails, or it opens the file but decodes wrong pixels (data of",
        "another type, or another size, than the loader declares: garbage on screen). The verdict is about the",
        "OME-TIFF route, the one the portal takes; the last column says what Avivator does when the URL text sends",
        "it down its multi-TIFF route (a URL without `ome.tif`, case-sensitive). Where the viewer opens a file but",
        "renders it badly (tiles under 16 px in a pyramid, levels not `size >> level`, separate channels guessed to",
        "be RGB, a channel count other than the XML's Channel elements), the project must report it.",
        "",
        "Notes on the method:",
        "",
        "- Node has no `DOMParser`; `@xmldom/xmldom` stands in for it. A browser returns a `<parsererror>` document",
        "  for malformed XML, which then fails Viv's schema; here the parse throws. Either way the file fails.",
        "- The defect registry (`tests/viewer_defects.py`) is written with tifffile. Bio-Formats' RGB JPEG pyramid",
        "  is reproduced without a JPEG encoder: planar samples labelled YCbCr with one SampleFormat value for three",
        '  samples, which is what makes geotiff.js fail ("Unsupported data format/bitsPerSample").',
        "- Behaviour that differs between Viv releases follows the newest (0.21.0); `--viewer` gives the verdict",
        "  for another release (Viv 0.13 read legacy levels by IFD number and had no multi-file loader).",
        "",
        "Regenerate: `(cd tests/viv && npm ci) && .venv/bin/python tools/viewer_conformance.py`;",
        "`tests/test_viewer_conformance.py` asserts the same agreement in `./dev.sh test`.",
        "",
        f"**{agree} of {len(outcomes)} files agree** ({100 * agree / max(1, len(outcomes)):.1f} %).",
        "",
    ]
    disagree = [o for o in outcomes if not o.agrees]
    if disagree:
        lines += ["## Disagreements", ""]
        for o in disagree:
            lines.append(
                f"- `{o.case.name}`: viewer {_viewer_cell(o.viewer)}; project "
                f"{'error: ' + _cell(o.project_text[:200]) if o.project_error else 'no error'}."
            )
        lines.append("")
    lines += [
        "## Every file",
        "",
        "| file | viewer (OME-TIFF route) | project | agree | renders wrongly | Avivator's URL route |",
        "|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        project = ", ".join(c for c in o.project_codes if c.startswith(("E:", "exit:"))) or (
            "warnings only" if any(c.startswith("W:") for c in o.project_codes) else "no warnings"
        )
        route = o.viewer.get("route", "?")
        if "multi_tiff" in o.viewer:
            mt = o.viewer["multi_tiff"]
            route += ": ok" if mt.get("ok") else f": `{_cell(mt.get('error', ''))}`"
        problems = ", ".join(o.render_problems) + (" (NOT warned)" if o.unwarned else "")
        lines.append(
            f"| `{o.case.name}` | {_viewer_cell(o.viewer)} | {project} | {'yes' if o.agrees else '**no**'} | "
            f"{problems} | {route} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    """Regenerate docs/viewer-conformance.md."""
    with tempfile.TemporaryDirectory() as tmp:
        cases = corpus_cases() + defect_cases(Path(tmp))
        outcomes = run_all(cases)
    DOC.write_text(markdown(outcomes), encoding="utf-8")
    agree = sum(o.agrees for o in outcomes)
    print(f"{agree} of {len(outcomes)} files agree; wrote {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
