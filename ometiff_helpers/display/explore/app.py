"""The curator notebook's app: browse, search and query a (large) OME-XML, its annotations and ROIs, and export.

Two layers, so that the notebook's plain cells, the widgets and the tests show the same things:

- data functions (`load`, `level_table`, `node_table`, `search_table`, `xpath_table`, `annotation_sections`,
  `shapes_table`, `roi_figure`, `validation_table`, `export_all`) return DataFrames, figures and plain records;
- `ExploreApp` only wires widgets to them. The tree builds widgets for one page of siblings at a time (100 by
  default) and for a node's children only when it is expanded, so 20 000 ROIs under ``OME`` cost 100 rows.

The XML index is `xmltree.XmlTree`; the OME records come from `omexml` (parsed lazily for ``.ome.xml`` files, so the
tree shows before the model is built). A URL's token stays in a `urls.SecretURL`; fields and messages show only the
redacted form.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd
from matplotlib.figure import Figure

from ometiff_helpers.display import plots
from ometiff_helpers.display.explore.xmltree import SearchField, SearchResult, XmlTree, XPathMatch
from ometiff_helpers.errors import LimitExceeded, NotOmeTiff, OmeTiffError, OmeXmlError, UnsupportedOme
from ometiff_helpers.io.open import open_source
from ometiff_helpers.ome import parser as omexml
from ometiff_helpers.ome.parser import OmeDocument, OmeXmlOptions
from ometiff_helpers.ome.tables import COLUMNS
from ometiff_helpers.target import resolve_target
from ometiff_helpers.urls import SecretURL, redact_text

__all__ = [
    "AnnotationSection",
    "ExploreApp",
    "Explored",
    "annotation_sections",
    "export_all",
    "level_table",
    "load",
    "node_table",
    "resolve_target",
    "roi_figure",
    "rois_table",
    "search_table",
    "shapes_table",
    "validation_table",
    "xpath_table",
]

PER_PAGE = 100  # tree rows per page of siblings
TABLE_ROWS = 200  # rows of a big table shown in a widget (the CSV export has them all)
XML_SUFFIXES = (".xml", ".ome", ".companion.ome")


# --- loading ---------------------------------------------------------------------------------------------------------


@dataclass
class Explored:
    """One loaded OME-XML: its bytes, the tree index, and the OME records (parsed on first use)."""

    display_name: str  # redacted URL or file name
    kind: str  # "OME-TIFF" or "OME-XML file"
    xml: bytes
    tree: XmlTree
    _doc: OmeDocument | None = field(default=None, repr=False)
    _doc_error: str | None = field(default=None, repr=False)
    _doc_done: bool = field(default=False, repr=False)

    @property
    def doc(self) -> OmeDocument | None:
        """The OME records, or None when the XML is not OME (``doc_error`` says why)."""
        if not self._doc_done:
            self._doc_done = True
            try:
                self._doc = omexml.parse_ome_xml(self.xml)
            except OmeTiffError as exc:
                self._doc_error = redact_text(str(exc))
        return self._doc

    @property
    def doc_error(self) -> str | None:
        _ = self.doc
        return self._doc_error

    @cached_property
    def rows(self) -> dict[str, list[dict[str, Any]]]:
        """`omexml.tables` of the document (empty tables when it is not OME)."""
        doc = self.doc
        return omexml.tables(doc) if doc is not None else {}

    @property
    def stem(self) -> str:
        """The file name without ``.ome.tif`` / ``.ome.xml``: the prefix of exported files."""
        name = plots.short_name(self.display_name)
        stem = re.sub(r"(\.ome)?\.(tiff?|xml|btf|tf8|companion\.ome)$", "", name, flags=re.IGNORECASE)
        return re.sub(r"[^\w.\-]+", "_", stem) or "ome"


def _is_xml_name(name: str) -> bool:
    return name.lower().endswith(XML_SUFFIXES)


def load(
    location: SecretURL | str | Path,
    token: str | None = None,
    *,
    inspect: Callable[..., Any] | None = None,
    options: OmeXmlOptions | None = None,
) -> Explored:
    """Load the OME-XML of an OME-TIFF (URL or path, read through `report.inspect` without checks) or of a
    ``.ome.xml`` / companion ``.ome`` file (URL or path), and index it.

    Raises `NotOmeTiff` when a TIFF carries no XML, and the reader's errors (redacted) otherwise.
    """
    opts = options or OmeXmlOptions()
    if isinstance(location, str):
        secret = SecretURL(location, token=token or None)
        location = secret if secret.is_http else Path(location)  # a token means nothing to a local path
    if isinstance(location, SecretURL):
        name, display = location.path_name, location.redacted
    else:
        location = Path(location)
        name, display = location.name, location.name
    if _is_xml_name(name):
        data = _read_xml(location, opts)
        return Explored(display, "OME-XML file", data, XmlTree.parse(data, options=opts))
    if inspect is None:
        from ometiff_helpers.report import inspect as inspect_report

        inspect = inspect_report
    rep = inspect(location if isinstance(location, SecretURL) else str(location), checks=False, probes=False)
    if rep.xml_bytes is None:
        raise NotOmeTiff(
            f"{display}: IFD 0 has no ImageDescription, so there is no OME-XML to explore.",
            kind="no-description",
            hint="Open the OME-TIFF (or its companion .ome.xml) that carries the metadata.",
        )
    data = rep.xml_bytes  # as stored (Latin-1, UTF-16, ...): what an export writes
    kind = omexml.classify_description(data[:4096])
    if rep.ome is None and kind != "xml":  # ImageJ, JSON, plain text: nothing to explore as XML
        raise NotOmeTiff(
            f"{display}: {rep.ome_error or 'IFD 0 carries no OME-XML'}",
            kind=rep.ome_error_kind or kind,
            hint="Open the OME-TIFF (or its companion .ome.xml) that carries the metadata.",
        )
    utf16 = omexml.description_encoding(data[:4096]) == "UTF-16"  # expat reads other encodings from the bytes
    tree = XmlTree.parse((rep.xml_text or "") if utf16 else data, options=opts)
    explored = Explored(display, "OME-TIFF", data, tree)
    explored._doc, explored._doc_done = rep.ome, True
    explored._doc_error = None if rep.ome is not None else rep.ome_error
    return explored


def _read_xml(location: SecretURL | Path, opts: OmeXmlOptions) -> bytes:
    if isinstance(location, SecretURL):
        with open_source(location) as src:
            first = src.open(1 << 20)
            _check_size(src.size, opts, location.redacted)
            return first if src.size <= len(first) else first + src.read(len(first), src.size)
    try:
        size = location.stat().st_size
        _check_size(size, opts, location.name)
        return location.read_bytes()
    except OSError as exc:
        raise OmeXmlError(
            f"Cannot read the OME-XML file {location.name!r}: {exc.strerror or type(exc).__name__}.",
            hint="Check the path (relative paths start in the notebook's folder).",
        ) from None


def _check_size(size: int, opts: OmeXmlOptions, where: str) -> None:
    if size > opts.max_bytes:
        raise LimitExceeded(
            f"{where} is {size:,} bytes, more than the {opts.max_bytes:,} bytes of OME-XML this tool reads.",
            name="max_xml_bytes",
            value=size,
            limit=opts.max_bytes,
        )


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


# --- annotations -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnnotationView:
    """One annotation as shown: ``pairs`` for Map annotations, ``xml`` (pretty-printed) for XML annotations."""

    id: str
    kind: str
    namespace: str
    annotates: tuple[str, ...]
    description: str | None
    value: str | None
    pairs: pd.DataFrame | None
    xml: str | None


@dataclass(frozen=True)
class AnnotationSection:
    namespace: str  # "(no namespace)" when absent
    annotations: tuple[AnnotationView, ...]


NO_NAMESPACE = "(no namespace)"


def annotation_sections(explored: Explored, *, xml_chars: int = 20_000) -> list[AnnotationSection]:
    """The structured annotations grouped by Namespace (sorted; no namespace last), each with what it annotates."""
    doc = explored.doc
    if doc is None:
        return []
    xml_nodes = _xml_annotation_nodes(explored.tree)
    groups: dict[str, list[AnnotationView]] = {}
    for a in doc.annotations:
        pairs = pd.DataFrame(list(a.pairs), columns=["Key", "Value"]) if a.kind == "Map" else None
        xml = None
        if a.kind == "XML":
            node = xml_nodes.get(a.id or "")
            xml = _pretty_inner(explored.tree, node, xml_chars) if node is not None else a.value
        value = None if a.kind in ("Map", "XML") else a.value
        view = AnnotationView(
            a.id or "", a.kind, a.namespace or NO_NAMESPACE, a.annotates, a.description, value, pairs, xml
        )
        groups.setdefault(view.namespace, []).append(view)
    order = sorted(groups, key=lambda ns: (ns == NO_NAMESPACE, ns))
    return [AnnotationSection(ns, tuple(groups[ns])) for ns in order]


def annotations_table(sections: Iterable[AnnotationSection]) -> pd.DataFrame:
    """One row per annotation, in section order: the overview the annotation tab starts with."""
    rows = []
    for s in sections:
        for a in s.annotations:
            summary = a.value
            if a.pairs is not None:
                summary = f"{len(a.pairs)} key/value pair(s)"
            elif a.xml is not None:
                summary = f"XML, {len(a.xml.splitlines())} line(s)"
            rows.append(
                {
                    "Namespace": s.namespace,
                    "Annotation ID": a.id,
                    "Kind": a.kind,
                    "Annotates": ", ".join(a.annotates) or "(nothing refers to it)",
                    "Value": summary or "",
                }
            )
    return pd.DataFrame(rows, columns=["Namespace", "Annotation ID", "Kind", "Annotates", "Value"])


def map_pairs_table(sections: Iterable[AnnotationSection]) -> pd.DataFrame:
    """Every key/value pair of every Map annotation (for export)."""
    rows = [
        {"Annotation ID": a.id, "Namespace": s.namespace, "Key": k, "Value": v}
        for s in sections
        for a in s.annotations
        if a.pairs is not None
        for k, v in a.pairs.itertuples(index=False)
    ]
    return pd.DataFrame(rows, columns=["Annotation ID", "Namespace", "Key", "Value"])


def _xml_annotation_nodes(tree: XmlTree) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in tree.find_all("XMLAnnotation"):
        ident = tree.attribute(i, "ID")
        if ident is not None:
            out[ident] = i
    return out


def _pretty_inner(tree: XmlTree, node: int, max_chars: int) -> str:
    """The children of the XMLAnnotation's ``Value``, indented."""
    value = next((c for c in tree.children(node) if tree.tag(c) == "Value"), None)
    if value is None:
        return ""
    parts = [tree.to_xml(c, max_chars=max_chars, inherit_namespaces=False) for c in tree.children(value)]
    text = tree.text(value)
    return ((text + "\n") if text else "") + "".join(parts).rstrip("\n")


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


