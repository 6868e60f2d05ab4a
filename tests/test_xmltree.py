"""xmltree: the one-pass index, paths, paging, search, namespace-free XPath and the safety bounds.

Cross-checked against ElementTree (an oracle we did not write) on real corpus files.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from gen_omexml import Spec, generate

from ometiff_helpers.display.explore.xmltree import SearchField, XmlTree, XPathError
from ometiff_helpers.display.explore.xpath import XPathIndex
from ometiff_helpers.errors import LimitExceeded, OmeTiffError, OmeXmlError
from ometiff_helpers.ome.parser import OmeXmlOptions

SHAPE_UNION = "ome-types/shape-union.ome.xml"


@pytest.fixture(scope="module")
def union_tree(corpus_dir: Path) -> XmlTree:
    return XmlTree.parse((corpus_dir / SHAPE_UNION).read_bytes())


@pytest.fixture(scope="module")
def big_xml() -> bytes:
    """20 000 polygon ROIs (about 14 MB): more than any display page or old truncation limit."""
    return generate(Spec(rois=20_000, target_bytes=None, map_annotations=20))


@pytest.fixture(scope="module")
def big_tree(big_xml: bytes) -> XmlTree:
    return XmlTree.parse(big_xml)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


@pytest.mark.parametrize(
    "name",
    [
        SHAPE_UNION,
        "ome-types/transfer.ome.xml",
        "ome-model/2016-06/ROI.ome.xml",
        "ome-model/2011-06/xmlannotation-svg.ome.xml",
        "ome-model/2016-06/mapannotation.ome.xml",
    ],
)
def test_index_matches_elementtree(corpus_dir: Path, name: str) -> None:
    """Every element, in document order: same local name, attributes, own text and child count as ElementTree."""
    data = (corpus_dir / name).read_bytes()
    tree = XmlTree.parse(data)
    oracle = list(ET.fromstring(data).iter())
    assert len(tree) == len(oracle)
    for i, el in enumerate(oracle):
        assert tree.tag(i) == _local(el.tag)
        assert {_local(k): v for k, v in el.attrib.items()} == {
            k.rpartition(":")[2]: v for k, v in tree.attributes(i) if not k.startswith("xmlns")
        }
        assert tree.child_count(i) == len(el)
        assert tree.text(i) == "".join([el.text or "", *(c.tail or "" for c in el)]).strip()


def test_every_path_selects_exactly_its_element(union_tree: XmlTree) -> None:
    for i in range(len(union_tree)):
        matches = union_tree.xpath(union_tree.path(i))
        assert [m.index for m in matches] == [i], union_tree.path(i)


def test_root_level_counts_and_labels(union_tree: XmlTree) -> None:
    assert union_tree.namespace == "http://www.openmicroscopy.org/Schemas/OME/2016-06"
    assert union_tree.child_tags(0) == (
        ("Project", 1),
        ("Dataset", 2),
        ("Image", 3),
        ("StructuredAnnotations", 1),
        ("ROI", 9),
    )
    first = union_tree.children(0)[0]
    assert union_tree.label(first) == "Project ID='Project:51' Name='test' (5 children)"
    info = union_tree.info(union_tree.xpath("//Polygon[@ID='Shape:108']")[0].index)
    assert info.path == "/OME/ROI[8]/Union/Polygon"
    assert ("Text", "this one has a comment") in info.attributes
    assert info.depth == 3 and info.child_count == 0


def test_paging_of_many_siblings(big_tree: XmlTree) -> None:
    rois = [c for c in big_tree.children(0) if big_tree.tag(c) == "ROI"]
    assert len(rois) == 20_000
    page = big_tree.page(0, 5, 100)
    assert page.total == big_tree.child_count(0) and len(page.items) == 100
    assert page.items == big_tree.children(0)[500:600]
    assert page.describe() == f"501-600 of {page.total:,}"
    last = big_tree.page(0, 10_000, 100)  # clamped to the last page
    assert last.number == page.page_count - 1 and last.stop == page.total
    assert big_tree.page(0, -3, 100).number == 0
    with pytest.raises(OmeTiffError, match="at least one"):
        big_tree.page(0, 0, 0)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("//Polygon/@ID", ["Shape:107", "Shape:108"]),
        ("/OME/ROI[last()]/Union/*/@ID", ["Shape:109"]),
        ("ROI[@ID='ROI:108']//@Text", ["this one has a comment"]),
        ('//M[@K="aasdf"]/text()', ["asd", "asd"]),
        ("//Point[@TheZ>=3]/@ID", ["Shape:102"]),
        ("//Point[@TheZ<3][2]/@ID", []),  # positions count per parent, and each Union has one Point
        ("/OME/ROI[@ID!='ROI:101'][1]/@ID", ["ROI:102"]),  # predicates apply in turn
        ("//*[contains(@Name,'drawing')]/@ID", ["Image:51", "Image:52"]),
        ("//*[starts-with(@Name,'PXL')]/@ID", ["Image:27423"]),
        ("ome:Image[2]/ome:Pixels/@SizeX", ["6400"]),  # prefixes ignored
        ("//Pixels/../@ID", ["Image:51", "Image:27423", "Image:52"]),
        ("//MapAnnotation[Value]/@ID", None),  # checked by count below
        ("//TagAnnotation[Value='common']/@ID", ["Annotation:25107"]),
        ("//Value[text()='exclusive']/../@ID", ["Annotation:25108"]),
        ("/OME/Image[1]/ROIRef[3]/@ID", ["ROI:103"]),
        ("//Dataset[@Name!='Downloads']/@ID", ["Dataset:51"]),
        ("//Rectangle/@*", None),
        ("//NoSuchThing", []),
    ],
)
def test_xpath(union_tree: XmlTree, expression: str, expected: list[str] | None) -> None:
    values = [m.value for m in union_tree.xpath(expression)]
    if expected is not None:
        assert values == expected
    elif "MapAnnotation" in expression:
        assert len(values) == 8
    else:
        assert values[:2] == ["Shape:101", "-256"] and len(values) == 9


def test_xpath_elements_match_elementtree(union_tree: XmlTree, corpus_dir: Path) -> None:
    root = ET.fromstring((corpus_dir / SHAPE_UNION).read_bytes())
    ns = {"o": "http://www.openmicroscopy.org/Schemas/OME/2016-06"}
    oracle = [el.get("ID") for el in root.findall(".//o:ROI/o:Union/*", ns)]
    assert [union_tree.attribute(m.index, "ID") for m in union_tree.xpath("//ROI/Union/*")] == oracle


@pytest.mark.parametrize(
    ("expression", "where"),
    [
        ("", "The XPath expression is empty"),
        ("/OME/", "at character 5: unexpected end of source (XPST0003)"),
        ("ROI[", "at character 4: unexpected end of source"),
        ("//ROI[@ID=]", "at character 11: unexpected ']' symbol"),
        ("ROI ROI", "at character 5: unexpected name 'ROI'"),
        ("ROI[@ID='x'", "at character 9: unexpected end of source"),
        ("§", "at character 1: unknown symbol '§'"),
        ("unparsed-text('/etc/passwd')", "unknown function 'unparsed-text'"),
        ("xs:integer('many')", "could not convert 'many' to xs:integer (FORG0001)"),
        ("ROI[" * 5000, "more than 10,000"),
    ],
)
def test_xpath_errors_say_where(union_tree: XmlTree, expression: str, where: str) -> None:
    with pytest.raises(XPathError) as info:
        union_tree.xpath(expression)
    assert where in str(info.value)
    assert isinstance(info.value, OmeTiffError)


def test_xpath_2_values_and_prefixes(union_tree: XmlTree) -> None:
    """Computed values come back as values without an element; any prefix in a name test is dropped."""
    assert [(m.index, m.value) for m in union_tree.xpath("count(//Polygon)")] == [(None, "2")]
    assert [m.value for m in union_tree.xpath("(//Polygon)[1] instance of element()")] == ["true"]
    assert [m.value for m in union_tree.xpath("string-join(//Polygon/@ID, '|')")] == ["Shape:107|Shape:108"]
    assert [m.value for m in union_tree.xpath("//*:Polygon/@ID")] == ["Shape:107", "Shape:108"]
    assert [m.value for m in union_tree.xpath("//x:Polygon[@ID = 'Shape:108']/@x:Text")] == [
        "this one has a comment"
    ]
    assert [m.value for m in union_tree.xpath("//Polygon[@Text = 'ome:ROI']/@ID")] == []  # a literal stays
    assert [m.path for m in union_tree.xpath("/")] == ["/"]
    assert [m.path for m in union_tree.xpath("//Polygon", limit=1)] == ["/OME/ROI[7]/Union/Polygon"]


def test_xpath_reads_no_file(union_tree: XmlTree, tmp_path: Path) -> None:
    """fn:doc sees only the documents handed to it (none): a query cannot read a file."""
    secret = tmp_path / "secret.xml"
    secret.write_text("<secret>token</secret>")
    for expression in (f"doc('{secret.as_uri()}')//secret", f"doc-available('{secret.as_uri()}')"):
        try:
            values = [m.value for m in union_tree.xpath(expression)]
        except XPathError as exc:
            assert "FODC0002" in str(exc) and "token" not in str(exc)
        else:
            assert values == ["false"]


def test_xpath_bounds(union_tree: XmlTree) -> None:
    with pytest.raises(LimitExceeded, match="copy of the XML's 101 elements, more than the 100") as info:
        XPathIndex.build(union_tree, max_elements=100)
    assert info.value.name == "max_xpath_elements"
    index = XPathIndex.build(union_tree)
    assert len(index.select("//*", max_results=101)) == 101
    with pytest.raises(LimitExceeded, match="more than 100 results") as info:
        index.select("//*", max_results=100)
    assert info.value.name == "max_xpath_results"
    # a quadratic query is stopped by a count of visited nodes (not a clock)
    assert len(index.select("//*[count(//Polygon) = 2]", max_steps=1000 * 101)) == 101
    with pytest.raises(LimitExceeded, match="visits more than 5,000 nodes, so it was stopped") as info:
        index.select("//*[count(//Polygon) = 2]", max_steps=5_000)
    assert info.value.name == "max_xpath_steps" and "anchor it" in str(info.value)


def test_a_quadratic_xpath_on_a_big_document_stops(big_tree: XmlTree) -> None:
    t0 = time.perf_counter()
    with pytest.raises(LimitExceeded, match="nodes, so it was stopped"):
        big_tree.xpath("//*[count(//*) > 0]")  # 80 000 elements squared: days, unbounded
    assert time.perf_counter() - t0 < 120  # bounded, not fast: a wide margin for a busy machine


def test_big_document_totals_match_elementtree(big_tree: XmlTree, big_xml: bytes) -> None:
    """Every match is counted and returned, however many: the totals are ElementTree's."""
    root = ET.fromstring(big_xml)
    ns = {"o": "http://www.openmicroscopy.org/Schemas/OME/2016-06"}
    polygons = root.findall(".//o:ROI/o:Union/o:Polygon", ns)
    assert len(polygons) == 20_000
    matches = big_tree.xpath("//ROI/Union/Polygon")
    assert len(matches) == len(polygons)
    assert [big_tree.attribute(m.index, "ID") for m in matches] == [p.get("ID") for p in polygons]  # type: ignore[arg-type]
    assert len(big_tree.xpath("//Polygon/@ID")) == len(polygons)
    on_z3 = [p for p in polygons if p.get("TheZ") == "3"]
    assert len(big_tree.xpath("//Polygon[@TheZ=3]")) == len(on_z3) == 2_000
    assert big_tree.xpath("count(//Polygon)")[0].value == str(len(polygons))
    # search: every element whose tag contains "polygon", every attribute value containing "Shape:1"
    assert big_tree.search("Polygon", fields=SearchField.TAG).total == len(polygons)
    result = big_tree.search("Shape:1", fields=SearchField.ATTR_VALUE)
    oracle = sum("Shape:1" in v for el in root.iter() for v in el.attrib.values())
    assert result.total == len(result.hits) == oracle > 10_000


