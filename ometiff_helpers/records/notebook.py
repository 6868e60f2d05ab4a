"""Notebooks for records and for tools/build_notebooks.py: the packaged template, reading, parameterising,
executing (one executor, in a minimal environment) and sanitising (one parser for nbval's sanitiser file).

nbformat, nbclient, jupytext and nbval (the ``notebooks`` extra) are imported inside the functions that need them, so
that the package imports without them.
"""

from __future__ import annotations

import copy
import os
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from ometiff_helpers.errors import OmeTiffError
from ometiff_helpers.urls import redact_text

__all__ = [
    "FACTS_TAG",
    "HEADER_TAG",
    "INJECTED_TAG",
    "PARAMETERS_TAG",
    "RECORD_KEY",
    "SANITIZE_CFG",
    "TEMPLATES",
    "execute_notebook",
    "kernel_env",
    "load_sanitize_patterns",
    "prepare_record",
    "read_notebook",
    "sanitize_text",
    "template_path",
]

#: notebook metadata key holding the record's description (URL without secret, tool version, creation date, ...)
RECORD_KEY = "ometiff_record"
RECORD_FORMAT = 2
PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
FACTS_TAG = "record-facts"
HEADER_TAG = "record-header"

#: the trusted notebook templates shipped in the package (copies of notebooks/*.py made by tools/build_notebooks.py)
TEMPLATES = Path(__file__).resolve().with_name("templates")
INSPECT_TEMPLATE = "inspect_remote_ometiff.py"
#: the sanitiser file nbval is run with (``--nbval-sanitize-with``), shipped beside the templates
SANITIZE_CFG = TEMPLATES / "sanitize.cfg"
KERNEL_NAME = "python3"

# What the kernel may see of the caller's environment: what Python, Jupyter and an HTTPS client need, nothing else
# (no cloud credentials, no other secrets). OMETIFF_TOKEN is added by the caller that holds the token.
_KERNEL_ENV_KEYS = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TERM", "TZ", "TMPDIR", "TEMP", "TMP",
        "PYTHONPATH", "VIRTUAL_ENV", "CONDA_PREFIX",
        "JUPYTER_PATH", "JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_PLATFORM_DIRS",
        "IPYTHONDIR", "MPLCONFIGDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy", "all_proxy",
        "SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "COMSPEC", "PATHEXT", "APPDATA", "LOCALAPPDATA", "PROGRAMDATA",
        "USERPROFILE",
    }
)  # fmt: skip

_ASSIGN_RE = re.compile(r"^([A-Za-z_]\w*)\s*(?::[^=]*)?=", re.MULTILINE)
_REPORT_RE = re.compile(r"^report\s*(?::[^=]*)?=[^=]", re.MULTILINE)


# --- templates and reading -------------------------------------------------------------------------------------------


def template_path(name: str = INSPECT_TEMPLATE) -> Path:
    """The packaged template called ``name`` (``inspect_remote_ometiff``, with or without ``.py``/``.ipynb``)."""
    stem = Path(name).name.removesuffix(".ipynb").removesuffix(".py")
    path = TEMPLATES / f"{stem}.py"
    if not path.is_file():
        raise OmeTiffError(
            f"ometiff-inspect ships no notebook template called {stem!r}",
            hint="A record made from another notebook is rechecked with that notebook: pass it (--notebook).",
        )
    return path


def read_notebook(path: str | Path) -> Any:
    """The notebook at ``path`` (``.ipynb``, or a jupytext percent-format ``.py``), every cell with an id."""
    import nbformat

    path = Path(path)
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
    for index, cell in enumerate(nb.cells):  # ids are required by nbformat >= 5.1: give old notebooks some
        if "id" not in cell:
            cell["id"] = f"cell-{index:03d}"
    return nb


def tags(cell: Mapping[str, Any]) -> list[str]:
    """The cell's tags (none when its metadata holds something else)."""
    found = cell.get("metadata", {}).get("tags", [])
    return [str(t) for t in found] if isinstance(found, list) else []


def nbval_options(cell: Mapping[str, Any]) -> dict[str, bool]:
    """nbval's options for a cell from its comment markers and tags (``check``, ``skip``, ``check_exception``)."""
    from nbval.plugin import find_comment_markers, find_metadata_tags

    options = dict(find_comment_markers(str(cell.get("source", ""))))
    options.update(find_metadata_tags({"tags": tags(cell)}))
    return options


# --- parameters --------------------------------------------------------------------------------------------------------


