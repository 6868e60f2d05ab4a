"""The curator app driven from Python: values set and buttons clicked as a person would, on real files.

Files: a corpus OME-XML with 9 ROIs (every shape kind but Mask/Label) and Map/Tag annotations on projects, datasets
and images; the bundled demo OME-TIFF (Map, Comment, XML, Long and Tag annotations) over HTTP with a token; a corpus
OME-TIFF read from disk; a generated OME-XML with 3 000 ROIs for paging.
"""

from __future__ import annotations

import csv
import html
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib
import pytest
from gen_omexml import Spec, generate

from ometiff_helpers.demo import DEMO_NAME, demo_path
from ometiff_helpers.display.explore import app as ea
from ometiff_helpers.display.explore import model as em
from ometiff_helpers.errors import NotOmeTiff, OmeXmlError
from ometiff_helpers.urls import SecretURL

matplotlib.use("Agg")

SHAPE_UNION = "ome-types/shape-union.ome.xml"


def _text(value: str) -> str:
    return html.unescape(value)


@pytest.fixture
def union_app(corpus_dir: Path) -> ea.ExploreApp:
    app = ea.ExploreApp()
    app.url.value = str(corpus_dir / SHAPE_UNION)
    app.load_button.click()
    assert app.error is None, app.error
    return app


def test_tree_first_level_expand_collapse_select(union_app: ea.ExploreApp) -> None:
    root = union_app.root_view
    assert root is not None and root.expanded and root.toggle.description == "▾"
    labels = root.labels()
    assert labels[:3] == [
        "Project ID='Project:51' Name='test' (5 children)",
        "Dataset ID='Dataset:52' Name='Downloads' (6 children)",
        "Dataset ID='Dataset:51' Name='test_ds' (3 children)",
    ]
    assert labels[-1] == "ROI ID='ROI:109' (1 child)" and len(labels) == 16
    assert "16 children" not in union_app.status.value and "101 elements" in union_app.status.value
    # expand ROI:108 -> Union -> Polygon, select the polygon
    roi = root.child_views[-2]
    roi.toggle.click()
    assert roi.expanded and roi.labels() == ["Union (1 child)"]
    union = roi.child_views[0]
    union.toggle.click()
    polygon = union.child_views[0]
    assert polygon.button.description.startswith("Polygon ID='Shape:108'")
    assert polygon.toggle.disabled  # a leaf
    polygon.button.click()
    detail = _text(union_app.detail.value)
    assert "/OME/ROI[8]/Union/Polygon" in detail
    assert "this one has a comment" in detail and "StrokeColor" in detail and "-65281" in detail
    # collapse drops the child widgets
    roi.toggle.click()
    assert not roi.expanded and roi.child_views == [] and roi.widget.children == (roi.row,)


def test_goto_reveals_and_selects(union_app: ea.ExploreApp) -> None:
    union_app.goto.value = "//M[@K='another dataset?']"
    union_app.goto_button.click()
    tree = union_app.explored.tree  # type: ignore[union-attr]
    assert union_app.selected is not None
    assert tree.path(union_app.selected) == "/OME/StructuredAnnotations/MapAnnotation[7]/Value/M"
    assert "yuuuup" in _text(union_app.detail.value)
    annotations = union_app.views[tree.xpath("/OME/StructuredAnnotations")[0].index]
    assert annotations.expanded
    union_app.goto.value = "ROI["
    union_app.goto_button.click()
    assert "not understood at character 4" in _text(union_app.detail.value)


def test_search_and_xpath_boxes(union_app: ea.ExploreApp) -> None:
    union_app.open_tab("Search & XPath")
    union_app.query.value = "drawing"
    union_app.search_button.click()
    assert "<b>2</b> match(es)" in union_app.search_info.value
    results = _text(union_app.search_results.value)
    assert "/OME/Image[1]" in results and "/OME/Image[3]" in results and "C4_drawing.tif" in results
    union_app.in_values.value = False
    union_app.search_button.click()
    assert "<b>0</b> match(es)" in union_app.search_info.value
    union_app.query.value = "Polygon"
    union_app.in_tags.value = False
    union_app.search_button.click()
    assert "<b>0</b> match(es)" in union_app.search_info.value
    union_app.in_tags.value = True
    union_app.search_button.click()
    assert "<b>2</b> match(es)" in union_app.search_info.value

    union_app.xpath.value = "//ROI[@ID='ROI:106']/Union/Line/@X2"
    union_app.xpath_button.click()
    assert "<b>1</b> result(s)" in union_app.xpath_info.value
    assert "214.12499999999943" in union_app.xpath_results.value
    union_app.xpath.value = "//ROI[@ID=]"
    union_app.xpath_button.click()
    assert (
        "unexpected ']' symbol" in _text(union_app.xpath_info.value) and union_app.xpath_results.value == ""
    )