def test_search_fields_and_limit(union_tree: XmlTree, big_tree: XmlTree) -> None:
    hits = union_tree.search("drawing").hits
    assert [(h.path, h.field, h.name) for h in hits] == [
        ("/OME/Image[1]", "attribute value", "Name"),
        ("/OME/Image[3]", "attribute value", "Name"),
    ]
    assert [h.field for h in union_tree.search("polygon").hits] == ["tag", "tag"]
    assert union_tree.search("polygon", fields=SearchField.TEXT).total == 0
    assert union_tree.search("Polygon", case_sensitive=True).total == 2
    assert union_tree.search("polygon", case_sensitive=True).total == 0
    assert union_tree.search("RadiusX", fields=SearchField.ATTR_NAME).hits[0].field == "attribute name"
    assert [h.snippet for h in union_tree.search("yuuu", fields=SearchField.TEXT).hits] == ["yuuuup"]
    assert union_tree.search("").total == 0
    result = big_tree.search("ROI:", limit=50)
    assert len(result.hits) == 50 and result.truncated
    assert result.total == 20_000 * 2  # each ROI's ID and the Image's ROIRef to it
    assert len(big_tree.search("ROI:").hits) == result.total  # no limit: every hit
    long = big_tree.search("Shape:19999").hits[0]
    assert long.field == "attribute value" and long.snippet == "Shape:19999"