def parameter_names(template: Any) -> tuple[str, tuple[str, ...]]:
    """The URL parameter's name in the template's ``parameters`` cell (``URL``, ``OMETIFF_URL``, ...) and the names
    of its token parameters (set to "" in a record: the token comes from ``OMETIFF_TOKEN``)."""
    names: list[str] = []
    for cell in template.cells:
        if cell.get("cell_type") == "code" and PARAMETERS_TAG in tags(cell):
            names = _ASSIGN_RE.findall(str(cell.get("source", "")))
            break
    url_name = next((n for n in names if "URL" in n.upper()), "OMETIFF_URL")
    return url_name, tuple(n for n in names if "TOKEN" in n.upper())


def parameters_source(location: str, url_name: str = "OMETIFF_URL", token_names: Sequence[str] = ()) -> str:
    """The injected parameters cell: the location as a Python string literal, the token parameters empty."""
    lines = [
        "# Injected by `python -m ometiff_helpers record`: the file this record is about. Its token is not",
        "# stored here: it is read at run time from the OMETIFF_TOKEN environment variable.",
        f"{url_name} = {location!r}",
    ]
    lines += [f'{name} = ""' for name in token_names]
    return "\n".join(lines)


def facts_source(url_name: str, *, from_report: bool) -> str:
    """The record facts cell: from the notebook's own ``report`` when it has one, else read for itself."""
    head = "# Record facts: the file's one-line fingerprint and the facts a change shows in (`recheck` compares them).\n"
    if from_report:
        return (
            head + "from ometiff_helpers.records.facts import RecordFacts\n\nRecordFacts.from_report(report)"
        )
    return head + f"from ometiff_helpers.records.facts import record_facts\n\nrecord_facts({url_name})"


def prepare_record(template: Any, location: str, *, needs_token: bool, notebook_name: str) -> Any:
    """A copy of ``template`` (an nbformat notebook) ready to execute as a record of ``location``.

    A header cell comes first; the location is injected after the ``parameters`` cell; the facts cell follows the
    cell that makes ``report`` (so that the facts come from the report the tables show), else the injected cell.
    """
    import nbformat

    nb = copy.deepcopy(template)
    cells = [c for c in nb.cells if not {INJECTED_TAG, FACTS_TAG, HEADER_TAG} & set(tags(c))]
    for cell in cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    url_name, token_names = parameter_names(template)
    injected = nbformat.v4.new_code_cell(
        parameters_source(location, url_name, token_names), metadata={"tags": [INJECTED_TAG]}
    )
    at = next((i + 1 for i, c in enumerate(cells) if PARAMETERS_TAG in tags(c)), 0)
    cells.insert(at, injected)
    maker = next(
        (
            i + 1
            for i, c in enumerate(cells)
            if c.get("cell_type") == "code" and _REPORT_RE.search(str(c.get("source", "")))
        ),
        None,
    )
    facts = nbformat.v4.new_code_cell(
        facts_source(url_name, from_report=maker is not None), metadata={"tags": [FACTS_TAG]}
    )
    cells.insert(maker if maker is not None else at + 1, facts)
    header = nbformat.v4.new_markdown_cell("", metadata={"tags": [HEADER_TAG]})
    nb.cells = [header, *cells]
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index:03d}"
    nb.metadata.pop("widgets", None)
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": KERNEL_NAME,
    }
    nb.metadata[RECORD_KEY] = {
        "format": RECORD_FORMAT,
        "url": location,
        "needs_token": needs_token,
        "notebook": notebook_name,
    }
    return nb


# --- executing -----------------------------------------------------------------------------------------------------