def test_annotation_view(union_app: ea.ExploreApp) -> None:
    union_app.open_tab("Annotations")
    view = _text(union_app.annotations_view.value)
    assert "Namespace: (no namespace)" in view
    assert "Annotation:25104" in view and "also yes" in view and "definitely aproj" in view
    assert "Annotation:25107</b> (Tag) on Project:51, Image:51, Image:27423" in view
    sections = em.annotation_sections(union_app.explored)  # type: ignore[arg-type]
    pairs = em.map_pairs_table(sections)
    assert len(pairs) == 9 and list(pairs.iloc[0]) == ["Annotation:25104", "(no namespace)", "yes", "aproj"]


def test_demo_annotations_grouped_by_namespace_over_http(range_server, canary: str) -> None:  # type: ignore[no-untyped-def]
    server = range_server({DEMO_NAME: demo_path()}, require_token=canary)
    app = ea.ExploreApp()
    app.url.value = server.url(DEMO_NAME)
    app.token.value = canary
    app.load_button.click()
    assert app.error is None and app.token.value == ""
    assert app.explored is not None and app.explored.kind == "OME-TIFF"
    app.open_tab("Annotations")
    sections = em.annotation_sections(app.explored)
    assert [s.namespace for s in sections] == [
        "example.org/demo/acquisition",
        "example.org/demo/cells",
        "example.org/demo/notes",
        "openmicroscopy.org/omero/client/mapAnnotation",
        "(no namespace)",
    ]
    view = _text(app.annotations_view.value)
    assert (
        '<AcquisitionSettings xmlns="http://example.org/demo">\n  <ScanSpeed unit="mm/s">1.5</ScanSpeed>'
        in view
    )
    assert "Region 2 is slightly out of focus." in view and "18342" in view
    widget_texts = [app.url.value, app.status.value, app.detail.value, view, repr(app.explored)]
    assert all(canary not in t for t in widget_texts)
    # a wrong token: a redacted error in the status line, no secret
    app.url.value = SecretURL(server.url(DEMO_NAME), token="wrong-" + canary).reveal()
    app.load_button.click()
    assert (
        app.error is not None and "access denied (http 403)" in app.error.lower() and "token=***" in app.error
    )
    assert canary not in app.status.value and canary not in app.url.value and canary not in (app.error or "")


def test_roi_view_filters(union_app: ea.ExploreApp) -> None:
    union_app.open_tab("ROIs")
    assert "<b>9</b> ROI(s), <b>9</b> shape(s)" in union_app.roi_info.value
    assert bytes(union_app.roi_image.value).startswith(b"\x89PNG")
    assert [o[0] for o in union_app.roi_z.options] == ["all", "0", "2", "11", "23", "36", "45"]
    union_app.roi_z.value = 2
    union_app.roi_button.click()
    # three Points on Z=2, and the Ellipse (no TheZ: on every plane)
    assert "<b>4</b> ROI(s), <b>4</b> shape(s) match" in union_app.roi_info.value  # the ROI count follows too
    tables = _text(union_app.roi_tables.value)
    assert all(s in tables for s in ("Shape:103", "Shape:104", "Shape:105", "Shape:109"))
    assert "Shape:107" not in tables
    union_app.roi_z.value = None
    union_app.roi_id.value = "ROI:107"
    union_app.roi_button.click()
    assert "<b>1</b> ROI(s), <b>1</b> shape(s) match" in union_app.roi_info.value
    fig = em.roi_figure(union_app.explored, roi="ROI:107")  # type: ignore[arg-type]
    ax = fig.axes[0]
    assert ax.get_title() == (
        "1 shape(s) of shape-union.ome.xml (305 × 240 px image); ROI=ROI:107\nzoomed to x 55-244, y 11-208"
    )
    polygon = ax.collections[0].get_paths()[0].vertices
    assert polygon.shape[0] >= 8 and tuple(polygon[0]) == pytest.approx((158.125, 27.75), abs=1e-3)
    left, right = ax.get_xlim()
    bottom, top = ax.get_ylim()
    assert left <= polygon[:, 0].min() and polygon[:, 0].max() <= right  # the ROI's extent, y downwards
    assert top <= polygon[:, 1].min() and polygon[:, 1].max() <= bottom
    assert (right - left) < 1.5 * (polygon[:, 0].max() - polygon[:, 0].min())
    (overview,) = ax.child_axes  # the image outline, with the zoomed view marked
    assert overview.get_xlim()[0] <= 0 and overview.get_xlim()[1] >= 305
    assert next(tuple(p.get_xy()) for p in overview.patches) == (0, 0)
    matplotlib.pyplot.close(fig)
    unfiltered = em.roi_figure(union_app.explored)  # type: ignore[arg-type]
    assert not unfiltered.axes[0].child_axes and unfiltered.axes[0].get_xlim()[0] < 0
    matplotlib.pyplot.close(unfiltered)