def test_snippet_is_cut_around_the_match(big_tree: XmlTree) -> None:
    points = big_tree.attribute(big_tree.xpath("//Polygon")[0].index, "Points")
    assert points is not None and len(points) > 200
    needle = points[150:160]
    hit = big_tree.search(needle, fields=SearchField.ATTR_VALUE).hits[0]
    assert needle in hit.snippet and len(hit.snippet) <= 82 and hit.snippet.startswith("…")


def test_to_xml_round_trips(corpus_dir: Path) -> None:
    tree = XmlTree.parse((corpus_dir / "ome-model/2011-06/xmlannotation-svg.ome.xml").read_bytes())
    node = tree.xpath("//XMLAnnotation")[0].index
    text = tree.to_xml(node)
    again = ET.fromstring(
        text
    )  # self-contained: the namespaces declared on ancestors are declared on the top
    assert _local(again.tag) == "XMLAnnotation"
    assert len(list(again.iter())) == len(tree.subtree(node))
    cut = tree.to_xml(0, max_chars=300)
    assert cut.endswith("(cut at 300 characters)\n")


def test_nul_terminated_description_and_str_input() -> None:
    xml = '<OME xmlns="x"><Image ID="Image:0" Name="µ"/></OME>'
    assert len(XmlTree.parse(xml.encode() + b"\0\0garbage")) == 2
    assert XmlTree.parse(xml).attribute(1, "Name") == "µ"


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><OME>&lol2;</OME>',
        b'<!DOCTYPE OME SYSTEM "http://127.0.0.1:9/evil.dtd"><OME/>',
        b'<!-- <a --><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><OME>&e;</OME>',
    ],
)
def test_dtd_and_entities_refused(data: bytes) -> None:
    t0 = time.thread_time()
    with pytest.raises(OmeXmlError, match="DOCTYPE or ENTITY"):
        XmlTree.parse(data)
    assert time.thread_time() - t0 < 0.5  # CPU time of this thread: a busy machine does not stretch it


