"""Attribute values of OME-XML elements read leniently: numbers, booleans, quantities with units, colours, IDs;
a value that cannot be read is a finding, never an exception."""

from __future__ import annotations

import math
import re

from ometiff_helpers.findings import FindingLog, Severity
from ometiff_helpers.ome.model import Colour
from ometiff_helpers.ome.units import Quantity, is_schema_length_unit, normalise_unit
from ometiff_helpers.ome.xmlnode import Node

#: sizes beyond this are treated as corrupt (X18): arithmetic stays sane
MAX_SIZE = 2**31

_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


class ValueReader:
    """Stateless value readers plus the findings log, shared by every part's conversion."""

    def __init__(self, log: FindingLog) -> None:
        self.log = log

    def _bad(self, node: Node, attr: str, value: str, expected: str) -> None:
        shown = value if len(value) <= 40 else value[:37] + "..."
        self.log.add(
            "OME_BAD_VALUE",
            Severity.WARNING,
            f"{node.local}@{attr} = {shown!r} is not {expected}; the value is ignored.",
            remedy="Fix the writer or re-export the metadata.",
            where=node.get("ID") or node.local,
            key=f"{node.local}@{attr}",
        )

    def int_(self, node: Node, attr: str, *, size: bool = False) -> int | None:
        raw = node.attrs.get(attr)
        if raw is None:
            return None
        try:
            v = int(raw)
        except ValueError:
            try:
                fv = float(raw)
            except ValueError:
                fv = math.nan
            if not math.isfinite(fv) or fv != int(fv):  # "inf", "1e400", "nan": not an integer
                self._bad(node, attr, raw, "an integer")
                return None
            v = int(fv)
        if size and not 0 <= v < MAX_SIZE:
            self._bad(node, attr, raw, f"a size between 0 and {MAX_SIZE - 1}")
            return None
        return v

    def float_(self, node: Node, attr: str) -> float | None:
        raw = node.attrs.get(attr)
        if raw is None:
            return None
        try:
            return float(raw)
        except ValueError:
            self._bad(node, attr, raw, "a number")
            return None

    def bool_(self, node: Node, attr: str) -> bool | None:
        raw = node.get(attr)
        if raw is None:
            return None
        v = raw.strip().lower()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
        self._bad(node, attr, raw, "true or false")
        return None

    def qty(self, node: Node, attr: str, default_unit: str, *, length: bool = False) -> Quantity | None:
        value = self.float_(node, attr)
        if value is None:
            return None
        unit = node.attrs.get(attr + "Unit")
        if unit is None:
            return Quantity(value, default_unit, unit_defaulted=True)
        if length and not is_schema_length_unit(unit):
            fixed = normalise_unit(unit)
            hint = f" (the schema spells it {fixed!r})" if fixed != unit else ""
            self.log.add(
                "OME_UNIT_NONSTANDARD",
                Severity.WARNING,
                f"{node.local}@{attr}Unit = {unit!r} is not a unit of the OME schema{hint}; strict readers reject it.",
                remedy="Write units exactly as the schema enumerates them (e.g. 'µm', not 'um').",
                where=node.get("ID") or node.local,
                key=f"{node.local}@{attr}Unit={unit}",
            )
        return Quantity(value, unit)

    def colour(self, node: Node, attr: str) -> Colour | None:
        raw = node.get(attr)
        if raw is None:
            return None
        try:
            v = int(raw.strip(), 0) if raw.strip().lower().startswith("0x") else int(raw.strip())
        except ValueError:
            self._bad(node, attr, raw, "a 32-bit RGBA integer")
            return None
        if not -(2**31) <= v < 2**32:
            self._bad(node, attr, raw, "a 32-bit RGBA integer")
            return None
        return Colour(v)

    def id_format(self, node: Node, kind: str, where: str) -> None:
        """IDs of Image / Pixels / Channel must look like ``Kind:...`` (the schema's pattern; Viv checks it)."""
        ident = node.get("ID")
        if ident is None or re.match(rf"^(urn:lsid:\S+:)?{kind}:\S+$", ident):
            return
        self.log.add(
            "OME_ID_FORMAT",
            Severity.WARNING,
            f"{node.local} ID {ident!r} does not have the form '{kind}:<n>' that the OME schema requires.",
            remedy="Strict readers (and schema validation) reject the file: re-export the metadata.",
            where=where,
            key=f"{kind}:{ident}",
        )

    def require(self, node: Node, *attrs: str, where: str = "") -> None:
        for a in attrs:
            if node.get(a) is None:
                self.log.add(
                    "OME_MISSING_ATTRIBUTE",
                    Severity.WARNING,
                    f"{node.local} has no {a} attribute, which the OME schema requires.",
                    remedy=f"Add {a} to every {node.local}; viewers such as Viv refuse the file without it.",
                    where=where or node.get("ID") or node.local,
                    key=f"{node.local}@{a}",
                )

    @staticmethod
    def _refs(node: Node, local: str) -> tuple[str, ...]:
        return tuple(c.get("ID") or "" for c in node.iter_children(local))

    def _attr_or_child(self, node: Node, name: str) -> str | None:
        return node.get(name) if node.get(name) is not None else node.child_text(name)
