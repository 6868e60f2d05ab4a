"""Every OME-XML and OME-TIFF of the shared corpus parses; ome-types (an oracle we did not write) agrees on counts
and key values; TiffData defaults are followed on the corpus files that rely on them."""

from __future__ import annotations

import json
import re
import warnings
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
import tifffile

from ometiff_helpers.errors import NotOmeTiff
from ometiff_helpers.ome.load import load_ome_xml
from ometiff_helpers.ome.parser import (
    KNOWN_VERSIONS,
    OmeDocument,
    parse_ome_xml,
    tables,
)
from ometiff_helpers.ome.tables import COLUMNS
from ometiff_helpers.ometiff import plane_mapping

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
XML_FILES = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".xml", ".ome") and p.is_file())
TIFF_FILES = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".tif", ".tiff", ".svs") and p.is_file())
FACTS = {f["file"]: f for f in json.loads((CORPUS / "facts.json").read_text())}


def _rel(p: Path) -> str:
    return str(p.relative_to(CORPUS))


def ifd0_description(path: Path) -> bytes | None:
    """IFD 0's ImageDescription as the raw bytes stored in the file (tifffile locates the tag)."""
    with tifffile.TiffFile(path) as tf:
        tag = tf.pages.first.tags.get(270)
        if tag is None:
            return None
        tf.filehandle.seek(tag.valueoffset)
        return tf.filehandle.read(tag.count)


@cache
def ome_types_model(path: Path):  # type: ignore[no-untyped-def]
    import ome_types

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if path.suffix in (".tif", ".tiff"):
            return ome_types.from_tiff(path)
        return ome_types.from_xml(path)


def _doc(path: Path) -> OmeDocument:
    if path.suffix in (".tif", ".tiff"):
        return parse_ome_xml(ifd0_description(path))
    return load_ome_xml(path)


def test_corpus_is_there() -> None:
    assert len(XML_FILES) >= 200 and len(TIFF_FILES) >= 70


@pytest.mark.parametrize("path", XML_FILES, ids=_rel)
def test_every_corpus_xml_parses(path: Path) -> None:
    doc = load_ome_xml(path)
    assert doc.schema_version in KNOWN_VERSIONS
    assert doc.namespace and doc.namespace.endswith(doc.schema_version)
    assert doc.images, "every OME-XML in the corpus describes at least one image"
    for im in doc.images:
        assert im.pixels is not None and im.pixels.size_x and im.pixels.type
    assert doc.xml_bytes == path.stat().st_size
    rows = tables(doc)
    assert len(rows["images"]) == len(doc.images) and rows["pixels"]  # the column check covers these at least
    for name, cols in COLUMNS.items():
        assert all(tuple(r) == cols for r in rows[name]), name


@pytest.mark.parametrize("path", TIFF_FILES, ids=_rel)
def test_every_corpus_tiff_description(path: Path) -> None:
    facts = FACTS[_rel(path)]
    desc = ifd0_description(path)
    if facts["has_ome_xml"]:
        doc = parse_ome_xml(desc)
        assert doc.schema_version == "2016-06"
        assert len(doc.images) == facts["images"]
        assert doc.creator == facts.get("creator")
        assert (doc.binary_only is not None) == facts["binary_only"]
    else:
        with pytest.raises(NotOmeTiff) as info:
            parse_ome_xml(desc)
        kind = info.value.kind
        assert kind in {"no-description", "imagej", "json", "aperio", "tifffile", "text", "empty"}
        assert (kind == "no-description") == (desc is None)
        assert len(str(info.value)) < 400


def test_binary_only_stub_is_a_document_with_a_finding() -> None:
    doc = parse_ome_xml(ifd0_description(CORPUS / "viv/avivator/data/multifile-Z3.ome.tiff"))
    assert doc.images == ()
    assert doc.binary_only is not None and doc.binary_only.metadata_file == "multifile.companion.ome"
    assert doc.binary_only.uuid and doc.binary_only.uuid.startswith("urn:uuid:")
    assert "OME_BINARY_ONLY" in {f.code for f in doc.findings}


# --- the oracle ------------------------------------------------------------------------------------------------------

