"""Stride prediction: where the next chain IFDs probably lie, read in the same round as what is certainly needed.

Writers often place chain IFDs at a fixed stride (or a short repeating cycle of strides). The predictor proposes
ranges expected to hold the next chain IFDs; the planner adds them to a round as speculative reads. Predicted bytes
are only a cache: an IFD is parsed only at an offset a real pointer gave. Whether the last prediction held (checked
against the chain actually read) doubles or resets how far ahead the next one reads.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Container, Sequence

from ometiff_helpers.io.segments import Segments
from ometiff_helpers.tiff.codes import TiffFormat
from ometiff_helpers.tiff.model import ReadOptions

Range = tuple[int, int]
_UNCONFIRMED_STEPS = 2  # chain IFDs predicted from a stride not yet seen twice
_VARYING_MAX = (
    8  # chain IFDs predicted at once from a stride that varies (compressed data), after a guess held
)
_LEAD_MAX = 64 * 1024  # at most this many bytes read before a predicted chain IFD
_RECENT = 9  # chain IFDs whose strides are compared to find a repeating cycle
_MAX_PERIOD = 4  # longest cycle of strides recognised


def chain_strides(chain: Sequence[int], skip: Range | None) -> list[int]:
    """Strides between the last chain IFDs (offsets in chain order), less ``skip`` (IFD 0's description) where it lies
    between IFD 0 and IFD 1."""
    first = chain[0] if chain else None
    out = []
    for a, b in itertools.pairwise(chain[-_RECENT:]):
        if a == first and skip is not None and a < skip[0] and skip[1] <= b:
            out.append(b - a - (skip[1] - skip[0]))
        else:
            out.append(b - a)
    return out


def holds(sorted_offsets: list[int], start: int, end: int) -> bool:
    """Whether one of ``sorted_offsets`` lies in ``[start, end)``."""
    i = bisect.bisect_left(sorted_offsets, start)
    return i < len(sorted_offsets) and sorted_offsets[i] < end


class StridePredictor:
    """Predicts the next chain IFDs of one TIFF from the strides seen so far; one per read."""

    def __init__(self, options: ReadOptions, fmt: TiffFormat, size: int) -> None:
        self.opt = options
        self.fmt = fmt
        self.size = size
        self.lookahead = max(1, options.stride_lookahead)
        self.predicted: list[Range] = []  # ranges predicted to hold chain IFDs in the last round
        self.window: Range | None = None  # or the window of small strides read in the last round
        self.guesses: list[int] = []  # the offsets predicted in the last round (with ``predicted``)
        self.held = (
            False  # the last prediction held: the next looks ``lookahead`` steps ahead, confirmed or not
        )

    def predict(
        self,
        chain: Sequence[int],
        *,
        frontier_parsed: bool,
        chain_ends: bool,
        skip: Range | None,
        span: int,
        visited: Container[int],
        buf: Segments,
        exact: bool = False,
    ) -> list[Range]:
        """Ranges expected to hold the next chain IFDs, assuming the last stride between chain IFDs repeats.

        ``chain``: offsets of the chain IFDs known so far (the last one, the frontier, may not be parsed yet);
        ``chain_ends``: the frontier is parsed and has no next IFD; ``skip``: IFD 0's out-of-line description (not
        part of the stride); ``span``: bytes read for a chain IFD; ``visited``: offsets of every IFD already
        planned; ``buf``: bytes received (an offset already there is not read again); ``exact``: the chain's pixel
        data is uncompressed, so a repeated layout repeats its strides to the byte (no lead before a guess).

        Small strides: one window covering the next ``lookahead`` strides (tolerates varying strides). Large strides:
        the predicted offsets themselves, ``lookahead`` of them once the stride repeated; else two, each read from
        a lead of 1/16 of the stride before it (compressed data makes strides vary; IFD 0's description makes the
        first stride a guess, hence ``skip``).
        """
        if self.opt.stride_lookahead <= 0:
            return []
        frontier = chain[-1]
        if self.predicted or self.window is not None:
            self._learn(chain, frontier_parsed and chain_ends, span)
        if frontier_parsed or len(chain) < 2:
            return []
        strides = chain_strides(chain, skip)
        stride = strides[-1]
        if stride == 0:
            return []
        if not exact and len(chain) == 2 and skip is not None and chain[0] < skip[0] and skip[1] <= chain[1]:
            return []  # compressed data, one stride, and that one less IFD 0's description: a guess seldom right
        period = next(
            (
                p
                for p in range(1, _MAX_PERIOD + 1)
                if len(strides) >= 2 * p and strides[-p:] == strides[-2 * p : -p]
            ),
            None,
        )
        if period is None and 0 < stride * max(2, self.opt.stride_lookahead) <= self.opt.predict_window_bytes:
            n = max(1, min(self.lookahead, self.opt.predict_window_bytes // stride))
            end = min(self.size, frontier + n * stride + span)
            self.window = (frontier, end)
            return [self.window]
        cycle = strides[-period:] if period else [stride]
        # a stride not seen twice: two steps when the pixel data is uncompressed (the layout repeats to the byte),
        # else one (compressed sizes vary: a second guess from one stride mostly misses, and costs its lead)
        if period or exact:
            n = self.lookahead if period or self.held else min(self.lookahead, _UNCONFIRMED_STEPS)
        else:  # each guess of a varying stride costs two leads: a few, and more only after one held
            n = min(self.lookahead, _VARYING_MAX) if self.held else 1
        lead = self.opt.ifd_read_margin
        if not period and not exact:
            lead = min(_LEAD_MAX, max(lead, abs(stride) // 16))
        fmt = self.fmt
        off = frontier
        for k in range(n):
            off += cycle[k % len(cycle)]
            if off < fmt.header_size or off + fmt.ifd_size(1) > self.size or off in visited:
                break
            if buf.get(off, off + fmt.count_size) is None:
                after = 0 if period or exact else lead  # compressed data: the IFD may come later too
                self.predicted.append((max(fmt.header_size, off - lead), off + span + after))
                self.guesses.append(off)
        return self.predicted

    def _learn(self, chain: Sequence[int], ended: bool, span: int) -> None:
        """Check the last round's prediction against ``chain``: double the lookahead when it held, reset it when
        none of it held."""
        offsets = sorted(chain)
        hits = sum(1 for start, end in self.predicted if holds(offsets, start, end))
        if self.window is not None:
            ok = chain[-1] >= self.window[1] - span or ended
        else:
            ok = hits == len(self.predicted)
        self.held = ok
        if ok:
            self.lookahead = min(self.opt.max_stride_lookahead, self.lookahead * 2)
        elif hits == 0:
            self.lookahead = max(1, self.opt.stride_lookahead)
        self.predicted, self.window, self.guesses = [], None, []
