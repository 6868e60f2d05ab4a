"""The explorer's tree rows and result pages: widgets for one page of elements or matches at a time.

`NodeView` is one tree row (a toggle and a label, both fixed in height) and, once expanded, a page of its children's
rows with ◀ ▶ buttons; `ResultPager` shows one page of a search's or an XPath's matches with their total. Rows
never shrink: a fixed height in a scrolled box keeps every label readable however many rows there are, and only
one page of siblings (100) has widgets, so the page stays small whatever the document.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import ipywidgets as w
import pandas as pd

from ometiff_helpers.display.explore.model import page_bounds

if TYPE_CHECKING:
    from ometiff_helpers.display.explore.app import ExploreApp

__all__ = ["ROW_HEIGHT", "STYLE", "NodeView", "ResultPager"]

ROW_HEIGHT = "28px"  # one tree row: fixed, so any number of rows stays readable (a page of them scrolls)
ROW_BUTTON_HEIGHT = "26px"
STYLE = """<style>
.ometiff-tree-label button, .ometiff-tree-label { text-align: left; justify-content: flex-start; }
.ometiff-tree-row, .ometiff-tree-pager { flex-shrink: 0 !important; align-items: center; }
.ometiff-table { border-collapse: collapse; font-size: 12px; margin: 4px 0 10px; }
.ometiff-table th, .ometiff-table td { border: 1px solid #ddd; padding: 3px 8px; text-align: left;
  vertical-align: top; }
.ometiff-table thead th { background: #f3f3f3; text-align: left !important; }
.ometiff-table tbody tr:nth-child(even) { background: #fafafa; }
</style>"""


def _scroll(inner: str, height: str = "480px") -> str:
    return f'<div style="max-height:{height};overflow:auto">{inner}</div>'


class ResultPager:
    """A page of a long result table: ◀ "201-400 of 18,372" ▶ above the rows; the model keeps every row."""

    def __init__(self, on_turn: Callable[[int], None]) -> None:
        self.prev = w.Button(description="◀", layout=w.Layout(width="36px"), disabled=True)
        self.next = w.Button(description="▶", layout=w.Layout(width="36px"), disabled=True)
        self.label = w.Label("")
        self.table = w.HTML("")
        self.page = 0
        self.prev.on_click(lambda _: on_turn(self.page - 1))
        self.next.on_click(lambda _: on_turn(self.page + 1))
        self.widget = w.VBox([w.HBox([self.prev, self.label, self.next]), self.table])

    def show(self, df: pd.DataFrame, page: int) -> int:
        """Draw page ``page`` (clamped) of ``df``; returns the page drawn."""
        total = len(df)
        self.page, start, stop = page_bounds(total, page)
        self.label.value = f"rows {start + 1:,}-{stop:,} of {total:,}" if total else ""
        self.prev.disabled = self.page == 0
        self.next.disabled = stop >= total
        rows = df.iloc[start:stop]
        body = rows.to_html(index=False, border=0, classes="ometiff-table") if total else ""
        self.table.value = _scroll(body, "360px") if total else ""
        return self.page


class NodeView:
    """One tree row (toggle + label) and, once expanded, its children's rows, a page at a time."""

    def __init__(self, app: ExploreApp, node: int) -> None:
        self.app = app
        self.node = node
        self.page = 0
        tree = app.model.tree
        has_children = tree.child_count(node) > 0
        self.toggle = w.Button(
            description="▸" if has_children else "·",
            disabled=not has_children,
            layout=w.Layout(width="32px", height=ROW_BUTTON_HEIGHT, margin="1px 2px"),
        )
        self.button = w.Button(
            description=tree.label(node),
            tooltip=tree.path(node),
            layout=w.Layout(width="auto", max_width="760px", height=ROW_BUTTON_HEIGHT, margin="1px 2px"),
        )
        self.button.style.button_color = "transparent"
        self.button.add_class("ometiff-tree-label")
        self.toggle.on_click(lambda _: self.set_expanded(not self.expanded))
        self.button.on_click(lambda _: app.select(node))
        self._children_box: w.VBox | None = None  # built on first expansion: collapsed rows stay 4 widgets
        self._pager: tuple[w.Button, w.Label, w.Button, w.HBox] | None = None
        # fixed height, never shrunk: in the tree's scrolled box a flex column would squash 100 rows into 600 px
        self.row = w.HBox([self.toggle, self.button], layout=w.Layout(height=ROW_HEIGHT, flex="0 0 auto"))
        self.row.add_class("ometiff-tree-row")
        self.widget = w.VBox([self.row], layout=w.Layout(flex="0 0 auto", overflow="visible"))
        self.expanded = False
        self.child_views: list[NodeView] = []

    @property
    def children_box(self) -> w.VBox:
        if self._children_box is None:
            self._children_box = w.VBox(
                layout=w.Layout(margin="0 0 0 22px", flex="0 0 auto", overflow="visible")
            )
        return self._children_box

    @property
    def pager_prev(self) -> w.Button:
        return self._pager_widgets()[0]

    @property
    def pager_label(self) -> w.Label:
        return self._pager_widgets()[1]

    @property
    def pager_next(self) -> w.Button:
        return self._pager_widgets()[2]

    def _pager_widgets(self) -> tuple[w.Button, w.Label, w.Button, w.HBox]:
        if self._pager is None:
            size = {"height": ROW_BUTTON_HEIGHT, "margin": "1px 2px"}
            prev = w.Button(description="◀", layout=w.Layout(width="36px", **size))
            label = w.Label("")
            nxt = w.Button(description="▶", layout=w.Layout(width="36px", **size))
            prev.on_click(lambda _: self.show_page(self.page - 1))
            nxt.on_click(lambda _: self.show_page(self.page + 1))
            box = w.HBox([prev, label, nxt], layout=w.Layout(height=ROW_HEIGHT, flex="0 0 auto"))
            box.add_class("ometiff-tree-pager")
            self._pager = (prev, label, nxt, box)
        return self._pager

    def set_expanded(self, expanded: bool) -> None:
        self.expanded = expanded
        if self.toggle.disabled:
            return
        self.toggle.description = "▾" if expanded else "▸"
        if expanded:
            self.show_page(self.page)
            self.widget.children = [self.row, self.children_box]
        else:
            self.widget.children = [self.row]
            self.children_box.children = []
            self.child_views = []

    def show_page(self, number: int) -> None:
        tree = self.app.model.tree
        pg = tree.page(self.node, number, self.app.per_page)
        self.page = pg.number
        self.child_views = [NodeView(self.app, c) for c in pg.items]
        self.app.views.update({v.node: v for v in self.child_views})
        rows: list[w.Widget] = [v.widget for v in self.child_views]
        if pg.total > pg.per_page:
            self.pager_label.value = f"{tree.tag(self.node)} children {pg.describe()}"
            self.pager_prev.disabled = pg.number == 0
            self.pager_next.disabled = pg.number >= pg.page_count - 1
            rows = [self._pager_widgets()[3], *rows]
        self.children_box.children = rows

    def labels(self) -> list[str]:
        return [v.button.description for v in self.child_views]
