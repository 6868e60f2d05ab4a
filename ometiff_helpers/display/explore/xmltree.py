"""A navigable index over raw OME-XML: tree, paths, search and a namespace-free XPath subset (stdlib only).

`XmlTree.parse` reads the XML once with expat into flat arrays (tag, parent, last descendant, line, attributes, own
text), in document order. Element ``i``'s subtree is the index range ``i .. last(i)``, so subtree walks, search and
``//`` steps are loops over ranges, never recursion. Children are kept per element, so a page of 100 siblings out of
20 000 is one list slice. Nothing here builds widgets; ``display/explore_app.py`` draws what this module returns.

Names are matched by local name: ``ome:ROI`` and ``ROI`` are the same step, whatever prefix or namespace the writer
used. Safety (DOCTYPE/entities refused before parsing, depth and size bounds) is the OME-XML reader's, reused here.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import IntFlag
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

from ometiff_helpers.errors import LimitExceeded, OmeTiffError, OmeXmlError
from ometiff_helpers.ome.parser import OmeXmlOptions
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


class XPathError(OmeTiffError):
    """An XPath expression this module cannot evaluate; the message says where and what is supported."""


class SearchField(IntFlag):
    """Where `XmlTree.search` looks."""

    TAG = 1
    ATTR_NAME = 2
    ATTR_VALUE = 4
    TEXT = 8
    ALL = 15


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class SearchHit:
    index: int
    path: str
    field: str  # "tag", "attribute name", "attribute value", "text"
    name: str  # the tag or attribute name matched (the tag for text hits)
    snippet: str  # the matching value, shortened around the match


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: tuple[SearchHit, ...]
    total: int  # every match in the document (hits stops at the limit)

    @property
    def truncated(self) -> bool:
        return self.total > len(self.hits)


@dataclass(frozen=True)
class XPathMatch:
    index: int  # the element (for attribute and text results: the element that holds them)
    path: str
    value: str | None  # attribute value or text for ``/@name`` and ``/text()`` results, else None


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
        if size > limits.max_bytes:
            raise LimitExceeded(
                f"The XML is {size:,} bytes, more than the {limits.max_bytes:,} this explorer reads.",
                name="max_xml_bytes",
                value=size,
                limit=limits.max_bytes,
                hint="Raise OmeXmlOptions.max_bytes if the machine has the memory.",
            )
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
        limit: int = 500,
        under: int = 0,
    ) -> SearchResult:
        """Elements whose tag, attribute names, attribute values or text contain ``query`` (a plain substring).

        Every match is counted; the first ``limit`` are returned as hits (one per element and field).
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
                if len(hits) < limit:
                    snippet = _snippet(value, query, case_sensitive)
                    hits.append(SearchHit(j, self.path(j), field, name, snippet))
        return SearchResult(query, tuple(hits), total)

    # --- XPath ----------------------------------------------------------------------------------------------------

    def xpath(self, expression: str, *, limit: int = 10_000) -> tuple[XPathMatch, ...]:
        """Evaluate a namespace-free XPath subset; raises `XPathError` on anything else.

        Supported: absolute (``/OME/ROI``) and relative (``ROI/Union``, from the root) paths; ``//`` anywhere;
        ``*``, ``.``, ``..``; prefixes are ignored (``ome:ROI`` = ``ROI``); predicates ``[3]``, ``[last()]``,
        ``[@ID]``, ``[@ID='ROI:1']``, ``[@TheZ>=2]`` (``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``; numbers compare as
        numbers), ``[Name='x']`` (child text), ``[Value]`` (has child), ``[text()='x']``,
        ``[contains(@Name,'x')]``, ``[starts-with(text(),'x')]``, several predicates in a row; a final ``/@Name``,
        ``/@*`` or ``/text()`` returns values.
        """
        steps, final = _parse_xpath(expression)
        absolute = expression.strip().startswith("/")
        context: list[int] = [-1] if absolute else [0]
        for step in steps:
            context = self._step(context, step)
        out: list[XPathMatch] = []
        for j in context:
            if j < 0:
                continue
            if final is None:
                out.append(XPathMatch(j, self.path(j), None))
            elif final == "text()":
                if self._texts[j]:
                    out.append(XPathMatch(j, f"{self.path(j)}/text()", self._texts[j]))
            else:
                for name, value in self.attributes(j):
                    if final == "@*" or _local(name) == final[1:] or name == final[1:]:
                        out.append(XPathMatch(j, f"{self.path(j)}/@{name}", value))
            if len(out) >= limit:
                break
        return tuple(out[:limit])

    def _step(self, context: list[int], step: _Step) -> list[int]:
        if step.name == ".":
            candidates = [(j, j) for j in context]
        elif step.name == "..":
            candidates = [(p, p) for p in {self._parent[j] for j in context if j >= 0}]  # -1: the document
        elif step.descendant:
            candidates = []
            end = -1
            for j in context:  # contexts inside an earlier context's subtree add nothing new
                if j >= 0 and j <= end:
                    continue
                span = range(len(self._qnames)) if j < 0 else range(j + 1, self._last[j] + 1)
                end = len(self._qnames) if j < 0 else self._last[j]
                candidates.extend((self._parent[k], k) for k in span if step.matches(self._locals[k]))
        else:
            candidates = []
            for j in context:
                kids: Sequence[int] = [0] if j < 0 else (self._children[j] or ())
                candidates.extend((j, k) for k in kids if step.matches(self._locals[k]))
        if not step.predicates:
            return _unique_sorted(k for _, k in candidates)
        groups: dict[int, list[int]] = {}
        for p, k in candidates:
            groups.setdefault(p, []).append(k)
        selected: list[int] = []
        for members in groups.values():
            for pred in step.predicates:
                members = [k for n, k in enumerate(members, 1) if self._predicate(pred, k, n, len(members))]
            selected.extend(members)
        return _unique_sorted(selected)

    def _predicate(self, pred: _Predicate, k: int, position: int, size: int) -> bool:
        if pred.kind == "position":
            return position == (size if pred.target == "last()" else int(pred.target))
        values = self._values(pred.target, k)
        if pred.kind == "exists":
            return bool(values)
        assert pred.literal is not None
        if pred.kind == "contains":
            return any(pred.literal in v for v in values)
        if pred.kind == "starts-with":
            return any(v.startswith(pred.literal) for v in values)
        return any(_compare(v, pred.op, pred.literal) for v in values)

    def _values(self, target: str, k: int) -> list[str]:
        if target == "text()":
            return [self._texts[k]] if self._texts[k] else []
        if target.startswith("@"):
            name = target[1:]
            if name == "*":
                return list(self._attrs[k][1::2])
            flat = self._attrs[k]
            return [flat[m + 1] for m in range(0, len(flat), 2) if flat[m] == name or _local(flat[m]) == name]
        name = _local(target)
        return [self._texts[c] for c in self._children[k] or () if self._locals[c] == name]


