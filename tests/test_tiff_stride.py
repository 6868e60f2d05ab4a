"""Stride prediction (tiff.stride): which ranges a round reads ahead for the next chain IFDs, and how the lookahead
follows whether the last prediction held."""

from __future__ import annotations

from dataclasses import replace

from ometiff_helpers.io.segments import Segments
from ometiff_helpers.tiff.codes import TIFF_FORMATS
from ometiff_helpers.tiff.model import ReadOptions
from ometiff_helpers.tiff.stride import StridePredictor, chain_strides, holds

FMT = TIFF_FORMATS[(False, "<")]  # classic TIFF: 8-byte header, 2-byte count, an IFD of one entry is 18 bytes
SIZE = 1 << 40
SPAN = 1000
MiB = 1 << 20
OPT = ReadOptions()  # stride_lookahead 8, max_stride_lookahead 256, predict_window_bytes 256 KiB
M = OPT.ifd_read_margin  # the lead before a predicted IFD of a confirmed (or exact) stride


def predict(
    p: StridePredictor,
    chain: list[int],
    *,
    parsed: bool = False,
    ends: bool = False,
    skip: tuple[int, int] | None = None,
    visited: set[int] | None = None,
    buf: Segments | None = None,
    exact: bool = False,
) -> list[tuple[int, int]]:
    """One round's prediction for ``chain`` (the frontier not parsed yet unless ``parsed``)."""
    return p.predict(
        chain,
        frontier_parsed=parsed,
        chain_ends=ends,
        skip=skip,
        span=SPAN,
        visited=set(chain) if visited is None else visited,
        buf=buf or Segments(),
        exact=exact,
    )


def starts(ranges: list[tuple[int, int]], lead: int) -> list[int]:
    """The predicted IFD offsets of ranges read from ``lead`` bytes before each."""
    return [s + lead for s, _e in ranges]


def test_chain_strides_leave_out_ifd0_description_only_between_ifd0_and_ifd1() -> None:
    chain = [8, 5008, 6008, 7008]
    assert chain_strides(chain, None) == [5000, 1000, 1000]
    assert chain_strides(chain, (100, 4100)) == [1000, 1000, 1000]
    assert chain_strides(chain, (5100, 5200)) == [5000, 1000, 1000]  # not between IFD 0 and IFD 1


def test_chain_strides_use_the_last_nine_ifds() -> None:
    chain = [8 + 10 * i for i in range(20)]
    assert chain_strides(chain, None) == [10] * 8


def test_holds_finds_an_offset_in_a_half_open_range() -> None:
    assert holds([10, 20, 30], 15, 21)
    assert not holds([10, 20, 30], 21, 30)
    assert not holds([], 0, 100)


def test_a_repeated_large_stride_predicts_lookahead_offsets_and_doubles_when_it_holds() -> None:
    p = StridePredictor(OPT, FMT, SIZE)
    chain = [8, 8 + MiB, 8 + 2 * MiB]
    first = predict(p, chain)
    assert starts(first, M) == [8 + k * MiB for k in range(3, 11)]  # 8 = stride_lookahead
    assert all(e - s == M + SPAN for s, e in first)
    chain += starts(first, M)  # the writer kept its stride: every predicted IFD was where predicted
    second = predict(p, chain)
    assert p.lookahead == 16
    assert starts(second, M) == [8 + k * MiB for k in range(11, 27)]


