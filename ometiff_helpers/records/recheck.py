"""Rechecking a record: re-read its file with the notebook shipped with the package and compare the outputs.

Nothing of the record runs. The record is data: its location (checked to be a plain URL or path holding no secret)
and its saved outputs. The notebook that runs is rebuilt from the packaged template plus that location, in a kernel
that gets a minimal environment (`notebook.kernel_env`). When the record's code cells are not the ones the template
gives, the result says the record was altered; its outputs are still compared with the rerun's.
"""

from __future__ import annotations

import datetime as _dt
import enum
import html
import os
from collections.abc import Iterator, Mapping
from dataclasses import field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ometiff_helpers import __version__
from ometiff_helpers.errors import OmeTiffError
from ometiff_helpers.frozen import record
from ometiff_helpers.records.compare import CellChange, align_cells, code_differences, compare_notebooks
from ometiff_helpers.records.facts import Change, ChangeKind, classify, parse_facts
from ometiff_helpers.records.make import (
    check_location,
    display_url,
    facts_output,
    is_url,
    read_record,
    record_info,
    split_token,
)
from ometiff_helpers.records.notebook import (
    INSPECT_TEMPLATE,
    RECORD_KEY,
    execute_notebook,
    load_sanitize_patterns,
    nbval_options,
    prepare_record,
    read_notebook,
    sanitise_for_saving,
    scrub,
    secret_forms,
    template_path,
)
from ometiff_helpers.urls import redact_text

__all__ = ["RecheckResult", "RecheckStatus", "recheck"]


class RecheckStatus(enum.IntEnum):
    """Exit status of ``recheck``."""

    SAME = 0
    CHANGED = 1
    ERROR = 2
    ALTERED = 3  # the record's code is not what this version's template gives: it was edited after recording


@record
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
    altered: tuple[str, ...] = ()  # the record's code cells that are not the template's (none of them ran)

    @property
    def status(self) -> RecheckStatus:
        """ERROR, ALTERED (the record's code was edited, same version), CHANGED or SAME."""
        if self.error is not None:
            return RecheckStatus.ERROR
        if self.altered and self.recorded_version == self.tool_version:
            return RecheckStatus.ALTERED
        return RecheckStatus.CHANGED if self.cells or self.headline else RecheckStatus.SAME

    @property
    def changed(self) -> bool:
        """True when the file or the outputs changed."""
        return self.status is RecheckStatus.CHANGED

    def lines(self) -> Iterator[str]:
        """The report, line by line."""
        yield f"Record:   {self.record} (recorded {self.recorded})"
        if self.url != self.recorded_url:
            yield f"URL:      {self.url} (recorded as {self.recorded_url})"
        else:
            yield f"URL:      {self.url}"
        if self.altered:
            same = self.recorded_version == self.tool_version
            yield (
                "ALTERED:  this record's code is not the code ometiff-inspect "
                f"{self.recorded_version} writes: it was edited after it was recorded (or, in a checkout, the "
                "notebook changed since)"
                if same
                else f"Note:     this record's code differs from ometiff-inspect {self.tool_version}'s notebook "
                f"(recorded with {self.recorded_version})"
            )
            yield "          None of the record's code ran: the packaged notebook re-read the file, and only"
            yield "          its outputs were compared with the record's."
            yield from (f"  - {line}" for line in self.altered)
        yield from (f"Note:     {n}" for n in self.notes)
        if self.error is not None:
            yield f"ERROR:    the rerun failed: {self.error}"
            yield f"          ({len(self.cells)} cell(s) differ from the record; fix the error, then recheck)"
            return
        if not self.cells and not self.headline:
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
        """The report, redacted."""
        return redact_text("\n".join(self.lines()))


TRUSTED_HOSTS_ENV = "OMETIFF_TRUSTED_HOSTS"  # hosts a record's own URL may receive the token


def _template(info: dict[str, Any], notebook: str | Path | None) -> tuple[Any, str]:
    """The trusted notebook to rerun: ``notebook`` when given, else the packaged template the record names."""
    if notebook is not None:
        return read_notebook(notebook), Path(notebook).name
    name = info.get("notebook", INSPECT_TEMPLATE)
    path = template_path(name if isinstance(name, str) else INSPECT_TEMPLATE)
    return read_notebook(path), path.name


def _check_trusted_host(location: str, record_name: str, environ: Mapping[str, str]) -> None:
    """Refuse to send a token to a server that only the record names, unless the user listed its host."""
    if not is_url(location):
        return  # a local path or the demo: no token leaves the machine
    host = (urlsplit(location).netloc.rsplit("@", 1)[-1]).lower()
    trusted = {h.strip().lower() for h in environ.get(TRUSTED_HOSTS_ENV, "").split(",") if h.strip()}
    if host in trusted or host.split(":")[0] in trusted:
        return
    raise OmeTiffError(
        f"the record {record_name} names the server {host}; your token is sent only to a server you name yourself.",
        hint=f"If you trust {host}, rerun with --trust-record-host (or add it to ${TRUSTED_HOSTS_ENV}), "
        "or give the file's address with --url.",
    )


