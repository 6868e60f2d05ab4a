"""Condense an audit table (plain rows): files by outcome, finding codes, slowest files, the inspect command."""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ometiff_helpers.urls import REDACTED, is_secret_key

__all__ = ["OUTCOMES", "code_counts", "inspect_command", "outcome", "outcome_counts", "without_secrets"]

#: the outcomes of a file, worst first
OUTCOMES: tuple[str, ...] = (
    "could not read",
    "will not render",
    "renders with warnings",
    "no problems found",
)


def outcome(row: Mapping[str, Any]) -> str:
    """One of `OUTCOMES` for an audit row."""
    if not row.get("ok"):
        return OUTCOMES[0]
    if row.get("n_errors"):
        return OUTCOMES[1]
    if row.get("n_warnings"):
        return OUTCOMES[2]
    return OUTCOMES[3]


def outcome_counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Files per outcome, every outcome present (0 when none), worst first."""
    counts = Counter(outcome(r) for r in rows)
    return {name: counts[name] for name in OUTCOMES}


def code_counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Files per finding code (a code counts once per file), most frequent first, then by name."""
    counts: Counter[str] = Counter()
    for row in rows:
        codes = row.get("codes") or ""
        counts.update(c for c in str(codes).split(";") if c)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def without_secrets(url: str) -> str:
    """``url`` without its secret query parameters (``token=***`` and the like dropped): safe to share."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.query:
        return url
    kept = [
        piece
        for piece in parts.query.split("&")
        if not is_secret_key(piece.partition("=")[0]) and piece.partition("=")[2] != REDACTED
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(kept), parts.fragment))


def inspect_command(url: str, notebook: str = "notebooks/inspect_remote_ometiff.ipynb") -> str:
    """The shell command that opens the inspect notebook on ``url``; the token comes from ``$OMETIFF_TOKEN``."""
    return (
        f'OMETIFF_URL={shlex.quote(without_secrets(url))} OMETIFF_TOKEN="$OMETIFF_TOKEN" '
        f"jupyter lab {shlex.quote(notebook)}"
    )
