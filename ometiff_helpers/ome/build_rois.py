"""Annotations, ROIs and their shapes (every schema's spellings mapped to the 2016-06 kinds)."""

from __future__ import annotations

import re

from ometiff_helpers.findings import Severity
from ometiff_helpers.ome.model import Annotation, Roi, Shape
from ometiff_helpers.ome.values import ValueReader
from ometiff_helpers.ome.xmlnode import Node

#: shape element local names (every schema) -> the 2016-06 kind
SHAPE_KINDS: dict[str, str] = {
    "Rectangle": "Rectangle",
    "Rect": "Rectangle",
    "Ellipse": "Ellipse",
    "Circle": "Ellipse",
    "Point": "Point",
    "Line": "Line",
    "Polyline": "Polyline",
    "Polygon": "Polygon",
    "Label": "Label",
    "Text": "Label",
    "Mask": "Mask",
}

#: geometry attributes (every schema) -> Shape field
_GEOMETRY: dict[str, str] = {
    "X": "x",
    "Y": "y",
    "Cx": "x",
    "Cy": "y",
    "Width": "width",
    "Height": "height",
    "RadiusX": "radius_x",
    "RadiusY": "radius_y",
    "Rx": "radius_x",
    "Ry": "radius_y",
    "X1": "x1",
    "Y1": "y1",
    "X2": "x2",
    "Y2": "y2",
}

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


class RoiBuilder(ValueReader):
    """Records of annotations, ROIs and shapes."""

    def annotation(self, n: Node, annotates: tuple[str, ...] = ()) -> Annotation:
        kind = n.local[: -len("Annotation")] if n.local.endswith("Annotation") else n.local
        value_node = n.child("Value")
        value: str | None = None
        pairs: tuple[tuple[str, str], ...] = ()
        if kind == "Map":
            holder = value_node if value_node is not None else n
            pairs = tuple((m.get("K") or "", m.text) for m in holder.iter_children("M"))
        elif value_node is not None:
            value = value_node.text.strip()
        bf = n.child("BinaryFile")
        return Annotation(
            id=n.get("ID"),
            kind=kind,
            namespace=n.get("Namespace"),
            description=n.child_text("Description"),
            annotator=n.get("Annotator"),
            value=value,
            pairs=pairs,
            file_name=None if bf is None else bf.get("FileName"),
            file_size=None if bf is None else self.int_(bf, "Size"),
            mime_type=None if bf is None else bf.get("MIMEType"),
            annotation_refs=self._refs(n, "AnnotationRef"),
            annotates=annotates,
        )

    def roi(self, n: Node, image_refs: tuple[str, ...] = ()) -> Roi:
        roi_id = n.get("ID")
        shapes: list[Shape] = []
        unions = list(n.iter_children("Union"))
        outer = [s for u in unions for s in u.children if s.local == "Shape"]
        paths = [s for s in outer if s.child("Path") is not None]
        # 2011-06 and older Path shapes: the official upgrade turns them into Labels when the ROI holds nothing
        # else, and drops them otherwise
        paths_as_labels = bool(paths) and len(paths) == len(outer)
        for union in unions:
            for s in union.children:
                if s.local == "Shape":  # 2008-09 .. 2012-06: geometry in a child of Shape
                    inner = next((x for x in s.children if x.local in SHAPE_KINDS), None)
                    if inner is not None:
                        shapes.append(self.shape(s, inner, roi_id))
                    elif paths_as_labels and (path := s.child("Path")) is not None:
                        shapes.append(self.shape(s, path, roi_id, kind="Label"))
                elif s.local in SHAPE_KINDS:
                    shapes.append(self.shape(s, s, roi_id))
        if paths:
            self.log.add(
                "OME_PATH_SHAPE",
                Severity.INFO,
                f"ROI {roi_id} has {len(paths)} Path shape(s) (removed from the schema in 2012-06): "
                + ("kept as Labels" if paths_as_labels else "dropped")
                + ", as the official schema upgrade does.",
                where=roi_id or "ROI",
            )
        return Roi(
            id=roi_id,
            name=n.get("Name"),
            description=n.child_text("Description"),
            shapes=tuple(shapes),
            annotation_refs=self._refs(n, "AnnotationRef"),
            image_refs=image_refs,
        )

    def shape(self, outer: Node, geo: Node, roi_id: str | None, kind: str | None = None) -> Shape:
        kind = kind or SHAPE_KINDS[geo.local]
        ga, oa = geo.attrs, outer.attrs
        if geo.local == "Polyline" and (ga.get("Closed") or "").lower() == "true":
            kind = "Polygon"
        geometry: dict[str, float | None] = {}
        for name, raw in ga.items():  # only the attributes present: 20 000 polygons stay cheap
            fname = _GEOMETRY.get(name)
            if fname is not None and fname not in geometry:
                try:
                    geometry[fname] = float(raw)
                except ValueError:
                    self._bad(geo, name, raw, "a number")
        points = ga.get("Points")
        text = oa.get("Text") or ga.get("Text") or oa.get("Label")
        if text is None and geo.children:
            text = geo.child_text("Value")
        return Shape(
            id=oa.get("ID"),
            kind=kind,
            roi_id=roi_id,
            the_z=self.int_(outer, "TheZ") if "TheZ" in oa else None,
            the_c=self.int_(outer, "TheC") if "TheC" in oa else None,
            the_t=self.int_(outer, "TheT") if "TheT" in oa else None,
            points=points,
            text=text,
            transform=self._transform(outer, geo)
            if (geo.children or outer is not geo or "Transform" in oa)
            else None,
            fill_colour=self.colour(outer, "FillColor") if "FillColor" in oa else None,
            stroke_colour=self.colour(outer, "StrokeColor") if "StrokeColor" in oa else None,
            stroke_width=self.qty(outer, "StrokeWidth", "pixel") if "StrokeWidth" in oa else None,
            **geometry,  # type: ignore[arg-type]
        )

    def _transform(self, outer: Node, geo: Node) -> tuple[float, float, float, float, float, float] | None:
        t = geo.child("Transform") or outer.child("Transform")
        if t is not None:
            vals = [self.float_(t, k) for k in ("A00", "A10", "A01", "A11", "A02", "A12")]
            if all(v is not None for v in vals):
                return tuple(vals)  # type: ignore[return-value]
            return None
        raw = outer.get("Transform") or geo.get("Transform")  # 2010-06 .. 2012-06: "matrix(a b c d e f)"
        if raw:
            nums = _NUMBER.findall(raw)
            if len(nums) == 6:
                a, b, c, d, e, f = (float(x) for x in nums)
                return a, b, c, d, e, f
        return None
