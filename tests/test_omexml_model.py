"""Units, colours, TiffData defaults, tables, old-schema spellings, annotations, ROIs and schema validation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ometiff_helpers.errors import OmeXmlError, UnsupportedOme
from ometiff_helpers.ome.load import load_ome_xml
from ometiff_helpers.ome.model import Colour
from ometiff_helpers.ome.parser import parse_ome_xml, physical_extent_um, tables
from ometiff_helpers.ome.schema import validate_ome_xml
from ometiff_helpers.ome.tables import COLUMNS
from ometiff_helpers.ome.units import Quantity, length_to_um, normalise_unit, time_to_s
from ometiff_helpers.ometiff import plane_index, plane_mapping

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


def one_image(pixels_attrs: str, body: str = "", image_body: str = "", extra: str = "") -> bytes:
    return (
        f'<OME xmlns="{NS}"><Image ID="Image:0" Name="n">{image_body}<Pixels ID="Pixels:0" Type="uint16" '
        f"{pixels_attrs}>{body}</Pixels></Image>{extra}</OME>"
    ).encode()


SIZES = 'DimensionOrder="XYZCT" SizeX="100" SizeY="50" SizeZ="3" SizeC="2" SizeT="4"'


# --- units ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "um"),
    [(1, "µm", 1), (1, "um", 1), (1, "μm", 1), (250, "nm", 0.25), (2, "mm", 2000), (1, "m", 1e6), (10, "Å", 1e-3),
     (1, "in", 25400), (1, "pixel", None), (1, "reference frame", None), (1, "furlong", None)],
)  # fmt: skip
def test_length_to_um(value: float, unit: str, um: float | None) -> None:
    got = length_to_um(value, unit)
    assert got == um if um is None else math.isclose(got or 0, um, rel_tol=1e-12)


def test_time_and_aliases() -> None:
    assert time_to_s(250, "ms") == 0.25 and time_to_s(2, "min") == 120 and time_to_s(1, "parsec") is None
    assert normalise_unit(" um ") == "µm"
    q = Quantity(0.5, "nm")
    assert q.to_um() == 0.0005 and str(q) == "0.5 nm"


def test_pixels_units_defaults_and_extent() -> None:
    doc = parse_ome_xml(
        one_image(
            SIZES + ' PhysicalSizeX="0.5" PhysicalSizeY="650" PhysicalSizeYUnit="nm" PhysicalSizeZ="2" '
            'PhysicalSizeZUnit="um" TimeIncrement="1.5"'
        )
    )
    p = doc.images[0].pixels
    assert p is not None
    assert p.physical_size_x == Quantity(0.5, "µm", unit_defaulted=True)
    assert p.physical_size_y == Quantity(650.0, "nm")
    assert p.time_increment == Quantity(1.5, "s", unit_defaulted=True)
    ext = physical_extent_um(p)
    assert ext[0] == 50.0 and math.isclose(ext[1] or 0, 32.5) and ext[2] == 6.0
    assert "OME_UNIT_NONSTANDARD" in {f.code for f in doc.findings}  # 'um' is not the schema's spelling
    row = tables(doc)["pixels"][0]
    assert (row["Width (µm)"], row["Unit Y"], row["Physical size Y"]) == (50.0, "nm", 650.0)
    none = parse_ome_xml(one_image(SIZES))
    assert physical_extent_um(none.images[0].pixels) == (None, None, None)  # type: ignore[arg-type]


def test_plane_units() -> None:
    body = '<Plane TheZ="1" TheC="0" TheT="2" DeltaT="3" ExposureTime="20" ExposureTimeUnit="ms" PositionX="1.5" PositionXUnit="mm"/>'
    pl = parse_ome_xml(one_image(SIZES, body)).images[0].pixels.planes[0]  # type: ignore[union-attr]
    assert (pl.the_z, pl.the_c, pl.the_t) == (1, 0, 2)
    assert pl.delta_t == Quantity(3.0, "s", True) and pl.exposure_time.to_s() == 0.02  # type: ignore[union-attr]
    assert pl.position_x.to_um() == 1500.0 and pl.position_y is None  # type: ignore[union-attr]


# --- colours ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "hex_", "alpha"),
    [(-1, "#FFFFFFFF", 255), (4294967295, "#FFFFFFFF", 255), (65279, "#0000FEFF", 255), (-16776961, "#FF0000FF", 255),
     (16711935, "#00FF00FF", 255), (0, "#00000000", 0), (-2147483648, "#80000000", 0), (255, "#000000FF", 255)],
)  # fmt: skip
def test_colour_is_signed_rgba(value: int, hex_: str, alpha: int) -> None:
    c = Colour(value)
    assert c.hex == hex_ and c.alpha == alpha and c.hex_rgb == hex_[:7]
    assert c.signed == (value - (1 << 32) if value >= 1 << 31 else value)


def test_channel_colour_default_and_wavelengths() -> None:
    body = (
        '<Channel ID="Channel:0:0" Name="DAPI" Color="65535" ExcitationWavelength="405" EmissionWavelength="0.45" '
        'EmissionWavelengthUnit="µm" SamplesPerPixel="1" Fluor="DAPI"/><Channel ID="Channel:0:1" Name="GFP"/>'
    )
    doc = parse_ome_xml(one_image(SIZES, body))
    ch0, ch1 = doc.images[0].pixels.channels  # type: ignore[union-attr]
    assert ch0.colour == Colour(65535) and ch0.colour.hex == "#0000FFFF" and not ch0.colour_defaulted
    assert ch1.colour is not None and ch1.colour.hex == "#FFFFFFFF" and ch1.colour_defaulted
    assert ch0.excitation_wavelength == Quantity(405.0, "nm", True)
    assert ch0.emission_wavelength is not None and ch0.emission_wavelength.to_um() == 0.45
    rows = tables(doc)["channels"]
    assert [r["Colour (hex)"] for r in rows] == ["#0000FFFF", "#FFFFFFFF"]
    assert [r["Colour given"] for r in rows] == [True, False]


# --- TiffData defaults and the plane mapping --------------------------------------------------------------------------


def _mapping(body: str, order: str = "XYZCT") -> list[tuple[int, int, int, int]]:
    attrs = SIZES.replace("XYZCT", order)
    doc = parse_ome_xml(one_image(attrs, body))
    return [(r.z, r.c, r.t, r.ifd) for r in list(plane_mapping(doc.images[0]).refs())]


def test_tiffdata_defaults() -> None:
    assert len(_mapping("<TiffData/>")) == 24  # no IFD, no PlaneCount: every plane from IFD 0
    assert _mapping("<TiffData/>")[:4] == [(0, 0, 0, 0), (1, 0, 0, 1), (2, 0, 0, 2), (0, 1, 0, 3)]
    assert _mapping('<TiffData IFD="5"/>') == [(0, 0, 0, 5)]  # IFD given, no PlaneCount: one plane
    assert _mapping('<TiffData PlaneCount="2"/>') == [(0, 0, 0, 0), (1, 0, 0, 1)]  # IFD defaults to 0
    assert _mapping('<TiffData FirstC="1" FirstT="3" IFD="9" PlaneCount="2"/>') == [
        (0, 1, 3, 9),
        (1, 1, 3, 10),
    ]
    assert _mapping('<TiffData FirstZ="2" FirstT="3" IFD="0" PlaneCount="1"/>', "XYCTZ") == [(2, 0, 3, 0)]


def test_dimension_orders() -> None:
    doc = parse_ome_xml(one_image(SIZES.replace("XYZCT", "XYTCZ"), "<TiffData/>"))
    p = doc.images[0].pixels
    assert p is not None
    refs = list(plane_mapping(doc.images[0]).refs())
    assert [(r.z, r.c, r.t) for r in refs[:5]] == [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 0, 3), (0, 1, 0)]
    assert [r.ifd for r in refs] == list(range(p.plane_total))  # one plane per IFD, in file order
    assert all(plane_index(p, r.z, r.c, r.t) == r.ifd for r in refs)


def test_rgb_channel_counts_one_plane() -> None:
    attrs = 'DimensionOrder="XYCZT" SizeX="4" SizeY="4" SizeZ="2" SizeC="3" SizeT="1" Interleaved="true"'
    doc = parse_ome_xml(one_image(attrs, '<Channel ID="Channel:0:0" SamplesPerPixel="3"/><TiffData/>'))
    p = doc.images[0].pixels
    assert p is not None and p.effective_size_c == 1 and p.plane_total == 2 and p.interleaved is True
    assert [(r.z, r.ifd) for r in list(plane_mapping(doc.images[0]).refs())] == [(0, 0), (1, 1)]


# --- tables ---------------------------------------------------------------------------------------------------------


def test_tables_have_stable_columns_for_a_rich_document() -> None:
    doc = load_ome_xml(CORPUS / "ome-types/timestampannotation.ome.xml")
    rows = tables(doc)
    assert set(rows) == set(COLUMNS)
    # the column check below is over rows: every table this document fills is checked
    assert {name for name, r in rows.items() if r} == set(COLUMNS) - {"planes", "tiffdata"}
    for name, cols in COLUMNS.items():
        assert all(list(r) == list(cols) for r in rows[name]), name
    assert rows["images"][0]["Image ID"] == "Image:0"
    assert {r["Kind"] for r in rows["annotations"]} == {"XML", "Timestamp"}
    assert len(rows["shapes"]) == doc.shape_count == 13
    assert len(rows["plates"]) == 2


def test_instruments_table_and_records() -> None:
    doc = load_ome_xml(CORPUS / "ome-types/instrument.ome.xml")
    inst = doc.instruments[0]
    assert inst.microscope is not None and inst.objectives and inst.detectors and inst.light_sources
    obj = inst.objectives[0]
    assert obj.lens_na is not None and obj.nominal_magnification is not None and obj.immersion
    lasers = [ls for ls in inst.light_sources if ls.kind == "Laser"]
    assert lasers and lasers[0].power == Quantity(200.0, "mW", unit_defaulted=True) and lasers[0].laser_medium
    components = {r["Component"] for r in tables(doc)["instruments"]}
    assert {"Microscope", "Objective", "Detector", "Filter", "Dichroic", "Light source (Laser)"} <= components


def test_old_schemas_logical_channel_and_shape_children() -> None:
    d2008 = load_ome_xml(CORPUS / "ome-model/2008-09/multi-channel.ome.xml")
    p = d2008.images[0].pixels
    assert p is not None and p.type == "uint8" and p.dimension_order == "XYCZT"
    # one LogicalChannel of 3 ChannelComponents: 3 Channels with the ColorDomain's colour, as the official upgrade
    assert [(c.id, c.colour.hex, c.samples_per_pixel) for c in p.channels] == [  # type: ignore[union-attr]
        ("Channel:0:1", "#FF0000FF", None),
        ("Channel:0:2", "#00FF00FF", None),
        ("Channel:0:3", "#0000FFFF", None),
    ]
    assert d2008.images[0].acquisition_date == "2010-02-23T12:51:30"  # CreationDate
    d2010 = load_ome_xml(CORPUS / "ome-model/2010-04/ROI.ome.xml")
    shapes = [s for r in d2010.rois for s in r.shapes]
    assert [s.kind for s in shapes] == ["Point", "Point", "Point", "Label"]
    assert shapes[3].text == "Hello World!" and shapes[1].the_c == 2
    assert d2010.images[0].pixels.channels[0].colour.hex == "#FFFFFFFF"  # type: ignore[union-attr]


def test_shapes_geometry_and_transforms() -> None:
    doc = load_ome_xml(CORPUS / "ome-types/transformations-upgrade.ome.xml")
    kinds = {s.kind for r in doc.rois for s in r.shapes}
    assert kinds >= {"Rectangle", "Line", "Point", "Polygon", "Polyline", "Label"}
    with_t = [s for r in doc.rois for s in r.shapes if s.transform is not None]
    assert with_t and all(len(s.transform) == 6 for s in with_t)  # type: ignore[arg-type]
    poly = next(s for r in doc.rois for s in r.shapes if s.kind == "Polygon")
    assert poly.point_count == len(poly.point_list()) >= 3
    rect = next(s for r in doc.rois for s in r.shapes if s.kind == "Rectangle")
    assert rect.width is not None and rect.height is not None
    old = load_ome_xml(CORPUS / "ome-model/2011-06/transformations-upgrade.ome.xml")
    assert any(s.transform is not None for r in old.rois for s in r.shapes)  # "matrix(...)" attribute form


def test_annotations_of_every_kind_and_what_they_annotate() -> None:
    m = load_ome_xml(CORPUS / "ome-types/mapannotation.ome.xml")
    maps = [a for a in m.annotations if a.kind == "Map"]
    assert maps and all(a.pairs for a in maps)
    x = load_ome_xml(CORPUS / "ome-types/xmlannotation-svg.ome.xml")
    assert "<svg" in (x.annotations[0].value or "")
    t = load_ome_xml(CORPUS / "ome-types/tagannotation.ome.xml")
    tags = [a for a in t.annotations if a.kind == "Tag"]
    assert tags and tags[0].value and tags[0].annotates
    s = load_ome_xml(CORPUS / "ome-types/transformations-downgrade.ome.xml")
    by_kind = {a.kind: a for a in s.annotations}
    assert set(by_kind) >= {
        "Long",
        "Double",
        "Boolean",
        "Term",
        "Comment",
        "List",
        "File",
        "Timestamp",
        "Tag",
    }
    # the values as the file writes them (<Value>8</Value>, <Value>3.14</Value>), not just "something parseable"
    assert (by_kind["Long"].id, by_kind["Long"].value) == ("Annotation:8", "8")
    assert (by_kind["Double"].id, by_kind["Double"].value) == ("Annotation:5", "3.14")
    assert by_kind["Boolean"].value in ("true", "false")
    f = parse_ome_xml(
        one_image(
            SIZES,
            extra='<StructuredAnnotations><FileAnnotation ID="Annotation:f" Namespace="ns">'
            '<BinaryFile FileName="a.csv" Size="12" MIMEType="text/csv"><External href="a.csv" SHA1="00"/>'
            '</BinaryFile></FileAnnotation><ListAnnotation ID="Annotation:l"><AnnotationRef ID="Annotation:f"/>'
            "</ListAnnotation></StructuredAnnotations>",
        )
    )
    fa, la = f.annotations
    assert (fa.kind, fa.file_name, fa.file_size, fa.mime_type, fa.namespace) == (
        "File",
        "a.csv",
        12,
        "text/csv",
        "ns",
    )
    assert fa.annotates == ("Annotation:l",) and la.annotation_refs == ("Annotation:f",)


def test_rois_linked_to_images_and_plates() -> None:
    doc = load_ome_xml(CORPUS / "ome-types/ROI.ome.xml")
    assert doc.rois and all(r.image_refs == ("Image:0",) for r in doc.rois)
    plate_doc = load_ome_xml(CORPUS / "ome-types/hcs.ome.xml")
    plate = plate_doc.plates[0]
    assert plate.wells and plate.wells[0].samples[0].image_ref
    assert tables(plate_doc)["wells"][0]["Image ID"] == plate.wells[0].samples[0].image_ref


def test_people_and_containers_2008() -> None:
    doc = load_ome_xml(CORPUS / "ome-model/2008-09/dataset-group-project.ome.xml")
    assert doc.projects and doc.datasets and doc.experimenters and doc.groups
    assert doc.experimenters[0].first_name  # a child element in 2008-09
    assert doc.groups[0].leader_refs == ("Experimenter:0",)


# --- schema validation ------------------------------------------------------------------------------------------------


def test_validation_lists_errors_with_lines() -> None:
    errors = validate_ome_xml((CORPUS / "ome-types/bad.ome.xml").read_bytes())
    assert errors and all(e.line is not None for e in errors)
    assert any(e.line == 6 and "InvalidName" in e.message for e in errors)
    assert any(e.path.endswith("Image/Pixels") for e in errors)
    assert validate_ome_xml((CORPUS / "ome-types/example.ome.xml").read_bytes()) == []
    parsed = parse_ome_xml((CORPUS / "ome-types/bad.ome.xml").read_bytes())
    assert "OME_ID_FORMAT" in {f.code for f in parsed.findings}


def test_validation_is_2016_only_and_safe() -> None:
    with pytest.raises(UnsupportedOme) as info:
        validate_ome_xml((CORPUS / "ome-model/2015-01/ROI.ome.xml").read_bytes())
    assert info.value.kind == "schema-version" and "2015-01" in str(info.value)
    with pytest.raises(OmeXmlError):
        validate_ome_xml(b'<!DOCTYPE x [<!ENTITY a "b">]><OME>&a;</OME>')


@pytest.mark.parametrize(
    "points",
    [
        "1,2 3,4 5,6",  # the usual spelling: counted by its separators
        " 1,2 3,4 ",
        "1,2,3,4",  # every other spelling is scanned for numbers, as point_list reads it
        "1 2 3 4",
        "1, 2, 3, 4",
        "1,2  3,4",
        "1,2,,3,4",
        ",1 2,3",
        "1,2 3,",
        "1,2\n3,4",
        "1,2\t3,4 5,6",
        "-1.5e2,.5 +3,4",
        "",
        "   ",
        "1,2 3",
    ],
)
def test_point_count_agrees_with_the_points_read(points: str) -> None:
    from ometiff_helpers.ome.model import Shape

    shape = Shape(id="Shape:0", kind="Polygon", roi_id="ROI:0", points=points)
    assert shape.point_count == len(shape.point_list())