# --- XPath parsing ---------------------------------------------------------------------------------------------------

_NAME = r"[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?"
_TOKEN = re.compile(
    rf"""\s*(?:
        (?P<dslash>//) | (?P<slash>/) | (?P<lbr>\[) | (?P<rbr>\]) | (?P<lpar>\() | (?P<rpar>\)) | (?P<comma>,)
      | (?P<op>!=|<=|>=|=|<|>)
      | (?P<str>'[^']*'|"[^"]*")
      | (?P<num>-?\d+(?:\.\d+)?)
      | (?P<dotdot>\.\.) | (?P<dot>\.)
      | (?P<attr>@(?:\*|{_NAME}))
      | (?P<func>(?:text|last|contains|starts-with)(?=\s*\())
      | (?P<star>\*)
      | (?P<name>{_NAME})
    )""",
    re.VERBOSE,
)


_TOKEN_WORDS = {
    "slash": "'/'",
    "dslash": "'//'",
    "lbr": "'['",
    "rbr": "']'",
    "lpar": "'('",
    "rpar": "')'",
    "comma": "','",
    "str": "a quoted string",
    "num": "a number",
    "attr": "an @attribute",
    "name": "an element name",
    "star": "'*'",
    "func": "a function",
}


@dataclass(frozen=True)
class _Predicate:
    kind: str  # "position", "exists", "compare", "contains", "starts-with"
    target: str  # "3" / "last()" / "@ID" / "text()" / child name
    op: str = ""
    literal: str | None = None


@dataclass(frozen=True)
class _Step:
    name: str  # local name, "*", "." or ".."
    descendant: bool
    predicates: tuple[_Predicate, ...]

    def matches(self, local: str) -> bool:
        return self.name == "*" or self.name == local


class _Tokens:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.items: list[tuple[str, str, int]] = []
        pos = 0
        text = expression.rstrip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise self.error(pos, "unexpected character")
            kind = m.lastgroup or ""
            self.items.append((kind, m.group(kind), m.start(kind)))
            pos = m.end()
        self.i = 0

    def peek(self) -> str:
        return self.items[self.i][0] if self.i < len(self.items) else "end"

    def take(self, *kinds: str) -> str:
        if self.peek() not in kinds:
            where = self.items[self.i][2] if self.i < len(self.items) else len(self.expression)
            raise self.error(where, f"expected {' or '.join(_TOKEN_WORDS.get(k, k) for k in kinds)}")
        value = self.items[self.i][1]
        self.i += 1
        return value

    def error(self, position: int, what: str) -> XPathError:
        return XPathError(
            f"XPath {_shorten(self.expression, 80)!r} not understood at character {position + 1}: {what}.",
            hint="Supported: /OME/ROI, //Polygon, ROI[3], ROI[last()], ROI[@ID='ROI:1'], Shape[@TheZ>=2], "
            "[contains(@Name,'x')], [text()='x'], a final /@Name or /text(); prefixes are ignored.",
        )