#: every OME-XML of the corpus, of every schema version: ome-types upgrades the old ones with the official XSLT
#: transforms (lxml), so this compares our reading of an old document with its official upgrade
ORACLE_FILES = [
    p
    for p in XML_FILES + TIFF_FILES
    if (p.suffix in (".xml", ".ome") and re.search(rb"Schemas/OME/20\d\d-\d\d", p.read_bytes()[:5000]))
    or FACTS.get(_rel(p), {}).get("has_ome_xml")
]

_SA_KINDS = {
    "xml_annotations": "XML",
    "file_annotations": "File",
    "list_annotations": "List",
    "long_annotations": "Long",
    "double_annotations": "Double",
    "comment_annotations": "Comment",
    "boolean_annotations": "Boolean",
    "timestamp_annotations": "Timestamp",
    "tag_annotations": "Tag",
    "term_annotations": "Term",
    "map_annotations": "Map",
}


def _same_id(ours: str | None, theirs: str | None, prefix: str) -> bool:
    """Equal, or ours breaks the schema's ``Prefix:...`` pattern and ome-types replaced it (it rewrites bad IDs)."""
    if ours == theirs:
        return True
    broken = not re.match(rf"^(urn:lsid:\S+:)?{prefix}:\S+$", ours or "")
    return broken and bool(theirs and theirs.startswith(prefix + ":"))


def _kind_of(a: object) -> str:
    return type(a).__name__.removesuffix("Annotation")  # XMLAnnotation -> XML


def _enum(v: object) -> object:
    return getattr(v, "value", v)


def test_oracle_covers_every_schema_version() -> None:
    assert len(ORACLE_FILES) >= 250
    versions = {
        m.group(1)
        for p in ORACLE_FILES
        if (m := re.search(rb"Schemas/OME/(20\d\d-\d\d)", p.read_bytes()[:5000]))
    }
    assert {
        b"2008-09",
        b"2009-09",
        b"2010-04",
        b"2010-06",
        b"2011-06",
        b"2012-06",
        b"2013-06",
        b"2015-01",
        b"2016-06",
    } <= versions