def test_validation_tab(union_app: ea.ExploreApp, corpus_dir: Path) -> None:
    union_app.open_tab("Validation")
    union_app.validate_button.click()
    assert "valid against the OME 2016-06 schema" in union_app.validation_view.value
    broken = em.load(corpus_dir / SHAPE_UNION)
    broken.xml = broken.xml.replace(b'SizeZ="46"', b'SizeZ="many"', 1)
    verdict, errors = em.validation_table(broken)
    assert verdict == "1 schema error(s)"
    assert list(errors["Line"]) == [24] and "SizeZ" in errors["Message"][0]


def test_export_writes_every_table_and_the_xml(union_app: ea.ExploreApp, tmp_path: Path) -> None:
    union_app.query.value = "drawing"
    union_app.search_button.click()
    union_app.export_folder.value = str(tmp_path / "out")
    union_app.export_button.click()
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    for table in (
        "rois",
        "shapes",
        "annotations",
        "map_annotation_pairs",
        "images",
        "search",
        "tree_root_children",
    ):
        assert f"shape-union_{table}.csv" in names
    assert "shape-union.ome.xml" in names
    assert (tmp_path / "out" / "shape-union.ome.xml").read_bytes() == union_app.explored.xml  # type: ignore[union-attr]
    with (tmp_path / "out" / "shape-union_shapes.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 9 and rows[6]["Shape ID"] == "Shape:107" and rows[6]["Point count"] == "8"
    assert "Wrote" in union_app.export_view.value
    (tmp_path / "file").write_text("x")
    union_app.export_folder.value = str(tmp_path / "file")
    union_app.export_button.click()
    assert "Cannot write the export" in union_app.export_view.value


def test_paging_of_many_siblings(tmp_path: Path) -> None:
    path = tmp_path / "many.ome.xml"
    path.write_bytes(generate(Spec(rois=1000, target_bytes=None, map_annotations=5)))
    app = ea.ExploreApp()
    assert app.load(path) is not None
    root = app.root_view
    assert root is not None and len(root.child_views) == 100  # widgets for one page, not 1 003 rows
    assert root.pager_label.value == "OME children 1-100 of 1,003" and root.pager_prev.disabled
    root.pager_next.click()
    assert root.pager_label.value == "OME children 101-200 of 1,003" and not root.pager_prev.disabled
    assert root.labels()[0] == "ROI ID='ROI:97' Name='cell 97' (1 child)"
    app.goto.value = "/OME/ROI[950]"
    app.goto_button.click()
    assert root.page == 9 and "/OME/ROI[950]" in app.detail.value
    assert app.views[app.selected].button.description.startswith("ROI ID='ROI:949'")  # type: ignore[index]
    root.pager_next.click()
    assert root.pager_next.disabled and root.pager_label.value == "OME children 1,001-1,003 of 1,003"
    assert len(root.child_views) == 3


def test_load_routes_and_errors(corpus_dir: Path, range_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tiff = em.load(corpus_dir / "ome-types/ome.tiff")  # a local OME-TIFF, through report.inspect
    assert tiff.kind == "OME-TIFF" and tiff.tree.tag(0) == "OME" and tiff.doc is not None
    server = range_server({"x.ome.xml": corpus_dir / SHAPE_UNION})
    remote = em.load(server.url("x.ome.xml"))  # an .ome.xml by URL
    assert remote.kind == "OME-XML file" and len(remote.tree) == 101 and remote.stem == "x"
    with pytest.raises(NotOmeTiff):
        em.load(corpus_dir / "viv/fixtures/multi-tiff/Channel_0.tif")  # ImageJ description: no OME-XML
    with pytest.raises(OmeXmlError, match=r"Cannot read the OME-XML file 'missing\.ome\.xml'"):
        em.load(tmp_path / "missing.ome.xml")
    bad = tmp_path / "bad.ome.xml"
    bad.write_bytes(b"<OME><Image></OME>")
    app = ea.ExploreApp()
    assert app.load(bad) is None and "mismatched tag" in (app.error or "")
    app.url.value = "  "
    app.load_button.click()
    assert "Enter a URL" in app.status.value


def test_roi_figure_draws_a_transformed_ellipse_in_image_coordinates(tmp_path: Path) -> None:
    """An Ellipse with a Transform (translate by 1000, 0) sits at (1100, 50) in pixels, like its untransformed twin
    at (100, 50): the transform is applied once, not on top of the axes' own data transform."""
    ns = "http://www.openmicroscopy.org/Schemas/OME/2016-06"
    path = tmp_path / "moved.ome.xml"
    path.write_text(
        f'<OME xmlns="{ns}"><Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint8" '
        'SizeX="2000" SizeY="100" SizeZ="1" SizeC="1" SizeT="1"><Channel ID="Channel:0:0"/></Pixels></Image>'
        '<ROI ID="ROI:0"><Union><Ellipse ID="Shape:0" X="100" Y="50" RadiusX="10" RadiusY="5"/></Union></ROI>'
        '<ROI ID="ROI:1"><Union><Ellipse ID="Shape:1" X="100" Y="50" RadiusX="10" RadiusY="5">'
        '<Transform A00="1" A10="0" A01="0" A11="1" A02="1000" A12="0"/></Ellipse></Union></ROI></OME>'
    )
    explored = em.load(path)
    for roi, centre in (("ROI:0", 100.0), ("ROI:1", 1100.0)):
        fig = em.roi_figure(explored, roi=roi)
        vertices = fig.axes[0].collections[0].get_paths()[0].vertices
        assert vertices[:, 0].min() == pytest.approx(centre - 10, abs=0.01)
        assert vertices[:, 0].max() == pytest.approx(centre + 10, abs=0.01)
        assert vertices[:, 1].min() == pytest.approx(45, abs=0.01) and vertices[:, 1].max() == pytest.approx(
            55
        )
        matplotlib.pyplot.close(fig)


def test_a_token_left_in_the_form_does_not_stop_a_local_file(corpus_dir: Path) -> None:
    app = ea.ExploreApp()
    app.url.value = str(corpus_dir / SHAPE_UNION)
    app.token.value = "left-over-token"
    app.load_button.click()
    assert app.error is None, app.error
    assert app.explored is not None and app.explored.display_name == "shape-union.ome.xml"


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 000 polygon ROIs in a 4096 × 3072 image: more than any page or the old truncation limits."""
    path = tmp_path_factory.mktemp("big") / "big.ome.xml"
    path.write_bytes(generate(Spec(rois=20_000, target_bytes=None, map_annotations=5)))
    return path


def test_search_and_xpath_count_show_and_export_every_match(big_file: Path, tmp_path: Path) -> None:
    """Totals are ElementTree's; the widgets show a page of 200 with the total; the export holds every match."""
    root = ET.parse(big_file).getroot()
    ns = {"o": "http://www.openmicroscopy.org/Schemas/OME/2016-06"}
    polygons = root.findall(".//o:ROI/o:Union/o:Polygon", ns)
    with_cell = [el for el in root.iter() if any("cell 1" in v.casefold() for v in el.attrib.values())]
    assert len(polygons) == 20_000 and len(with_cell) > 10_000
    app = ea.ExploreApp()
    assert app.load(big_file) is not None
    app.query.value = "cell 1"
    app.in_tags.value = app.in_names.value = app.in_text.value = False
    app.search_button.click()
    assert app.model.query == "cell 1" and not app.model.in_tags  # the form is linked to the model
    assert f"<b>{len(with_cell):,}</b> match(es)" in app.search_info.value
    assert app.search_pager.label.value == f"rows 1-200 of {len(with_cell):,}"
    assert _text(app.search_results.value).count("<tr>") == 200  # one page of rows (the header row is styled)
    app.search_pager.next.click()
    assert app.model.search_page == 1 and app.search_pager.label.value.startswith("rows 201-400 of")
    app.xpath.value = "//ROI/Union/Polygon"
    app.xpath_button.click()
    assert f"<b>{len(polygons):,}</b> result(s)" in app.xpath_info.value
    assert app.xpath_pager.label.value == "rows 1-200 of 20,000" and app.xpath_pager.prev.disabled
    for _ in range(200):
        app.xpath_pager.next.click()  # turning past the end stays on the last page
    assert app.xpath_pager.label.value == "rows 19,801-20,000 of 20,000" and app.xpath_pager.next.disabled
    app.export_folder.value = str(tmp_path / "out")
    app.export_button.click()
    with (tmp_path / "out" / "big_xpath.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(polygons)
    assert [r["Path"] for r in rows[:2]] == ["/OME/ROI[1]/Union/Polygon", "/OME/ROI[2]/Union/Polygon"]
    with (tmp_path / "out" / "big_search.csv").open(encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == len(with_cell)


def test_one_roi_of_a_big_image_is_drawn_at_its_own_scale(big_file: Path) -> None:
    explored = em.load(big_file)
    chosen = em.roi_selection(explored, roi="ROI:123")
    assert chosen.caption() == "1 ROI(s), 1 shape(s) match the filters"
    assert em.roi_selection(explored, z=3).caption() == "2,000 ROI(s), 2,000 shape(s) match the filters"
    fig = em.roi_figure(explored, roi="ROI:123")
    ax = fig.axes[0]
    left, right = ax.get_xlim()
    assert right - left < 200  # a cell of at most 120 px, not the 4 096 px frame
    (overview,) = ax.child_axes
    assert overview.get_xlim()[1] >= 4096 and overview.get_ylim()[0] >= 3072  # the whole image, y downwards
    matplotlib.pyplot.close(fig)


def test_the_model_works_without_widgets(corpus_dir: Path, tmp_path: Path) -> None:
    """The session's state and actions, with no widget created: what the app links its fields to."""
    model = em.ExploreModel()
    assert model.load(tmp_path / "missing.ome.xml") is None and "Cannot read" in (model.error or "")
    assert model.load(corpus_dir / SHAPE_UNION) is not None and model.error is None
    seen: list[str] = []
    model.observe(
        lambda change: seen.append(change["name"]), names=["search", "xpath_matches", "xpath_error"]
    )
    model.query, model.in_values = "drawing", True
    assert model.run_search().total == 2 and list(model.search_frame()["Path"]) == [
        "/OME/Image[1]",
        "/OME/Image[3]",
    ]
    model.xpath = "//ROI[@ID='ROI:106']/Union/Line/@X2"
    assert [m.value for m in model.run_xpath()] == ["214.12499999999943"]
    model.xpath = "//ROI["
    assert model.run_xpath() == () and "not understood" in (model.xpath_error or "")
    assert seen == ["search", "xpath_matches", "xpath_error", "xpath_matches"]
    model.roi_z = 2
    assert model.rois().caption() == "4 ROI(s), 4 shape(s) match the filters"
    model.xpath = "//Polygon/@ID"
    model.run_xpath()
    names = sorted(p.name for p in model.export(tmp_path / "out"))
    assert "shape-union_xpath.csv" in names and "shape-union_search.csv" in names
    model.show(em.load(corpus_dir / SHAPE_UNION))  # a new document drops the old results and filters
    assert model.search is None and model.xpath_matches == () and model.roi_z is None


def test_the_load_button_is_disabled_while_loading(corpus_dir: Path) -> None:
    from ometiff_helpers.report import inspect

    seen: list[tuple[bool, str]] = []

    def watching(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append((app.load_button.disabled, _text(app.status.value)))
        return inspect(*args, **kwargs)

    app = ea.ExploreApp(inspect=watching)
    app.url.value = str(corpus_dir / "ome-types/ome.tiff")
    app.load_button.click()
    assert app.error is None and len(seen) == 1
    assert seen[0][0] and "Loading" in seen[0][1]
    assert not app.load_button.disabled and "OME-TIFF ome.tiff" in _text(app.status.value)
