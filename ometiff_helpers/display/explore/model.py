"""The curator explorer's model: everything it knows and computes, without a widget.

Data functions (`load` (from ``loading.py``), `level_table`, `node_table`, `search_table`, `xpath_table`, `annotation_sections` (from
``annotations.py``), `shapes_table`, `roi_selection`, `roi_figure`, `validation_table`, `export_all`) return DataFrames, figures and plain
records, so the notebook's plain cells, the widgets and the tests show the same things. `ExploreModel` holds the
state one explorer session works on (the loaded document, the search and XPath queries and every one of their
matches, the ROI filters, the selected element) as traitlets, and the actions that change it; `app.py` only links
widgets to those traits and draws what changes, the model/view split of the ipywidgets tutorial's password
generator. Search and XPath keep every match: the widgets show a page of `PAGE_ROWS` with the total, the export
writes them all.

The XML index is `xmltree.XmlTree`; the OME records come from `ome.parser` (parsed lazily for ``.ome.xml`` files, so
the tree shows before the model is built). A URL's token stays in a `urls.SecretURL`; messages show only the
redacted form.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import traitlets as tr
from matplotlib.figure import Figure

from ometiff_helpers.display import plots
from ometiff_helpers.display.explore.annotations import (
    AnnotationSection,
    AnnotationView,
    annotation_sections,
    annotations_table,
    map_pairs_table,
)
from ometiff_helpers.display.explore.loading import Explored, load
from ometiff_helpers.display.explore.xmltree import SearchField, SearchResult, XmlTree, XPathMatch
from ometiff_helpers.errors import OmeTiffError, UnsupportedOme
from ometiff_helpers.frozen import record
from ometiff_helpers.ome.parser import OmeDocument
from ometiff_helpers.ome.tables import COLUMNS
from ometiff_helpers.progress import ProgressCallback
from ometiff_helpers.urls import SecretURL, redact_text

__all__ = [
    "PAGE_ROWS",
    "PER_PAGE",
    "AnnotationSection",
    "AnnotationView",
    "ExploreModel",
    "Explored",
    "RoiSelection",
    "annotation_sections",
    "annotations_table",
    "export_all",
    "export_tables",
    "level_table",
    "load",
    "map_pairs_table",
    "node_table",
    "page_bounds",
    "roi_figure",
    "roi_selection",
    "rois_table",
    "search_table",
    "shape_planes",
    "shapes_table",
    "validation_table",
    "xpath_table",
]

PER_PAGE = 100  # tree rows per page of siblings
PAGE_ROWS = 200  # rows of a long table or result list shown at once (the export has them all)


# --- tree tables -----------------------------------------------------------------------------------------------------


def level_table(tree: XmlTree, node: int = 0, page: int = 0, per_page: int = PER_PAGE) -> pd.DataFrame:
    """One page of ``node``'s children: path, tag, identifying attributes and child counts."""
    pg = tree.page(node, page, per_page)
    rows = []
    for i in pg.items:
        tags = ", ".join(f"{t} × {n:,}" for t, n in tree.child_tags(i))
        rows.append(
            {
                "Path": tree.path(i),
                "Tag": tree.tag(i),
                "ID": tree.attribute(i, "ID"),
                "Name": tree.attribute(i, "Name"),
                "Attributes": len(tree.attributes(i)),
                "Children": tree.child_count(i),
                "Child tags": tags or None,
            }
        )
    df = pd.DataFrame(rows, columns=["Path", "Tag", "ID", "Name", "Attributes", "Children", "Child tags"])
    df.index = pd.RangeIndex(pg.start + 1, pg.start + 1 + len(df))
    return df.astype(object).where(df.notna(), "")


def node_table(tree: XmlTree, node: int) -> pd.DataFrame:
    """The element's attributes (name, value) and its text, as rows."""
    rows = [{"Name": k, "Value": v} for k, v in tree.attributes(node)]
    text = tree.text(node)
    if text:
        rows.append({"Name": "(text)", "Value": text})
    return pd.DataFrame(rows, columns=["Name", "Value"])


def search_table(result: SearchResult) -> pd.DataFrame:
    """Search hits: path, where it matched, the name and the matching value."""
    rows = [{"Path": h.path, "Matched in": h.field, "Name": h.name, "Value": h.snippet} for h in result.hits]
    return pd.DataFrame(rows, columns=["Path", "Matched in", "Name", "Value"])


def xpath_table(matches: Sequence[XPathMatch]) -> pd.DataFrame:
    rows = [{"Path": m.path, "Value": "" if m.value is None else m.value} for m in matches]
    return pd.DataFrame(rows, columns=["Path", "Value"])