def roi_figure(
    explored: Explored,
    *,
    z: int | None = None,
    c: int | None = None,
    t: int | None = None,
    roi: str | None = None,
) -> Figure:
    """The shapes (filtered as in `shapes_table`) drawn to scale, in pixels, over the first image's extent."""
    doc = explored.doc
    shapes = [
        s
        for r in (doc.rois if doc is not None else ())
        if roi is None or r.id == roi
        for s in r.shapes
        if _keep({"Z": s.the_z, "C": s.the_c, "T": s.the_t, "ROI ID": r.id}, z, c, t, roi)
    ]
    what = ", ".join(f"{k}={v}" for k, v in (("Z", z), ("C", c), ("T", t), ("ROI", roi)) if v is not None)
    return plots.shapes_figure(
        shapes, extent=_image_extent(doc), name=plots.short_name(explored.display_name), filters=what
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


# --- the app ---------------------------------------------------------------------------------------------------------


def _frame_html(df: pd.DataFrame, *, index: bool = False, limit: int = TABLE_ROWS) -> str:
    if df.empty:
        return "<p><i>nothing to show</i></p>"
    note = f"<p><i>first {limit:,} of {len(df):,} rows (export for all)</i></p>" if len(df) > limit else ""
    return note + df.head(limit).to_html(index=index, border=0, classes="ometiff-table")


def _scroll(inner: str, height: str = "480px") -> str:
    return f'<div style="max-height:{height};overflow:auto">{inner}</div>'


class _NodeView:
    """One tree row (toggle + label) and, once expanded, its children's rows, a page at a time."""

    def __init__(self, app: ExploreApp, node: int) -> None:
        self.app = app
        self.node = node
        self.page = 0
        tree = app.explored.tree  # type: ignore[union-attr]
        has_children = tree.child_count(node) > 0
        self.toggle = w.Button(
            description="▸" if has_children else "·", disabled=not has_children, layout=w.Layout(width="32px")
        )
        self.button = w.Button(
            description=tree.label(node),
            tooltip=tree.path(node),
            layout=w.Layout(width="auto", max_width="760px"),
        )
        self.button.style.button_color = "transparent"
        self.toggle.on_click(lambda _: self.set_expanded(not self.expanded))
        self.button.on_click(lambda _: app.select(node))
        self._children_box: w.VBox | None = None  # built on first expansion: collapsed rows stay 4 widgets
        self._pager: tuple[w.Button, w.Label, w.Button, w.HBox] | None = None
        self.row = w.HBox([self.toggle, self.button])
        self.widget = w.VBox([self.row])
        self.expanded = False
        self.child_views: list[_NodeView] = []

    @property
    def children_box(self) -> w.VBox:
        if self._children_box is None:
            self._children_box = w.VBox(layout=w.Layout(margin="0 0 0 22px"))
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
            prev = w.Button(description="◀", layout=w.Layout(width="36px"))
            label = w.Label("")
            nxt = w.Button(description="▶", layout=w.Layout(width="36px"))
            prev.on_click(lambda _: self.show_page(self.page - 1))
            nxt.on_click(lambda _: self.show_page(self.page + 1))
            self._pager = (prev, label, nxt, w.HBox([prev, label, nxt]))
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
        tree = self.app.explored.tree  # type: ignore[union-attr]
        pg = tree.page(self.node, number, self.app.per_page)
        self.page = pg.number
        self.child_views = [_NodeView(self.app, c) for c in pg.items]
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


class ExploreApp:
    """Load form, then tabs: Tree, Search & XPath, Annotations, ROIs, Validation, Export.

    ``app.load(location)`` loads programmatically (the notebook does so on start). The Annotations, ROIs and
    Validation tabs are built when first opened, so a large file shows its tree first.
    """

    TABS = ("Tree", "Search & XPath", "Annotations", "ROIs", "Validation", "Export")

    def __init__(self, *, per_page: int = PER_PAGE, inspect: Callable[..., Any] | None = None) -> None:
        self.per_page = per_page
        self._inspect = inspect
        self.explored: Explored | None = None
        self.error: str | None = None
        self.selected: int | None = None
        self.views: dict[int, _NodeView] = {}
        self.root_view: _NodeView | None = None
        self._built: set[str] = set()
        self.last_search: SearchResult | None = None
        self.last_xpath: tuple[XPathMatch, ...] = ()

        self.url = w.Text(
            placeholder="URL (token included), local OME-TIFF path, or .ome.xml file",
            description="Source",
            layout=w.Layout(width="min(100%, 900px)"),
        )
        self.token = w.Password(
            placeholder="optional token", description="Token", layout=w.Layout(width="400px")
        )
        self.load_button = w.Button(description="Load", button_style="primary", icon="folder-open")
        self.load_button.on_click(lambda _: self.load_form())
        self.status = w.HTML("")

        # tree
        self.tree_box = w.VBox(layout=w.Layout(width="55%", max_height="600px", overflow="auto"))
        self.detail = w.HTML("")
        self.goto = w.Text(placeholder="/OME/ROI[17] (any XPath: the first match)", description="Go to")
        self.goto_button = w.Button(description="Show", layout=w.Layout(width="70px"))
        self.goto_button.on_click(lambda _: self._goto())
        tree_pane = w.VBox(
            [
                w.HBox([self.goto, self.goto_button]),
                w.HBox([self.tree_box, w.VBox([self.detail], layout=w.Layout(width="45%"))]),
            ]
        )

        # search & XPath
        self.query = w.Text(placeholder="text to find", description="Search")
        self.in_tags = w.Checkbox(value=True, description="tags", indent=False, layout=w.Layout(width="70px"))
        self.in_names = w.Checkbox(
            value=True, description="attribute names", indent=False, layout=w.Layout(width="140px")
        )
        self.in_values = w.Checkbox(
            value=True, description="values", indent=False, layout=w.Layout(width="80px")
        )
        self.in_text = w.Checkbox(value=True, description="text", indent=False, layout=w.Layout(width="70px"))
        self.case = w.Checkbox(
            value=False, description="match case", indent=False, layout=w.Layout(width="110px")
        )
        self.search_button = w.Button(description="Search", icon="search")
        self.search_button.on_click(lambda _: self.run_search())
        self.search_info = w.HTML("")
        self.search_results = w.HTML("")
        self.xpath = w.Text(
            placeholder="//ROI[@ID='ROI:1']/Union/*  (no namespace prefixes needed)",
            description="XPath",
            layout=w.Layout(width="600px"),
        )
        self.xpath_button = w.Button(description="Run", icon="play")
        self.xpath_button.on_click(lambda _: self.run_xpath())
        self.xpath_info = w.HTML("")
        self.xpath_results = w.HTML("")
        search_pane = w.VBox(
            [
                w.HBox([self.query, self.search_button]),
                w.HBox([self.in_tags, self.in_names, self.in_values, self.in_text, self.case]),
                self.search_info,
                self.search_results,
                w.HTML("<hr>"),
                w.HBox([self.xpath, self.xpath_button]),
                self.xpath_info,
                self.xpath_results,
            ]
        )

        # annotations
        self.annotations_view = w.HTML("")

        # ROIs
        self.roi_z = w.Dropdown(description="Z", options=[("all", None)], layout=w.Layout(width="160px"))
        self.roi_c = w.Dropdown(description="C", options=[("all", None)], layout=w.Layout(width="160px"))
        self.roi_t = w.Dropdown(description="T", options=[("all", None)], layout=w.Layout(width="160px"))
        self.roi_id = w.Text(
            placeholder="ROI ID (empty: all)", description="ROI", layout=w.Layout(width="260px")
        )
        self.roi_button = w.Button(description="Draw", icon="pencil")
        self.roi_button.on_click(lambda _: self.draw_rois())
        self.roi_info = w.HTML("")
        self.roi_image = w.Image(format="png", layout=w.Layout(max_width="720px"))
        self.roi_tables = w.HTML("")

        # validation
        self.validate_button = w.Button(
            description="Validate against the schema", layout=w.Layout(width="240px")
        )
        self.validate_button.on_click(lambda _: self.run_validation())
        self.validation_view = w.HTML("")

        # export
        self.export_folder = w.Text(value="exports", description="Folder")
        self.export_button = w.Button(description="Export CSV + XML", icon="download")
        self.export_button.on_click(lambda _: self.run_export())
        self.export_view = w.HTML("")

        self._panes = {
            "Tree": tree_pane,
            "Search & XPath": search_pane,
            "Annotations": w.VBox([self.annotations_view]),
            "ROIs": w.VBox(
                [
                    w.HBox([self.roi_z, self.roi_c, self.roi_t, self.roi_id, self.roi_button]),
                    self.roi_info,
                    self.roi_image,
                    self.roi_tables,
                ]
            ),
            "Validation": w.VBox([self.validate_button, self.validation_view]),
            "Export": w.VBox([w.HBox([self.export_folder, self.export_button]), self.export_view]),
        }
        self.tabs = w.Tab(children=list(self._panes.values()), titles=list(self.TABS))
        self.tabs.observe(lambda change: self._on_tab(change["new"]), names="selected_index")
        self.widget = w.VBox(
            [
                w.HTML("<b>Explore an OME-XML</b> (from an OME-TIFF URL or path, or an .ome.xml file)"),
                self.url,
                w.HBox([self.token, self.load_button]),
                self.status,
                self.tabs,
            ]
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data = self.widget._repr_mimebundle_(**kwargs) or {}
        data["text/plain"] = "OME-XML explorer (widgets: run the notebook to use it)"
        return data

    # --- loading -------------------------------------------------------------------------------------------------------

    def load_form(self) -> Explored | None:
        raw, token = self.url.value.strip(), self.token.value.strip()
        self.token.value = ""
        if not raw:
            self._status("Enter a URL, an OME-TIFF path or an .ome.xml path first.", error=True)
            return None
        return self.load(raw, token or None)

    def load(self, location: SecretURL | str | Path, token: str | None = None) -> Explored | None:
        """Load and show ``location``; on failure the status line (and ``error``) say why, redacted."""
        self.error = None
        self.url.value = redact_text(str(location if not token else SecretURL(str(location), token=token)))
        try:
            explored = load(location, token, inspect=self._inspect)
        except OmeTiffError as exc:
            self.error = redact_text(str(exc))
            self._status(html.escape(self.error), error=True)
            return None
        self.show(explored)
        return explored

    def show(self, explored: Explored) -> None:
        """Show an already loaded document: the tree's first level now, the other tabs when opened."""
        self.explored = explored
        self.url.value = explored.display_name
        self._built = set()
        self.views = {}
        self.selected = None
        self.root_view = _NodeView(self, explored.tree.root)
        self.views[explored.tree.root] = self.root_view
        self.root_view.set_expanded(True)
        self.tree_box.children = [self.root_view.widget]
        self.select(explored.tree.root)
        tree = explored.tree
        self._status(
            f"{html.escape(explored.kind)} {html.escape(explored.display_name)}: {len(tree):,} elements, "
            f"{tree.size:,} bytes of XML"
        )
        for name in ("Annotations", "ROIs", "Validation"):
            self._panes_reset(name)
        if self.tabs.selected_index not in (None, 0):
            self._on_tab(self.tabs.selected_index)

    def _status(self, text: str, *, error: bool = False) -> None:
        colour = "#c62828" if error else "#2e7d32"
        self.status.value = f'<span style="color:{colour}">{redact_text(text)}</span>'

    def _panes_reset(self, name: str) -> None:
        if name == "Annotations":
            self.annotations_view.value = ""
        elif name == "ROIs":
            self.roi_info.value = self.roi_tables.value = ""
            self.roi_image.value = b""
        elif name == "Validation":
            self.validation_view.value = ""

    def _on_tab(self, index: int | None) -> None:
        if index is None or self.explored is None:
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
        tree = self._tree()
        self.selected = node
        info = tree.info(node)
        kids = ", ".join(f"{t} × {n:,}" for t, n in info.child_tags) or "none"
        self.detail.value = _scroll(
            f"<p><b>Path</b> <code>{html.escape(info.path)}</code><br>"
            f"<b>Element</b> <code>{html.escape(info.qname)}</code>, line {info.line:,}, depth {info.depth}<br>"
            f"<b>Children</b> {html.escape(kids)}</p>" + _frame_html(node_table(tree, node))
        )

    def _goto(self) -> None:
        tree = self._tree()
        try:
            matches = tree.xpath(self.goto.value, limit=1)
        except OmeTiffError as exc:
            self.detail.value = f'<span style="color:#c62828">{html.escape(str(exc))}</span>'
            return
        if not matches:
            self.detail.value = "<i>no element matches</i>"
            return
        self.reveal(matches[0].index)

    def reveal(self, node: int) -> None:
        """Expand the tree down to ``node`` (turning pages as needed) and select it."""
        tree = self._tree()
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

    def _tree(self) -> XmlTree:
        if self.explored is None:
            raise OmeTiffError("Nothing is loaded yet.", hint="Load a file first.")
        return self.explored.tree

    # --- search --------------------------------------------------------------------------------------------------------

    def run_search(self) -> SearchResult:
        fields = SearchField(0)
        for box, flag in (
            (self.in_tags, SearchField.TAG),
            (self.in_names, SearchField.ATTR_NAME),
            (self.in_values, SearchField.ATTR_VALUE),
            (self.in_text, SearchField.TEXT),
        ):
            if box.value:
                fields |= flag
        result = self._tree().search(self.query.value, fields=fields, case_sensitive=self.case.value)
        self.last_search = result
        more = f" (showing the first {len(result.hits):,})" if result.truncated else ""
        self.search_info.value = (
            f"<b>{result.total:,}</b> match(es) for <code>{html.escape(result.query)}</code>{more}"
        )
        self.search_results.value = _scroll(_frame_html(search_table(result)), "360px")
        return result

    def run_xpath(self) -> tuple[XPathMatch, ...]:
        try:
            matches = self._tree().xpath(self.xpath.value)
        except OmeTiffError as exc:
            self.last_xpath = ()
            self.xpath_info.value = f'<span style="color:#c62828">{html.escape(str(exc))}</span>'
            self.xpath_results.value = ""
            return ()
        self.last_xpath = matches
        self.xpath_info.value = f"<b>{len(matches):,}</b> result(s)"
        self.xpath_results.value = _scroll(_frame_html(xpath_table(matches)), "360px")
        return matches

    # --- annotations ---------------------------------------------------------------------------------------------------

    def show_annotations(self) -> None:
        assert self.explored is not None
        if self.explored.doc is None:
            self.annotations_view.value = (
                f"<i>No OME records: {html.escape(self.explored.doc_error or '')}</i>"
            )
            return
        sections = annotation_sections(self.explored)
        if not sections:
            self.annotations_view.value = "<i>This file has no structured annotations.</i>"
            return
        parts = [_frame_html(annotations_table(sections))]
        shown = 0
        for s in sections:
            parts.append(f"<h4 style='margin:10px 0 4px'>Namespace: {html.escape(s.namespace)}</h4>")
            for a in s.annotations:
                if shown >= TABLE_ROWS:
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
        assert self.explored is not None
        planes = shape_planes(self.explored)
        for box, key in ((self.roi_z, "Z"), (self.roi_c, "C"), (self.roi_t, "T")):
            box.options = [("all", None)] + [(str(v), v) for v in planes[key]]
            box.value = None

    def roi_filters(self) -> dict[str, Any]:
        return {
            "z": self.roi_z.value,
            "c": self.roi_c.value,
            "t": self.roi_t.value,
            "roi": self.roi_id.value.strip() or None,
        }

    def draw_rois(self) -> None:
        assert self.explored is not None
        if self.explored.doc is None:
            self.roi_info.value = f"<i>No OME records: {html.escape(self.explored.doc_error or '')}</i>"
            return
        filters = self.roi_filters()
        shapes = shapes_table(self.explored, **filters)
        self.roi_info.value = f"<b>{len(self.explored.doc.rois):,}</b> ROI(s), <b>{len(shapes):,}</b> shape(s) match the filters"
        self.roi_image.value = plots.figure_png(roi_figure(self.explored, **filters))
        rois = rois_table(self.explored)
        if filters["roi"] is not None:
            rois = rois[rois["ROI ID"] == filters["roi"]]
        self.roi_tables.value = _scroll(
            "<h4>ROIs</h4>" + _frame_html(rois) + "<h4>Shapes</h4>" + _frame_html(shapes), "420px"
        )

    # --- validation and export -----------------------------------------------------------------------------------------

    def run_validation(self) -> pd.DataFrame:
        assert self.explored is not None
        verdict, errors = validation_table(self.explored)
        self._validation = errors
        self.validation_view.value = f"<p><b>{html.escape(verdict)}</b></p>" + _scroll(
            _frame_html(errors), "420px"
        )
        return errors

    def run_export(self) -> list[Path]:
        assert self.explored is not None
        extra: dict[str, pd.DataFrame] = {}
        if self.last_search is not None:
            extra["search"] = search_table(self.last_search)
        if self.last_xpath:
            extra["xpath"] = xpath_table(self.last_xpath)
        if getattr(self, "_validation", None) is not None:
            extra["schema_errors"] = self._validation
        try:
            paths = export_all(self.explored, self.export_folder.value.strip() or "exports", extra=extra)
        except OmeTiffError as exc:
            self.export_view.value = f'<span style="color:#c62828">{html.escape(str(exc))}</span>'
            return []
        items = "".join(f"<li><code>{html.escape(p.name)}</code></li>" for p in paths)
        self.export_view.value = f"<p>Wrote {len(paths)} file(s) into <code>{html.escape(str(paths[0].parent))}</code>:</p><ul>{items}</ul>"
        return paths
