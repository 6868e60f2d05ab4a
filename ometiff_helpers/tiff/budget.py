"""The budgets of a read: requests and bytes, checked before each round is sent; IFD entries, as IFDs are parsed."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ometiff_helpers.errors import LimitExceeded
from ometiff_helpers.tiff.model import ReadOptions

if TYPE_CHECKING:
    from ometiff_helpers.io.ledger import Ledger

Range = tuple[int, int]
Consumers = dict[int, Callable[[bytes], None]]


def total(ranges: list[Range]) -> int:
    """Bytes of ``ranges`` (half-open)."""
    return sum(e - s for s, e in ranges)


def fit_round(
    ledger: Ledger,
    ranges: list[Range],
    consumers: Consumers,
    kinds: list[str],
    opt: ReadOptions,
    n_parsed: int,
) -> tuple[list[Range], Consumers, list[str]]:
    """The round to send: speculative reads (kind ``"spec"``) dropped when the round would pass a budget;
    ``LimitExceeded`` when what is certainly needed still passes ``max_requests`` or ``max_bytes``."""
    if ledger.count + len(ranges) > opt.max_requests or ledger.bytes + total(ranges) > opt.max_bytes:
        keep = [i for i, k in enumerate(kinds) if k != "spec"]
        ranges, kinds = [ranges[i] for i in keep], [kinds[i] for i in keep]
        consumers = {keep.index(i): c for i, c in consumers.items()}
    if ledger.count + len(ranges) > opt.max_requests:
        raise LimitExceeded(
            f"stopped after {ledger.count:,} requests and {n_parsed:,} IFDs: reading the next "
            f"{len(ranges):,} ranges would pass the request budget of {opt.max_requests:,}.",
            name="requests",
            value=ledger.count + len(ranges),
            limit=opt.max_requests,
            hint="Provide an offsets.json sidecar (all IFD offsets at once) or raise ReadOptions.max_requests.",
        )
    if ledger.bytes + total(ranges) > opt.max_bytes:
        raise LimitExceeded(
            f"stopped after {ledger.bytes:,} bytes: the next reads ({total(ranges):,} bytes) would pass the "
            f"byte budget of {opt.max_bytes:,}.",
            name="bytes",
            value=ledger.bytes + total(ranges),
            limit=opt.max_bytes,
            hint="Raise ReadOptions.max_bytes if this file really carries that much metadata.",
        )
    return ranges, consumers, kinds


def check_entries_budget(n_entries: int, path: str, offset: int, opt: ReadOptions, n_parsed: int) -> None:
    """``LimitExceeded`` when the entries of every IFD parsed so far (``n_entries``, the IFD at ``path`` and
    ``offset`` included) pass ``ReadOptions.max_entries`` (the work bound of the whole read)."""
    if n_entries > opt.max_entries:
        raise LimitExceeded(
            f"stopped at {path} (offset {offset:,}): the {n_parsed + 1:,} directories read so "
            f"far hold {n_entries:,} entries; the limit is {opt.max_entries:,}. The file is "
            "probably damaged (pointers into image data).",
            name="entries",
            value=n_entries,
            limit=opt.max_entries,
            hint="Check the file with tiffinfo; if it really has that many tags, raise ReadOptions.max_entries.",
        )
