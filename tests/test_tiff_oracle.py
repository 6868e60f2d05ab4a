"""The reader against an oracle it did not write: every IFD offset, tag code, type, count and value equals tifffile's,
for every TIFF of the shared corpus and for tifffile-written files (classic/BigTIFF x byte order x tiled/striped x
SubIFD pyramids x many pages), read from the local file and over HTTP from the loopback test server."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

from ometiff_helpers.io.base import ByteSource
from ometiff_helpers.io.http.source import HttpSource
from ometiff_helpers.io.local import FileSource
from ometiff_helpers.tiff.parse import decode_ascii
from ometiff_helpers.tiff.read import IFD, ReadOptions, Tag, TiffStructure, load_tag_value, read_tiff

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
CORPUS_TIFFS = sorted(
    str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.suffix.lower() in (".tif", ".tiff", ".svs")
)
# tifffile logs a warning for these and stops the chain; our reader records a finding instead
EXPECTED_FINDINGS = {"pennsieve-ometiff-processor/color_XYZCT.tif": "IFD_OFFSET_BAD"}
# tags whose value tifffile turns into a dict (EXIF, GPS, Interoperability IFDs; ImageJ metadata; GeoKeys): their
# code, type, count and offset are compared, their value is not. Any other tag's value must be compared.
TRANSFORMED_TAGS = frozenset({34665, 34853, 40965, 50839, 34735})


def _oracle_pages(tf: tifffile.TiffFile) -> Iterator[tuple[int, tifffile.TiffPage]]:
    """(depth, page) for every top-level page and its SubIFDs (two levels), depth-first like ``all_ifds()``."""

    def walk(page: tifffile.TiffPage, depth: int) -> Iterator[tuple[int, tifffile.TiffPage]]:
        yield depth, page
        if depth >= 2:
            return
        for off in page.subifds or ():
            tf.filehandle.seek(off)
            yield from walk(tifffile.TiffPage(tf, index=0), depth + 1)

    for page in tf.pages:
        yield from walk(page, 0)


def _norm(value: Any) -> Any:
    """tifffile's value in our shape: flat tuples of numbers, str, or bytes; None when tifffile transformed it into
    something else (dicts for EXIF/GPS/ImageJ/GeoKeys, decoded structures), which is then not compared."""
    if isinstance(value, np.ndarray):
        return tuple(value.ravel().tolist())
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return (value,)
    if isinstance(value, tuple | list):
        flat: list[Any] = []
        for v in value:
            if isinstance(v, tuple | list):
                flat.extend(v)
            elif isinstance(v, int | float):
                flat.append(v)
            else:
                return None
        return tuple(flat)
    if isinstance(value, str | bytes):
        return value
    return None


def _ours(value: Any, their: Any) -> Any:
    """Our value made comparable: tifffile returns BYTE arrays as bytes, ASCII stripped of NULs and whitespace."""
    if isinstance(their, bytes) and isinstance(value, tuple):
        return bytes(value)
    if isinstance(their, str) and isinstance(value, str):
        return value.strip("\x00").strip()
    if isinstance(their, str) and isinstance(value, bytes):
        return value
    return value


def _check_tag(source: ByteSource, structure: TiffStructure, ours: Tag, theirs: tifffile.TiffTag) -> bool:
    """Compare one tag with tifffile's; False when its value could not be compared (tifffile transformed it)."""
    where = f"tag {ours.code} at {ours.entry_offset}"
    assert ours.code == theirs.code, where
    assert ours.type == int(theirs.dtype), where
    assert ours.count == theirs.count, where
    assert ours.entry_offset == theirs.offset, where
    if ours.value_offset is not None:
        assert ours.value_offset == theirs.valueoffset, where
    value = ours.value
    if value is None:
        value = load_tag_value(source, structure, ours)
    their = _norm(theirs.value)
    if their is None:
        assert ours.code in TRANSFORMED_TAGS, (
            f"{where}: tifffile's {type(theirs.value).__name__} value not compared"
        )
        return False
    mine = _ours(value, their)
    if isinstance(their, str):
        their = their.strip("\x00").strip()
    if isinstance(their, tuple) and their and isinstance(their[0], float):
        assert np.allclose(np.asarray(mine, dtype=float), np.asarray(their, dtype=float), equal_nan=True), (
            where
        )
    else:
        assert mine == their, where
    return True


