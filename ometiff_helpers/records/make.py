"""Making a record: the packaged inspect notebook executed for one file and saved with its outputs, token-free.

A record is a plain ``.ipynb``: the template with the file's location injected after its ``parameters`` cell
(papermill style), a "record facts" cell (the file's one-line fingerprint and the facts a change shows in, from the
report the tables show), and the outputs of one run. It holds the URL *without* its secret: the token travels to the
kernel in ``OMETIFF_TOKEN`` at run time and is never written. A local file is recorded by its path relative to the
record (no absolute local path is kept); the bundled demo by an empty location.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from ometiff_helpers import __version__
from ometiff_helpers.errors import OmeTiffError
from ometiff_helpers.records.facts import parse_facts
from ometiff_helpers.records.notebook import (
    FACTS_TAG,
    INSPECT_TEMPLATE,
    RECORD_KEY,
    execute_notebook,
    nbval_options,
    prepare_record,
    read_notebook,
    sanitise_for_saving,
    tags,
    template_path,
)
from ometiff_helpers.urls import SecretURL, is_secret_key, redact_text

__all__ = [
    "DEMO",
    "RECORDS_DIR",
    "default_record_path",
    "display_url",
    "facts_output",
    "make_record",
    "needs_token",
    "read_record",
    "record_info",
    "split_token",
]

#: where the CLI and the inspect app put records by default: ``records/`` in the working directory (gitignored)
RECORDS_DIR = Path("records")
#: the location recorded for the bundled demo (the notebook then serves it itself)
DEMO = ""
_MAX_LOCATION = 8192


# --- URLs and tokens -------------------------------------------------------------------------------------------------


def split_token(url: str | SecretURL, token: str | None = None) -> tuple[str, str | None]:
    """``url`` without its ``token=`` query parameter, and the token (``token`` argument first, else the URL's).

    The record stores the first and hands the second to the kernel only. A URL carrying another kind of secret (a
    signature, a password in ``user:pass@``) cannot be recorded without it, so it is refused. A local path comes
    back absolute.
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


def is_url(location: str) -> bool:
    """True for an http(s) URL (else a local path, or the demo)."""
    return urlsplit(location).scheme.lower() in ("http", "https")


def display_url(location: str, needs_token: bool) -> str:
    """The location as the notebook shows it: the redacted URL (``token=***`` when one is used), the path, or the
    demo."""
    if location == DEMO:
        return "the bundled demo"
    if not is_url(location):
        return location
    return SecretURL(location, "x" * 8 if needs_token else None).redacted


def check_location(value: object, where: str = "record") -> str:
    """A recorded location, checked to be a plain string holding no secret: an http(s) URL, a path, or the demo."""
    if not isinstance(value, str) or len(value) > _MAX_LOCATION or any(ord(ch) < 32 for ch in value):
        raise OmeTiffError(
            f"the {where} does not hold a usable location (a URL or path of at most {_MAX_LOCATION} characters)",
            hint="Make a new record with: python -m ometiff_helpers record URL",
        )
    if "://" in value and not is_url(value):
        raise OmeTiffError(f"the {where}'s location is not an http(s) URL: {redact_text(value)[:200]}")
    if is_url(value) and split_token(value)[0] != value:
        raise OmeTiffError(f"the {where}'s URL carries a token, which a record never holds: it is not used")
    return value


def default_record_path(
    url: str | SecretURL | None, directory: str | Path = RECORDS_DIR, *, now: _dt.datetime | None = None
) -> Path:
    """``records/<file name>-<UTC date and time>.ipynb``: a fresh name for a record of ``url`` (None: the demo)."""
    if url is None:
        stem = "demo"
    else:
        clean, _ = split_token(url)
        name = urlsplit(clean).path.rstrip("/").rsplit("/", 1)[-1] if "://" in clean else Path(clean).name
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", unquote_plus(name)).strip("._") or "record"
        for suffix in (".ome.tiff", ".ome.tif", ".tiff", ".tif", ".btf"):
            if stem.lower().endswith(suffix):
                stem = stem[: -len(suffix)]
                break
    stamp = (now or _dt.datetime.now(_dt.UTC)).strftime("%Y%m%d-%H%M%S")
    return Path(directory) / f"{stem}-{stamp}.ipynb"


# --- reading records -------------------------------------------------------------------------------------------------


def record_info(nb: Any, path: Path | str = "record") -> dict[str, Any]:
    """The record's metadata (its location, whether it needs a token, versions); `OmeTiffError` when it has none."""
    info = nb.metadata.get(RECORD_KEY)
    if not isinstance(info, Mapping) or "url" not in info:
        raise OmeTiffError(
            f"{path} is not a troubleshooting record (no metadata.{RECORD_KEY})",
            hint="Make one with: python -m ometiff_helpers record URL -o records/NAME.ipynb",
        )
    return dict(info)


def read_record(path: str | Path) -> Any:
    """The record notebook at ``path`` (checked to be one). Reading never runs any of it."""
    record = Path(path)
    nb = read_notebook(record)
    record_info(nb, record)
    return nb


def needs_token(path: str | Path) -> bool:
    """True when the record was made with a token (so its rerun needs one)."""
    return record_info(read_record(path), path).get("needs_token") is True


def facts_output(nb: Any) -> str | None:
    """The text the notebook's record facts cell displayed (None when it has none)."""
    for cell in nb.cells:
        if FACTS_TAG in tags(cell):
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                if "text/plain" in data:
                    value = data["text/plain"]
                    return "".join(value) if isinstance(value, list) else str(value)
            return None
    return None


# --- making ----------------------------------------------------------------------------------------------------------


def _header_source(info: Mapping[str, Any], shown: str, fingerprint: str) -> str:
    """The record's first (markdown) cell: what, when, with which version, its fingerprint, how to recheck."""
    token_note = (
        "its token is not stored: set `OMETIFF_TOKEN` before rerunning"
        if info.get("needs_token")
        else "no token needed"
    )
    return "\n".join(
        [
            f"# Troubleshooting record: {shown.rsplit('/', 1)[-1].split('?', 1)[0] or shown}",
            "",
            f"- **URL**: `{shown}` ({token_note})",
            f"- **Recorded**: {info.get('created', '?')} with ometiff-inspect {info.get('tool_version', '?')}"
            f" (from `{info.get('notebook', '?')}`)",
            f"- **Fingerprint**: `{fingerprint}`",
            "",
            "Recheck (re-reads the file with the notebook shipped with ometiff-inspect, never with this file's code,",
            "and reports what changed): `python -m ometiff_helpers recheck THIS.ipynb`.",
            "The date above is when it was recorded; it is not compared.",
        ]
    )


def _first_error(nb: Any) -> tuple[int, str] | None:
    """The first cell that raised (and was not expected to), as (index, redacted message)."""
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            if out.get("output_type") == "error" and not nbval_options(cell).get("check_exception"):
                return i, redact_text(f"{out.get('ename', '')}: {out.get('evalue', '')}")[:400]
    return None


def record_location(
    url: str | SecretURL | None, token: str | None, record_dir: Path
) -> tuple[str, str | None]:
    """What a record at ``record_dir`` stores for ``url`` (None: the demo), and the token for the kernel.

    A URL loses its token; a local path becomes relative to the record's directory.
    """
    if url is None:
        return DEMO, token or None
    clean, tok = split_token(url, token)
    if not is_url(clean):
        clean = os.path.relpath(clean, record_dir.resolve())
    return clean, tok


def make_record(
    url: str | SecretURL | None,
    out_path: str | Path,
    *,
    token: str | None = None,
    notebook: str | Path | None = None,
    timeout: int = 600,
    overwrite: bool = False,
    now: _dt.datetime | None = None,
) -> Path:
    """Execute the inspect notebook for ``url`` (None: the bundled demo) and save it, with its outputs, as a record.

    The notebook is the template shipped with the package unless ``notebook`` is given. The token (``token``, else
    the URL's ``token=`` parameter) reaches the kernel only through ``OMETIFF_TOKEN``; the saved file holds the URL
    without it. Raises `OmeTiffError` when the notebook cannot run or a cell raises.
    """
    out = Path(out_path)
    if out.suffix != ".ipynb":
        raise OmeTiffError(f"a record is a notebook: give a path ending in .ipynb (not {out.name!r})")
    if out.exists() and not overwrite:
        raise OmeTiffError(f"{out} exists already", hint="Choose another name, or pass overwrite (--force).")
    out.parent.mkdir(parents=True, exist_ok=True)
    location, tok = record_location(url, token, out.parent)
    source = Path(notebook) if notebook is not None else template_path(INSPECT_TEMPLATE)
    nb = prepare_record(read_notebook(source), location, needs_token=bool(tok), notebook_name=source.name)
    execute_notebook(nb, cwd=out.parent.resolve(), token=tok, timeout=timeout)
    error = _first_error(nb)
    if error is not None:
        raise OmeTiffError(
            f"the notebook failed for {display_url(location, bool(tok))} in cell {error[0]}: {error[1]}",
            hint="Nothing was saved. Check the URL and token (python -m ometiff_helpers URL shows the problem).",
        )
    facts = parse_facts(facts_output(nb) or "")
    info = nb.metadata[RECORD_KEY]
    info["tool_version"] = __version__
    info["created"] = (now or _dt.datetime.now(_dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    info["fingerprint"] = facts.get("fingerprint", "")
    nb.cells[0]["source"] = _header_source(info, display_url(location, bool(tok)), info["fingerprint"])
    clean_nb = sanitise_for_saving(nb, tok)
    import nbformat

    tmp = out.with_name(out.name + ".part")
    nbformat.write(clean_nb, tmp)
    tmp.replace(out)
    return out
