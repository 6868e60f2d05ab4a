"""The verdict banner: what the viewer will make of the file, in one coloured box, one line per problem with its remedy.

It is the first thing shown after an inspection (above the tabs and at the top of the notebook's results), so a
support person reads the answer without opening a tab or scrolling inside one.
"""

from __future__ import annotations

import html
from typing import Any

from ometiff_helpers.findings import Finding, Severity
from ometiff_helpers.frozen import record

__all__ = ["BANNER_LINES", "Verdict", "failure_html", "verdict", "verdict_html", "verdict_text"]

BANNER_LINES = 12  # problems listed in the banner; the rest are counted and are in the Findings table

_COLOURS = {  # (border/title, background)
    "error": ("#b71c1c", "#fdecea"),
    "warning": ("#e65100", "#fff4e5"),
    "ok": ("#1b5e20", "#edf7ed"),
}


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def verdict_text(report: Any) -> str:
    """The banner's headline: a sentence saying whether the viewer renders the file."""
    errors = sum(f.severity is Severity.ERROR for f in report.findings)
    warnings = sum(f.severity is Severity.WARNING for f in report.findings)
    if errors:
        extra = f" and {_plural(warnings, 'warning')}" if warnings else ""
        return f"The viewer will not render this file: {_plural(errors, 'error')}{extra}."
    if warnings:
        return f"The viewer renders this file, with {_plural(warnings, 'warning')}."
    return "No problems found: the viewer should render this file."


def _line(f: Finding) -> str:
    where = f" ({html.escape(f.where)})" if f.where else ""
    remedy = f"<br><span style='margin-left:1.5em'>→ {html.escape(f.remedy)}</span>" if f.remedy else ""
    return (
        f"<li style='margin:3px 0'><b>{html.escape(f.severity.value)} {html.escape(f.code)}</b>{where}: "
        f"{html.escape(f.message)}{remedy}</li>"
    )


def _box(kind: str, title: str, body: str) -> str:
    border, background = _COLOURS[kind]
    return (
        f"<div class='ometiff-verdict ometiff-verdict-{kind}' style='border-left:6px solid {border};"
        f"background:{background};padding:8px 12px;margin:6px 0;font-size:13px;line-height:1.4'>"
        f"<div style='color:{border};font-weight:bold;font-size:15px'>{html.escape(title)}</div>{body}</div>"
    )


def verdict_html(report: Any, *, limit: int = BANNER_LINES) -> str:
    """The banner: headline, then the errors and warnings (worst first, at most ``limit``) with their remedies."""
    ordered = sorted(
        (f for f in report.findings if f.severity is not Severity.INFO),
        key=lambda f: (f.severity.rank, f.code),
    )
    kind = "error" if report.errors else ("warning" if ordered else "ok")
    items = "".join(_line(f) for f in ordered[:limit])
    more = len(ordered) - limit
    tail = f"<li>… and {more:,} more in the Findings table of the Summary tab.</li>" if more > 0 else ""
    notices = sum(f.severity is Severity.INFO for f in report.findings)
    note = f"<div>{_plural(notices, 'notice')} in the Findings table.</div>" if notices else ""
    body = (f"<ul style='margin:4px 0;padding-left:1.2em'>{items}{tail}</ul>" if items else "") + note
    return _box(kind, verdict_text(report), body)


def failure_html(message: str, location: str) -> str:
    """A banner for an inspection that failed: the (redacted) error and which location it was."""
    sentence = message[:1].upper() + message[1:]  # the banner starts a sentence
    body = (
        f"<div>{html.escape(sentence)}</div><div style='color:#555'>Location: {html.escape(location)}</div>"
    )
    return _box("error", "This file could not be read.", body)


@record
class Verdict:
    """The banner as a notebook output: its HTML, and the same lines as plain text."""

    html: str
    text: str

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text


def verdict(report: Any, *, limit: int = BANNER_LINES) -> Verdict:
    """The banner of ``report`` (`verdict_html`) with a plain-text twin: headline, then one line per problem."""
    ordered = sorted(
        (f for f in report.findings if f.severity is not Severity.INFO),
        key=lambda f: (f.severity.rank, f.code),
    )
    lines = [verdict_text(report)]
    for f in ordered[:limit]:
        where = f" ({f.where})" if f.where else ""
        lines.append(
            f"- {f.severity.value} {f.code}{where}: {f.message}" + (f" -> {f.remedy}" if f.remedy else "")
        )
    if len(ordered) > limit:
        lines.append(f"- ... and {len(ordered) - limit:,} more in the Findings table.")
    return Verdict(verdict_html(report, limit=limit), "\n".join(lines))
