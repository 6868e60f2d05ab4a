"""The received-bytes store shared by the byte sources' cache and the TIFF planner."""

from __future__ import annotations

from ometiff_helpers.io.segments import Segments


def test_touching_and_overlapping_segments_merge_new_bytes_winning() -> None:
    seg = Segments()
    seg.add(10, b"abcd")  # [10, 14)
    seg.add(20, b"wxyz")  # [20, 24)
    assert seg.missing(8, 26) == [(8, 10), (14, 20), (24, 26)]
    seg.add(14, b"EFGHIJ")  # touches both: one segment [10, 24)
    assert seg.get(10, 24) == b"abcdEFGHIJwxyz"
    seg.add(12, b"..")  # overlap: the new bytes win
    assert seg.get(10, 16) == b"ab..EF"
    assert seg.missing(10, 24) == [] and seg.nbytes == 14


def test_partial_reads_are_refused_and_coverage_is_reported() -> None:
    seg = Segments()
    seg.add(0, b"0123")
    seg.add(8, b"89")
    assert seg.get(2, 4) == b"23" and seg.get(5, 5) == b""
    assert seg.get(2, 9) is None and seg.get(4, 6) is None
    assert seg.covered_until(1) == 4 and seg.covered_until(5) == 5
    seg.clear()
    assert seg.nbytes == 0 and seg.get(0, 1) is None and seg.missing(0, 4) == [(0, 4)]
