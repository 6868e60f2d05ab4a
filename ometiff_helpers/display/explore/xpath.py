"""XPath 2.0 over an `XmlTree`, evaluated by elementpath, with names matched by local name.

elementpath needs an element tree; the explorer's index is flat arrays. On the first query, `XPathIndex.build`
makes a namespace-free ElementTree copy of the index (local names for elements and attributes, ``xmlns``
declarations left out, each element's own text) and elementpath's node tree over it, once per document, bounded by
``max_elements``. The copy is built from the already parsed index, so no XML is parsed again: the DOCTYPE/entity
refusal of ``ome/safety.py`` stays the only way in. ``fn:doc`` and ``fn:collection`` only see documents given to the
context (none), so a query never reads a file or the network.

Unprefixed names work whatever namespace the writer used (``//ROI/Union/Polygon`` finds the OME elements), and a
prefix written in a name test is dropped (``ome:ROI`` = ``ROI``), except XPath's own ``fn:``, ``xs:``, ``math:``,
``map:``, ``array:`` and ``err:``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import elementpath
from elementpath import XPath2Parser, XPathContext

from ometiff_helpers.errors import LimitExceeded, OmeTiffError
from ometiff_helpers.frozen import record

if TYPE_CHECKING:
    from ometiff_helpers.display.explore.xmltree import XmlTree

__all__ = [
    "MAX_EXPRESSION_CHARS",
    "MAX_XPATH_ELEMENTS",
    "MAX_XPATH_RESULTS",
    "XPathError",
    "XPathIndex",
    "XPathMatch",
]

MAX_XPATH_ELEMENTS = 5_000_000  # elements copied for elementpath (the index's own default bound)
MAX_XPATH_RESULTS = 2_000_000  # items one query may return
MAX_EXPRESSION_CHARS = 10_000
MAX_XPATH_STEPS = 5_000_000  # nodes one query may visit (a count, not a clock: the same on any machine) ...
STEPS_PER_ELEMENT = 20  # ... or this many per element of a larger document, whichever is more

#: prefixes that belong to XPath itself (functions and types), never dropped
_XPATH_PREFIXES = frozenset({"fn", "xs", "math", "map", "array", "err"})
_STRINGS = re.compile(r"('[^']*'|\"[^\"]*\")")
_PREFIXED = re.compile(r"(?<![\w.\-:$])([A-Za-z_][\w.\-]*):(?=[A-Za-z_*])")
_WHERE = re.compile(r"at line (\d+), column (\d+): (?:\[err:(\w+)\] )?(.*)$", re.DOTALL)
_HINT = (
    "XPath 2.0 without namespace prefixes, e.g. //ROI, /OME/ROI[3], //ROI[@ID='ROI:1']/Union/*, "
    "//Polygon[@TheZ>=2]/@ID, //M[@K='x']/text(), count(//Polygon)."
)


class XPathError(OmeTiffError):
    """An XPath expression that does not parse or fails to evaluate; the message says where and why."""


@record
class XPathMatch:
    """One result: an element, an attribute or text of an element, or a computed value (``index`` None)."""

    index: int | None  # the element (for attribute and text results: the element that holds them)
    path: str  # "" for computed values such as count(...)
    value: str | None  # attribute value, text or computed value; None for elements


def _strip_prefixes(expression: str) -> str:
    """``ome:ROI/ome:Union`` -> ``ROI/Union``; string literals and XPath's own prefixes stay as written."""
    parts = _STRINGS.split(expression)
    for k in range(0, len(parts), 2):  # even parts are outside quotes
        parts[k] = _PREFIXED.sub(lambda m: m.group(0) if m.group(1) in _XPATH_PREFIXES else "", parts[k])
    return "".join(parts)


