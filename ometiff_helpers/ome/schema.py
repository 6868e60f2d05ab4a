"""Optional OME-XML schema validation (extra ``validate``: xmlschema + the 2016-06 XSD shipped by ome-types).

Offline: the XSD comes from the installed ome-types package, remote schema access is blocked, and the document is
parsed by our own guarded expat (no DTD, no entities) into elements that carry their line numbers.
"""

from __future__ import annotations

import functools
import re
from typing import Any
from xml.etree import ElementTree as ET
from xml.parsers import expat

from ometiff_helpers.errors import OmeTiffError, OmeXmlError, UnsupportedOme
from ometiff_helpers.frozen import record

SCHEMA_VERSION = "2016-06"
_NS = f"http://www.openmicroscopy.org/Schemas/OME/{SCHEMA_VERSION}"
_NS_RE = re.compile(r"/Schemas/OME/([^/]+)$")
_CLARK = re.compile(r"\{[^}]*\}")

__all__ = ["SchemaError", "validate_ome_xml"]


@record
class SchemaError:
    """One schema violation: the line (1-based, None when unknown), the element path and the reason."""

    line: int | None
    message: str
    path: str = ""


class _LinedElement(ET.Element):
    """An Element that remembers its line (xmlschema reads ``sourceline``)."""

    sourceline: int | None = None


@functools.lru_cache(maxsize=1)
def _schema() -> Any:
    try:
        from importlib.resources import files

        import xmlschema
    except ImportError:  # pragma: no cover - the test environment has the extra
        raise OmeTiffError(
            "schema validation needs the optional 'validate' extra (xmlschema and ome-types).",
            hint="pip install 'ometiff-inspect[validate]'",
        ) from None
    try:
        xsd = files("ome_types") / "ome-2016-06.xsd"
    except ModuleNotFoundError:  # pragma: no cover
        raise OmeTiffError(
            "schema validation needs ome-types, which ships the OME 2016-06 XSD.",
            hint="pip install 'ometiff-inspect[validate]'",
        ) from None
    # allow="local": the XSD's import of xml.xsd resolves to xmlschema's bundled copy, never to the network
    return xmlschema.XMLSchema(str(xsd), allow="local", defuse="always")


def _refuse(*_args: object) -> None:
    raise OmeXmlError("the OME-XML contains a DOCTYPE or ENTITY declaration, which is not allowed.")


def _tree(data: bytes) -> _LinedElement:
    """Parse with line numbers, refusing DTDs and entities (the same rules as ``omexml``)."""
    p = expat.ParserCreate(namespace_separator="}")
    p.buffer_text = True
    p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    p.StartDoctypeDeclHandler = _refuse
    p.EntityDeclHandler = _refuse
    p.ExternalEntityRefHandler = _refuse
    stack: list[_LinedElement] = []
    root: list[_LinedElement] = []

    def tag(name: str) -> str:
        return "{" + name if "}" in name else name

    def start(name: str, attrs: dict[str, str]) -> None:
        if len(stack) >= 64:
            raise OmeXmlError("the OME-XML is nested more than 64 levels deep.", line=p.CurrentLineNumber)
        el = _LinedElement(tag(name), {tag(k): v for k, v in attrs.items()})
        el.sourceline = p.CurrentLineNumber
        if stack:
            stack[-1].append(el)
        else:
            root.append(el)
        stack.append(el)

    def end(_name: str) -> None:
        stack.pop()

    def chars(text: str) -> None:
        if not stack:
            return
        cur = stack[-1]
        if len(cur):
            last = cur[-1]
            last.tail = (last.tail or "") + text
        else:
            cur.text = (cur.text or "") + text

    p.StartElementHandler = start
    p.EndElementHandler = end
    p.CharacterDataHandler = chars
    try:
        p.Parse(data, True)
    except expat.ExpatError as exc:
        raise OmeXmlError(
            f"the OME-XML is not well-formed: {expat.ErrorString(exc.code)} at line {exc.lineno}, "
            f"column {exc.offset + 1}.",
            line=exc.lineno,
            column=exc.offset + 1,
        ) from None
    return root[0]


def validate_ome_xml(data: bytes | str, *, max_errors: int = 1000) -> list[SchemaError]:
    """Schema errors of an OME-XML 2016-06 document (empty when valid). Slower than parsing: optional.

    Other schema versions raise ``UnsupportedOme(kind="schema-version")``: only the 2016-06 XSD is shipped.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    raw = raw.split(b"\x00", 1)[0] if not raw.startswith((b"\xff\xfe", b"\xfe\xff")) else raw
    root = _tree(raw)
    ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if ns != _NS:
        m = _NS_RE.search(ns)
        found = m.group(1) if m else (ns or "no namespace")
        raise UnsupportedOme(
            f"schema validation applies to OME {SCHEMA_VERSION} only; this document uses {found}.",
            kind="schema-version",
            hint="Upgrade the XML with Bio-Formats (bfconvert / the OME XSLT transforms) to validate it.",
        )
    errors: list[SchemaError] = []
    for err in _schema().iter_errors(root):
        path = _CLARK.sub("", str(err.path or ""))
        errors.append(SchemaError(err.sourceline, str(err.reason or err.message), path))
        if len(errors) >= max_errors:
            break
    return errors
