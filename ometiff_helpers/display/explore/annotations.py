"""The structured annotations of an explored OME-XML, grouped by Namespace, as the explorer shows and exports them.

Map annotations become key/value tables, XML annotations their own XML pretty-printed from the index (not the
parsed model, so any content survives), other kinds their value.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pandas as pd

from ometiff_helpers.display.explore.xmltree import XmlTree
from ometiff_helpers.frozen import record

if TYPE_CHECKING:
    from ometiff_helpers.display.explore.loading import Explored

__all__ = [
    "NO_NAMESPACE",
    "AnnotationSection",
    "AnnotationView",
    "annotation_sections",
    "annotations_table",
    "map_pairs_table",
]


@record
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


@record
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