def _shorten(text: str, limit: int = 80) -> str:
    text = " ".join(text[: 4 * limit].split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error(expression: str, exc: elementpath.ElementPathError, parsing: bool) -> XPathError:
    """elementpath's error as one sentence: the expression, the character, the reason and its XPath code."""
    message = str(getattr(exc, "message", None) or exc)
    found = _WHERE.search(str(exc))
    where, code = "", getattr(exc, "code", None)
    if found is not None:
        line, column, code, message = int(found[1]), int(found[2]), found[3] or code, found[4]
        where = f" at character {column}" if line == 1 else f" at line {line}, character {column}"
    code_text = f" ({str(code).rpartition(':')[2]})" if code else ""
    what = "not understood" if parsing else "could not be evaluated"
    return XPathError(
        f"XPath {_shorten(expression)!r} {what}{where}: {message.rstrip('.')}{code_text}.", hint=_HINT
    )


class _StepsExceeded(Exception):
    """Raised inside elementpath's axis iterators when a query has visited its budget of nodes."""


class _CountingContext(XPathContext):
    """An XPathContext whose axes count every node they visit against a budget shared with its copies
    (elementpath copies the context for predicates; ``__copy__`` keeps ``__dict__``, so the counter is shared)."""

    def _visit(self, items: Iterator[Any]) -> Iterator[Any]:
        budget: list[int] = self.__dict__["_budget"]
        for item in items:
            budget[0] -= 1
            if budget[0] < 0:
                raise _StepsExceeded
            yield item

    def iter_children_or_self(self) -> Iterator[Any]:
        return self._visit(super().iter_children_or_self())

    def iter_attributes(self) -> Iterator[Any]:
        return self._visit(super().iter_attributes())

    def iter_descendants(self, axis: str | None = None) -> Iterator[Any]:
        return self._visit(super().iter_descendants(axis))

    def iter_ancestors(self, axis: str | None = None) -> Iterator[Any]:
        return self._visit(super().iter_ancestors(axis))

    def iter_siblings(self, axis: str | None = None) -> Iterator[Any]:
        return self._visit(super().iter_siblings(axis))

    def iter_preceding(self) -> Iterator[Any]:
        return self._visit(super().iter_preceding())

    def iter_followings(self) -> Iterator[Any]:
        return self._visit(super().iter_followings())


class XPathIndex:
    """A namespace-free ElementTree copy of an `XmlTree` and elementpath's node tree over it."""

    def __init__(self, tree: XmlTree, document: Any, positions: dict[ET.Element, int]) -> None:
        self._tree = tree
        self._document = document
        self._positions = positions
        self._parser = XPath2Parser()

    @classmethod
    def build(cls, tree: XmlTree, *, max_elements: int = MAX_XPATH_ELEMENTS) -> XPathIndex:
        """Copy ``tree`` for elementpath; raises `LimitExceeded` over ``max_elements`` elements."""
        if len(tree) > max_elements:
            raise LimitExceeded(
                f"XPath needs an in-memory copy of the XML's {len(tree):,} elements, more than the "
                f"{max_elements:,} this explorer copies.",
                name="max_xpath_elements",
                value=len(tree),
                limit=max_elements,
                hint="Use Search (it reads the index directly), or raise max_xpath_elements if the machine has "
                "the memory.",
            )
        elements: list[ET.Element] = []
        positions: dict[ET.Element, int] = {}
        for i, (tag, flat, text, parent) in enumerate(tree.records()):
            attrs = {
                flat[k].rpartition(":")[2]: flat[k + 1]
                for k in range(0, len(flat), 2)
                if flat[k] != "xmlns" and not flat[k].startswith("xmlns:")
            }
            el = ET.Element(tag, attrs)
            if text:
                el.text = text
            if parent >= 0:
                elements[parent].append(el)
            elements.append(el)
            positions[el] = i
        document = elementpath.get_node_tree(ET.ElementTree(elements[0]))
        return cls(tree, document, positions)

    def select(
        self,
        expression: str,
        *,
        limit: int | None = None,
        max_results: int = MAX_XPATH_RESULTS,
        max_steps: int | None = None,
    ) -> tuple[XPathMatch, ...]:
        """Every result of ``expression`` (the first ``limit`` when given), evaluated from the root element.

        Raises `XPathError` (syntax or evaluation error: where and why) or `LimitExceeded` (more than
        ``max_results`` results, or more than ``max_steps`` nodes visited, by default `MAX_XPATH_STEPS` or
        `STEPS_PER_ELEMENT` per element: a query such as ``//*[count(//*) > 0]`` is quadratic in the document's
        size and would otherwise run for hours).
        """
        if max_steps is None:
            max_steps = max(MAX_XPATH_STEPS, STEPS_PER_ELEMENT * len(self._tree))
        if not expression.strip():
            raise XPathError("The XPath expression is empty.", hint="Try //ROI or /OME/Image/Pixels.")
        if len(expression) > MAX_EXPRESSION_CHARS:
            raise XPathError(
                f"The XPath expression is {len(expression):,} characters long, more than "
                f"{MAX_EXPRESSION_CHARS:,}.",
                hint=_HINT,
            )
        try:
            token = self._parser.parse(_strip_prefixes(expression))
        except elementpath.ElementPathError as exc:
            raise _error(expression, exc, parsing=True) from None
        except RecursionError:
            raise XPathError(f"XPath {_shorten(expression)!r} nests too deeply.", hint=_HINT) from None
        context = _CountingContext(self._document, item=self._document.getroot())
        context.__dict__["_budget"] = [max_steps]
        out: list[XPathMatch] = []
        try:
            for item in self._items(token.select(context)):
                if len(out) >= max_results:
                    raise LimitExceeded(
                        f"XPath {_shorten(expression)!r} returns more than {max_results:,} results.",
                        name="max_xpath_results",
                        value=len(out) + 1,
                        limit=max_results,
                        hint="Narrow the expression (a predicate, a longer path), or count it with count(...).",
                    )
                out.append(item)
                if limit is not None and len(out) >= limit:
                    break
        except _StepsExceeded:
            raise LimitExceeded(
                f"XPath {_shorten(expression)!r} visits more than {max_steps:,} nodes, so it was stopped.",
                name="max_xpath_steps",
                value=max_steps + 1,
                limit=max_steps,
                hint="A path inside a predicate runs once per node (e.g. //*[count(//*) > 0]): anchor it "
                "(/OME/ROI[...]) or use a relative path inside the predicate.",
            ) from None
        except elementpath.ElementPathError as exc:
            raise _error(expression, exc, parsing=False) from None
        except RecursionError:
            raise XPathError(f"XPath {_shorten(expression)!r} nests too deeply.", hint=_HINT) from None
        return tuple(out)

    def _items(self, results: Iterator[Any]) -> Iterator[XPathMatch]:
        tree = self._tree
        for item in results:
            if isinstance(item, elementpath.ElementNode):
                i = self._positions[item.elem]
                yield XPathMatch(i, tree.path(i), None)
            elif isinstance(item, elementpath.AttributeNode):
                i = self._positions[item.parent.elem]
                local = str(item.name)
                written = next((n for n, _ in tree.attributes(i) if n.rpartition(":")[2] == local), local)
                yield XPathMatch(i, f"{tree.path(i)}/@{written}", str(item.value))
            elif isinstance(item, elementpath.TextNode):
                i = self._positions[item.parent.elem]
                yield XPathMatch(i, f"{tree.path(i)}/text()", str(item.value))
            elif isinstance(item, elementpath.DocumentNode):
                yield XPathMatch(tree.root, "/", None)
            elif isinstance(item, bool):
                yield XPathMatch(None, "", "true" if item else "false")
            else:
                yield XPathMatch(None, "", str(item))