def assert_same_as_tifffile(path: Path, source: ByteSource) -> tuple[TiffStructure, dict]:
    """Read with our reader, compare with tifffile; returns the structure and the ledger of the read alone (before
    the comparison loads unloaded values)."""
    structure = read_tiff(source)
    ledger = source.ledger.as_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("tifffile").disabled = True
        try:
            with tifffile.TiffFile(path) as tf:
                pages = list(_oracle_pages(tf))
                assert structure.bigtiff == tf.is_bigtiff
                assert structure.byteorder == tf.byteorder
                ours = structure.all_ifds()
                assert [(i.depth, i.offset) for i in ours] == [(d, p.offset) for d, p in pages]
                compared = total = 0
                for ifd, (_d, page) in zip(ours, pages, strict=True):
                    theirs = list(page.tags.values())
                    assert [t.code for t in ifd.tags] == [t.code for t in theirs], ifd.path
                    for ours_tag, their_tag in zip(ifd.tags, theirs, strict=True):
                        compared += _check_tag(source, structure, ours_tag, their_tag)
                        total += 1
                    _check_properties(ifd, page)
                # every IFD has at least its size tags; at most a few dict-valued tags are left out
                assert compared >= 2 * len(ours) and compared >= 0.9 * total, (compared, total)
                if tf.pages[0].description and structure.image_description is not None:
                    desc = decode_ascii(structure.image_description).strip()
                    assert desc == tf.pages[0].description.strip()
        finally:
            logging.getLogger("tifffile").disabled = False
    return structure, ledger


def _check_properties(ifd: IFD, page: tifffile.TiffPage) -> None:
    if ifd.tag(256) is None:  # e.g. a JPEG-only SubIFD: tifffile takes the size from the JPEG stream
        return
    assert (ifd.width, ifd.height) == (page.imagewidth, page.imagelength)
    assert ifd.compression == int(page.compression)
    assert ifd.is_tiled == page.is_tiled
    assert ifd.samples_per_pixel == page.samplesperpixel
    assert ifd.planar_configuration == int(page.planarconfig)
    if page.is_tiled:
        assert (ifd.tile_width, ifd.tile_height) == (page.tilewidth, page.tilelength)
    assert ifd.offsets_count == len(page.dataoffsets)


# --- the corpus ------------------------------------------------------------------------------------------------------


def test_corpus_has_the_expected_tiffs() -> None:
    assert len(CORPUS_TIFFS) >= 80


@pytest.mark.parametrize("name", CORPUS_TIFFS)
def test_corpus_file_matches_tifffile(name: str) -> None:
    path = CORPUS / name
    with FileSource(path) as source:
        structure, ledger = assert_same_as_tifffile(path, source)
    assert ledger["rounds"] <= 5, ledger
    codes = {f.code for f in structure.findings}
    if name in EXPECTED_FINDINGS:
        assert EXPECTED_FINDINGS[name] in codes
    assert not codes - {"IFD_OFFSET_ODD", "TAGS_UNSORTED"} - set(EXPECTED_FINDINGS.values())


def test_corpus_over_http_matches_tifffile(range_server) -> None:
    server = range_server({name: CORPUS / name for name in CORPUS_TIFFS})
    for name in CORPUS_TIFFS:
        with HttpSource(server.url(name)) as source:
            assert_same_as_tifffile(CORPUS / name, source)


def test_color_xyzct_next_ifd_at_eof_is_a_finding() -> None:
    with FileSource(CORPUS / "pennsieve-ometiff-processor/color_XYZCT.tif") as source:
        structure = read_tiff(source)
    (finding,) = [f for f in structure.findings if f.code == "IFD_OFFSET_BAD"]
    assert "321,198" in finding.message and "end of file" in finding.message
    assert len(structure.ifds) == 1