@pytest.mark.parametrize("path", ORACLE_FILES, ids=_rel)
def test_same_as_ome_types(path: Path) -> None:
    ref = ome_types_model(path)
    doc = _doc(path)
    assert doc.creator == ref.creator
    assert doc.uuid == ref.uuid
    assert len(doc.images) == len(ref.images)
    for im, rim in zip(doc.images, ref.images, strict=True):
        assert im.id == rim.id and im.name == rim.name
        p, rp = im.pixels, rim.pixels
        assert p is not None
        assert (p.size_x, p.size_y, p.size_z, p.size_c, p.size_t) == (
            rp.size_x, rp.size_y, rp.size_z, rp.size_c, rp.size_t,
        )  # fmt: skip
        assert p.type == _enum(rp.type)
        assert p.dimension_order == _enum(rp.dimension_order)
        for axis in "xyz":
            q = getattr(p, f"physical_size_{axis}")
            rv = getattr(rp, f"physical_size_{axis}")
            # the upgrades (2015-01: PositiveFloat) drop a size <= 0; we keep what is written and PHYSICAL_SIZE reports it
            assert (None if q is None or q.value <= 0 else q.value) == rv
            if q is not None and q.value > 0:
                assert q.unit == _enum(getattr(rp, f"physical_size_{axis}_unit"))
        assert p.significant_bits == rp.significant_bits
        # the 2008-09 -> 2009-09 upgrade moves Pixels@BigEndian onto each BinData: ome-types has none on Pixels
        moved = doc.schema_version == "2008-09" and rp.big_endian is None
        assert (p.big_endian == rp.big_endian or moved) and p.interleaved == rp.interleaved
        assert len(p.channels) == len(rp.channels)
        for ch, rch in zip(p.channels, rp.channels, strict=True):
            assert _same_id(ch.id, rch.id, "Channel") and ch.name == rch.name
            assert ch.samples_per_pixel == rch.samples_per_pixel
            r, g, b, a = rch.color.as_rgb_tuple(alpha=True)
            assert ch.colour is not None
            assert ch.colour.rgba == (r, g, b, round(a * 255))
            ex = ch.excitation_wavelength
            assert (None if ex is None else ex.value) == rch.excitation_wavelength
        assert len(p.planes) == len(rp.planes)
        for pl, rpl in zip(p.planes, rp.planes, strict=True):
            assert (pl.the_z, pl.the_c, pl.the_t) == (rpl.the_z, rpl.the_c, rpl.the_t)
            assert (None if pl.delta_t is None else pl.delta_t.value) == rpl.delta_t
            assert (None if pl.exposure_time is None else pl.exposure_time.value) == rpl.exposure_time
        assert len(p.tiffdata) == len(rp.tiff_data_blocks)
        for td, rtd in zip(p.tiffdata, rp.tiff_data_blocks, strict=True):
            assert (td.ifd, td.first_z, td.first_c, td.first_t) == (
                rtd.ifd,
                rtd.first_z,
                rtd.first_c,
                rtd.first_t,
            )
            if rtd.plane_count is not None:
                assert td.plane_count == rtd.plane_count
            assert td.file_name == (rtd.uuid.file_name if rtd.uuid else None)
            assert td.uuid == (rtd.uuid.value if rtd.uuid else None)
        assert set(im.roi_refs) == {r.id for r in rim.roi_refs}
    ref_kinds = Counter()
    sa = ref.structured_annotations
    for field, kind in _SA_KINDS.items():
        ref_kinds[kind] += len(getattr(sa, field))
    assert Counter(a.kind for a in doc.annotations) == +ref_kinds
    ours = sorted((a.kind, a.namespace or "") for a in doc.annotations)
    assert ours == sorted((_kind_of(a), a.namespace or "") for a in sa)
    ref_ids = sorted((_kind_of(a), a.id) for a in sa)
    our_ids = sorted((a.kind, a.id) for a in doc.annotations)
    assert all(
        k1 == k2 and _same_id(i1, i2, "Annotation")
        for (k1, i1), (k2, i2) in zip(our_ids, ref_ids, strict=True)
    )
    for a in doc.annotations:
        if a.kind == "Map":
            ref_map = next(x for x in sa.map_annotations if x.id == a.id)
            assert [(k, v) for k, v in a.pairs] == [(m.k, m.value) for m in ref_map.value.ms]
    assert len(doc.rois) == len(ref.rois)
    for roi, rroi in zip(doc.rois, ref.rois, strict=True):
        assert roi.id == rroi.id
        # ome-types groups shapes by kind; we keep document order: compare (ID, kind) as sets
        assert sorted((s.id, s.kind) for s in roi.shapes) == sorted(
            (s.id, type(s).__name__) for s in rroi.union
        )
        assert len(roi.shapes) == len(rroi.union)
    assert len(doc.plates) == len(ref.plates)
    for pl, rpl in zip(doc.plates, ref.plates, strict=True):
        assert len(pl.wells) == len(rpl.wells)
        assert sum(len(w.samples) for w in pl.wells) == sum(len(w.well_samples) for w in rpl.wells)
    assert len(doc.instruments) == len(ref.instruments)
    for inst, rinst in zip(doc.instruments, ref.instruments, strict=True):
        assert [o.id for o in inst.objectives] == [o.id for o in rinst.objectives]
        assert [o.lens_na for o in inst.objectives] == [o.lens_na for o in rinst.objectives]
        assert [o.nominal_magnification for o in inst.objectives] == [
            o.nominal_magnification for o in rinst.objectives
        ]
        assert len(inst.detectors) == len(rinst.detectors)
        assert sorted(ls.id for ls in inst.light_sources) == sorted(ls.id for ls in rinst.light_source_group)
    assert len(doc.experimenters) == len(ref.experimenters)


# --- TiffData defaults on real files --------------------------------------------------------------------------------