def test_malformed_xml_gives_line_and_column() -> None:
    with pytest.raises(OmeXmlError) as info:
        XmlTree.parse(b"<OME>\n  <Image ID='a'>\n</OME>")
    assert info.value.line == 3 and info.value.column is not None
    assert "mismatched tag" in str(info.value)
    with pytest.raises(OmeXmlError, match="not well-formed"):
        XmlTree.parse(b"<OME><Image")
    with pytest.raises(OmeXmlError, match="no element found"):
        XmlTree.parse(b"   ")
    with pytest.raises(OmeXmlError, match="invalid token"):
        XmlTree.parse(b"<OME>\xff\xfe</OME>")


def test_bounds() -> None:
    deep = b"<a>" * 100_000 + b"</a>" * 100_000
    with pytest.raises(LimitExceeded, match="deeper than 64") as info:
        XmlTree.parse(deep)
    assert info.value.limit == 64 and info.value.name == "max_depth"
    with pytest.raises(LimitExceeded, match="more than 10 elements") as info:
        XmlTree.parse(b"<a>" + b"<b/>" * 20 + b"</a>", options=OmeXmlOptions(max_elements=10))
    assert info.value.name == "max_elements"  # the OmeXmlOptions field to raise, as the OME-XML parser says
    with pytest.raises(LimitExceeded, match="the limit of 100 bytes this tool reads") as info:
        XmlTree.parse(b"<a>" + b" " * 200 + b"</a>", options=OmeXmlOptions(max_bytes=100))
    assert info.value.name == "max_xml_bytes"


def test_bad_element_numbers_raise_our_error(union_tree: XmlTree) -> None:
    for bad in (-1, len(union_tree), "3"):
        with pytest.raises(OmeTiffError, match="No element number"):
            union_tree.tag(bad)  # type: ignore[arg-type]