def recheck(
    record_path: str | Path,
    *,
    url: str | None = None,
    token: str | None = None,
    timeout: int = 600,
    sanitize_with: str | Path | None = None,
    save_to: str | Path | None = None,
    notebook: str | Path | None = None,
    trust_record_host: bool = False,
    environ: Mapping[str, str] | None = None,
) -> RecheckResult:
    """Re-read a record's file (at its URL, or ``url`` when the file moved) with the packaged notebook and compare
    the outputs with the saved ones. No code from the record runs.

    The token comes from ``token`` (else ``url``'s ``token=``, else ``OMETIFF_TOKEN``). ``notebook`` is the trusted
    notebook to run instead of the packaged one (for a record made with ``--notebook``). ``save_to`` writes the rerun
    (token-free) for a look at the new outputs. Raises `OmeTiffError` when the rerun cannot be made at all.

    A record may come from someone else and name any server, so a token goes to the record's own URL only when the
    user vouches for its host: ``trust_record_host``, or the host listed in ``$OMETIFF_TRUSTED_HOSTS``
    (comma-separated). Otherwise give the address yourself with ``url``.
    """
    path = Path(record_path)
    old = read_record(path)
    info = record_info(old, path)
    recorded = check_location(info["url"])
    needs = info.get("needs_token") is True
    template, template_name = _template(info, notebook)
    expected = prepare_record(template, recorded, needs_token=needs, notebook_name=template_name)
    altered = code_differences(old, expected)
    if url is not None:
        clean, tok = split_token(url, token)
    else:
        clean, tok = recorded, token
    if tok is None and needs:  # an ambient OMETIFF_TOKEN only for a record made with a token: the notebook
        tok = os.environ.get("OMETIFF_TOKEN") or None  # shows whether one was used (token=***)
    if needs and not tok:
        raise OmeTiffError(
            f"the record {path.name} was made with a token, and none was given",
            hint="Set OMETIFF_TOKEN (or run recheck in a terminal to be asked for it).",
        )
    if tok and url is None and not trust_record_host:
        _check_trusted_host(recorded, path.name, os.environ if environ is None else environ)
    new = prepare_record(template, clean, needs_token=needs, notebook_name=template_name)
    execute_notebook(new, cwd=path.parent.resolve(), token=tok, timeout=timeout)
    recorded_display = display_url(recorded, needs)
    shown = display_url(clean, bool(tok))
    url_map: list[tuple[str, str]] = []
    if clean != recorded or shown != recorded_display:
        url_map = [(recorded, clean), (html.escape(recorded), html.escape(clean))]
        if is_url(recorded) or is_url(clean):
            url_map += [(recorded_display, shown), (html.escape(recorded_display), html.escape(shown))]
        url_map = [(a, b) for a, b in url_map if a]
        url_map.sort(key=lambda p: len(p[0]), reverse=True)
    pairs = align_cells(old, expected)  # `new` has the cells of `expected`, one for one
    cells = compare_notebooks(
        old, new, patterns=load_sanitize_patterns(sanitize_with), url_map=url_map, pairs=pairs
    )
    headline = classify(parse_facts(facts_output(old) or ""), parse_facts(facts_output(new) or ""))
    if cells and not headline and facts_output(old) is None:
        headline = [
            Change(ChangeKind.OUTPUTS, "the record has no facts cell to tell what changed in the file")
        ]
    notes = []
    recorded_version = str(info.get("tool_version", "?"))
    if recorded_version != __version__:
        notes.append(
            f"recorded with ometiff-inspect {recorded_version}, rechecked with {__version__}: "
            "differences may come from the tool"
        )
    error = _new_error(old, new, pairs)
    if save_to is not None:
        import nbformat

        new.metadata[RECORD_KEY] = {
            **new.metadata[RECORD_KEY],
            "tool_version": __version__,
            "rechecked": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        nbformat.write(sanitise_for_saving(new, tok), Path(save_to))
    forms = secret_forms(tok)
    return RecheckResult(
        record=str(path),
        url=shown,
        recorded_url=recorded_display,
        recorded=f"{info.get('created', '?')} with ometiff-inspect {recorded_version}",
        tool_version=__version__,
        recorded_version=recorded_version,
        headline=tuple(headline),
        cells=tuple(_scrub_change(c, forms) for c in cells),
        error=scrub(error, forms) if error else None,
        notes=tuple(notes),
        altered=tuple(scrub(redact_text(a), forms) for a in altered),
    )


def _scrub_change(change: CellChange, forms: list[str]) -> CellChange:
    """The change with every form of the token replaced by ``***``."""
    return CellChange(
        index=change.index,
        title=scrub(change.title, forms),
        what=change.what,
        diff=tuple(scrub(list(change.diff), forms)),
    )


def _new_error(old: Any, new: Any, pairs: list[tuple[int, int]]) -> str | None:
    """The first cell that raised in the rerun but not in the record."""
    record_of = {j: i for i, j in pairs}
    for j, b in enumerate(new.cells):
        if b.get("cell_type") != "code" or nbval_options(b).get("check_exception"):
            continue
        i = record_of.get(j)
        a = old.cells[i] if i is not None else {}
        had = any(o.get("output_type") == "error" for o in a.get("outputs", []))
        for out in b.get("outputs", []):
            if out.get("output_type") == "error" and not had:
                index = i if i is not None else j
                return redact_text(f"cell {index} raised {out.get('ename', '')}: {out.get('evalue', '')}")[
                    :400
                ]
    return None
