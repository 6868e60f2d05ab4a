"""Troubleshooting records: the inspect notebook executed for one URL, saved with its outputs, rechecked later.

A record is a plain ``.ipynb``: the inspect notebook with the URL injected after its ``parameters`` cell (papermill
style), a "record facts" cell (the file's one-line fingerprint and the facts a change shows in), and the outputs of
one run. It holds the URL *without* its secret: the token travels to the kernel in ``OMETIFF_TOKEN`` at run time and
is never written. ``recheck`` re-executes a record and compares its outputs cell by cell, the way nbval does (same
skipped MIME types, same markers, same sanitiser patterns from ``notebooks/sanitize.cfg``), then classifies what
changed (file replaced, pyramid level added/removed, channel renamed, OME-XML changed).

nbformat and nbclient (the ``notebooks`` extra) are imported inside the functions that execute notebooks, so that the
core imports without them. The library never prints; the CLI (``__main__``) formats `RecheckResult`.
"""

from __future__ import annotations

import copy
import datetime as _dt
import difflib
import enum
import html
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from ometiff_helpers import __version__
from ometiff_helpers.errors import OmeTiffError
from ometiff_helpers.urls import SecretURL, is_secret_key, redact_text

__all__ = [
    "RECORDS_DIR",
    "RECORD_KEY",
    "CellChange",
    "Change",
    "ChangeKind",
    "RecheckResult",
    "RecordFacts",
    "compare_notebooks",
    "default_notebook",
    "default_record_path",
    "load_sanitize_patterns",
    "make_record",
    "recheck",
    "record_facts",
    "split_token",
]

#: notebook metadata key holding the record's description (URL without secret, tool version, creation date, ...)
RECORD_KEY = "ometiff_record"
RECORD_FORMAT = 1
PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
FACTS_TAG = "record-facts"
HEADER_TAG = "record-header"

_ROOT = Path(__file__).resolve().parents[2]
_NOTEBOOK_NAME = "inspect_remote_ometiff"
#: where records go in a checkout (gitignored): ``records/`` at the top of the repository
RECORDS_DIR = _ROOT / "records"
#: the sanitiser file nbval is run with (``--nbval-sanitize-with``): one list of volatile patterns for both
SANITIZE_CFG = _ROOT / "notebooks" / "sanitize.cfg"

# What nbval leaves out of its comparison (nbval.plugin.IPyNbFile.skip_compare without --nbdime)
_SKIP_MIME = frozenset({"application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg"})
# nbval's markers: comment lines and their cell-tag spellings
_IGNORE_MARKERS = ("NBVAL_IGNORE_OUTPUT", "PYTEST_VALIDATE_IGNORE_OUTPUT")
_SKIP_MARKERS = ("NBVAL_SKIP",)
_RAISES_MARKERS = ("NBVAL_RAISES_EXCEPTION", "RAISES_EXCEPTION")

_MAX_DIFF_LINES = 14


# --- the facts cell (runs inside the record's kernel) ----------------------------------------------------------------


@dataclass(frozen=True)
class RecordFacts:
    """What describes the file, one ``key: value`` per line: the fingerprint first, then the facts changes show in.

    Displayed by the record's facts cell (``_repr_pretty_``), parsed back by `parse_facts` when rechecking.
    """

    fingerprint: str
    size: int
    etag: str | None
    last_modified: str | None
    first_ifd_offset: int
    ifds: str  # "top+sub"
    levels: tuple[str, ...]  # "WxH" per pyramid level
    images: int | None
    channels: tuple[str, ...]
    pixels: str | None
    xml_bytes: int | None
    xml_sha256: str | None
    ome: str  # "OME-TIFF (schema ...)" or why not

    def lines(self) -> list[str]:
        out = [
            f"fingerprint: {self.fingerprint}",
            f"size: {self.size:,} bytes",
            f"etag: {self.etag or '(none)'}",
            f"last-modified: {self.last_modified or '(none)'}",
            f"first IFD offset: {self.first_ifd_offset:,}",
            f"IFDs: {self.ifds}",
            f"levels: {len(self.levels)}: {', '.join(self.levels)}",
            f"OME: {self.ome}",
        ]
        if self.images is not None:
            out.append(f"images: {self.images}")
        if self.pixels is not None:
            out.append(f"pixels: {self.pixels}")
        out.append(f"channels: {len(self.channels)}: {', '.join(self.channels)}")
        if self.xml_sha256 is not None:
            out.append(f"OME-XML: {self.xml_bytes:,} bytes, sha256 {self.xml_sha256}")
        return out

    def text(self) -> str:
        return redact_text("\n".join(self.lines()))

    def __str__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())

    @classmethod
    def from_report(cls, report: Any) -> RecordFacts:
        import hashlib

        t = report.tiff
        info = report.source_info
        pixels = report.ome.images[0].pixels if report.ome is not None and report.ome.images else None
        channels = tuple(ch.name or ch.id or f"#{ch.index}" for ch in pixels.channels) if pixels else ()
        xml = report.xml_text.encode("utf-8") if report.xml_text is not None else None
        sub = len(t.all_ifds()) - len(t.ifds)
        return cls(
            fingerprint=report.fingerprint(),
            size=t.size,
            etag=info.etag,
            last_modified=info.last_modified,
            first_ifd_offset=t.first_ifd_offset,
            ifds=f"{len(t.ifds)}+{sub}",
            levels=tuple(f"{lv.width}x{lv.height}" for lv in report.levels()),
            images=len(report.ome.images) if report.ome is not None else None,
            channels=channels,
            pixels=(
                f"X {pixels.size_x} Y {pixels.size_y} Z {pixels.size_z} C {pixels.size_c} T {pixels.size_t}"
                f" {pixels.type} {pixels.dimension_order}"
                if pixels is not None
                else None
            ),
            xml_bytes=len(xml) if xml is not None else None,
            xml_sha256=hashlib.sha256(xml).hexdigest()[:16] if xml is not None else None,
            ome=(
                f"OME-TIFF (schema {report.ome.schema_version})"
                if report.ome is not None
                else f"none ({report.ome_error_kind})"
            ),
        )


