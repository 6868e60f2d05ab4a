"""A bounded, filtered, paged HTML view of a table: whatever the row count, one page (200 rows) is rendered.

The page stays small for any file: a page holds at most ``per_page`` rows and every cell is cut to
``CELL_LIMIT`` characters (a polygon's points can run to kilobytes); the total and the filtered count are always said.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as w
import pandas as pd

__all__ = ["CELL_LIMIT", "PER_PAGE", "Pager", "page_frame"]

PER_PAGE = 200
CELL_LIMIT = 240  # characters of one cell shown in a page

Render = Callable[[pd.DataFrame], str]


def _cut(value: object) -> object:
    """A cell's text cut to CELL_LIMIT characters; a missing value shown empty; numbers untouched."""
    if value is None:
        return ""
    if isinstance(value, str) and len(value) > CELL_LIMIT:
        return value[: CELL_LIMIT - 1] + "…"
    return value


def page_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose long text cells are cut (for one page's HTML)."""
    return df.map(_cut) if len(df) else df


def _default_render(index: bool) -> Render:
    def render(df: pd.DataFrame) -> str:
        return page_frame(df).to_html(index=index, border=0, classes="ometiff-table")

    return render


class Pager:
    """A table's page (HTML), its counts, ◀/▶ buttons and a filter box matching any cell (case-insensitive)."""

    def __init__(self, name: str = "rows", *, per_page: int = PER_PAGE) -> None:
        self.name = name
        self.per_page = per_page
        self.frame = pd.DataFrame()
        self.rows: list[int] = []  # positions in frame of the rows matching the filter
        self.page = 0
        self._render: Render = _default_render(False)
        self._empty = "nothing in this file"
        self._texts: list[str] | None = None  # lower-case text of each row, built on the first filter
        self.filter = w.Text(
            placeholder="filter rows", continuous_update=False, layout=w.Layout(width="220px")
        )
        self.filter.add_class("ometiff-filter")
        self.prev = w.Button(description="◀", tooltip="previous page", layout=w.Layout(width="40px"))
        self.next = w.Button(description="▶", tooltip="next page", layout=w.Layout(width="40px"))
        self.info = w.Label("")
        self.info.add_class("ometiff-count")
        self.view = w.HTML("")
        self.view.add_class("ometiff-page")
        self.prev.on_click(lambda _: self.goto(self.page - 1))
        self.next.on_click(lambda _: self.goto(self.page + 1))
        self.filter.observe(lambda _: self._apply_filter(), names="value")
        self.bar = w.HBox([self.filter, self.prev, self.next, self.info])
        self.widget = w.VBox([self.bar, self.view])

    @property
    def pages(self) -> int:
        """How many pages the filtered rows fill (at least one)."""
        return max(1, -(-len(self.rows) // self.per_page))

    def set(
        self, df: pd.DataFrame, *, render: Render | None = None, index: bool = False, empty: str = ""
    ) -> None:
        """Show ``df`` from its first page; ``render`` turns one page of rows into HTML (default: escaped cells)."""
        self.frame = df
        self._render = render or _default_render(index)
        self._empty = empty or "nothing in this file"
        self._texts = None
        self.rows = list(range(len(df)))
        self.filter.value = ""  # (no-op when already empty)
        self.goto(0)

    def clear(self) -> None:
        """Forget the table."""
        self.set(pd.DataFrame())

    def _apply_filter(self) -> None:
        query = self.filter.value.strip().lower()
        if not query:
            self.rows = list(range(len(self.frame)))
        else:
            if self._texts is None:
                self._texts = [
                    " ".join("" if v is None else str(v) for v in row).lower()
                    for row in self.frame.itertuples(index=True, name=None)
                ]
            self.rows = [i for i, text in enumerate(self._texts) if query in text]
        self.goto(0)

    def goto(self, page: int) -> None:
        """Render page ``page`` (clamped) of the filtered rows and say where we are."""
        self.page = min(max(0, page), self.pages - 1)
        total = len(self.frame)
        if not total:
            self.view.value = f"<p><i>{html.escape(self._empty)}</i></p>"
            self.info.value = ""
            return
        start = self.page * self.per_page
        chosen = self.rows[start : start + self.per_page]
        filtered = self.filter.value.strip()
        if not chosen:
            self.view.value = "<p><i>no row matches the filter</i></p>"
        else:
            self.view.value = self._render(self.frame.iloc[chosen])
        name = self.name[:-1] if total == 1 and self.name.endswith("s") else self.name
        matched = f"{len(self.rows):,} of {total:,} {name} match" if filtered else f"{total:,} {name}"
        shown = f"rows {start + 1:,}–{start + len(chosen):,}" if chosen else "no rows"
        self.info.value = f"{matched}; {shown}, page {self.page + 1} of {self.pages}"
        self.prev.disabled = self.page == 0
        self.next.disabled = self.page >= self.pages - 1