# --- tifffile-written variants ---------------------------------------------------------------------------------------

VARIANTS = [
    (big, order, tiled, pyramid)
    for big in (False, True)
    for order in ("<", ">")
    for tiled in (False, True)
    for pyramid in (False, True)
]


def _write_variant(path: Path, big: bool, order: str, tiled: bool, pyramid: bool, pages: int) -> None:
    data = np.arange(96 * 80, dtype="uint16").reshape(96, 80)
    kw: dict[str, Any] = {"tile": (32, 32)} if tiled else {"rowsperstrip": 16}
    with tifffile.TiffWriter(path, bigtiff=big, byteorder=order) as w:
        for p in range(pages):
            w.write(
                data,
                subifds=2 if pyramid else 0,
                description=f"page {p}" if p == 0 else None,
                metadata=None,
                resolution=(3.5, 7.25),
                compression="zlib" if p % 2 else None,
                **kw,
            )
            if pyramid:
                w.write(data[::2, ::2], subfiletype=1, metadata=None, **kw)
                w.write(data[::4, ::4], subfiletype=1, metadata=None, **kw)


@pytest.fixture(scope="session")
def variant_files(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple, Path]:
    root = tmp_path_factory.mktemp("variants")
    out = {}
    for big, order, tiled, pyramid in VARIANTS:
        path = root / f"v_{int(big)}_{'le' if order == '<' else 'be'}_{int(tiled)}_{int(pyramid)}.tif"
        _write_variant(path, big, order, tiled, pyramid, pages=3)
        out[big, order, tiled, pyramid] = path
    many = root / "many_pages.tif"
    _write_variant(many, True, ">", False, False, pages=150)
    out["many"] = many
    return out


@pytest.mark.parametrize(
    "variant", VARIANTS, ids=lambda v: f"big{int(v[0])}-{v[1]}-tiled{int(v[2])}-pyr{int(v[3])}"
)
def test_tifffile_variant_matches(variant_files: dict, variant: tuple) -> None:
    path = variant_files[variant]
    with FileSource(path) as source:
        structure, _ = assert_same_as_tifffile(path, source)
    assert len(structure.ifds) == 3
    assert len(structure.all_ifds()) == (9 if variant[3] else 3)
    if variant[3]:
        assert all(s.is_reduced for top in structure.ifds for s in top.subifds)


def test_150_pages_match_and_take_few_rounds(variant_files: dict, range_server) -> None:
    path = variant_files["many"]
    with FileSource(path) as source:
        structure, ledger = assert_same_as_tifffile(path, source)
    assert len(structure.ifds) == 150
    assert ledger["rounds"] <= 9, ledger
    server = range_server({"many.tif": path})
    with HttpSource(server.url("many.tif")) as source:
        assert_same_as_tifffile(path, source)


def test_sidecar_offsets_fetch_the_chain_at_once(variant_files: dict) -> None:
    path = variant_files["many"]
    with FileSource(path) as source:
        offsets = [i.offset for i in read_tiff(source).ifds]
    with FileSource(path) as source:
        structure = read_tiff(source, offsets=offsets)
        assert source.ledger.rounds <= 3, source.ledger.as_dict()
    assert [i.offset for i in structure.ifds] == offsets
    assert not structure.findings
    with FileSource(path) as source:
        wrong = read_tiff(source, offsets=[*offsets[:10], offsets[10] + 2, *offsets[11:]])
    assert [i.offset for i in wrong.ifds] == offsets  # never trusts the sidecar: the chain wins
    assert any(f.code == "OFFSETS_MISMATCH" and "IFD 10" in f.message for f in wrong.findings)


def test_options_are_honoured_for_small_values(variant_files: dict) -> None:
    path = variant_files[True, "<", True, True]
    with FileSource(path) as source:
        structure = read_tiff(source, options=ReadOptions(array_load_items=0))
    offsets_tag = structure.ifds[0].tag(324)
    assert offsets_tag is not None and offsets_tag.value is None
    with FileSource(path) as source:
        assert len(load_tag_value(source, structure, offsets_tag)) == offsets_tag.count == 9