def record_facts(url: str, *, token: str | None = None) -> RecordFacts:
    """Read ``url`` (token from ``OMETIFF_TOKEN`` unless given) and return its `RecordFacts` (no probes, no checks)."""
    from ometiff_helpers.report import inspect

    token = token or os.environ.get("OMETIFF_TOKEN") or None
    report = inspect(url, token=token, probes=False, checks=False)
    return RecordFacts.from_report(report)


def parse_facts(text: str) -> dict[str, str]:
    """``key: value`` lines -> dict (the inverse of `RecordFacts.lines`, tolerant of anything else)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key and key not in out:
            out[key.strip()] = value.strip()
    return out


# --- URLs and tokens -------------------------------------------------------------------------------------------------


def split_token(url: str | SecretURL, token: str | None = None) -> tuple[str, str | None]:
    """``url`` without its ``token=`` query parameter, and the token (``token`` argument first, else the URL's).

    The record stores the first and hands the second to the kernel only. A URL carrying another kind of secret (a
    signature, a password in ``user:pass@``) cannot be recorded without it, so it is refused.
    """
    url = url.reveal() if isinstance(url, SecretURL) else str(url).strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        raise OmeTiffError(f"not a valid URL: {redact_text(url)}") from None
    if parts.scheme.lower() not in ("http", "https"):
        return str(Path(url).expanduser().resolve()), (token or None)
    SecretURL(url)  # remember the secrets it holds, so that redact_text scrubs them from any message
    if "@" in parts.netloc and ":" in parts.netloc.rpartition("@")[0]:
        raise OmeTiffError(
            f"the URL {redact_text(url)} has a password in it, which a record cannot keep out of the file",
            hint="Put the secret in a ?token= parameter or in OMETIFF_TOKEN instead.",
        )
    kept: list[str] = []
    found: str | None = None
    for piece in parts.query.split("&") if parts.query else []:
        key, sep, value = piece.partition("=")
        name = unquote_plus(key).strip().lower()
        if name == "token":
            if value:
                found = unquote_plus(value)
            continue
        if sep and value and is_secret_key(key):
            raise OmeTiffError(
                f"the URL {redact_text(url)} carries a secret in {unquote_plus(key)!r}, which a record cannot "
                "replace at run time (only a token= parameter can)",
                hint="Record a URL whose only secret is its token=... parameter (signed URLs expire anyway).",
            )
        kept.append(piece)
    clean = urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(kept), parts.fragment))
    final = token or found or None
    if final:
        SecretURL(clean, final)  # a separate token too: redact_text then scrubs it from every message
    return clean, final


def _display_url(clean_url: str, needs_token: bool) -> str:
    """The redacted URL as the notebook shows it (``report.display_name``) for this clean URL and token presence."""
    if not urlsplit(clean_url).scheme.lower().startswith("http"):
        return clean_url
    return SecretURL(clean_url, "x" * 8 if needs_token else None).redacted


# --- notebooks -------------------------------------------------------------------------------------------------------


def default_notebook() -> Path:
    """The inspect notebook of this checkout (``notebooks/inspect_remote_ometiff.ipynb``, else its ``.py`` pair)."""
    for suffix in (".ipynb", ".py"):
        path = _ROOT / "notebooks" / f"{_NOTEBOOK_NAME}{suffix}"
        if path.is_file():
            return path
    raise OmeTiffError(
        f"the inspect notebook was not found in {_ROOT / 'notebooks'}",
        hint="Run from a checkout of ometiff-inspect, or pass the notebook to record (--notebook).",
    )


def default_record_path(
    url: str | SecretURL, directory: str | Path = "records", *, now: _dt.datetime | None = None
) -> Path:
    """``records/<file name>-<UTC date and time>.ipynb``: a fresh name for a record of ``url``."""
    clean, _ = split_token(url)
    name = urlsplit(clean).path.rstrip("/").rsplit("/", 1)[-1] if "://" in clean else Path(clean).name
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", unquote_plus(name)).strip("._") or "record"
    for suffix in (".ome.tiff", ".ome.tif", ".tiff", ".tif", ".btf"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    stamp = (now or _dt.datetime.now(_dt.UTC)).strftime("%Y%m%d-%H%M%S")
    return Path(directory) / f"{stem}-{stamp}.ipynb"


def _read_notebook(path: Path) -> Any:
    import nbformat

    if not path.is_file():
        raise OmeTiffError(f"no notebook at {path}")
    try:
        if path.suffix == ".py":
            import jupytext

            nb = jupytext.read(path)
        else:
            nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError) as exc:
        raise OmeTiffError(
            f"cannot read the notebook {path}: {redact_text(str(exc))[:300]}",
            hint="Is it a Jupyter notebook (.ipynb) or a jupytext percent-format .py file?",
        ) from None
    for cell in nb.cells:  # ids are required by nbformat >= 5.1: give old notebooks some
        if "id" not in cell:
            cell["id"] = _new_id()
    return nb


def _new_id() -> str:
    import uuid

    return uuid.uuid4().hex[:8]


def _tags(cell: Mapping[str, Any]) -> list[str]:
    tags = cell.get("metadata", {}).get("tags", [])
    return list(tags) if isinstance(tags, list) else []


def _has_marker(cell: Mapping[str, Any], markers: Sequence[str]) -> bool:
    tags = {t.lower() for t in _tags(cell)}
    if any(m.lower().replace("_", "-") in tags for m in markers):
        return True
    for line in str(cell.get("source", "")).splitlines():
        line = line.strip()
        if line.startswith("#") and line.lstrip("#").strip() in markers:
            return True
    return False


_ASSIGN_RE = re.compile(r"^([A-Za-z_]\w*)\s*(?::[^=]*)?=", re.MULTILINE)


def _parameter_names(template: Any) -> tuple[str, tuple[str, ...]]:
    """The URL parameter's name in the template's ``parameters`` cell (``URL``, ``OMETIFF_URL``, ...) and the names
    of its token parameters (set to "" in a record: the token comes from ``OMETIFF_TOKEN``)."""
    names: list[str] = []
    for cell in template.cells:
        if cell.get("cell_type") == "code" and PARAMETERS_TAG in _tags(cell):
            names = _ASSIGN_RE.findall(str(cell.get("source", "")))
            break
    url_name = next((n for n in names if "URL" in n.upper()), "OMETIFF_URL")
    return url_name, tuple(n for n in names if "TOKEN" in n.upper())


def _parameters_source(clean_url: str, url_name: str = "OMETIFF_URL", token_names: Sequence[str] = ()) -> str:
    lines = [
        "# Injected by `python -m ometiff_helpers record`: the file this record is about. Its token is not",
        "# stored here: it is read at run time from the OMETIFF_TOKEN environment variable.",
        f"{url_name} = {clean_url!r}",
    ]
    lines += [f'{name} = ""' for name in token_names]
    return "\n".join(lines)


def _facts_source(url_name: str) -> str:
    return (
        "# Record facts: the file's one-line fingerprint and the facts a change shows in (`recheck` compares them).\n"
        "from ometiff_helpers.records.core import record_facts\n"
        "\n"
        f"record_facts({url_name})"
    )


def prepare_record(template: Any, clean_url: str, *, needs_token: bool, notebook_name: str) -> Any:
    """A copy of ``template`` (an nbformat notebook) ready to execute as a record of ``clean_url``."""
    import nbformat

    nb = copy.deepcopy(template)
    cells = [c for c in nb.cells if not {INJECTED_TAG, FACTS_TAG, HEADER_TAG} & set(_tags(c))]
    for cell in cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    at = next((i + 1 for i, c in enumerate(cells) if PARAMETERS_TAG in _tags(c)), 0)
    url_name, token_names = _parameter_names(template)
    injected = nbformat.v4.new_code_cell(
        _parameters_source(clean_url, url_name, token_names), metadata={"tags": [INJECTED_TAG]}
    )
    facts = nbformat.v4.new_code_cell(_facts_source(url_name), metadata={"tags": [FACTS_TAG]})
    header = nbformat.v4.new_markdown_cell("", metadata={"tags": [HEADER_TAG]})
    cells[at:at] = [injected, facts]
    nb.cells = [header, *cells]
    nb.metadata.pop("widgets", None)
    nb.metadata[RECORD_KEY] = {
        "format": RECORD_FORMAT,
        "url": clean_url,
        "needs_token": needs_token,
        "notebook": notebook_name,
        "url_parameter": url_name,
        "token_parameters": list(token_names),
    }
    return nb


def _set_url(nb: Any, clean_url: str, info: Mapping[str, Any]) -> None:
    for cell in nb.cells:
        if INJECTED_TAG in _tags(cell):
            names = info.get("token_parameters", [])
            cell["source"] = _parameters_source(
                clean_url, str(info.get("url_parameter", "OMETIFF_URL")), [str(n) for n in names]
            )
            return
    raise OmeTiffError("this record has no injected-parameters cell: it was not made by `record`")


def _kernel_env(token: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMETIFF_TOKEN", "OMETIFF_URL")}
    if token:
        env["OMETIFF_TOKEN"] = token
    return env


def execute_notebook(nb: Any, *, cwd: Path, token: str | None, timeout: int = 600) -> Any:
    """Execute ``nb`` in a fresh kernel (token only in its environment); cells nbval skips are skipped too.

    Cells that raise are kept (their error is an output, compared like any other); a kernel that dies or a cell
    that runs past ``timeout`` seconds raises `OmeTiffError`.
    """
    from nbclient import NotebookClient

    work = copy.deepcopy(nb)
    for cell in work.cells:
        if cell.get("cell_type") == "code" and _has_marker(cell, _SKIP_MARKERS):
            cell.setdefault("metadata", {}).setdefault("tags", [])
            if "nbval-skip" not in cell["metadata"]["tags"]:
                cell["metadata"]["tags"].append("nbval-skip")
    client = NotebookClient(
        work,
        timeout=timeout,
        startup_timeout=120,
        kernel_name="python3",
        allow_errors=True,
        record_timing=False,
        store_widget_state=False,
        skip_cells_with_tag="nbval-skip",
        resources={"metadata": {"path": str(cwd)}},
    )
    import tempfile

    with tempfile.TemporaryFile() as kernel_stderr:  # the kernel's own chatter: shown only when it fails
        try:
            _run_client(client, token, kernel_stderr, timeout)
        except OmeTiffError as exc:
            kernel_stderr.seek(0)
            tail = kernel_stderr.read()[-1500:].decode("utf-8", "replace").strip()
            if tail and "kernel" in exc.message:
                raise OmeTiffError(
                    f"{exc.message}. The kernel said: {redact_text(tail)}", hint=exc.hint
                ) from None
            raise
    for cell, done in zip(nb.cells, work.cells, strict=True):
        if cell.get("cell_type") == "code":
            cell["outputs"] = done.get("outputs", [])
            cell["execution_count"] = done.get("execution_count")
    return nb


def _run_client(client: Any, token: str | None, stderr: Any, timeout: int) -> None:
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    try:
        client.execute(env=_kernel_env(token), stderr=stderr)
    except CellTimeoutError:
        raise OmeTiffError(
            f"a cell ran longer than {timeout} s while executing the record",
            hint="Is the server slow? Try again, or raise --timeout.",
        ) from None
    except DeadKernelError:
        raise OmeTiffError("the notebook's kernel died while executing the record") from None
    except RuntimeError as exc:  # kernel failed to start
        raise OmeTiffError(f"could not start the notebook's kernel: {redact_text(str(exc))[:300]}") from None


def _scrub(value: Any, secrets: Sequence[str]) -> Any:
    """Every string in a JSON-like value with the given secrets replaced by ``***``.

    Only the exact secret strings: a general `redact_text` pass would also rewrite harmless ``&key=...`` text in
    outputs, and a rerun (nbval) would then no longer match the saved record.
    """
    if isinstance(value, str):
        for s in secrets:
            value = value.replace(s, "***")
        return value
    if not secrets:
        return value
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    if isinstance(value, dict):
        return type(value)((k, _scrub(v, secrets)) for k, v in value.items())
    return value


def _secret_forms(token: str | None) -> list[str]:
    """The token as given and as sent (`SecretURL` strips a pasted token's surrounding spaces), each raw and
    URL-quoted; longest first, so that a longer form is replaced before a shorter one it contains."""
    if not token:
        return []
    from urllib.parse import quote, quote_plus

    forms: set[str] = set()
    for form in {token, token.strip()}:
        forms |= {form, quote(form, safe=""), quote_plus(form, safe=""), quote(form, safe="-._~")}
    return sorted((f for f in forms if f.strip()), key=len, reverse=True)


def _sanitise_for_saving(nb: Any, token: str | None) -> Any:
    """The notebook without widget state or timings, every string scrubbed of the token; verified on the bytes."""
    import nbformat

    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
    clean = nbformat.from_dict(_scrub(nb, _secret_forms(token)))
    data = nbformat.writes(clean)
    for form in _secret_forms(token):
        if (
            form in data
        ):  # pragma: no cover - _scrub removed every string occurrence; this guards the invariant
            raise OmeTiffError("refusing to save: the token would be written into the record")
    return clean


def _facts_output(nb: Any) -> str | None:
    for cell in nb.cells:
        if FACTS_TAG in _tags(cell):
            return _plain_text(cell.get("outputs", []))
    return None


def _plain_text(outputs: Iterable[Mapping[str, Any]]) -> str | None:
    for out in outputs:
        data = out.get("data", {})
        if "text/plain" in data:
            return _joined(data["text/plain"])
    return None


def _joined(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _header_source(info: Mapping[str, Any], display_url: str, fingerprint: str) -> str:
    token_note = (
        "its token is not stored: set `OMETIFF_TOKEN` before rerunning"
        if info.get("needs_token")
        else "no token needed"
    )
    return "\n".join(
        [
            f"# Troubleshooting record: {display_url.rsplit('/', 1)[-1].split('?', 1)[0] or display_url}",
            "",
            f"- **URL**: `{display_url}` ({token_note})",
            f"- **Recorded**: {info.get('created', '?')} with ometiff-inspect {info.get('tool_version', '?')}"
            f" (from `{info.get('notebook', '?')}`)",
            f"- **Fingerprint**: `{fingerprint}`",
            "",
            "Recheck (re-executes and reports what changed): `python -m ometiff_helpers recheck THIS.ipynb`",
            "(or `pytest --nbval THIS.ipynb`). The date above is when it was recorded; it is not compared.",
        ]
    )


def _first_error(nb: Any) -> tuple[int, str] | None:
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            if out.get("output_type") == "error" and not _has_marker(cell, _RAISES_MARKERS):
                return i, redact_text(f"{out.get('ename', '')}: {out.get('evalue', '')}")[:400]
    return None


def make_record(
    url: str | SecretURL,
    out_path: str | Path,
    *,
    token: str | None = None,
    notebook: str | Path | None = None,
    timeout: int = 600,
    overwrite: bool = False,
    now: _dt.datetime | None = None,
) -> Path:
    """Execute the inspect notebook for ``url`` and save it, with its outputs, as a record at ``out_path``.

    The token (``token``, else the URL's ``token=`` parameter) reaches the kernel only through ``OMETIFF_TOKEN``;
    the saved file holds the URL without it. Raises `OmeTiffError` when the notebook cannot run or a cell raises.
    """
    out = Path(out_path)
    if out.suffix != ".ipynb":
        raise OmeTiffError(f"a record is a notebook: give a path ending in .ipynb (not {out.name!r})")
    if out.exists() and not overwrite:
        raise OmeTiffError(f"{out} exists already", hint="Choose another name, or pass overwrite (--force).")
    clean, tok = split_token(url, token)
    source = Path(notebook) if notebook is not None else default_notebook()
    nb = prepare_record(_read_notebook(source), clean, needs_token=bool(tok), notebook_name=source.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    execute_notebook(nb, cwd=out.parent.resolve(), token=tok, timeout=timeout)
    error = _first_error(nb)
    if error is not None:
        raise OmeTiffError(
            f"the notebook failed for {_display_url(clean, bool(tok))} in cell {error[0]}: {error[1]}",
            hint="Nothing was saved. Check the URL and token (python -m ometiff_helpers URL shows the problem).",
        )
    facts = parse_facts(_facts_output(nb) or "")
    info = nb.metadata[RECORD_KEY]
    info["tool_version"] = __version__
    info["created"] = (now or _dt.datetime.now(_dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    info["fingerprint"] = facts.get("fingerprint", "")
    nb.cells[0]["source"] = _header_source(info, _display_url(clean, bool(tok)), info["fingerprint"])
    clean_nb = _sanitise_for_saving(nb, tok)
    import nbformat

    tmp = out.with_name(out.name + ".part")
    nbformat.write(clean_nb, tmp)
    tmp.replace(out)
    return out


# --- comparing -------------------------------------------------------------------------------------------------------


def load_sanitize_patterns(path: str | Path | None = None) -> list[tuple[str, str]]:
    """nbval's ``regex:``/``replace:`` pairs from ``path`` (default `SANITIZE_CFG`; none when it does not exist)."""
    cfg = Path(path) if path is not None else SANITIZE_CFG
    if not cfg.is_file():
        if path is not None:
            raise OmeTiffError(f"no sanitiser file at {cfg}")
        return []
    text = cfg.read_text(encoding="utf-8")
    pairs = re.findall(r"^regex: (.*)$\n^replace: (.*)$", text, flags=re.MULTILINE)
    for regex, _ in pairs:
        try:
            re.compile(regex)
        except re.error as exc:
            raise OmeTiffError(
                f"{cfg}: the pattern {regex!r} is not a valid regular expression ({exc})"
            ) from None
    return pairs


def _coalesce(outputs: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Outputs -> {key: [text, ...]} as nbval compares them: streams merged per name, MIME types flattened."""
    grouped: dict[str, list[str]] = {}
    streams: dict[str, str] = {}
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            name = str(out.get("name", "stdout"))
            streams[name] = streams.get(name, "") + _joined(out.get("text", ""))
        elif kind in ("execute_result", "display_data"):
            for mime, value in out.get("data", {}).items():
                if mime not in _SKIP_MIME:
                    text = value if isinstance(value, str | list) else json.dumps(value, sort_keys=True)
                    grouped.setdefault(mime, []).append(_joined(text))
        elif kind == "error":
            grouped.setdefault("error", []).append(f"{out.get('ename', '')}: {out.get('evalue', '')}")
    for name, text in streams.items():
        text = re.sub(r"^.*\r(?=[^\n])", "", text, flags=re.MULTILINE)
        grouped[name] = [text]
    return grouped


def _normalise(text: str, patterns: Sequence[tuple[str, str]], url_map: Sequence[tuple[str, str]]) -> str:
    for old, new in url_map:
        text = text.replace(old, new)
    for regex, replace in patterns:
        text = re.sub(regex, replace, text)
    return text


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
    return _html_to_text(text) if key == "text/html" else text


def _squeeze(line: str, width: int = 150) -> str:
    """A diff line for reading: runs of table padding shortened, long lines cut."""
    line = re.sub(r"(?<=\S) {3,}", "  ", line.rstrip())
    return line if len(line) <= width else line[: width - 1] + "…"


def _short_diff(old: str, new: str) -> tuple[str, ...]:
    lines = [
        line
        for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
        if not line.startswith(("---", "+++", "@@"))
    ]
    lines = [_squeeze(line) for line in lines]
    if len(lines) > _MAX_DIFF_LINES:
        lines = [*lines[:_MAX_DIFF_LINES], f"  ... and {len(lines) - _MAX_DIFF_LINES} more changed lines"]
    return tuple(lines)


@dataclass(frozen=True)
class CellChange:
    """One code cell whose (normalised) outputs differ; ``diff`` is a short ``-old``/``+new`` line list."""

    index: int  # position in the notebook (nbval's "Cell N")
    title: str  # the nearest heading above it, or its first source line
    what: str  # which outputs: "stdout", "text/plain", "text/html", "error", "number of outputs", ...
    diff: tuple[str, ...]


def _cell_titles(nb: Any) -> list[str]:
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
        if FACTS_TAG in _tags(cell):
            titles.append("record facts")
        elif INJECTED_TAG in _tags(cell):
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
) -> list[CellChange]:
    """Cells whose outputs differ between a record (``old``) and its rerun (``new``), compared like nbval does.

    Both sides are normalised with ``patterns`` (nbval sanitiser pairs); ``url_map`` rewrites the recorded URL into
    the rerun's (``recheck --url``) in the *recorded* outputs. Cells marked ``NBVAL_IGNORE_OUTPUT``/``NBVAL_SKIP``
    (comment or tag) are not compared.
    """
    if len(old.cells) != len(new.cells):
        raise OmeTiffError("the rerun has a different number of cells than the record (was it edited?)")
    titles = _cell_titles(old)
    changes: list[CellChange] = []
    for i, (a, b) in enumerate(zip(old.cells, new.cells, strict=True)):
        if a.get("cell_type") != "code" or _has_marker(a, _IGNORE_MARKERS + _SKIP_MARKERS):
            continue
        ref = _coalesce(a.get("outputs", []))
        got = _coalesce(b.get("outputs", []))
        ref = {k: [_normalise(t, patterns, url_map) for t in v] for k, v in ref.items()}
        got = {k: [_normalise(t, patterns, ()) for t in v] for k, v in got.items()}
        change = _cell_change(i, titles[i], ref, got)
        if change is not None:
            changes.append(change)
    return changes


def _cell_change(
    index: int, title: str, ref: dict[str, list[str]], got: dict[str, list[str]]
) -> CellChange | None:
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


# --- classifying -----------------------------------------------------------------------------------------------------


class ChangeKind(enum.Enum):
    """What a recheck found changed, most fundamental first."""

    FILE_REPLACED = "file replaced"
    LEVELS = "pyramid levels changed"
    IFDS = "IFD count changed"
    CHANNELS_RENAMED = "channel renamed"
    CHANNELS = "channels changed"
    PIXELS = "dimensions changed"
    XML = "OME-XML changed"
    OME = "OME metadata changed"
    OUTPUTS = "outputs changed"


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    detail: str

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.detail}" if self.detail else self.kind.value


def _split_list(value: str) -> tuple[int | None, list[str]]:
    count, sep, rest = value.partition(": ")
    if not sep:
        return None, []
    try:
        n = int(count)
    except ValueError:
        return None, []
    return n, ([x.strip() for x in rest.split(", ")] if rest else [])


def classify(old_facts: Mapping[str, str], new_facts: Mapping[str, str]) -> list[Change]:
    """The headline: what changed in the file, from the record facts of the record and of the rerun."""
    changes: list[Change] = []
    replaced = []
    if old_facts.get("size") != new_facts.get("size"):
        replaced.append(f"size {old_facts.get('size')} -> {new_facts.get('size')}")
    for key, label in (("etag", "ETag"), ("last-modified", "Last-Modified")):
        if old_facts.get(key) != new_facts.get(key):
            replaced.append(f"{label} {old_facts.get(key)} -> {new_facts.get(key)}")
    if old_facts.get("first IFD offset") != new_facts.get("first IFD offset"):
        replaced.append(
            f"first IFD at {old_facts.get('first IFD offset')} -> {new_facts.get('first IFD offset')}"
        )
    if replaced:
        changes.append(Change(ChangeKind.FILE_REPLACED, "; ".join(replaced)))
    n_old, levels_old = _split_list(old_facts.get("levels", ""))
    n_new, levels_new = _split_list(new_facts.get("levels", ""))
    if levels_old != levels_new:
        if n_old is not None and n_new is not None and n_old != n_new:
            verb = "removed" if n_new < n_old else "added"
            gone = [
                lv
                for lv in (levels_old if n_new < n_old else levels_new)
                if lv not in (levels_new if n_new < n_old else levels_old)
            ]
            which = f" ({', '.join(gone)})" if gone else ""
            changes.append(Change(ChangeKind.LEVELS, f"level {verb}{which}: {n_old} -> {n_new} levels"))
        else:
            changes.append(Change(ChangeKind.LEVELS, f"{', '.join(levels_old)} -> {', '.join(levels_new)}"))
    if old_facts.get("IFDs") != new_facts.get("IFDs"):
        changes.append(
            Change(ChangeKind.IFDS, f"{old_facts.get('IFDs')} -> {new_facts.get('IFDs')} (top+SubIFDs)")
        )
    c_old, ch_old = _split_list(old_facts.get("channels", ""))
    c_new, ch_new = _split_list(new_facts.get("channels", ""))
    if ch_old != ch_new:
        if c_old == c_new and len(ch_old) == len(ch_new):
            renamed = [f"{a!r} -> {b!r}" for a, b in zip(ch_old, ch_new, strict=True) if a != b]
            changes.append(Change(ChangeKind.CHANNELS_RENAMED, ", ".join(renamed)))
        else:
            changes.append(Change(ChangeKind.CHANNELS, f"{c_old} -> {c_new}: {', '.join(ch_new)}"))
    if old_facts.get("pixels") != new_facts.get("pixels"):
        changes.append(Change(ChangeKind.PIXELS, f"{old_facts.get('pixels')} -> {new_facts.get('pixels')}"))
    if old_facts.get("OME-XML") != new_facts.get("OME-XML"):
        changes.append(Change(ChangeKind.XML, f"{old_facts.get('OME-XML')} -> {new_facts.get('OME-XML')}"))
    if old_facts.get("OME") != new_facts.get("OME") or old_facts.get("images") != new_facts.get("images"):
        changes.append(Change(ChangeKind.OME, f"{old_facts.get('OME')} -> {new_facts.get('OME')}"))
    return changes


# --- rechecking ------------------------------------------------------------------------------------------------------


class RecheckStatus(enum.IntEnum):
    """Exit status of ``recheck``."""

    SAME = 0
    CHANGED = 1
    ERROR = 2


@dataclass(frozen=True)
class RecheckResult:
    """What a recheck found. ``str()`` is the report the CLI prints (redacted)."""

    record: str
    url: str  # redacted display form of the URL rechecked
    recorded_url: str  # redacted display form of the URL in the record
    recorded: str  # "2024-... with ometiff-inspect 0.1.0"
    tool_version: str  # version that reran it
    recorded_version: str
    headline: tuple[Change, ...]
    cells: tuple[CellChange, ...]
    error: str | None = None  # a cell that raised in the rerun (and not in the record)
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def status(self) -> RecheckStatus:
        if self.error is not None:
            return RecheckStatus.ERROR
        return RecheckStatus.CHANGED if self.cells or self.headline else RecheckStatus.SAME

    @property
    def changed(self) -> bool:
        return self.status is RecheckStatus.CHANGED

    def lines(self) -> Iterator[str]:
        yield f"Record:   {self.record} (recorded {self.recorded})"
        if self.url != self.recorded_url:
            yield f"URL:      {self.url} (recorded as {self.recorded_url})"
        else:
            yield f"URL:      {self.url}"
        yield from (f"Note:     {n}" for n in self.notes)
        if self.error is not None:
            yield f"ERROR:    the rerun failed: {self.error}"
            yield f"          ({len(self.cells)} cell(s) differ from the record; fix the error, then recheck)"
            return
        if self.status is RecheckStatus.SAME:
            yield "Result:   UNCHANGED: every compared output is the same as when recorded."
            return
        if self.headline:
            yield "Result:   CHANGED: " + "; ".join(c.kind.value for c in self.headline)
            yield from (f"  - {c}" for c in self.headline)
        elif self.cells:
            yield "Result:   CHANGED: outputs differ, but the file's fingerprint and facts are the same"
            yield "          (a change in the tool, the notebook or the server's answers rather than in the file)"
        if self.cells:
            yield f"Changed outputs ({len(self.cells)} cell(s)):"
            for cell in self.cells:
                title = f" [{cell.title}]" if cell.title else ""
                yield f"  Cell {cell.index}{title}: {cell.what}"
                yield from (f"      {line}" for line in cell.diff)

    def __str__(self) -> str:
        return redact_text("\n".join(self.lines()))


def record_info(nb: Any, path: Path | str = "record") -> dict[str, Any]:
    info = nb.metadata.get(RECORD_KEY)
    if not isinstance(info, Mapping) or "url" not in info:
        raise OmeTiffError(
            f"{path} is not a troubleshooting record (no metadata.{RECORD_KEY})",
            hint="Make one with: python -m ometiff_helpers record URL -o records/NAME.ipynb",
        )
    return dict(info)


def read_record(path: str | Path) -> Any:
    """The record notebook at ``path`` (checked to be one)."""
    record = Path(path)
    nb = _read_notebook(record)
    record_info(nb, record)
    return nb


def needs_token(path: str | Path) -> bool:
    """True when the record was made with a token (so its rerun needs one)."""
    return bool(record_info(read_record(path), path).get("needs_token"))


def recheck(
    record_path: str | Path,
    *,
    url: str | None = None,
    token: str | None = None,
    timeout: int = 600,
    sanitize_with: str | Path | None = None,
    save_to: str | Path | None = None,
) -> RecheckResult:
    """Re-execute a record (at its URL, or ``url`` when the file moved) and compare its outputs with the saved ones.

    The token comes from ``token`` (else ``url``'s ``token=``, else ``OMETIFF_TOKEN``). ``save_to`` writes the rerun
    (token-free) for a look at the new outputs. Raises `OmeTiffError` when the rerun cannot be made at all.
    """
    path = Path(record_path)
    old = read_record(path)
    info = record_info(old, path)
    recorded_clean = str(info["url"])
    needs = bool(info.get("needs_token"))
    if url is not None:
        clean, tok = split_token(url, token)
    else:
        clean, tok = recorded_clean, token
    if tok is None and needs:  # an ambient OMETIFF_TOKEN only for a record made with a token: the notebook
        tok = os.environ.get("OMETIFF_TOKEN") or None  # shows whether one was used (token=***)
    if needs and not tok:
        raise OmeTiffError(
            f"the record {path.name} was made with a token, and none was given",
            hint="Set OMETIFF_TOKEN (or run recheck in a terminal to be asked for it).",
        )
    new = copy.deepcopy(old)
    for cell in new.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
    if clean != recorded_clean:
        _set_url(new, clean, info)
    execute_notebook(new, cwd=path.parent.resolve(), token=tok, timeout=timeout)
    recorded_display = _display_url(recorded_clean, needs)
    display = _display_url(clean, bool(tok))
    url_map: list[tuple[str, str]] = []
    if clean != recorded_clean or display != recorded_display:
        url_map = [(recorded_clean, clean), (html.escape(recorded_clean), html.escape(clean))]
        url_map += [(recorded_display, display), (html.escape(recorded_display), html.escape(display))]
        url_map.sort(key=lambda p: len(p[0]), reverse=True)
    cells = compare_notebooks(old, new, patterns=load_sanitize_patterns(sanitize_with), url_map=url_map)
    headline = classify(parse_facts(_facts_output(old) or ""), parse_facts(_facts_output(new) or ""))
    if cells and not headline and _facts_output(old) is None:
        headline = [
            Change(ChangeKind.OUTPUTS, "the record has no facts cell to tell what changed in the file")
        ]
    notes = []
    if info.get("tool_version") != __version__:
        notes.append(
            f"recorded with ometiff-inspect {info.get('tool_version')}, rechecked with {__version__}: "
            "differences may come from the tool"
        )
    error = _new_error(old, new)
    if save_to is not None:
        import nbformat

        new.metadata[RECORD_KEY] = {
            **info,
            "rechecked": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        nbformat.write(_sanitise_for_saving(new, tok), Path(save_to))
    return RecheckResult(
        record=str(path),
        url=display,
        recorded_url=recorded_display,
        recorded=f"{info.get('created', '?')} with ometiff-inspect {info.get('tool_version', '?')}",
        tool_version=__version__,
        recorded_version=str(info.get("tool_version", "?")),
        headline=tuple(headline),
        cells=tuple(_scrub_change(c, tok) for c in cells),
        error=_scrub(error, _secret_forms(tok)) if error else None,
        notes=tuple(notes),
    )


def _scrub_change(change: CellChange, token: str | None) -> CellChange:
    forms = _secret_forms(token)
    return CellChange(
        index=change.index,
        title=_scrub(change.title, forms),
        what=change.what,
        diff=tuple(_scrub(list(change.diff), forms)),
    )


def _new_error(old: Any, new: Any) -> str | None:
    """The first cell that raised in the rerun but not in the record."""
    for i, (a, b) in enumerate(zip(old.cells, new.cells, strict=True)):
        if b.get("cell_type") != "code" or _has_marker(b, _RAISES_MARKERS):
            continue
        had = any(o.get("output_type") == "error" for o in a.get("outputs", []))
        for out in b.get("outputs", []):
            if out.get("output_type") == "error" and not had:
                return redact_text(f"cell {i} raised {out.get('ename', '')}: {out.get('evalue', '')}")[:400]
    return None