def test_a_broken_prediction_is_verified_false_and_resets_the_lookahead() -> None:
    p = StridePredictor(OPT, FMT, SIZE)
    chain = [8, 8 + MiB, 8 + 2 * MiB]
    chain += starts(predict(p, chain), M)
    predict(p, chain)  # every predicted IFD was where predicted: lookahead 16
    assert p.lookahead == 16
    # some predicted IFDs were there, some not: the lookahead stays
    partial = StridePredictor(OPT, FMT, SIZE)
    predict(partial, chain)
    assert partial.lookahead == 8
    partial.lookahead = 16
    predict(partial, [*chain, chain[-1] + MiB, chain[-1] + MiB + MiB // 2])
    assert partial.lookahead == 16
    real_next = chain[-1] + MiB // 2 + 6  # the writer changed its stride
    predicted = list(p.predicted)
    assert not any(holds([real_next], s, e) for s, e in predicted)
    after = predict(p, [*chain, real_next])
    assert p.lookahead == OPT.stride_lookahead  # no predicted range held an IFD
    # the new stride is not confirmed yet: one offset, read from a lead of 1/16 of the stride before it
    lead = (MiB // 2 + 6) // 16
    assert starts(after, lead) == [real_next + MiB // 2 + 6]


def test_an_unconfirmed_large_stride_predicts_one_offset_with_a_capped_lead() -> None:
    p = StridePredictor(OPT, FMT, SIZE)
    stride = 4 * 1024 * MiB
    got = predict(p, [8, 8 + stride])
    assert starts(got, 64 * 1024) == [8 + 2 * stride]
    assert p.guesses == [8 + 2 * stride]


def test_an_unconfirmed_exact_stride_predicts_two_offsets_without_a_lead() -> None:
    """Uncompressed pixel data: the same layout repeats its stride to the byte."""
    p = StridePredictor(OPT, FMT, SIZE)
    stride = 4 * 1024 * MiB
    got = predict(p, [8, 8 + stride], exact=True)
    assert starts(got, M) == [8 + 2 * stride, 8 + 3 * stride]


def test_a_repeating_cycle_of_strides_is_followed() -> None:
    p = StridePredictor(OPT, FMT, SIZE)
    a, b = MiB, 3 * MiB
    chain = [8, 8 + a, 8 + a + b, 8 + 2 * a + b, 8 + 2 * a + 2 * b]
    got = starts(predict(p, chain), M)
    assert got[:4] == [chain[-1] + a, chain[-1] + a + b, chain[-1] + 2 * a + b, chain[-1] + 2 * a + 2 * b]


def test_small_strides_read_one_window() -> None:
    p = StridePredictor(OPT, FMT, SIZE)
    got = predict(p, [8, 1008, 2008, 3508])  # strides vary, all small
    assert got == [(3508, 3508 + 8 * 1500 + SPAN)]
    assert p.window == got[0]
    # the chain read went past the window: the window held, the next one looks twice as far
    predict(p, [8, 1008, 2008, 3508, 3508 + 8 * 1500])
    assert p.lookahead == 16


def test_nothing_is_predicted_without_a_stride_or_with_prediction_off() -> None:
    assert predict(StridePredictor(OPT, FMT, SIZE), [8]) == []
    assert predict(StridePredictor(OPT, FMT, SIZE), [8, 8 + MiB], parsed=True) == []
    off = StridePredictor(replace(OPT, stride_lookahead=0), FMT, SIZE)
    assert predict(off, [8, 8 + MiB, 8 + 2 * MiB]) == []


def test_prediction_stops_at_the_end_of_the_file_and_at_ifds_already_known() -> None:
    size = 8 + 4 * MiB + 100
    got = predict(StridePredictor(OPT, FMT, size), [8, 8 + MiB, 8 + 2 * MiB])
    assert starts(got, M) == [8 + 3 * MiB, 8 + 4 * MiB]  # the 18-byte IFD at 8 + 5 MiB would pass the end
    chain = [8, 8 + MiB, 8 + 2 * MiB]
    got = predict(StridePredictor(OPT, FMT, SIZE), chain, visited={*chain, 8 + 4 * MiB})
    assert starts(got, M) == [8 + 3 * MiB]  # a loop back to a known IFD: no further


def test_offsets_already_received_are_not_read_again() -> None:
    buf = Segments()
    buf.add(8 + 3 * MiB, b"\x00" * 16)
    got = predict(StridePredictor(OPT, FMT, SIZE), [8, 8 + MiB, 8 + 2 * MiB], buf=buf)
    assert starts(got, M) == [8 + k * MiB for k in range(4, 11)]


def test_span_templates_place_values_relative_to_the_ifd_and_merge() -> None:
    from ometiff_helpers.tiff.span import SpanTemplate

    a = SpanTemplate(800, ((147_000, 147_600),))
    b = SpanTemplate(900, ((147_500, 148_000), (200_000, 200_100)))
    assert a.ranges(1_000, 10**9) == [(148_000, 148_600)]
    assert a.ranges(1_000, 148_300) == [(148_000, 148_300)]  # clamped to the file
    assert a.merged(b) == SpanTemplate(900, ((147_000, 148_000), (200_000, 200_100)))


def test_a_varying_stride_predicts_one_ifd_then_a_few_once_a_guess_held() -> None:
    """Compressed data: strides differ a little; a guess is read from 1/16 of the stride before to 1/16 after it."""
    p = StridePredictor(OPT, FMT, SIZE)
    chain = [8, 8 + MiB, 8 + 2 * MiB + 1000]
    first = predict(p, chain)
    stride = MiB + 1000
    assert p.guesses == [chain[-1] + stride] and len(first) == 1
    lead = min(64 * 1024, stride // 16)  # capped at 64 KiB
    assert first[0] == (chain[-1] + stride - lead, chain[-1] + stride + SPAN + lead)
    chain.append(chain[-1] + stride + 3000)  # the IFD came 3,000 bytes later than guessed: inside the range
    again = predict(p, chain)
    assert p.held and len(again) == 8  # at most 8 at once for a varying stride
