"""Read planning: walk the IFD chain and SubIFDs in rounds, each round one ``source.fetch`` of everything then known.

Per round the planner first parses all it can from bytes already received (the first read, a cached tail, earlier
speculative reads), then asks for every missing piece at once: the next chain IFD, the SubIFDs of every IFD just
read, small out-of-line values, IFD 0's ImageDescription (``tiff.description_stream``), and predicted chain IFDs
(``tiff.stride``, or an offsets.json). Predicted bytes are only a cache: an IFD is parsed only at an offset a real
pointer gave. An IFD not yet seen is read with the span its parsed siblings needed (``tiff.span``); each round
keeps to the request and byte budget (``tiff.budget``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ometiff_helpers.errors import CorruptTiff, IFDLoop, LimitExceeded
from ometiff_helpers.findings import FindingLog, Severity
from ometiff_helpers.io.segments import Segments
from ometiff_helpers.progress import Progress, ProgressCallback
from ometiff_helpers.tiff.budget import check_entries_budget, fit_round
from ometiff_helpers.tiff.codes import (
    DESCRIPTIVE_TAGS,
    FIELD_TYPES,
    IFD_POINTER_TYPES,
    LARGE_ARRAY_TAGS,
    TagCode,
    TiffFormat,
)
from ometiff_helpers.tiff.description_stream import DescriptionStream
from ometiff_helpers.tiff.ifd_checks import add_finding, check_entries, check_odd_offsets, check_sidecar
from ometiff_helpers.tiff.model import ReadOptions, TiffStructure
from ometiff_helpers.tiff.nodes import IfdNode, all_nodes, freeze, uncompressed
from ometiff_helpers.tiff.parse import (
    RawEntry,
    count_unknown_types,
    decode_value,
    parse_entries,
    parse_header,
)
from ometiff_helpers.tiff.span import DEFAULT_SPAN, SpanTemplate, sibling_span
from ometiff_helpers.tiff.stride import StridePredictor

if TYPE_CHECKING:
    from ometiff_helpers.io.base import ByteSource, Detached

Range = tuple[int, int]


class TiffPlanner:
    """One read of one TIFF: create, call ``run()`` once."""

    def __init__(
        self,
        source: ByteSource,
        options: ReadOptions,
        offsets: Sequence[int] | None,
        description_consumer: Callable[[bytes], None] | None,
        on_progress: ProgressCallback | None,
        on_structure: Callable[[TiffStructure], None] | None = None,
    ) -> None:
        self.source = source
        self.opt = options
        self.sidecar = list(offsets) if offsets is not None else None
        self.consumer = description_consumer
        self.on_progress = on_progress
        self.on_structure = on_structure
        self.detached: Detached | None = None  # IFD 0's large description, streamed beside the later rounds
        self.buf = Segments()
        self.log = FindingLog()
        self.visited: set[int] = set()
        self.chain: list[IfdNode] = []
        self.pending: list[IfdNode] = []  # nodes whose IFD bytes are not parsed yet
        self.n_parsed = 0
        self.n_entries = 0  # entries parsed in every IFD so far (ReadOptions.max_entries)
        self.n_items = 0  # out-of-line value items loaded so far (ReadOptions.max_value_items)
        self.n_subifds = 0
        # bytes to read for an IFD of unknown size, learnt from its parsed siblings (see _update_span)
        self.chain_tpl = SpanTemplate(DEFAULT_SPAN)  # chain IFDs
        self.sub_tpl: SpanTemplate | None = None  # SubIFDs, once one was parsed
        self.speculative: list[Range] = []  # extra ranges to add to the next round (tail, sidecar)
        self.desc = DescriptionStream(description_consumer, options.small_value_bytes)
        self.odd: list[str] = []

    # --- driving ------------------------------------------------------------------------------------------------

    def run(self) -> TiffStructure:
        """Read everything; ``on_structure`` gets the structure once every IFD is read, while a large streamed
        description may still arrive (it is complete when this returns)."""
        try:
            structure = self._walk()
            if self.on_structure is not None:
                self.on_structure(structure)
            if self.detached is not None:
                self.detached.wait()
        except BaseException:
            if self.detached is not None:
                self.detached.cancel()  # nothing of this read still runs once its error is raised
            raise
        return structure

    def _walk(self) -> TiffStructure:
        """Every round of the read, until nothing is missing: the structure."""
        first = self.source.open(self.opt.first_read)
        self.size = self.source.size
        self.buf.add(0, first)
        header = parse_header(first, self.size)
        self.fmt: TiffFormat = header.format
        self.stride = StridePredictor(self.opt, self.fmt, self.size)
        root = self._new_node(header.first_ifd_offset, 0, "IFD 0", 0)
        self.chain.append(root)
        self._plan_start(header.first_ifd_offset)
        while True:
            self._resolve()
            ranges, consumers, kinds = self._needs()
            if not ranges:
                break
            self._fetch(ranges, consumers, kinds)
        check_sidecar(self.log, self.sidecar, self.chain)
        return self._build(header.first_ifd_offset)

    def _plan_start(self, ifd0: int) -> None:
        if self.sidecar:
            self._plan_sidecar()
        if self.buf.get(ifd0, ifd0 + self.fmt.count_size) is not None:
            return
        if self.size - ifd0 <= self._tail_worth():
            # raw2ometiff-like layout: IFDs and OME-XML at the end; one request reads them all
            self.speculative.append((ifd0, self.size))

    def _tail_worth(self) -> int:
        """The largest tail worth reading in one request: what one round trip costs in bytes on this link (measured
        on the first read), else ``ReadOptions.tail_read_bytes``; never more than ``tail_read_max``."""
        measured = self.source.ledger.round_trip_bytes()
        return min(self.opt.tail_read_max, self.opt.tail_read_bytes if measured is None else measured)

    def _plan_sidecar(self) -> None:
        assert self.sidecar is not None
        for off in self.sidecar[1:]:
            if isinstance(off, int) and self.fmt.header_size <= off < self.size:
                self.speculative.append((off, min(self.size, off + self.chain_tpl.span)))

    def _fetch(
        self, ranges: list[Range], consumers: dict[int, Callable[[bytes], None]], kinds: list[str]
    ) -> None:
        ranges, consumers, kinds = fit_round(
            self.source.ledger, ranges, consumers, kinds, self.opt, self.n_parsed
        )
        if self._detach(kinds, consumers):
            results, self.detached = self.source.fetch_detached(ranges, consumers=consumers)
        else:
            results = self.source.fetch(ranges, consumers=consumers or None)
        for (start, _end), kind, data in zip(ranges, kinds, results, strict=True):
            if data is None:
                continue
            if kind == "desc":
                self.desc.received(data)
            else:
                self.buf.add(start, data)
        if self.desc.range is not None and any(k == "desc" for k in kinds):
            self.desc.done = True
        if self.on_progress is not None:
            self.on_progress(Progress("ifds", self.n_parsed))

    def _detach(self, kinds: list[str], consumers: dict[int, Callable[[bytes], None]]) -> bool:
        """Whether this round's description stream runs beside the later rounds: a streamed description too large
        to keep (its bytes go to the consumer only, nothing of the structure waits for them)."""
        return bool(consumers) and "desc" in kinds and self.desc.total > self.opt.small_value_bytes

    # --- what to read next ----------------------------------------------------------------------------------------

    def _needs(self) -> tuple[list[Range], dict[int, Callable[[bytes], None]], list[str]]:
        ranges: list[Range] = []
        kinds: list[str] = []
        consumers: dict[int, Callable[[bytes], None]] = {}
        seen: set[Range] = set()

        def want(start: int, end: int, kind: str) -> bool:
            """Add the range unless empty or already wanted; True when added."""
            start = self.buf.covered_until(start) if kind != "desc" else start
            end = min(end, self.size)
            if start < end and (start, end) not in seen:
                seen.add((start, end))
                ranges.append((start, end))
                kinds.append(kind)
                return True
            return False

        for node in self.pending:
            if node.count is None:
                tpl = self._template(node.depth)
                want(node.offset, node.offset + tpl.span, "ifd")
                for start, end in tpl.ranges(node.offset, self.size):
                    want(start, end, "spec")  # where its siblings had a needed value past their offset arrays
            else:
                want(node.offset, node.offset + self.fmt.ifd_size(node.count), "ifd")
        for node in all_nodes(self.chain):
            for start, end in node.waiting.values():
                want(start, end, "value")
        if self.desc.wanted is not None:
            start, end = self.desc.wanted
            # the consumer goes with the description's own range (none when that range was not added)
            if want(start, end, "desc") and self.consumer is not None:
                consumers[len(ranges) - 1] = self.consumer
        for start, end in self.speculative:
            want(start, end, "spec")
        self.speculative = []
        if ranges:
            for start, end in self._predict():
                want(start, end, "spec")
        return ranges, consumers, kinds

    def _predict(self) -> list[Range]:
        """Ranges expected to hold the next chain IFDs (none with an offsets.json: its offsets are read instead)."""
        if self.sidecar is not None:
            return []
        frontier = self.chain[-1]
        ranges = self.stride.predict(
            [n.offset for n in self.chain],
            frontier_parsed=frontier.parsed,
            chain_ends=not frontier.next_offset,
            skip=self._description_value(self.chain[0]),
            span=self.chain_tpl.span,
            visited=self.visited,
            buf=self.buf,
            exact=uncompressed(n for n in self.chain if n.parsed),
        )
        return ranges + [r for guess in self.stride.guesses for r in self.chain_tpl.ranges(guess, self.size)]

    def _template(self, depth: int) -> SpanTemplate:
        """What to read for an IFD of ``depth`` not yet seen: its parsed siblings' template; for the first SubIFD,
        the chain's span (a reduced level has about its parent's entries) and no value ranges."""
        if depth == 0:
            return self.chain_tpl
        return self.sub_tpl or SpanTemplate(min(DEFAULT_SPAN, self.chain_tpl.span))

    # --- parsing what we have -----------------------------------------------------------------------------------

    def _resolve(self) -> None:
        """Parse every IFD and value the received bytes allow, following the pointers they give."""
        progress = True
        while progress:
            progress = False
            stuck: list[IfdNode] = []
            new = self.pending
            while new:  # IFDs spawned while parsing (the next in a chain) are tried in the same pass: linear
                self.pending = []
                waiting = [node for node in new if not self._try_parse(node)]
                progress = progress or len(waiting) < len(new)
                stuck += waiting
                new = self.pending
            self.pending = stuck
            for node in all_nodes(self.chain):
                for idx, (start, end) in list(node.waiting.items()):
                    data = self.buf.get(start, end)
                    if data is not None:
                        del node.waiting[idx]
                        self._set_value(node, idx, data)
                        progress = True
            if self.desc.wanted is not None:
                self.desc.take(self.buf)

    def _try_parse(self, node: IfdNode) -> bool:
        fmt = self.fmt
        if node.count is None:
            head = self.buf.get(node.offset, node.offset + fmt.count_size)
            if head is None:
                return False
            count = fmt.unpack_count(head)
            if not self._check_count(node, count):
                return True
            node.count = count
        size = fmt.ifd_size(node.count)
        if node.offset + size > self.size:
            self._fail(
                node,
                "IFD_TRUNCATED",
                f"{node.path} at offset {node.offset:,} truncated: its {node.count:,} entries need {size:,} bytes "
                f"but the file ends at {self.size:,}.",
                "The file looks truncated; upload it again.",
            )
            return True
        data = self.buf.get(node.offset, node.offset + size)
        if data is None:
            return False
        unknown = count_unknown_types(fmt, data, node.count)
        if node is not self.chain[0] and 2 * unknown > node.count:
            self._fail(
                node,
                "IFD_GARBAGE",
                f"{node.path} at offset {node.offset:,} is not an image directory: {unknown:,} of its "
                f"{node.count:,} entries have no valid field type.",
                "The file is damaged (a pointer to the wrong place); convert it again.",
                plural="pointers to data that is not an image directory",
            )
            return True
        assert node.count is not None
        self.n_entries += node.count
        check_entries_budget(self.n_entries, node.path, node.offset, self.opt, self.n_parsed)
        node.entries, node.next_offset = parse_entries(fmt, data, node.offset, node.count)
        for idx, e in enumerate(node.entries):
            node.first_index.setdefault(e.code, idx)
        node.parsed = True
        node.span = size
        self.n_parsed += 1
        check_entries(self.log, node)
        skipped: list[RawEntry] = []
        for idx, entry in enumerate(node.entries):
            if not self._plan_value(node, idx, entry):
                skipped.append(entry)
        if skipped:
            shown = ", ".join(f"tag {e.code} type {e.type}" for e in skipped[:3])
            self._finding(
                "TAG_UNKNOWN_TYPE",
                f"{node.path} has {len(skipped):,} entries of unknown field type ({shown}"
                f"{', ...' if len(skipped) > 3 else ''}); they are skipped.",
                "",
                node.path,
                count=len(skipped),
                plural="entries of unknown field type",
            )
        self._update_span(node)
        if node.depth == 0:
            self._follow_chain(node)
        return True

    def _check_count(self, node: IfdNode, count: int) -> bool:
        if count > self.opt.max_tags_per_ifd:
            msg = (
                f"{node.path} at offset {node.offset:,} declares {count:,} tags; the limit is "
                f"{self.opt.max_tags_per_ifd:,} (tags per IFD)."
            )
            if node is self.chain[0]:
                raise LimitExceeded(
                    msg,
                    name="tags per IFD",
                    value=count,
                    limit=self.opt.max_tags_per_ifd,
                    hint="The file is probably damaged at that offset; if not, raise ReadOptions.max_tags_per_ifd.",
                )
            self._fail(node, "IFD_TOO_MANY_TAGS", msg, "The file is probably damaged at that offset.")
            return False
        if count == 0:
            self._finding(
                "IFD_EMPTY",
                f"{node.path} at offset {node.offset:,} has no entries (no size, no ImageDescription).",
                "The file is damaged or was not finished by its writer; convert it again.",
                node.path,
            )
        return True

    def _plan_value(self, node: IfdNode, idx: int, e: RawEntry) -> bool:
        """Decode an inline value or plan the read of an out-of-line one; False when the type is unknown."""
        fmt = self.fmt
        is_desc0 = (
            node is self.chain[0]
            and e.code == TagCode.IMAGE_DESCRIPTION
            and idx == node.first_index[TagCode.IMAGE_DESCRIPTION]
        )
        nbytes = e.nbytes()
        if nbytes is None:
            if is_desc0:
                raise CorruptTiff(
                    f"ImageDescription has invalid type {e.type} in IFD 0 (entry at offset {e.entry_offset:,}).",
                    offset=e.entry_offset,
                    hint="The file is damaged; convert it again.",
                )
            return False
        if nbytes <= fmt.offset_size:
            value = decode_value(fmt, e.type, e.count, e.slot)
            if value is not None:
                node.values[idx] = value
            if is_desc0:
                self.desc.inline(e.slot[:nbytes])
            if e.code == TagCode.SUB_IFDS and idx == node.first_index[TagCode.SUB_IFDS]:
                self._spawn_subifds(node, idx)
            return True
        if idx != node.first_index[e.code]:
            return True  # a duplicate tag (TAG_DUPLICATE): the first is used, this value is not read
        voff = e.value_offset(fmt)
        if not self._check_value_location(node, e, voff, nbytes, is_desc0):
            return True
        if is_desc0:
            if nbytes > self.opt.max_description_bytes:
                raise LimitExceeded(
                    f"IFD 0's ImageDescription (the OME-XML) is {nbytes:,} bytes; the limit is "
                    f"{self.opt.max_description_bytes:,}.",
                    name="description bytes",
                    value=nbytes,
                    limit=self.opt.max_description_bytes,
                    hint="Raise ReadOptions.max_description_bytes if the OME-XML really is that large.",
                )
            if self.on_progress is not None:
                self.on_progress(
                    Progress("description", 0, nbytes)
                )  # its size, before the first byte arrives
            self.desc.locate(idx, voff, nbytes, self.buf)
            return True
        if not self._wants_value(node, e, voff, nbytes):
            return True
        if e.code == TagCode.SUB_IFDS and e.count > self.opt.max_subifds:
            raise LimitExceeded(
                f"{node.path} lists {e.count:,} SubIFDs; the limit is {self.opt.max_subifds:,}.",
                name="subifds",
                value=e.count,
                limit=self.opt.max_subifds,
                hint="The file is probably damaged; if not, raise ReadOptions.max_subifds.",
            )
        items = e.count * FIELD_TYPES[e.type].items
        if self.n_items + items > self.opt.max_value_items and e.code != TagCode.SUB_IFDS:
            self._finding(
                "VALUES_NOT_LOADED",
                f"{node.path} tag {e.code}: {self.n_items:,} values were loaded already (the limit is "
                f"{self.opt.max_value_items:,}); this tag's value is not loaded, nor any that would pass the limit.",
                "The file is probably damaged; if not, raise ReadOptions.max_value_items.",
                node.path,
                plural="tag values not loaded (value budget spent)",
            )
            return True
        self.n_items += items
        data = self.buf.get(voff, voff + nbytes)
        if data is None:
            node.waiting[idx] = (voff, voff + nbytes)
        else:
            self._set_value(node, idx, data)
        return True

    def _wants_value(self, node: IfdNode, e: RawEntry, voff: int, nbytes: int) -> bool:
        """Whether to load an out-of-line value with the IFD: small values and the SubIFDs array always; an offset
        or byte-count array only when small and already received, and a descriptive value (``DESCRIPTIVE_TAGS``)
        of an IFD other than IFD 0 only when already received: neither ever costs a request (the pixel reader
        loads the arrays it needs, ``load_tag_value`` any value)."""
        if e.code in LARGE_ARRAY_TAGS:
            return e.count <= self.opt.array_load_items and self.buf.get(voff, voff + nbytes) is not None
        if e.code in DESCRIPTIVE_TAGS and node is not self.chain[0]:
            return nbytes <= self.opt.small_value_bytes and self.buf.get(voff, voff + nbytes) is not None
        if e.code == TagCode.SUB_IFDS and e.type in IFD_POINTER_TYPES:
            return True
        return nbytes <= self.opt.small_value_bytes

    def _check_value_location(
        self, node: IfdNode, e: RawEntry, voff: int, nbytes: int, is_desc0: bool
    ) -> bool:
        if voff < self.fmt.header_size:
            problem = f"points at offset {voff:,}, inside the {self.fmt.header_size}-byte header"
            code = "VALUE_OFFSET_BAD"
        elif voff + nbytes > self.size:
            problem = (
                f"needs {nbytes:,} bytes at offset {voff:,}, past the end of the file ({self.size:,} bytes)"
            )
            code = "TAG_PAST_EOF"
        else:
            return True
        name = f"{e.code} ({FIELD_TYPES[e.type].name} x {e.count:,})"
        if is_desc0:
            raise CorruptTiff(
                f"IFD 0's ImageDescription {problem} (entry at offset {e.entry_offset:,}).",
                offset=e.entry_offset,
                hint="The file is damaged or truncated; upload or convert it again.",
            )
        self._finding(
            code,
            f"{node.path} tag {name} {problem}; its value is not read.",
            "The file is damaged or truncated; upload or convert it again.",
            node.path,
        )
        return False

    def _set_value(self, node: IfdNode, idx: int, data: bytes) -> None:
        e = node.entries[idx]
        value = decode_value(self.fmt, e.type, e.count, data)
        if value is not None:
            node.values[idx] = value
        if e.code == TagCode.SUB_IFDS and idx == node.first_index[TagCode.SUB_IFDS]:
            self._spawn_subifds(node, idx)

    def _update_span(self, node: IfdNode) -> None:
        """Learn, from an IFD just parsed, what to read for its siblings (see ``tiff.span``)."""
        lacking = self.desc.index if node is self.chain[0] else None
        needed = {  # what a sibling loads: not IFD 0's descriptive values (see _wants_value)
            idx
            for idx in node.values.keys() | node.waiting.keys()
            if node.entries[idx].code not in DESCRIPTIVE_TAGS
        }
        tpl = sibling_span(self.fmt, node, needed, lacking, self.opt)
        if node.depth:
            self.sub_tpl = tpl if self.sub_tpl is None else self.sub_tpl.merged(tpl)
        else:
            self.chain_tpl = tpl if node.index == 0 else self.chain_tpl.merged(tpl)

    def _description_value(self, node: IfdNode) -> Range | None:
        """Where IFD 0's out-of-line description lies, for ``node`` = IFD 0 (None otherwise or when inline)."""
        if node is not self.chain[0] or self.desc.index is None:
            return None
        e = node.entries[self.desc.index]  # set only for an out-of-line description
        start = e.value_offset(self.fmt)
        return start, start + (e.nbytes() or 0)

    # --- following pointers -------------------------------------------------------------------------------------

    def _new_node(self, offset: int, index: int, path: str, depth: int) -> IfdNode:
        node = IfdNode(offset, index, path, depth)
        self.visited.add(offset)
        self.pending.append(node)
        if offset % 2:
            self.odd.append(f"{path} at {offset:,}")
        return node

    def _follow_chain(self, node: IfdNode) -> None:
        nxt = node.next_offset
        if nxt == 0:
            return
        where = f"{node.path}"
        if not self._pointer_ok(nxt, node, f"next-IFD offset {nxt:,}", where):
            node.next_offset = 0
            return
        if nxt in self.visited:
            self._loop(node, nxt, f"{node.path}'s next-IFD offset {nxt:,} points back to an IFD already read")
            node.next_offset = 0
            return
        if len(self.chain) >= self.opt.max_ifds:
            raise LimitExceeded(
                f"stopped after reading {len(self.chain):,} top-level IFDs (max_ifds); the chain continues at "
                f"offset {nxt:,}.",
                name="ifds",
                value=len(self.chain) + 1,
                limit=self.opt.max_ifds,
                hint="Provide an offsets.json sidecar or raise ReadOptions.max_ifds.",
            )
        index = len(self.chain)
        self.chain.append(self._new_node(nxt, index, f"IFD {index}", 0))

    def _pointer_ok(self, off: int, node: IfdNode, what: str, where: str) -> bool:
        fmt = self.fmt
        if off < fmt.header_size or off + fmt.count_size > self.size:
            problem = (
                "inside the header"
                if off < fmt.header_size
                else f"at or past the end of file ({self.size:,})"
            )
            self._finding(
                "IFD_OFFSET_BAD",
                f"{node.path}: {what} is {problem}; nothing more is read from there.",
                "The file is damaged or truncated; upload or convert it again.",
                where,
            )
            if self.opt.strict:
                raise CorruptTiff(f"{node.path}: {what} is {problem}.", offset=node.offset)
            return False
        if node.offset < off < node.offset + node.span:
            self._finding(
                "IFD_OFFSET_BAD",
                f"{node.path}: {what} points inside that IFD itself (offset {node.offset:,}); not followed.",
                "The file is damaged; convert it again.",
                where,
            )
            if self.opt.strict:
                raise CorruptTiff(f"{node.path}: {what} points inside the IFD itself.", offset=off)
            return False
        return True

    def _loop(self, node: IfdNode, target: int, msg: str) -> None:
        if self.opt.strict:
            raise IFDLoop(msg + ".", offset=target, hint="The file is damaged; convert it again.")
        self._finding(
            "IFD_LOOP",
            msg + "; reading stops there.",
            "The file is damaged (a loop in its directory chain); convert it again.",
            node.path,
        )

    def _spawn_subifds(self, node: IfdNode, idx: int) -> None:
        e = node.entries[idx]
        value = node.values.get(idx)
        if e.type not in IFD_POINTER_TYPES or not isinstance(value, tuple):
            self._finding(
                "SUBIFDS_BAD_TYPE",
                f"{node.path}: SubIFDs tag has type {e.type} ({FIELD_TYPES[e.type].name}); not followed.",
                "Rewrite the file with a current writer.",
                node.path,
            )
            return
        if node.depth + 1 > self.opt.max_subifd_depth:
            self._finding(
                "SUBIFD_DEPTH",
                f"{node.path} has SubIFDs nested deeper than {self.opt.max_subifd_depth}; not followed.",
                "Raise ReadOptions.max_subifd_depth to read them.",
                node.path,
            )
            return
        for i, off in enumerate(value):
            path = f"{node.path} / SubIFD {i}"
            if not self._pointer_ok(off, node, f"SubIFD {i} offset {off:,}", path):
                continue
            if off in self.visited:
                self._loop(node, off, f"{path} at offset {off:,} points to an IFD already read")
                continue
            if self.n_subifds >= self.opt.max_subifds:
                raise LimitExceeded(
                    f"stopped after {self.n_subifds:,} SubIFDs (max_subifds) at {path}.",
                    name="subifds",
                    value=self.n_subifds + 1,
                    limit=self.opt.max_subifds,
                    hint="Raise ReadOptions.max_subifds if the file really has that many pyramid levels.",
                )
            self.n_subifds += 1
            node.children.append(self._new_node(off, i, path, node.depth + 1))

    # --- results ------------------------------------------------------------------------------------------------

    def _fail(self, node: IfdNode, code: str, msg: str, remedy: str, *, plural: str = "") -> None:
        """Skip ``node`` with a finding (raise for IFD 0, without which nothing can be read)."""
        if node is self.chain[0]:
            raise CorruptTiff(msg, offset=node.offset, hint=remedy)
        node.failed = True
        self._finding(
            code, msg + " This IFD and what follows it are skipped.", remedy, node.path, plural=plural
        )

    def _finding(
        self,
        code: str,
        msg: str,
        remedy: str,
        where: str,
        sev: Severity = Severity.WARNING,
        *,
        count: int = 1,
        plural: str = "",
    ) -> None:
        """Record a finding (see ``ifd_checks.add_finding``)."""
        add_finding(self.log, code, msg, remedy, where, sev, count=count, plural=plural)

    def _build(self, first_ifd_offset: int) -> TiffStructure:
        check_odd_offsets(self.log, self.odd)
        desc = self.desc.value()
        root = self.chain[0]
        if desc is not None and self.desc.index is not None and len(desc) <= self.opt.small_value_bytes:
            e = root.entries[self.desc.index]
            value = decode_value(self.fmt, e.type, e.count, desc)
            if value is not None:
                root.values[self.desc.index] = value
        if self.consumer is not None:
            desc = None
        ifds = tuple(freeze(n, self.fmt) for n in self.chain if n.parsed)
        return TiffStructure(
            size=self.size,
            bigtiff=self.fmt.bigtiff,
            byteorder=self.fmt.byteorder,
            first_ifd_offset=first_ifd_offset,
            ifds=ifds,
            image_description=desc,
            findings=self.log.findings(),
        )