# --- ROIs ------------------------------------------------------------------------------------------------------------


def rois_table(explored: Explored) -> pd.DataFrame:
    return _frame(explored.rows.get("rois", []), COLUMNS["rois"])


def shapes_table(
    explored: Explored,
    *,
    z: int | None = None,
    c: int | None = None,
    t: int | None = None,
    roi: str | None = None,
) -> pd.DataFrame:
    """Shapes, filtered: a shape without TheZ/TheC/TheT applies to every plane, so it passes any such filter."""
    rows = [r for r in explored.rows.get("shapes", []) if _keep(r, z, c, t, roi)]
    df = _frame(rows, COLUMNS["shapes"])
    return df.drop(columns=["Points"])  # long; the point count and the figure show them


def _keep(row: dict[str, Any], z: int | None, c: int | None, t: int | None, roi: str | None) -> bool:
    for key, want in (("Z", z), ("C", c), ("T", t)):
        if want is not None and row[key] is not None and row[key] != want:
            return False
    return roi is None or row["ROI ID"] == roi


def _frame(rows: list[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """Rows as they are (object columns: integers stay integers), missing values shown empty."""
    df = pd.DataFrame(rows, columns=list(columns), dtype=object)
    return df.where(df.notna(), "")


def _image_extent(doc: OmeDocument | None) -> tuple[int, int] | None:
    if doc is None or not doc.images or doc.images[0].pixels is None:
        return None
    px = doc.images[0].pixels
    if not px.size_x or not px.size_y:
        return None
    return px.size_x, px.size_y


@record
class RoiSelection:
    """The ROIs and shapes that pass the Z/C/T/ROI filters (a ROI passes when one of its shapes does)."""

    rois: pd.DataFrame
    shapes: pd.DataFrame
    filters: str  # "Z=2, ROI=ROI:1", "" when unfiltered

    def caption(self) -> str:
        """``"3 ROI(s), 4 shape(s) match the filters"``: counts of what passes, not of the whole file."""
        return f"{len(self.rois):,} ROI(s), {len(self.shapes):,} shape(s) match the filters"


def roi_selection(
    explored: Explored,
    *,
    z: int | None = None,
    c: int | None = None,
    t: int | None = None,
    roi: str | None = None,
) -> RoiSelection:
    """The filtered shapes and the ROIs they belong to (with no Z/C/T filter, a ROI without shapes passes too)."""
    shapes = shapes_table(explored, z=z, c=c, t=t, roi=roi)
    rois = rois_table(explored)
    if roi is not None:
        rois = rois[rois["ROI ID"] == roi]
    if (z, c, t) != (None, None, None):
        rois = rois[rois["ROI ID"].isin(set(shapes["ROI ID"]))]
    return RoiSelection(rois.reset_index(drop=True), shapes, _filters_text(z, c, t, roi))


def _filters_text(z: int | None, c: int | None, t: int | None, roi: str | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (("Z", z), ("C", c), ("T", t), ("ROI", roi)) if v is not None)


def roi_figure(
    explored: Explored,
    *,
    z: int | None = None,
    c: int | None = None,
    t: int | None = None,
    roi: str | None = None,
) -> Figure:
    """The shapes (filtered as in `shapes_table`) drawn to scale, in pixels, over the first image's extent.

    One ROI is drawn zoomed to its own extent, with an overview of the image outline showing where it lies (in the
    full frame of a 4096 px image, a 100 px cell is a dot).
    """
    doc = explored.doc
    shapes = [
        s
        for r in (doc.rois if doc is not None else ())
        if roi is None or r.id == roi
        for s in r.shapes
        if _keep({"Z": s.the_z, "C": s.the_c, "T": s.the_t, "ROI ID": r.id}, z, c, t, roi)
    ]
    return plots.shapes_figure(
        shapes,
        extent=_image_extent(doc),
        name=plots.short_name(explored.display_name),
        filters=_filters_text(z, c, t, roi),
        zoom=roi is not None,
    )


def shape_planes(explored: Explored) -> dict[str, list[int]]:
    """The Z, C and T values the shapes use (for the filter menus)."""
    out: dict[str, set[int]] = {"Z": set(), "C": set(), "T": set()}
    for r in explored.rows.get("shapes", []):
        for key in out:
            if r[key] is not None:
                out[key].add(int(r[key]))
    return {k: sorted(v) for k, v in out.items()}


# --- validation and export -------------------------------------------------------------------------------------------


def validation_table(explored: Explored) -> tuple[str, pd.DataFrame]:
    """A one-line verdict and the schema errors (line, path, message) of the XML (OME 2016-06 XSD)."""
    columns = ["Line", "Path", "Message"]
    try:
        from ometiff_helpers.ome import schema as omeschema

        errors = omeschema.validate_ome_xml(explored.xml)
    except ImportError:
        return (
            "Schema validation needs the 'validate' extra (pip install 'ometiff-inspect[validate]').",
            pd.DataFrame(columns=columns),
        )
    except (UnsupportedOme, OmeTiffError) as exc:
        return f"Not validated: {redact_text(str(exc))}", pd.DataFrame(columns=columns)
    df = pd.DataFrame(
        [{"Line": e.line, "Path": e.path, "Message": e.message} for e in errors], columns=columns
    )
    verdict = "valid against the OME 2016-06 schema" if not errors else f"{len(errors):,} schema error(s)"
    return verdict, df.astype(object).where(df.notna(), "")


def export_tables(explored: Explored) -> dict[str, pd.DataFrame]:
    """Every table the explorer shows, by export name (empty tables left out)."""
    sections = annotation_sections(explored)
    out: dict[str, pd.DataFrame] = {
        "tree_root_children": level_table(explored.tree, 0, 0, max(1, explored.tree.child_count(0)))
    }
    for name, rows in explored.rows.items():
        out[name] = _frame(rows, COLUMNS.get(name, list(rows[0]) if rows else []))
    out["annotations_by_namespace"] = annotations_table(sections)
    out["map_annotation_pairs"] = map_pairs_table(sections)
    return {k: v for k, v in out.items() if len(v)}


def export_all(
    explored: Explored, folder: str | Path = "exports", *, extra: dict[str, pd.DataFrame] | None = None
) -> list[Path]:
    """Write every table as ``<stem>_<table>.csv`` and the XML as ``<stem>.ome.xml`` into ``folder`` (created)."""
    target = Path(folder)
    try:
        target.mkdir(parents=True, exist_ok=True)
        written = []
        frames = export_tables(explored)
        frames.update({k: v for k, v in (extra or {}).items() if len(v)})
        for name, df in frames.items():
            path = target / f"{explored.stem}_{name}.csv"
            df.to_csv(path, index=False, lineterminator="\n")
            written.append(path)
        xml_path = target / f"{explored.stem}.ome.xml"
        xml_path.write_bytes(explored.xml)
        written.append(xml_path)
    except OSError as exc:
        raise OmeTiffError(
            f"Cannot write the export into {target.name or str(target)!r}: {exc.strerror or type(exc).__name__}.",
            hint="Choose a folder you can write to.",
        ) from None
    return written


# --- the session's state ---------------------------------------------------------------------------------------------


def page_bounds(total: int, page: int, per_page: int = PAGE_ROWS) -> tuple[int, int, int]:
    """(page clamped to the pages there are, first row, row after the last) of page ``page`` of ``total`` rows."""
    last = max(0, -(-total // per_page) - 1)
    page = min(max(0, page), last)
    return page, page * per_page, min(total, (page + 1) * per_page)


class ExploreModel(tr.HasTraits):
    """One explorer session: the loaded document, queries and their every match, ROI filters, the selection.

    Set the traits (``query``, ``xpath``, ``roi_z`` ...) and call the actions (`load`, `run_search`, `run_xpath`,
    `run_validation`, `export`); a view observes the result traits. Nothing here knows about widgets.
    """

    explored = tr.Instance(Explored, allow_none=True)
    error = tr.Unicode(None, allow_none=True)  # the last load's failure, redacted
    selected = tr.Int(None, allow_none=True)  # element index in the tree

    query = tr.Unicode("")
    in_tags = tr.Bool(True)
    in_names = tr.Bool(True)
    in_values = tr.Bool(True)
    in_text = tr.Bool(True)
    case_sensitive = tr.Bool(False)
    search = tr.Instance(SearchResult, allow_none=True)  # every hit of the last search
    search_page = tr.Int(0)

    xpath = tr.Unicode("")
    xpath_matches = tr.Tuple()  # every result of the last XPath
    xpath_error = tr.Unicode(None, allow_none=True)
    xpath_page = tr.Int(0)

    roi_z = tr.Int(None, allow_none=True)
    roi_c = tr.Int(None, allow_none=True)
    roi_t = tr.Int(None, allow_none=True)
    roi_id = tr.Unicode("")

    verdict = tr.Unicode(None, allow_none=True)  # schema validation, once run
    schema_errors = tr.Instance(pd.DataFrame, allow_none=True)

    def __init__(self, *, inspect: Callable[..., Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._inspect = inspect

    # --- loading ---------------------------------------------------------------------------------------------------

    def load(
        self,
        location: SecretURL | str | Path,
        token: str | None = None,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> Explored | None:
        """Load ``location`` and reset the session; on failure ``error`` says why (redacted) and None returns."""
        self.error = None
        try:
            explored = load(location, token, inspect=self._inspect, on_progress=on_progress)
        except OmeTiffError as exc:
            self.error = redact_text(str(exc))
            return None
        self.show(explored)
        return explored

    def show(self, explored: Explored) -> None:
        """Work on an already loaded document: results and filters of the previous one are dropped."""
        with self.hold_trait_notifications():
            self.search, self.search_page = None, 0
            self.xpath_matches, self.xpath_error, self.xpath_page = (), None, 0
            self.roi_z = self.roi_c = self.roi_t = None
            self.roi_id = ""
            self.verdict, self.schema_errors = None, None
            self.selected = None
            self.explored = explored

    @property
    def tree(self) -> XmlTree:
        """The loaded document's index; raises `OmeTiffError` before anything is loaded."""
        if self.explored is None:
            raise OmeTiffError("Nothing is loaded yet.", hint="Load a file first.")
        return self.explored.tree

    # --- search and XPath ------------------------------------------------------------------------------------------

    def search_fields(self) -> SearchField:
        """The fields ticked, as a `SearchField`."""
        fields = SearchField(0)
        for on, flag in (
            (self.in_tags, SearchField.TAG),
            (self.in_names, SearchField.ATTR_NAME),
            (self.in_values, SearchField.ATTR_VALUE),
            (self.in_text, SearchField.TEXT),
        ):
            if on:
                fields |= flag
        return fields

    def run_search(self) -> SearchResult:
        """Search ``query`` in the ticked fields; every hit is kept in ``search``."""
        result = self.tree.search(self.query, fields=self.search_fields(), case_sensitive=self.case_sensitive)
        with self.hold_trait_notifications():
            self.search_page = 0
            self.search = result
        return result

    def run_xpath(self) -> tuple[XPathMatch, ...]:
        """Evaluate ``xpath``; every result goes into ``xpath_matches``, a failure into ``xpath_error``."""
        try:
            matches = self.tree.xpath(self.xpath)
            error = None
        except OmeTiffError as exc:
            matches, error = (), redact_text(str(exc))
        with self.hold_trait_notifications():
            self.xpath_page = 0
            self.xpath_error = error
            self.xpath_matches = matches
        return matches

    def first_match(self, expression: str) -> int | None:
        """The first element ``expression`` selects (raises `XPathError` on a bad expression)."""
        return next((m.index for m in self.tree.xpath(expression, limit=1) if m.index is not None), None)

    def search_frame(self) -> pd.DataFrame:
        """Every hit of the last search (empty before any)."""
        return search_table(self.search if self.search is not None else SearchResult("", (), 0))

    def xpath_frame(self) -> pd.DataFrame:
        """Every result of the last XPath."""
        return xpath_table(self.xpath_matches)

    # --- ROIs, validation, export ----------------------------------------------------------------------------------

    def roi_filters(self) -> dict[str, Any]:
        """The ROI filters as keyword arguments of `roi_selection` and `roi_figure`."""
        return {"z": self.roi_z, "c": self.roi_c, "t": self.roi_t, "roi": self.roi_id.strip() or None}

    def rois(self) -> RoiSelection:
        """The ROIs and shapes that pass the filters."""
        assert self.explored is not None
        return roi_selection(self.explored, **self.roi_filters())

    def run_validation(self) -> pd.DataFrame:
        """Validate against the OME schema; ``verdict`` and ``schema_errors`` hold the answer."""
        assert self.explored is not None
        verdict, errors = validation_table(self.explored)
        self.schema_errors = errors
        self.verdict = verdict
        return errors

    def export(self, folder: str | Path = "exports") -> list[Path]:
        """`export_all` plus every search hit, every XPath result and the schema errors of this session."""
        assert self.explored is not None
        extra: dict[str, pd.DataFrame] = {}
        if self.search is not None:
            extra["search"] = self.search_frame()
        if self.xpath_matches:
            extra["xpath"] = self.xpath_frame()
        if self.schema_errors is not None:
            extra["schema_errors"] = self.schema_errors
        return export_all(self.explored, folder, extra=extra)
