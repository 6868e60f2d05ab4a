"""The curator explorer's widgets: a load form and tabs (Tree, Search & XPath, Annotations, ROIs, Validation,
Export) wired to an `ExploreModel`.

Widgets only. What the explorer knows and computes lives in ``model.py`` (and ``annotations.py``, ``xmltree.py``);
here the form's fields are linked to the model's traits (``traitlets.link``), buttons call the model's actions, and
observers draw what changed, as in the ipywidgets tutorial's password generator. The tree (``views.NodeView``)
builds widgets for one page of siblings at a time (100 by default) and for a node's children only when it is
expanded, so 20 000 ROIs under ``OME`` cost 100 rows of fixed height; search and XPath results
(``views.ResultPager``) show a page of 200 rows with the total and ◀ ▶ buttons. Load shows the XML arriving (bytes,
rate, time left: ``progressbar.ByteProgress``) with its button disabled.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd
import traitlets as tr

from ometiff_helpers.display import plots
from ometiff_helpers.display.explore.model import (
    PAGE_ROWS,
    PER_PAGE,
    Explored,
    ExploreModel,
    annotation_sections,
    annotations_table,
    node_table,
    roi_figure,
    shape_planes,
)
from ometiff_helpers.display.explore.views import STYLE, NodeView, ResultPager
from ometiff_helpers.display.explore.xmltree import SearchResult, XPathMatch
from ometiff_helpers.display.progressbar import ByteProgress
from ometiff_helpers.errors import OmeTiffError
from ometiff_helpers.fmt import human_bytes
from ometiff_helpers.target import resolve_target
from ometiff_helpers.urls import SecretURL, redact_text

__all__ = ["ExploreApp", "resolve_target"]

_RED = "#c62828"


def _frame_html(df: pd.DataFrame, *, index: bool = False, limit: int = PAGE_ROWS) -> str:
    """The first ``limit`` rows as an HTML table, with a note when there are more."""
    if df.empty:
        return "<p><i>nothing to show</i></p>"
    note = f"<p><i>first {limit:,} of {len(df):,} rows (export for all)</i></p>" if len(df) > limit else ""
    return note + df.head(limit).to_html(index=index, border=0, classes="ometiff-table")


def _scroll(inner: str, height: str = "480px") -> str:
    return f'<div style="max-height:{height};overflow:auto">{inner}</div>'


def _error_html(text: str) -> str:
    return f'<span style="color:{_RED}">{html.escape(redact_text(text))}</span>'


class ExploreApp:
    """Load form, then tabs: Tree, Search & XPath, Annotations, ROIs, Validation, Export, over an `ExploreModel`.

    ``app.load(location)`` loads programmatically (the notebook does so on start). The Annotations, ROIs and
    Validation tabs are built when first opened, so a large file shows its tree first.
    """

    TABS = ("Tree", "Search & XPath", "Annotations", "ROIs", "Validation", "Export")

    def __init__(
        self,
        *,
        per_page: int = PER_PAGE,
        inspect: Callable[..., Any] | None = None,
        model: ExploreModel | None = None,
    ) -> None:
        self.per_page = per_page
        self.model = model or ExploreModel(inspect=inspect)
        self.views: dict[int, NodeView] = {}
        self.root_view: NodeView | None = None
        self._built: set[str] = set()
        self._build_form()
        self._build_tree()
        self._build_search()
        self._build_rois()
        self._build_rest()
        self._link()

    # --- widgets -------------------------------------------------------------------------------------------------------

    def _build_form(self) -> None:
        self.url = w.Text(
            placeholder="URL (token included), local OME-TIFF path, or .ome.xml file",
            description="Source",
            layout=w.Layout(width="min(100%, 900px)"),
        )
        self.token = w.Password(
            placeholder="optional token", description="Token", layout=w.Layout(width="400px")
        )
        self.url.add_class("ometiff-explore-source")
        self.load_button = w.Button(description="Load", button_style="primary", icon="folder-open")
        self.load_button.add_class("ometiff-explore-load")
        self.load_button.on_click(lambda _: self.load_form())
        self.progress = ByteProgress()
        self.status = w.HTML("")
        self.status.add_class("ometiff-explore-status")

    def _build_tree(self) -> None:
        self.tree_box = w.VBox(layout=w.Layout(width="55%", max_height="600px", overflow="auto"))
        self.tree_box.add_class("ometiff-tree")
        self.detail = w.HTML("")
        self.goto = w.Text(placeholder="/OME/ROI[17] (any XPath: the first match)", description="Go to")
        self.goto_button = w.Button(description="Show", layout=w.Layout(width="70px"))
        self.goto_button.on_click(lambda _: self._goto())
        self.tree_pane = w.VBox(
            [
                w.HBox([self.goto, self.goto_button]),
                w.HBox([self.tree_box, w.VBox([self.detail], layout=w.Layout(width="45%"))]),
            ]
        )

    def _build_search(self) -> None:
        def box(text: str, width: str) -> w.Checkbox:
            return w.Checkbox(description=text, indent=False, layout=w.Layout(width=width))

        self.query = w.Text(placeholder="text to find", description="Search")
        self.in_tags, self.in_names = box("tags", "70px"), box("attribute names", "140px")
        self.in_values, self.in_text = box("values", "80px"), box("text", "70px")
        self.case = box("match case", "110px")
        self.search_button = w.Button(description="Search", icon="search")
        self.search_button.add_class("ometiff-explore-search")
        self.search_button.on_click(lambda _: self.run_search())
        self.search_info = w.HTML("")
        self.search_info.add_class("ometiff-search-info")
        self.search_pager = ResultPager(lambda page: setattr(self.model, "search_page", page))
        self.search_results = self.search_pager.table
        self.xpath = w.Text(
            placeholder="//ROI[@ID='ROI:1']/Union/*  (no namespace prefixes needed)",
            description="XPath",
            layout=w.Layout(width="600px"),
        )
        self.xpath_button = w.Button(description="Run", icon="play")
        self.xpath_button.add_class("ometiff-explore-xpath")
        self.xpath_button.on_click(lambda _: self.run_xpath())
        self.xpath_info = w.HTML("")
        self.xpath_info.add_class("ometiff-xpath-info")
        self.xpath_pager = ResultPager(lambda page: setattr(self.model, "xpath_page", page))
        self.xpath_results = self.xpath_pager.table
        self.search_pane = w.VBox(
            [
                w.HBox([self.query, self.search_button]),
                w.HBox([self.in_tags, self.in_names, self.in_values, self.in_text, self.case]),
                self.search_info,
                self.search_pager.widget,
                w.HTML("<hr>"),
                w.HBox([self.xpath, self.xpath_button]),
                self.xpath_info,
                self.xpath_pager.widget,
            ]
        )

    def _build_rois(self) -> None:
        def plane(name: str) -> w.Dropdown:
            return w.Dropdown(description=name, options=[("all", None)], layout=w.Layout(width="160px"))

        self.roi_z, self.roi_c, self.roi_t = plane("Z"), plane("C"), plane("T")
        self.roi_id = w.Text(
            placeholder="ROI ID (empty: all)", description="ROI", layout=w.Layout(width="260px")
        )
        self.roi_button = w.Button(description="Draw", icon="pencil")
        self.roi_button.on_click(lambda _: self.draw_rois())
        self.roi_info = w.HTML("")
        self.roi_image = w.Image(format="png", layout=w.Layout(max_width="720px"))
        self.roi_tables = w.HTML("")
        self.roi_pane = w.VBox(
            [
                w.HBox([self.roi_z, self.roi_c, self.roi_t, self.roi_id, self.roi_button]),
                self.roi_info,
                self.roi_image,
                self.roi_tables,
            ]
        )

    def _build_rest(self) -> None:
        self.annotations_view = w.HTML("")
        self.validate_button = w.Button(
            description="Validate against the schema", layout=w.Layout(width="240px")
        )
        self.validate_button.on_click(lambda _: self.run_validation())
        self.validation_view = w.HTML("")
        self.export_folder = w.Text(value="exports", description="Folder")
        self.export_folder.add_class("ometiff-explore-folder")
        self.export_button = w.Button(description="Export CSV + XML", icon="download")
        self.export_button.add_class("ometiff-explore-export")
        self.export_button.on_click(lambda _: self.run_export())
        self.export_view = w.HTML("")
        self.export_view.add_class("ometiff-export-info")
        panes = [
            self.tree_pane,
            self.search_pane,
            w.VBox([self.annotations_view]),
            self.roi_pane,
            w.VBox([self.validate_button, self.validation_view]),
            w.VBox([w.HBox([self.export_folder, self.export_button]), self.export_view]),
        ]
        self.tabs = w.Tab(children=panes, titles=list(self.TABS))
        self.tabs.add_class("ometiff-explore-tabs")
        self.tabs.observe(lambda change: self._on_tab(change["new"]), names="selected_index")
        self.widget = w.VBox(
            [
                w.HTML(
                    STYLE + "<b>Explore an OME-XML</b> (from an OME-TIFF URL or path, or an .ome.xml file)"
                ),
                self.url,
                w.HBox([self.token, self.load_button]),
                self.progress.widget,
                self.status,
                self.tabs,
            ]
        )

    def _link(self) -> None:
        """Form fields <-> model traits; model results -> the views that draw them."""
        for widget, name in (
            (self.query, "query"),
            (self.in_tags, "in_tags"),
            (self.in_names, "in_names"),
            (self.in_values, "in_values"),
            (self.in_text, "in_text"),
            (self.case, "case_sensitive"),
            (self.xpath, "xpath"),
            (self.roi_z, "roi_z"),
            (self.roi_c, "roi_c"),
            (self.roi_t, "roi_t"),
            (self.roi_id, "roi_id"),
        ):
            tr.link((self.model, name), (widget, "value"))
        self.model.observe(lambda _: self._draw_search(), names=["search", "search_page"])
        self.model.observe(lambda _: self._draw_xpath(), names=["xpath_matches", "xpath_error", "xpath_page"])
        self.model.observe(lambda _: self._draw_validation(), names=["verdict"])
        self.model.observe(lambda change: self._draw_explored(change["new"]), names=["explored"])

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data = self.widget._repr_mimebundle_(**kwargs) or {}
        data["text/plain"] = "OME-XML explorer (widgets: run the notebook to use it)"
        return data

    # --- the model's state, as the widgets' users knew it ----------------------------------------------------------

    @property
    def explored(self) -> Explored | None:
        return self.model.explored

    @property
    def error(self) -> str | None:
        return self.model.error

    @property
    def selected(self) -> int | None:
        return self.model.selected

    @property
    def last_search(self) -> SearchResult | None:
        return self.model.search

    @property
    def last_xpath(self) -> tuple[XPathMatch, ...]:
        return tuple(self.model.xpath_matches)

    # --- loading -------------------------------------------------------------------------------------------------------

    def load_form(self) -> Explored | None:
        """Load what the form names (the token field is emptied at once)."""
        raw, token = self.url.value.strip(), self.token.value.strip()
        self.token.value = ""
        if not raw:
            self._status("Enter a URL, an OME-TIFF path or an .ome.xml path first.", error=True)
            return None
        return self.load(raw, token or None)

    def load(self, location: SecretURL | str | Path, token: str | None = None) -> Explored | None:
        """Load and show ``location``; on failure the status line (and ``error``) say why, redacted."""
        self.url.value = redact_text(str(location if not token else SecretURL(str(location), token=token)))
        self.load_button.disabled = True
        self._status("Loading… (once the XML has arrived, indexing 25 MB of it takes a few seconds)")
        self.progress.start("connecting …")
        began = time.monotonic()
        try:
            explored = self.model.load(location, token, on_progress=self.progress)
        finally:
            self.load_button.disabled = False
        if explored is None:
            self.progress.finish("failed", error=True)
            self._status(self.model.error or "", error=True)
        else:
            size = human_bytes(explored.tree.size)
            self.progress.finish(f"{size} of XML loaded and indexed in {time.monotonic() - began:.1f} s")
        return explored

    def show(self, explored: Explored) -> None:
        """Show an already loaded document: the tree's first level now, the other tabs when opened."""
        if self.model.explored is explored:
            self._draw_explored(explored)
        else:
            self.model.show(explored)

    def _draw_explored(self, explored: Explored | None) -> None:
        if explored is None:
            return
        self.url.value = explored.display_name
        self._built = set()
        self.views = {}
        self.root_view = NodeView(self, explored.tree.root)
        self.views[explored.tree.root] = self.root_view
        self.root_view.set_expanded(True)
        self.tree_box.children = [self.root_view.widget]
        self.select(explored.tree.root)
        tree = explored.tree
        self._status(
            f"{explored.kind} {explored.display_name}: {len(tree):,} elements, {tree.size:,} bytes of XML"
        )
        self.search_info.value = self.xpath_info.value = ""
        self.search_pager.show(pd.DataFrame(), 0)
        self.xpath_pager.show(pd.DataFrame(), 0)
        self.annotations_view.value = self.validation_view.value = ""
        self.roi_info.value = self.roi_tables.value = ""
        self.roi_image.value = b""
        if self.tabs.selected_index not in (None, 0):
            self._on_tab(self.tabs.selected_index)

    def _status(self, text: str, *, error: bool = False) -> None:
        colour = _RED if error else "#2e7d32"
        self.status.value = f'<span style="color:{colour}">{html.escape(redact_text(text))}</span>'

    def _on_tab(self, index: int | None) -> None:
        if index is None or self.model.explored is None:
            return
        name = self.TABS[index]
        if name in self._built:
            return
        self._built.add(name)
        if name == "Annotations":
            self.show_annotations()
        elif name == "ROIs":
            self._fill_roi_filters()
            self.draw_rois()

    def open_tab(self, name: str) -> None:
        """Select a tab by title (building it if needed)."""
        self.tabs.selected_index = self.TABS.index(name)

    # --- tree ----------------------------------------------------------------------------------------------------------

    def select(self, node: int) -> None:
        """Show ``node``'s path, attributes and text in the detail pane."""
        tree = self.model.tree
        self.model.selected = node
        info = tree.info(node)
        kids = ", ".join(f"{t} × {n:,}" for t, n in info.child_tags) or "none"
        self.detail.value = _scroll(
            f"<p><b>Path</b> <code>{html.escape(info.path)}</code><br>"
            f"<b>Element</b> <code>{html.escape(info.qname)}</code>, line {info.line:,}, depth {info.depth}<br>"
            f"<b>Children</b> {html.escape(kids)}</p>" + _frame_html(node_table(tree, node))
        )

    def _goto(self) -> None:
        try:
            node = self.model.first_match(self.goto.value)
        except OmeTiffError as exc:
            self.detail.value = _error_html(str(exc))
            return
        if node is None:
            self.detail.value = "<i>no element matches</i>"
            return
        self.reveal(node)

    def reveal(self, node: int) -> None:
        """Expand the tree down to ``node`` (turning pages as needed) and select it."""
        tree = self.model.tree
        chain = []
        j: int | None = node
        while j is not None:
            chain.append(j)
            j = tree.parent(j)
        chain.reverse()
        for parent, child in pairwise(chain):
            view = self.views[parent]
            position = tree.children(parent).index(child)
            if not view.expanded:
                view.set_expanded(True)
            if view.page != position // self.per_page:
                view.show_page(position // self.per_page)
        self.select(node)

    # --- search and XPath ----------------------------------------------------------------------------------------------

    def run_search(self) -> SearchResult:
        """Search with the form's query and fields; every hit is counted, a page shown."""
        return self.model.run_search()

    def _draw_search(self) -> None:
        result = self.model.search
        if result is None:
            return
        self.search_info.value = (
            f"<b>{result.total:,}</b> match(es) for <code>{html.escape(result.query)}</code>"
            + (" (all in the export)" if result.total > PAGE_ROWS else "")
        )
        self.model.search_page = self.search_pager.show(self.model.search_frame(), self.model.search_page)

    def run_xpath(self) -> tuple[XPathMatch, ...]:
        """Evaluate the form's XPath; every result is counted, a page shown."""
        return self.model.run_xpath()

    def _draw_xpath(self) -> None:
        if self.model.xpath_error is not None:
            self.xpath_info.value = _error_html(self.model.xpath_error)
            self.xpath_pager.show(pd.DataFrame(), 0)
            return
        total = len(self.model.xpath_matches)
        self.xpath_info.value = f"<b>{total:,}</b> result(s)" + (
            " (all in the export)" if total > PAGE_ROWS else ""
        )
        self.model.xpath_page = self.xpath_pager.show(self.model.xpath_frame(), self.model.xpath_page)

    # --- annotations ---------------------------------------------------------------------------------------------------

    def show_annotations(self) -> None:
        """Fill the Annotations tab: the overview table, then each annotation (the first `PAGE_ROWS`)."""
        explored = self.model.explored
        assert explored is not None
        if explored.doc is None:
            self.annotations_view.value = f"<i>No OME records: {html.escape(explored.doc_error or '')}</i>"
            return
        sections = annotation_sections(explored)
        if not sections:
            self.annotations_view.value = "<i>This file has no structured annotations.</i>"
            return
        parts = [_frame_html(annotations_table(sections))]
        shown = 0
        for s in sections:
            parts.append(f"<h4 style='margin:10px 0 4px'>Namespace: {html.escape(s.namespace)}</h4>")
            for a in s.annotations:
                if shown >= PAGE_ROWS:
                    break
                shown += 1
                target = ", ".join(a.annotates) or "nothing refers to it"
                parts.append(
                    f"<p><b>{html.escape(a.id)}</b> ({html.escape(a.kind)}) on {html.escape(target)}</p>"
                )
                if a.pairs is not None:
                    parts.append(_frame_html(a.pairs))
                elif a.xml is not None:
                    parts.append(f"<pre style='font-size:11px'>{html.escape(a.xml)}</pre>")
                elif a.value:
                    parts.append(f"<p><code>{html.escape(a.value)}</code></p>")
        self.annotations_view.value = _scroll("".join(parts), "600px")

    # --- ROIs ----------------------------------------------------------------------------------------------------------

    def _fill_roi_filters(self) -> None:
        assert self.model.explored is not None
        planes = shape_planes(self.model.explored)
        for box, key in ((self.roi_z, "Z"), (self.roi_c, "C"), (self.roi_t, "T")):
            box.options = [("all", None)] + [(str(v), v) for v in planes[key]]
            box.value = None

    def roi_filters(self) -> dict[str, Any]:
        return self.model.roi_filters()

    def draw_rois(self) -> None:
        """Draw the shapes that pass the filters, with the counts of what passes and their tables."""
        explored = self.model.explored
        assert explored is not None
        if explored.doc is None:
            self.roi_info.value = f"<i>No OME records: {html.escape(explored.doc_error or '')}</i>"
            return
        chosen = self.model.rois()
        rois, shapes = len(chosen.rois), len(chosen.shapes)
        self.roi_info.value = f"<b>{rois:,}</b> ROI(s), <b>{shapes:,}</b> shape(s) match the filters"
        self.roi_image.value = plots.figure_png(roi_figure(explored, **self.model.roi_filters()))
        self.roi_tables.value = _scroll(
            "<h4>ROIs</h4>" + _frame_html(chosen.rois) + "<h4>Shapes</h4>" + _frame_html(chosen.shapes),
            "420px",
        )

    # --- validation and export -----------------------------------------------------------------------------------------

    def run_validation(self) -> pd.DataFrame:
        """Validate against the OME schema and show the verdict and errors."""
        return self.model.run_validation()

    def _draw_validation(self) -> None:
        errors = self.model.schema_errors
        self.validation_view.value = f"<p><b>{html.escape(self.model.verdict or '')}</b></p>" + (
            _scroll(_frame_html(errors), "420px") if errors is not None else ""
        )

    def run_export(self) -> list[Path]:
        """Export every table, every search hit and XPath result, and the XML, into the folder field's folder."""
        try:
            paths = self.model.export(self.export_folder.value.strip() or "exports")
        except OmeTiffError as exc:
            self.export_view.value = _error_html(str(exc))
            return []
        items = "".join(f"<li><code>{html.escape(p.name)}</code></li>" for p in paths)
        self.export_view.value = (
            f"<p>Wrote {len(paths)} file(s) into <code>{html.escape(str(paths[0].parent))}</code>:</p>"
            f"<ul>{items}</ul>"
        )
        return paths