def test_tiffdata_without_attributes_maps_all_planes_from_ifd0() -> None:
    """seq0000xy01c1.ome.xml has a bare <TiffData/>: IFD 0, every plane, consecutive IFDs."""
    doc = load_ome_xml(CORPUS / "ome-types/seq0000xy01c1.ome.xml")
    im = doc.images[0]
    td = im.pixels.tiffdata[0]  # type: ignore[union-attr]
    assert (td.ifd_given, td.plane_count_given, td.ifd, td.plane_count) == (False, False, 0, None)
    refs = list(plane_mapping(im).refs())
    assert len(refs) == im.pixels.plane_total  # type: ignore[union-attr]
    assert [r.ifd for r in refs] == list(range(len(refs)))


def test_tiffdata_plane_count_from_a_tifffile_ome_tiff() -> None:
    """ome-types/ome.tiff: <TiffData IFD="0" PlaneCount="2"/> over SizeC=2 (written by tifffile)."""
    doc = parse_ome_xml(ifd0_description(CORPUS / "ome-types/ome.tiff"))
    refs = list(plane_mapping(doc.images[0]).refs())
    assert [(r.z, r.c, r.t, r.ifd) for r in refs] == [(0, 0, 0, 0), (0, 1, 0, 1)]


def test_tiffdata_in_other_files_are_reported_not_fetched() -> None:
    """multifile.companion.ome: five Z planes, each IFD 0 of its own file (X16)."""
    doc = load_ome_xml(CORPUS / "viv/avivator/data/multifile.companion.ome")
    refs = list(plane_mapping(doc.images[0]).refs())
    assert [(r.z, r.ifd) for r in refs] == [(z, 0) for z in range(5)]
    assert [r.file_name for r in refs] == [f"multifile-Z{z + 1}.ome.tiff" for z in range(5)]
    assert all(r.uuid and r.uuid.startswith("urn:uuid:") for r in refs)


def test_tiffdata_uuid_file_names_of_tubhiswt() -> None:
    doc = load_ome_xml(CORPUS / "ome-types/tubhiswt.ome.xml")
    refs = list(plane_mapping(doc.images[0]).refs())
    p = doc.images[0].pixels
    assert p is not None and len(refs) == p.plane_total == 40
    by_plane = {(r.z, r.c, r.t): r for r in refs}
    assert by_plane[(0, 1, 19)].file_name == "tubhiswt_C1.ome.tif"
    assert by_plane[(0, 1, 19)].ifd == 19
    assert by_plane[(0, 0, 0)].file_name == "tubhiswt_C0.ome.tif"


def test_mapping_equals_the_spec_computed_from_ome_types() -> None:
    """For every corpus file with TiffData: the mapping equals the spec applied to ome-types' TiffData values."""
    checked = 0
    for path in ORACLE_FILES:
        doc, ref = _doc(path), ome_types_model(path)
        for im, rim in zip(doc.images, ref.images, strict=True):
            rp = rim.pixels
            if not rp.tiff_data_blocks:
                continue
            order = re.sub("[XY]", "", _enum(rp.dimension_order))
            sizes = {
                "Z": rp.size_z,
                "C": rp.size_c // (rp.channels[0].samples_per_pixel or 1),
                "T": rp.size_t,
            }
            if len(rp.channels) != sizes["C"]:
                sizes["C"] = rp.size_c
            total = sizes["Z"] * sizes["C"] * sizes["T"]
            expected = []
            for td in rp.tiff_data_blocks:
                pos = {"Z": td.first_z, "C": td.first_c, "T": td.first_t}
                start, stride = 0, 1
                for d in order:
                    start += pos[d] * stride
                    stride *= sizes[d]
                count = (
                    td.plane_count if td.plane_count is not None else (1 if "IFD" in _attrs(td) else total)
                )
                for k in range(max(0, min(count, total - start))):
                    i, coords = start + k, {}
                    for d in order:
                        coords[d] = i % sizes[d]
                        i //= sizes[d]
                    expected.append((coords["Z"], coords["C"], coords["T"], td.ifd + k))
            got = [(r.z, r.c, r.t, r.ifd) for r in list(plane_mapping(im).refs())]
            assert got == expected, _rel(path)
            checked += 1
    assert checked >= 20


def _attrs(td: object) -> set[str]:
    fields = getattr(td, "model_fields_set", set())
    return {"IFD"} if "ifd" in fields else set()