def kernel_env(token: str | None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The kernel's environment: what Python, Jupyter and HTTPS need from ``environ`` (default ``os.environ``),
    plus ``OMETIFF_TOKEN`` when a token is given. No other variable (cloud credentials, other secrets) goes in."""
    env = os.environ if environ is None else environ
    out = {k: v for k, v in env.items() if k in _KERNEL_ENV_KEYS or k.startswith("LC_")}
    out["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # quiets a debugger warning on the kernel's stderr
    if token:
        out["OMETIFF_TOKEN"] = token
    return out


def _kernel_manager_class() -> type:
    """A kernel manager whose python3 kernel is this very interpreter (not a kernelspec found elsewhere)."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import KernelManager
    from traitlets import default

    spec = KernelSpec(
        argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        display_name="Python 3 (ipykernel)",
        language="python",
    )

    class _ThisPython(KernelSpecManager):  # type: ignore[misc]
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            """This interpreter's kernel, whatever the name."""
            return spec

    class _ThisPythonKernelManager(KernelManager):  # type: ignore[misc]
        @default("kernel_spec_manager")
        def _this_python(self) -> KernelSpecManager:
            """The kernelspec manager that knows only this interpreter."""
            return _ThisPython()

    return _ThisPythonKernelManager


def execute_notebook(
    nb: Any, *, cwd: Path, token: str | None = None, timeout: int = 600, allow_errors: bool = True
) -> Any:
    """Execute ``nb`` in place in a fresh kernel of this interpreter, with `kernel_env` (the token only there).

    Cells nbval skips (``NBVAL_SKIP``) are skipped. With ``allow_errors``, a cell that raises keeps its error as an
    output; without, the first one raises `OmeTiffError`. A kernel that dies or a cell that runs past ``timeout``
    seconds raises `OmeTiffError`.
    """
    from nbclient import NotebookClient

    work = copy.deepcopy(nb)
    for cell in work.cells:
        if cell.get("cell_type") == "code" and nbval_options(cell).get("skip"):
            cell.setdefault("metadata", {}).setdefault("tags", [])
            if "nbval-skip" not in cell["metadata"]["tags"]:
                cell["metadata"]["tags"].append("nbval-skip")
    client = NotebookClient(
        work,
        kernel_manager_class=_kernel_manager_class(),
        timeout=timeout,
        startup_timeout=120,
        kernel_name=KERNEL_NAME,
        allow_errors=allow_errors,
        record_timing=False,
        store_widget_state=False,
        skip_cells_with_tag="nbval-skip",
        resources={"metadata": {"path": str(cwd)}},
    )
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
    if "language_info" in work.metadata:
        nb.metadata["language_info"] = work.metadata["language_info"]
    for cell, done in zip(nb.cells, work.cells, strict=True):
        if cell.get("cell_type") == "code":
            cell["outputs"] = done.get("outputs", [])
            cell["execution_count"] = done.get("execution_count")
    return nb


def _run_client(client: Any, token: str | None, stderr: Any, timeout: int) -> None:
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    try:
        client.execute(env=kernel_env(token), stderr=stderr)
    except CellTimeoutError:
        raise OmeTiffError(
            f"a cell ran longer than {timeout} s while executing the notebook",
            hint="Is the server slow? Try again, or raise --timeout.",
        ) from None
    except DeadKernelError:
        raise OmeTiffError("the notebook's kernel died while executing the notebook") from None
    except CellExecutionError as exc:
        raise OmeTiffError(f"a cell of the notebook raised: {redact_text(str(exc))[-800:]}") from None
    except RuntimeError as exc:  # kernel failed to start
        raise OmeTiffError(f"could not start the notebook's kernel: {redact_text(str(exc))[:300]}") from None


# --- sanitising ----------------------------------------------------------------------------------------------------


def load_sanitize_patterns(path: str | Path | None = None) -> list[tuple[str, str]]:
    """The ``regex:``/``replace:`` pairs of an nbval sanitiser file, read by nbval's own parser, checked to compile.

    Default: `SANITIZE_CFG`, the copy of notebooks/sanitize.cfg shipped in the package.
    """
    from nbval.plugin import get_sanitize_patterns

    cfg = Path(path) if path is not None else SANITIZE_CFG
    if not cfg.is_file():
        raise OmeTiffError(f"no sanitiser file at {cfg}")
    pairs: list[tuple[str, str]] = get_sanitize_patterns(cfg.read_text(encoding="utf-8"))
    for regex, _ in pairs:
        try:
            re.compile(regex)
        except re.error as exc:
            raise OmeTiffError(
                f"{cfg}: the pattern {regex!r} is not a valid regular expression ({exc})"
            ) from None
    return pairs


def sanitize_text(text: str, patterns: Sequence[tuple[str, str]]) -> str:
    """``text`` with every sanitiser pattern replaced, in file order (as nbval does)."""
    for regex, replace in patterns:
        text = re.sub(regex, replace, text)
    return text


def scrub(value: Any, secrets: Sequence[str]) -> Any:
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
        return [scrub(v, secrets) for v in value]
    if isinstance(value, dict):
        return type(value)((k, scrub(v, secrets)) for k, v in value.items())
    return value


def secret_forms(token: str | None) -> list[str]:
    """The token as given and as sent (`SecretURL` strips a pasted token's surrounding spaces), each raw and
    URL-quoted; longest first, so that a longer form is replaced before a shorter one it contains."""
    if not token:
        return []
    forms: set[str] = set()
    for form in {token, token.strip()}:
        forms |= {form, quote(form, safe=""), quote_plus(form, safe=""), quote(form, safe="-._~")}
    return sorted((f for f in forms if f.strip()), key=len, reverse=True)


def sanitise_for_saving(nb: Any, token: str | None) -> Any:
    """The notebook without widget state or timings, every string scrubbed of the token; verified on the bytes."""
    import nbformat

    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
    clean = nbformat.from_dict(scrub(nb, secret_forms(token)))
    data = nbformat.writes(clean)
    for form in secret_forms(token):
        if (
            form in data
        ):  # pragma: no cover - scrub removed every string occurrence; this guards the invariant
            raise OmeTiffError("refusing to save: the token would be written into the record")
    return clean
