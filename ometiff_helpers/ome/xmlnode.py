"""The small element tree of one OME part: ``Node`` (like ElementTree's) and expat's names split."""

from __future__ import annotations

from collections.abc import Iterator

SEP = "\x1f"  # expat namespace separator: cannot occur in XML names or namespace URIs


class Node:
    """A lightweight element: local name, namespace, attributes, children, text and tail (like ElementTree)."""

    __slots__ = ("attrs", "children", "local", "ns", "prefix", "role", "tail", "text")

    def __init__(self, local: str, ns: str, prefix: str, attrs: dict[str, str], role: int = 0) -> None:
        self.local = local
        self.ns = ns
        self.prefix = prefix
        self.attrs = attrs
        self.children: list[Node] = []
        self.text = ""
        self.tail = ""
        self.role = role  # 0 element kept, 1 the root, 2 a container whose children are parts, 3 text skipped

    def get(self, name: str) -> str | None:
        return self.attrs.get(name)

    def child(self, *locals_: str) -> Node | None:
        for c in self.children:
            if c.local in locals_:
                return c
        return None

    def iter_children(self, *locals_: str) -> Iterator[Node]:
        return (c for c in self.children if c.local in locals_)

    def find(self, local: str, max_depth: int = 4) -> Node | None:
        """First descendant named ``local`` within ``max_depth`` levels, breadth first."""
        level = [self]
        for _ in range(max_depth):
            nxt: list[Node] = []
            for n in level:
                for c in n.children:
                    if c.local == local:
                        return c
                    nxt.append(c)
            level = nxt
        return None

    def child_text(self, *locals_: str) -> str | None:
        c = self.child(*locals_)
        return c.text.strip() if c is not None else None


_NAMES: dict[str, tuple[str, str, str]] = {}


def split_name(name: str) -> tuple[str, str, str]:
    """(namespace, local, prefix) from expat's ``uri<SEP>local<SEP>prefix`` (memoised: names repeat)."""
    hit = _NAMES.get(name)
    if hit is not None:
        return hit
    out = _split_name(name)
    if len(_NAMES) < 4096:
        _NAMES[name] = out
    return out


def _split_name(name: str) -> tuple[str, str, str]:
    parts = name.split(SEP)
    if len(parts) == 1:
        return "", parts[0], ""
    if len(parts) == 2:
        return parts[0], parts[1], ""
    return parts[0], parts[1], parts[2]


def ref_id(node: Node, local: str) -> str | None:
    """The ID attribute of ``node``'s first child named ``local`` (a reference such as ExperimenterRef)."""
    c = node.child(local)
    return None if c is None else c.get("ID")
