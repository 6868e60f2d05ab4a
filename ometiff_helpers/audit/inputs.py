"""The list of files to audit: a text file (one URL or path per line) or a CSV with a ``url`` column.

Extra CSV columns (a dataset id, an owner) are carried into the output; a ``token`` column gives each URL its token
(else ``OMETIFF_TOKEN``) and is never carried anywhere. Each file is audited once: a URL listed twice (after
redaction: the same file with two tokens) keeps its first line.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import field
from pathlib import Path
from urllib.parse import urlsplit

from ometiff_helpers.audit.rows import COLUMNS, display_url
from ometiff_helpers.errors import OmeTiffError
from ometiff_helpers.frozen import record

__all__ = ["AuditItem", "items_from_lines", "read_list"]

_MAX_LIST_BYTES = 512 * 1024 * 1024
TOKEN_COLUMN = "token"  # noqa: S105 (a column name)
URL_COLUMN = "url"


@record
class AuditItem:
    """One file to audit. ``key`` is the redacted URL (or the path): what the output's ``url`` column holds."""

    key: str
    url: str = field(repr=False)
    token: str | None = field(default=None, repr=False)
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def host(self) -> str:
        """The origin whose connections this file uses ("scheme://host:port"), or "local" for a path."""
        if not self.url.lower().startswith(("http://", "https://")):
            return "local"
        parts = urlsplit(self.url)
        try:
            port = parts.port
        except ValueError:
            port = None
        return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port or ''}"


def _item(url: str, token: str | None, extra: tuple[tuple[str, str], ...]) -> AuditItem:
    token = (token or "").strip() or None
    return AuditItem(key=display_url(url, token), url=url.strip(), token=token, extra=extra)


def items_from_lines(lines: Iterable[str], *, token: str | None = None) -> list[AuditItem]:
    """Items from URLs or paths, one per line (blank lines and ``#`` comments skipped), duplicates dropped."""
    items = [_item(line, token, ()) for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return _unique(items)


def _unique(items: Sequence[AuditItem]) -> list[AuditItem]:
    seen: set[str] = set()
    out = []
    for item in items:
        if item.key not in seen:
            seen.add(item.key)
            out.append(item)
    return out


def _looks_like_csv(path: Path, first: str) -> bool:
    if path.suffix.lower() in (".csv", ".tsv"):
        return True
    try:
        header = next(csv.reader([first]))
    except (csv.Error, StopIteration):
        return False
    return len(header) > 1 and URL_COLUMN in (h.strip().lower() for h in header)


def read_list(path: str | Path, *, token: str | None = None) -> list[AuditItem]:
    """Read LIST (text or CSV). ``token`` (default ``OMETIFF_TOKEN``) applies to rows without their own."""
    path = Path(path)
    if token is None:
        token = os.environ.get("OMETIFF_TOKEN") or None
    try:
        size = path.stat().st_size
        if size > _MAX_LIST_BYTES:
            raise OmeTiffError(
                f"the list {path} has {size:,} bytes, more than {_MAX_LIST_BYTES:,}: split it into several runs"
            )
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise OmeTiffError(
            f"no list of URLs at {path}: give a text file (one URL per line) or a CSV"
        ) from None
    except UnicodeDecodeError:
        raise OmeTiffError(f"the list {path} is not UTF-8 text: give one URL per line, or a CSV") from None
    except OSError as exc:
        raise OmeTiffError(f"cannot read the list {path}: {exc.strerror}") from None
    first = next((line for line in text.splitlines() if line.strip()), "")
    if not _looks_like_csv(path, first):
        return items_from_lines(text.splitlines(), token=token)
    return _read_csv(path, text, token)


def _read_csv(path: Path, text: str, token: str | None) -> list[AuditItem]:
    dialect: type[csv.Dialect] = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return []
    lower = [h.lower() for h in header]
    if URL_COLUMN not in lower:
        raise OmeTiffError(f"the CSV {path} has no 'url' column (its columns: {', '.join(header)[:200]})")
    url_at = lower.index(URL_COLUMN)
    token_at = lower.index(TOKEN_COLUMN) if TOKEN_COLUMN in lower else None
    carried = [(i, _carried_name(h)) for i, h in enumerate(header) if i not in (url_at, token_at)]
    items = []
    try:
        for values in reader:
            if not values or url_at >= len(values) or not values[url_at].strip():
                continue
            row_token = values[token_at] if token_at is not None and token_at < len(values) else None
            extra = tuple((name, values[i] if i < len(values) else "") for i, name in carried)
            items.append(_item(values[url_at], row_token or token, extra))
    except csv.Error as exc:
        raise OmeTiffError(f"the CSV {path} is malformed at line {reader.line_num}: {exc}") from None
    return _unique(items)


def _carried_name(name: str) -> str:
    """A carried-over column keeps its name, unless an audit column has it ('size' -> 'list_size')."""
    return f"list_{name}" if name in COLUMNS else name
