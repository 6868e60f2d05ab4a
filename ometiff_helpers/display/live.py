"""Notebook sections that follow the app: each describes the file the app inspected last, never an older one.

A `LiveSection` is displayed once (in a cell below the form) and re-rendered by the app after every inspection:
- in a widget frontend (JupyterLab, Voilà) its `ipywidgets.Output` is refilled;
- the cell's saved output is replaced too (``update_display``), so a notebook saved later holds the new file's
  results, or, after a failed inspection, a note saying what failed, not the previous file's results.
Without a widget frontend (nbconvert, nbval, records) the output is the rendered object's own text and HTML.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as w
from IPython.core.formatters import format_display_data
from IPython.display import DisplayHandle, display

from ometiff_helpers.errors import end_sentence

__all__ = ["LiveSection"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class _Note:
    """A short note shown in place of a section's results."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_html_(self) -> str:
        return f"<p style='color:#b71c1c'><i>{html.escape(self.text)}</i></p>"

    def __repr__(self) -> str:
        return self.text


class LiveSection:
    """One notebook section: ``render(report)`` for the file last inspected, or a note when there is none."""

    def __init__(self, render: Callable[[Any], Any], report: Any = None, error: str | None = None) -> None:
        self.render = render
        self.output = w.Output()
        self.output.add_class("ometiff-live")
        self._handle: DisplayHandle | None = None
        self._data: dict[str, Any] = {}
        self._metadata: dict[str, Any] = {}
        self.update(report, error)

    def update(self, report: Any, error: str | None = None) -> None:
        """Render for ``report``; with no report, a note saying why (``error``: the failed inspection's message)."""
        if report is not None:
            shown = self.render(report)
        elif error:
            shown = _Note(f"Nothing to show: the last inspection failed ({end_sentence(error).rstrip('.')}).")
        else:
            shown = _Note("Nothing inspected yet.")
        data, metadata = format_display_data(shown)
        self._data, self._metadata = dict(data), dict(metadata)
        self.output.outputs = (
            {"output_type": "display_data", "data": self._data, "metadata": self._metadata},
        )
        if self._handle is not None:
            self._handle.update(self._bundle(), metadata=self._metadata, raw=True)

    @property
    def text(self) -> str:
        """The plain text of what the section shows now."""
        return str(self._data.get("text/plain", ""))

    @property
    def html(self) -> str:
        """The HTML of what the section shows now (empty when it has none)."""
        return str(self._data.get("text/html", ""))

    def _bundle(self) -> dict[str, Any]:
        data = dict(self._data)
        view = self.output._repr_mimebundle_() or {}
        if WIDGET_VIEW in view:
            data[WIDGET_VIEW] = view[WIDGET_VIEW]
        return data

    def _ipython_display_(self) -> None:
        self._handle = display(self._bundle(), metadata=self._metadata, raw=True, display_id=True)
