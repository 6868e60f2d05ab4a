"""A navigable index over raw OME-XML: tree, paths, search, and XPath without namespace prefixes.

`XmlTree.parse` reads the XML once with expat into flat arrays (tag, parent, last descendant, line, attributes, own
text), in document order. Element ``i``'s subtree is the index range ``i .. last(i)``, so subtree walks and search
are loops over ranges, never recursion. Children are kept per element, so a page of 100 siblings out of 20 000 is
one list slice. XPath is elementpath's (``xpath.py``), over a copy built from this index on the first query. Nothing
here builds widgets; ``display/explore/app.py`` draws what this module and ``model.py`` return.

Names are matched by local name: ``ome:ROI`` and ``ROI`` are the same step, whatever prefix or namespace the writer
used. Safety (DOCTYPE/entities refused before parsing, depth and size bounds) is the OME-XML reader's, reused here.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from enum import IntFlag
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

from ometiff_helpers.display.explore.xpath import XPathError, XPathIndex, XPathMatch
from ometiff_helpers.errors import LimitExceeded, OmeTiffError, OmeXmlError
from ometiff_helpers.frozen import record
from ometiff_helpers.ome.parser import OmeXmlOptions, check_xml_size
from ometiff_helpers.ome.safety import DtdRefused, dtd_error, safe_expat_parser

__all__ = [
    "NodeInfo",
    "Page",
    "SearchField",
    "SearchHit",
    "SearchResult",
    "XPathError",
    "XPathMatch",
    "XmlTree",
]

#: attributes that name an element in a one-line label, in order of preference
_LABEL_ATTRS = ("ID", "Name", "K", "Namespace", "TheZ", "TheC", "TheT")


class SearchField(IntFlag):
    """Where `XmlTree.search` looks."""

    TAG = 1
    ATTR_NAME = 2
    ATTR_VALUE = 4
    TEXT = 8
    ALL = 15


@record
class NodeInfo:
    """Everything the detail pane shows about one element."""

    index: int
    tag: str  # local name
    qname: str  # as written (with the writer's prefix, if any)
    path: str  # namespace-free XPath that selects exactly this element
    attributes: tuple[tuple[str, str], ...]
    text: str
    child_count: int
    child_tags: tuple[tuple[str, int], ...]  # (local name, count) in order of first appearance
    line: int
    depth: int


@record
class Page:
    """One page of an element's children: ``items`` are element indices ``start .. stop-1`` of ``total``."""

    parent: int
    number: int  # 0-based
    per_page: int
    total: int
    items: tuple[int, ...]

    @property
    def start(self) -> int:
        return self.number * self.per_page

    @property
    def stop(self) -> int:
        return self.start + len(self.items)

    @property
    def page_count(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def describe(self) -> str:
        """``"101-200 of 20,000"`` (1-based, inclusive)."""
        if not self.total:
            return "no children"
        return f"{self.start + 1:,}-{self.stop:,} of {self.total:,}"


@record
class SearchHit:
    index: int
    path: str
    field: str  # "tag", "attribute name", "attribute value", "text"
    name: str  # the tag or attribute name matched (the tag for text hits)
    snippet: str  # the matching value, shortened around the match


@record
class SearchResult:
    query: str
    hits: tuple[SearchHit, ...]
    total: int  # every match in the document (hits stops at the limit)

    @property
    def truncated(self) -> bool:
        return self.total > len(self.hits)


class _Builder:
    """expat handlers filling the flat arrays; bounds are checked as elements open."""

    def __init__(self, limits: OmeXmlOptions) -> None:
        self.limits = limits
        self.qnames: list[str] = []
        self.attrs: list[list[str]] = []
        self.texts: list[str] = []
        self.parent = array("i")
        self.last = array("i")
        self.line = array("i")
        self.children: list[list[int] | None] = []
        self.stack: list[int] = []
        self.text_parts: list[list[str] | None] = []
        self.names: dict[str, str] = {}  # interning: one str object per distinct name
        self.parser: expat.XMLParserType | None = None

    def start(self, name: str, attrs: list[str]) -> None:
        i = len(self.qnames)
        if len(self.stack) >= self.limits.max_depth:
            raise LimitExceeded(
                f"The XML nests deeper than {self.limits.max_depth} levels (at line {self._line()}).",
                name="max_depth",
                value=len(self.stack) + 1,
                limit=self.limits.max_depth,
                hint="OME-XML is a few levels deep; this file is malformed or hostile.",
            )
        if i >= self.limits.max_elements:
            raise LimitExceeded(
                f"The XML has more than {self.limits.max_elements:,} elements.",
                name="max_elements",
                value=i + 1,
                limit=self.limits.max_elements,
                hint="Raise OmeXmlOptions.max_elements if you trust this file.",
            )
        name = self.names.setdefault(name, name)
        for k in range(0, len(attrs), 2):
            attrs[k] = self.names.setdefault(attrs[k], attrs[k])
        self.qnames.append(name)
        self.attrs.append(attrs)
        self.texts.append("")
        self.line.append(self._line())
        self.last.append(i)
        self.children.append(None)
        self.text_parts.append(None)
        if self.stack:
            p = self.stack[-1]
            self.parent.append(p)
            kids = self.children[p]
            if kids is None:
                self.children[p] = [i]
            else:
                kids.append(i)
        else:
            self.parent.append(-1)
        self.stack.append(i)

    def end(self, _name: str) -> None:
        i = self.stack.pop()
        self.last[i] = len(self.qnames) - 1
        parts = self.text_parts[i]
        if parts is not None:
            text = "".join(parts).strip()
            if text:
                self.texts[i] = text
            self.text_parts[i] = None

    def chars(self, data: str) -> None:
        if not self.stack:
            return
        i = self.stack[-1]
        parts = self.text_parts[i]
        if parts is None:
            if data.isspace():
                return
            self.text_parts[i] = [data]
        else:
            parts.append(data)

    def _line(self) -> int:
        return self.parser.CurrentLineNumber if self.parser is not None else 0


def _local(qname: str) -> str:
    return qname.rpartition(":")[2]


class XmlTree:
    """The elements of one XML document in document order; element 0 is the root."""

    def __init__(self, builder: _Builder, size: int) -> None:
        self._qnames = builder.qnames
        self._locals = [_local(q) for q in builder.qnames]
        self._attrs = builder.attrs
        self._texts = builder.texts
        self._parent = builder.parent
        self._last = builder.last
        self._line = builder.line
        self._children = builder.children
        self._pos = self._sibling_positions()
        self.size = size  # bytes (or characters for text input) parsed
        self._xpath_index: XPathIndex | None = None  # built by the first `xpath` call

    # --- construction ---------------------------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: bytes | str, *, options: OmeXmlOptions | None = None) -> XmlTree:
        """Index ``data`` in one expat pass, within the OME-XML reader's bounds (``OmeXmlOptions``).

        As in a TIFF ASCII tag, anything from the first NUL on is ignored. Raises `OmeXmlError` (not well-formed,
        DOCTYPE/entities; with line and column) or `LimitExceeded` (size, depth, element count).
        """
        limits = options or OmeXmlOptions()
        data = _cut_at_nul(data)
        size = len(data)
        check_xml_size(size, limits, where="The XML")
        builder = _Builder(limits)
        parser = safe_expat_parser()  # no namespace processing: names as written, matched by local name
        parser.ordered_attributes = True
        parser.StartElementHandler = builder.start
        parser.EndElementHandler = builder.end
        parser.CharacterDataHandler = builder.chars
        builder.parser = parser
        try:
            parser.Parse(data, True)  # one buffer: linear time even for multi-MB tokens (expat < 2.6)
        except DtdRefused:
            raise dtd_error(parser) from None
        except expat.ExpatError as exc:
            line, column = exc.lineno, exc.offset + 1
            raise OmeXmlError(
                f"The XML is not well-formed: {expat.ErrorString(exc.code)} at line {line}, column {column}.",
                line=line,
                column=column,
                hint="The writer produced broken XML, or the text was cut short.",
            ) from None
        except RecursionError:  # pragma: no cover - the depth bound stops nesting long before
            raise OmeXmlError("The XML nests too deeply to read.") from None
        finally:
            builder.parser = None
        if not builder.qnames:
            raise OmeXmlError("The XML has no root element.", hint="Is this really an OME-XML document?")
        return cls(builder, size)

    def _sibling_positions(self) -> array[int]:
        """1-based position among same-named siblings, 0 when the name is unique among them (no ``[n]`` in paths)."""
        pos = array("i", bytes(4 * len(self._qnames)))
        names = self._locals
        for kids in self._children:
            if kids is None or len(kids) < 2:
                continue
            counts: dict[str, int] = {}
            for c in kids:
                counts[names[c]] = counts.get(names[c], 0) + 1
            seen: dict[str, int] = {}
            for c in kids:
                name = names[c]
                if counts[name] > 1:
                    seen[name] = seen.get(name, 0) + 1
                    pos[c] = seen[name]
        return pos

    # --- elements -------------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._qnames)

    @property
    def root(self) -> int:
        return 0

    @property
    def namespace(self) -> str | None:
        """The root's default namespace (``xmlns``), or the namespace bound to its prefix."""
        qname = self._qnames[0]
        prefix = qname.partition(":")[0] if ":" in qname else ""
        return self.attribute(0, f"xmlns:{prefix}" if prefix else "xmlns")

    def _check(self, i: int) -> int:
        if not isinstance(i, int) or not 0 <= i < len(self._qnames):
            raise OmeTiffError(
                f"No element number {i!r} in this XML (it has {len(self._qnames):,} elements)."
            )
        return i

    def tag(self, i: int) -> str:
        return self._locals[self._check(i)]

    def qname(self, i: int) -> str:
        return self._qnames[self._check(i)]

    def attributes(self, i: int) -> tuple[tuple[str, str], ...]:
        flat = self._attrs[self._check(i)]
        return tuple(zip(flat[0::2], flat[1::2], strict=True))

    def attribute(self, i: int, name: str) -> str | None:
        """The value of attribute ``name`` (as written, or by local name), or None."""
        flat = self._attrs[self._check(i)]
        for k in range(0, len(flat), 2):
            if flat[k] == name:
                return flat[k + 1]
        for k in range(0, len(flat), 2):
            if _local(flat[k]) == name and not flat[k].startswith("xmlns"):
                return flat[k + 1]
        return None

    def text(self, i: int) -> str:
        """The element's own character data, stripped ("" when there is none)."""
        return self._texts[self._check(i)]

    def parent(self, i: int) -> int | None:
        p = self._parent[self._check(i)]
        return None if p < 0 else p

    def line(self, i: int) -> int:
        return self._line[self._check(i)]

    def depth(self, i: int) -> int:
        d, p = 0, self._parent[self._check(i)]
        while p >= 0:
            d, p = d + 1, self._parent[p]
        return d

    def child_count(self, i: int) -> int:
        kids = self._children[self._check(i)]
        return 0 if kids is None else len(kids)

    def children(self, i: int, start: int = 0, stop: int | None = None) -> tuple[int, ...]:
        kids = self._children[self._check(i)]
        return () if kids is None else tuple(kids[start:stop])

    def page(self, i: int, number: int = 0, per_page: int = 100) -> Page:
        """Children ``number * per_page`` onwards, at most ``per_page`` of them (numbers past the end are clamped)."""
        if per_page < 1:
            raise OmeTiffError(f"A page holds at least one element, not {per_page}.")
        total = self.child_count(i)
        last_page = max(0, -(-total // per_page) - 1)
        number = min(max(0, number), last_page)
        items = self.children(i, number * per_page, (number + 1) * per_page)
        return Page(parent=i, number=number, per_page=per_page, total=total, items=items)

    def child_tags(self, i: int) -> tuple[tuple[str, int], ...]:
        """(local name, count) of the children, in order of first appearance."""
        counts: dict[str, int] = {}
        for c in self._children[self._check(i)] or ():
            name = self._locals[c]
            counts[name] = counts.get(name, 0) + 1
        return tuple(counts.items())

    def subtree(self, i: int) -> range:
        """Element ``i`` and all its descendants, in document order."""
        return range(self._check(i), self._last[i] + 1)

    def path(self, i: int) -> str:
        """``/OME/ROI[17]/Union/Polygon``: local names, ``[n]`` where same-named siblings exist. `xpath` accepts it."""
        steps: list[str] = []
        j = self._check(i)
        while j >= 0:
            pos = self._pos[j]
            steps.append(f"{self._locals[j]}[{pos}]" if pos else self._locals[j])
            j = self._parent[j]
        return "/" + "/".join(reversed(steps))

    def label(self, i: int) -> str:
        """One line naming the element: its tag, identifying attributes, a short text and its child count."""
        parts = [self._locals[self._check(i)]]
        for name in _LABEL_ATTRS:
            value = self.attribute(i, name)
            if value is not None:
                parts.append(f"{name}={_shorten(value, 40)!r}")
            if len(parts) >= 3:
                break
        text = self._texts[i]
        if text:
            parts.append(f"“{_shorten(text, 40)}”")
        n = self.child_count(i)
        if n:
            parts.append(f"({n:,} child{'ren' if n != 1 else ''})")
        return " ".join(parts)

    def info(self, i: int) -> NodeInfo:
        return NodeInfo(
            index=self._check(i),
            tag=self._locals[i],
            qname=self._qnames[i],
            path=self.path(i),
            attributes=self.attributes(i),
            text=self._texts[i],
            child_count=self.child_count(i),
            child_tags=self.child_tags(i),
            line=self._line[i],
            depth=self.depth(i),
        )

    def records(self) -> Iterator[tuple[str, list[str], str, int]]:
        """(local name, flat attribute name/value list as written, own text, parent or -1) of every element in
        document order: the raw rows, for building another tree from this index (do not modify the lists)."""
        return zip(self._locals, self._attrs, self._texts, self._parent, strict=True)

    def find_all(self, tag: str, under: int = 0) -> Iterator[int]:
        """Elements named ``tag`` (local name, prefix ignored) in the subtree of ``under``, in document order."""
        tag = _local(tag)
        names = self._locals
        return (j for j in self.subtree(under) if names[j] == tag)

    # --- serialisation --------------------------------------------------------------------------------------------

    def to_xml(
        self, i: int = 0, *, indent: str = "  ", max_chars: int | None = None, inherit_namespaces: bool = True
    ) -> str:
        """The subtree of ``i`` re-serialised and indented (names and prefixes as written; own text only).

        With ``inherit_namespaces``, the namespaces declared on ancestors are declared on ``i``, so the text
        parses on its own.
        ``max_chars`` cuts the result (with a closing note) so that a 25 MB subtree never lands in a widget whole.
        """
        out: list[str] = []
        used = 0
        open_stack: list[int] = []
        truncated = False
        inherited = self._inherited_namespaces(i) if inherit_namespaces else []
        for j in self.subtree(i):
            while open_stack and self._last[open_stack[-1]] < j:
                k = open_stack.pop()
                out.append(f"{indent * len(open_stack)}</{self._qnames[k]}>\n")
            pad = indent * len(open_stack)
            flat = self._attrs[j] if j != i else inherited + self._attrs[j]
            attrs = "".join(f" {flat[k]}={quoteattr(flat[k + 1])}" for k in range(0, len(flat), 2))
            text = escape(self._texts[j])
            if self._children[j] is None:
                line = (
                    f"{pad}<{self._qnames[j]}{attrs}>{text}</{self._qnames[j]}>\n"
                    if text
                    else f"{pad}<{self._qnames[j]}{attrs}/>\n"
                )
                out.append(line)
            else:
                out.append(f"{pad}<{self._qnames[j]}{attrs}>\n")
                if text:
                    out.append(f"{pad}{indent}{text}\n")
                open_stack.append(j)
            used += len(out[-1])
            if max_chars is not None and used > max_chars:
                truncated = True
                break
        if truncated:
            return "".join(out)[:max_chars] + f"\n... (cut at {max_chars:,} characters)\n"
        while open_stack:
            k = open_stack.pop()
            out.append(f"{indent * len(open_stack)}</{self._qnames[k]}>\n")
        return "".join(out)

    def _inherited_namespaces(self, i: int) -> list[str]:
        """``xmlns`` declarations in scope at ``i`` but made on its ancestors (flat name/value list)."""
        own = set(self._attrs[i][0::2])
        found: dict[str, str] = {}
        p = self._parent[i]
        while p >= 0:
            flat = self._attrs[p]
            for k in range(0, len(flat), 2):
                name = flat[k]
                if (name == "xmlns" or name.startswith("xmlns:")) and name not in own and name not in found:
                    found[name] = flat[k + 1]
            p = self._parent[p]
        return [x for pair in found.items() for x in pair]

    # --- search ---------------------------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        fields: SearchField = SearchField.ALL,
        case_sensitive: bool = False,
        limit: int | None = None,
        under: int = 0,
    ) -> SearchResult:
        """Elements whose tag, attribute names, attribute values or text contain ``query`` (a plain substring).

        Every match is counted and returned as a hit (one per element and field); with ``limit``, only the first
        ``limit`` hits are kept (``total`` still counts them all).
        """
        if not query:
            return SearchResult(query, (), 0)
        fold = (lambda s: s) if case_sensitive else str.casefold
        needle = fold(query)
        hits: list[SearchHit] = []
        total = 0
        want_tag = bool(fields & SearchField.TAG)
        want_name = bool(fields & SearchField.ATTR_NAME)
        want_value = bool(fields & SearchField.ATTR_VALUE)
        want_text = bool(fields & SearchField.TEXT)
        for j in self.subtree(under):
            found: list[tuple[str, str, str]] = []
            if want_tag and needle in fold(self._locals[j]):
                found.append(("tag", self._locals[j], self._locals[j]))
            flat = self._attrs[j]
            for k in range(0, len(flat), 2):
                if want_name and needle in fold(flat[k]):
                    found.append(("attribute name", flat[k], flat[k + 1]))
                elif want_value and needle in fold(flat[k + 1]):
                    found.append(("attribute value", flat[k], flat[k + 1]))
            if want_text and self._texts[j] and needle in fold(self._texts[j]):
                found.append(("text", self._locals[j], self._texts[j]))
            for field, name, value in found:
                total += 1
                if limit is None or len(hits) < limit:
                    snippet = _snippet(value, query, case_sensitive)
                    hits.append(SearchHit(j, self.path(j), field, name, snippet))
        return SearchResult(query, tuple(hits), total)

    # --- XPath ----------------------------------------------------------------------------------------------------

    def xpath(self, expression: str, *, limit: int | None = None) -> tuple[XPathMatch, ...]:
        """Every result of an XPath 2.0 ``expression`` (elementpath), names matched by local name; see `xpath`.

        Relative paths start at the root element (``ROI/Union`` = ``/OME/ROI/Union``). The first call builds the
        copy elementpath needs (bounded: `LimitExceeded`); raises `XPathError` with where and why on a bad
        expression.
        """
        if self._xpath_index is None:
            self._xpath_index = XPathIndex.build(self)
        return self._xpath_index.select(expression, limit=limit)


# --- helpers -----------------------------------------------------------------------------------------------------------


def _cut_at_nul(data: bytes | str) -> bytes | str:
    if isinstance(data, str):
        cut = data.find("\0")
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data  # UTF-16: NUL bytes are part of the characters
    else:
        cut = data.find(b"\0")
    return data if cut < 0 else data[:cut]


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split()) if len(text) < 4 * limit else " ".join(text[: 4 * limit].split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _snippet(value: str, query: str, case_sensitive: bool, width: int = 80) -> str:
    """``value`` shortened to ``width`` characters around the first occurrence of ``query``."""
    if len(value) <= width:
        return value
    hay = value if case_sensitive else value.casefold()
    at = max(0, hay.find(query if case_sensitive else query.casefold()))
    start = max(0, at - width // 3)
    end = start + width
    return ("…" if start else "") + value[start:end] + ("…" if end < len(value) else "")