def _parse_xpath(expression: str) -> tuple[list[_Step], str | None]:
    if not expression.strip():
        raise XPathError("The XPath expression is empty.", hint="Try //ROI or /OME/Image/Pixels.")
    tokens = _Tokens(expression)
    steps: list[_Step] = []
    final: str | None = None
    descendant = False
    if tokens.peek() in ("slash", "dslash"):
        descendant = tokens.take("slash", "dslash") == "//"
    while True:
        kind = tokens.peek()
        if kind == "attr" or kind == "func":
            if kind == "attr":
                final = tokens.take("attr")
            else:
                if tokens.take("func") != "text":
                    raise tokens.error(tokens.items[tokens.i - 1][2], "only text() may end a path")
                tokens.take("lpar")
                tokens.take("rpar")
                final = "text()"
            if descendant:
                steps.append(_Step("*", True, ()))  # //@ID: the attribute on every element
            if tokens.peek() != "end":
                raise tokens.error(tokens.items[tokens.i][2], "an attribute or text() must end the path")
            break
        if kind == "dotdot":
            tokens.take("dotdot")
            step = _Step("..", False, ())
        elif kind == "dot":
            tokens.take("dot")
            step = _Step(".", False, ())
        else:
            name = tokens.take("name", "star")
            preds: list[_Predicate] = []
            while tokens.peek() == "lbr":
                tokens.take("lbr")
                preds.append(_parse_predicate(tokens))
                tokens.take("rbr")
            step = _Step(_local(name), descendant, tuple(preds))
        if descendant and step.name in (".", ".."):
            steps.append(_Step("*", True, ()))
        steps.append(step)
        if tokens.peek() == "end":
            break
        descendant = tokens.take("slash", "dslash") == "//"
        if tokens.peek() == "end":
            raise tokens.error(len(expression), "the path ends with a slash")
    return steps, final


def _parse_predicate(tokens: _Tokens) -> _Predicate:
    kind = tokens.peek()
    if kind == "num":
        raw = tokens.take("num")
        if not raw.isdigit() or int(raw) < 1:
            raise tokens.error(tokens.items[tokens.i - 1][2], "positions are whole numbers from 1")
        return _Predicate("position", raw)
    if kind == "func":
        func = tokens.take("func")
        tokens.take("lpar")
        if func == "last":
            tokens.take("rpar")
            return _Predicate("position", "last()")
        if func == "text":
            tokens.take("rpar")
            return _comparison(tokens, "text()")
        target = _target(tokens)
        tokens.take("comma")
        literal = tokens.take("str")[1:-1]
        tokens.take("rpar")
        return _Predicate(func, target, literal=literal)
    return _comparison(tokens, _target(tokens))


def _target(tokens: _Tokens) -> str:
    kind = tokens.peek()
    if kind == "func":
        if tokens.take("func") != "text":
            raise tokens.error(tokens.items[tokens.i - 1][2], "expected @attribute, text() or a child name")
        tokens.take("lpar")
        tokens.take("rpar")
        return "text()"
    value = tokens.take("attr", "name")
    return value if value.startswith("@") else _local(value)


def _comparison(tokens: _Tokens, target: str) -> _Predicate:
    if tokens.peek() != "op":
        return _Predicate("exists", target)
    op = tokens.take("op")
    literal = tokens.take("str", "num")
    if literal[:1] in ("'", '"'):
        literal = literal[1:-1]
    return _Predicate("compare", target, op, literal)


def _compare(value: str, op: str, literal: str) -> bool:
    try:
        a: float | str = float(value)
        b: float | str = float(literal)
    except ValueError:
        a, b = value, literal
    if op == "=":
        return a == b
    if op == "!=":
        return a != b
    if type(a) is not type(b):
        return False
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]  # type: ignore[operator]


# --- helpers -----------------------------------------------------------------------------------------------------------


def _cut_at_nul(data: bytes | str) -> bytes | str:
    if isinstance(data, str):
        cut = data.find("\0")
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data  # UTF-16: NUL bytes are part of the characters
    else:
        cut = data.find(b"\0")
    return data if cut < 0 else data[:cut]


def _unique_sorted(items: Iterator[int] | list[int]) -> list[int]:
    return sorted(set(items))


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
