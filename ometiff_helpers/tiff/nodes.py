"""The IFDs of a read in progress: mutable nodes while the planner walks, frozen ``IFD`` records at the end."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ometiff_helpers.tiff.codes import TagCode, TiffFormat
from ometiff_helpers.tiff.model import IFD, Tag, TagValue
from ometiff_helpers.tiff.parse import RawEntry

Range = tuple[int, int]


@dataclass(eq=False)
class IfdNode:
    """An IFD being read (mutable while the walk goes on; turned into a frozen ``IFD`` by ``freeze``)."""

    offset: int
    index: int
    path: str
    depth: int
    count: int | None = None
    entries: list[RawEntry] = field(default_factory=list)
    values: dict[int, TagValue] = field(default_factory=dict)  # entry index -> loaded value
    waiting: dict[int, Range] = field(default_factory=dict)  # entry index -> range still to receive
    next_offset: int = 0
    children: list[IfdNode] = field(default_factory=list)
    parsed: bool = False
    failed: bool = False
    span: int = 0
    first_index: dict[int, int] = field(default_factory=dict)  # tag code -> index of its first entry


def all_nodes(chain: Sequence[IfdNode]) -> list[IfdNode]:
    """Every node of ``chain`` and its SubIFDs, depth-first in file-structure order."""
    out: list[IfdNode] = []
    stack = list(reversed(chain))
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(reversed(n.children))
    return out


def uncompressed(nodes: Iterable[IfdNode]) -> bool:
    """Whether every one of ``nodes`` (parsed) stores uncompressed pixels, and there is one: the strides between
    IFDs of a repeated layout are then exact."""
    seen = False
    for node in nodes:
        seen = True
        idx = node.first_index.get(TagCode.COMPRESSION)
        if idx is not None and node.values.get(idx) != (1,):
            return False
    return seen


def freeze(node: IfdNode, fmt: TiffFormat) -> IFD:
    """The frozen ``IFD`` record of a parsed node (its parsed SubIFDs included)."""
    tags = []
    for idx, e in enumerate(node.entries):
        n = e.nbytes()
        inline = n is not None and n <= fmt.offset_size
        tags.append(
            Tag(
                code=e.code,
                type=e.type,
                count=e.count,
                value=node.values.get(idx),
                value_offset=None if inline or n is None else e.value_offset(fmt),
                nbytes=n or 0,
                entry_offset=e.entry_offset,
            )
        )
    return IFD(
        offset=node.offset,
        index=node.index,
        path=node.path,
        tags=tuple(tags),
        next_offset=node.next_offset,
        subifds=tuple(freeze(c, fmt) for c in node.children if c.parsed),
        depth=node.depth,
        nbytes=fmt.ifd_size(node.count or 0),
    )
