"""Rows X1-X21 of shared/reference/bad-inputs.md, one test (or a few) per row, for the OME-XML parser."""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tifffile

from ometiff_helpers.errors import LimitExceeded, NotOmeTiff, OmeTiffError, OmeXmlError, UnsupportedOme
from ometiff_helpers.ome.parser import (
    KNOWN_VERSIONS,
    OmeXmlOptions,
    OmeXmlParser,
    parse_ome_xml,
    require_images,
    tables,
)
from ometiff_helpers.ometiff import MAPPING_ROWS_SHOWN, mapping_rows, plane_mapping

NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


def ome(body: str = "", ns: str = NS, pixels_attrs: str = "", extra: str = "") -> bytes:
    pixels = (
        f'<Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint8" SizeX="4" SizeY="4" SizeZ="2" SizeC="1" '
        f'SizeT="1" {pixels_attrs}><Channel ID="Channel:0:0"/>{body}</Pixels>'
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><OME xmlns="{ns}"><Image ID="Image:0">{pixels}</Image>{extra}</OME>'.encode()


def codes(doc: object) -> set[str]:
    return {f.code for f in doc.findings}  # type: ignore[attr-defined]


_ENTITY = b'<!ENTITY leak "LEAKED">'


@pytest.fixture
def canary(range_server) -> Iterator[tuple[str, list]]:
    """A loopback server that answers every name the documents point at and records each request (``seen``)."""
    names = ("dtd", "ent", "param", "public", "ome.xsd", "evil.ome.tif", "probe")
    server = range_server({name: _ENTITY for name in names})
    yield server.base_url, server.seen


def assert_clean(exc: BaseException) -> None:
    """No chained library exception, no raw struct/Key/Index/Unicode/Recursion errors in the traceback."""
    assert exc.__cause__ is None
    assert exc.__suppress_context__ or exc.__context__ is None
    text = "".join(traceback.format_exception(exc))
    for raw in ("UnicodeDecodeError", "RecursionError", "KeyError", "IndexError", "ExpatError"):
        assert raw not in text


# --- X1-X3: not OME ----------------------------------------------------------------------------------------------------


def test_x1_no_description() -> None:
    with pytest.raises(NotOmeTiff) as info:
        parse_ome_xml(None)
    assert info.value.kind == "no-description"
    assert "no ImageDescription" in str(info.value)


@pytest.mark.parametrize(
    ("desc", "kind"),
    [
        (b"ImageJ=1.54f\nimages=3\nchannels=3\n", "imagej"),
        (b'{"shape": [3, 64, 64]}', "json"),
        (
            b"Aperio Image Library v12.0.15 \r\n46000x32914 [0,0 46000x32914] (256x256) JPEG/RGB Q=70",
            "aperio",
        ),
        (b"", "empty"),
        (b"\x00\x00", "empty"),
        (b"   \n", "empty"),
        (b"File written by Adobe Photoshop\xa8 4.0" + b"x" * 200, "text"),
        (b"shape=(2,3,10,10)", "tifffile"),
    ],
)
def test_x2_non_ome_descriptions(desc: bytes, kind: str) -> None:
    with pytest.raises(NotOmeTiff) as info:
        parse_ome_xml(desc)
    assert info.value.kind == kind
    preview = str(info.value).split(": ", 1)[-1]
    assert len(preview) < 80 + 200  # the quoted preview is at most 80 characters (plus the hint)
    assert "\n" not in str(info.value) and "\r" not in str(info.value)
    assert_clean(info.value)


@pytest.mark.parametrize(
    ("desc", "kind"),
    [
        (b'<?xml version="1.0"?><scn xmlns="http://www.leica-microsystems.com/scn/2010/10/01"><collection/></scn>', "xml:scn"),
        (b"<PerkinElmer-QPI-ImageDescription><Version>1.0</Version></PerkinElmer-QPI-ImageDescription>",
         "xml:PerkinElmer-QPI-ImageDescription"),
        (b"<ImageJ><x/></ImageJ>", "xml:ImageJ"),
        (b"<html><body>login</body></html>", "xml:html"),
    ],
)  # fmt: skip
def test_x3_other_xml(desc: bytes, kind: str) -> None:
    with pytest.raises(NotOmeTiff) as info:
        parse_ome_xml(desc)
    assert info.value.kind == kind


# --- X4-X7: encodings and broken XML ---------------------------------------------------------------------------------


def test_x4_trailing_nuls_and_second_string() -> None:
    base = parse_ome_xml(ome())
    doc = parse_ome_xml(ome() + b"\x00" * 7)
    assert doc.images[0].pixels == base.images[0].pixels
    assert doc.sha256 == base.sha256 and doc.xml_bytes == base.xml_bytes
    assert "OME_TRAILING_DATA" not in codes(doc)
    doc2 = parse_ome_xml(ome() + b"\x00second string\x00")
    assert doc2.images[0].pixels == base.images[0].pixels
    assert "OME_TRAILING_DATA" in codes(doc2)


def test_x4_nuls_arriving_in_separate_chunks() -> None:
    p = OmeXmlParser()
    data = ome()
    p.feed(data[:50])
    p.feed(data[50:] + b"\x00")
    p.feed(b"\x00\x00\x00")
    assert p.close().images[0].id == "Image:0"


def test_x5_invalid_utf8() -> None:
    data = ome().replace(b'ID="Image:0"', b'ID="Image:0" Name="bad\xff\xfe"')
    pos = data.index(b"\xff")
    with pytest.raises(OmeXmlError) as info:
        parse_ome_xml(data)
    e = info.value
    assert f"invalid UTF-8 at byte {pos:,}" in str(e)
    assert e.line == 1 and e.column == pos + 1
    assert_clean(e)


def test_x5_invalid_utf8_on_a_later_line_while_streaming() -> None:
    data = ome().replace(b"<Image", b"\n\n<Image").replace(b"<Channel", b"<Channel Name='\xc3\x28'")
    p = OmeXmlParser()
    with pytest.raises(OmeXmlError) as info:
        for i in range(0, len(data), 7):
            p.feed(data[i : i + 7])
        p.close()
    assert info.value.line == 3
    assert "invalid UTF-8" in str(info.value)


def test_x6_utf16_with_bom_and_latin1_declaration() -> None:
    text = ome().decode().replace('ID="Image:0"', 'ID="Image:0" Name="µ-scan é"')
    utf16 = text.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    assert utf16[:2] in (b"\xff\xfe", b"\xfe\xff")
    latin = text.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').encode("latin-1")
    for data in (utf16, latin):
        doc = parse_ome_xml(data)
        assert doc.images[0].name == "µ-scan é"
        assert "OME_ENCODING_NOT_UTF8" in codes(doc)
    assert "OME_ENCODING_NOT_UTF8" not in codes(parse_ome_xml(text.encode()))


@pytest.mark.parametrize(
    ("data", "line", "words"),
    [
        (ome().replace(b"<Image ", b"\n<Image\x01 "), 2, "not well-formed"),
        (ome().replace(b"</Image>", b"</Imag>"), 1, "mismatched tag"),
        (ome()[:-30], 1, "truncated"),
        (ome()[:-3], 1, "truncated"),
        (b"<OME xmlns='" + NS.encode() + b"'><Image ID='a' ID='b'/></OME>", 1, "duplicate attribute"),
    ],
)
def test_x7_malformed_and_truncated(data: bytes, line: int, words: str) -> None:
    with pytest.raises(OmeXmlError) as info:
        parse_ome_xml(data)
    e = info.value
    assert e.line == line and e.column is not None and e.column >= 1
    assert words in str(e)
    assert "\x01" not in str(e) and len(str(e)) < 500
    assert_clean(e)


def test_x7_no_partial_result_after_an_error() -> None:
    p = OmeXmlParser()
    data = ome().replace(b"</Image>", b"</Imag>")
    with pytest.raises(OmeXmlError):
        p.feed(data)
        p.close()
    with pytest.raises(OmeXmlError):
        p.close()


# --- X8-X9: DTDs and entities ----------------------------------------------------------------------------------------

LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + b"".join(
        b' <!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]>\n<OME>&lol9;</OME>"
)
QUADRATIC = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "'
    + b"A" * 50_000
    + b'">]><OME>'
    + b"&a;" * 50_000
    + b"</OME>"
)


@pytest.mark.parametrize("data", [LAUGHS, QUADRATIC], ids=["billion-laughs", "quadratic"])
def test_x8_entity_expansion_refused_fast(data: bytes) -> None:
    t0 = time.thread_time()
    with pytest.raises(OmeXmlError) as info:
        parse_ome_xml(data)
    assert (
        time.thread_time() - t0 < 0.5
    )  # CPU time (load does not stretch it); an expansion would take seconds
    assert "DOCTYPE" in str(info.value) and "not allowed" in str(info.value)
    assert_clean(info.value)


def test_x8_doctype_seen_by_expat_when_the_prolog_check_cannot_see_it() -> None:
    """UTF-16 hides the bytes '<!DOCTYPE' from the byte-level prolog check: the expat handler refuses it."""
    text = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE OME [<!ENTITY a "b">]><OME>&a;</OME>'
    with pytest.raises(OmeXmlError) as info:
        parse_ome_xml(text.encode("utf-16"))
    assert "DOCTYPE" in str(info.value)


def test_x9_external_entities_and_dtd_make_no_request(canary: tuple[str, list[str]], tmp_path: Path) -> None:
    base, hits = canary
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    cases = [
        f'<?xml version="1.0"?><!DOCTYPE OME SYSTEM "{base}/dtd"><OME xmlns="{NS}"/>',
        f'<?xml version="1.0"?><!DOCTYPE OME [<!ENTITY x SYSTEM "{base}/ent">]><OME xmlns="{NS}">&x;</OME>',
        f'<?xml version="1.0"?><!DOCTYPE OME [<!ENTITY % p SYSTEM "{base}/param"> %p;]><OME xmlns="{NS}"/>',
        f'<?xml version="1.0"?><!DOCTYPE OME [<!ENTITY x SYSTEM "file://{secret}">]><OME xmlns="{NS}">&x;</OME>',
        f'<!-- comment --><!DOCTYPE OME PUBLIC "-//X//EN" "{base}/public"><OME xmlns="{NS}"/>',
    ]
    for text in cases:
        for chunked in (False, True):
            with pytest.raises(OmeXmlError) as info:
                if chunked:
                    p = OmeXmlParser()
                    for i in range(0, len(text), 5):
                        p.feed(text[i : i + 5].encode())
                    p.close()
                else:
                    parse_ome_xml(text)
            assert "TOP-SECRET" not in str(info.value)
            assert_clean(info.value)
    time.sleep(0.05)
    assert hits == []  # the canary server saw no request
    # the canary does answer requests: the empty list is meaningful
    import urllib.request

    with urllib.request.urlopen(f"{base}/probe", timeout=5) as r:
        assert r.status == 200
    assert [path for _, path, *_ in hits] == ["/probe"]


def test_x9_xsi_schema_location_is_never_fetched(canary: tuple[str, list[str]]) -> None:
    base, hits = canary
    text = (
        f'<OME xmlns="{NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{NS} {base}/ome.xsd"><Image ID="Image:0"/></OME>'
    )
    doc = parse_ome_xml(text)
    assert doc.images[0].id == "Image:0"
    assert hits == []


# --- X10-X13: size and shape bounds ---------------------------------------------------------------------------------


def test_x10_huge_single_token_whole_and_chunked() -> None:
    big = "A" * (6 * 1024 * 1024)
    data = ome(extra=f'<StructuredAnnotations><CommentAnnotation ID="Annotation:0"><Value>{big}</Value>'
                     "</CommentAnnotation></StructuredAnnotations>")  # fmt: skip
    doc = parse_ome_xml(data)
    assert len(doc.annotations[0].value or "") == len(big)
    p = OmeXmlParser()
    for i in range(0, len(data), 1024 * 1024):
        p.feed(data[i : i + 1024 * 1024])
    assert p.close().annotations[0].value == doc.annotations[0].value


def test_x11_declared_size_over_the_limit_is_refused_before_download() -> None:
    with pytest.raises(LimitExceeded) as info:
        OmeXmlParser(total=500 * 1024 * 1024, options=OmeXmlOptions(max_bytes=64 * 1024 * 1024))
    assert info.value.name == "max_xml_bytes" and info.value.value == 500 * 1024 * 1024
    p = OmeXmlParser(options=OmeXmlOptions(max_bytes=10_000))
    with pytest.raises(LimitExceeded):
        for _ in range(100):
            p.feed(b"<OME>" + b" " * 1000)


def test_x12_deep_nesting_is_refused_without_recursion() -> None:
    depth = 100_000
    data = b"<OME>" + b"<a>" * depth + b"</a>" * depth + b"</OME>"
    t0 = time.thread_time()
    with pytest.raises(OmeXmlError) as info:
        parse_ome_xml(data)
    assert time.thread_time() - t0 < 1.0  # CPU time of this thread: a busy machine does not stretch it
    assert "nested more than 64" in str(info.value)
    assert_clean(info.value)


def test_x13_element_budget() -> None:
    n = 120_000
    data = ome(body="<Plane TheZ='0' TheC='0' TheT='0'/>" * n)
    with pytest.raises(LimitExceeded) as info:
        parse_ome_xml(data, options=OmeXmlOptions(max_elements=50_000))
    assert info.value.name == "max_elements"
    assert len(parse_ome_xml(data).images[0].pixels.planes) == n  # type: ignore[union-attr]


# --- X14: every schema version ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KNOWN_VERSIONS)
def test_x14_every_schema_version(version: str) -> None:
    ns = (
        "http://www.openmicroscopy.org/XMLschemas/OME/FC/ome.xsd"
        if version == "2003-FC"
        else f"http://www.openmicroscopy.org/Schemas/OME/{version}"
    )
    type_attr = 'PixelType="uint16"' if version < "2010" else 'Type="uint16"'
    text = (
        f'<OME xmlns="{ns}"><Image ID="Image:0" Name="v"><Pixels ID="Pixels:0" DimensionOrder="XYCZT" '
        f'{type_attr} SizeX="3" SizeY="2" SizeZ="1" SizeC="1" SizeT="1"/></Image></OME>'
    )
    doc = parse_ome_xml(text)
    assert doc.schema_version == version
    assert doc.images[0].pixels.type == "uint16"  # type: ignore[union-attr]
    assert not codes(doc) & {"OME_SCHEMA_UNKNOWN", "OME_NAMESPACE_UNKNOWN"}


def test_x14_future_and_foreign_namespaces_warn() -> None:
    future = parse_ome_xml(ome(ns="http://www.openmicroscopy.org/Schemas/OME/2031-01"))
    assert future.schema_version == "2031-01" and "OME_SCHEMA_UNKNOWN" in codes(future)
    assert future.images[0].pixels.size_z == 2  # type: ignore[union-attr]
    foreign = parse_ome_xml(ome(ns="urn:example:not-ome"))
    assert foreign.schema_version is None and "OME_NAMESPACE_UNKNOWN" in codes(foreign)
    bare = parse_ome_xml(ome(ns=""))
    assert bare.namespace is None and "OME_NAMESPACE_UNKNOWN" in codes(bare)


def test_x14_prefixed_elements() -> None:
    text = (
        f'<ome:OME xmlns:ome="{NS}"><ome:Image ID="Image:0"><ome:Pixels ID="Pixels:0" DimensionOrder="XYZCT" '
        'Type="int8" SizeX="1" SizeY="1" SizeZ="1" SizeC="1" SizeT="1"><ome:Channel ID="Channel:0:0" Name="c"/>'
        "</ome:Pixels></ome:Image></ome:OME>"
    )
    doc = parse_ome_xml(text)
    assert doc.images[0].pixels.channels[0].name == "c"  # type: ignore[union-attr]


# --- X15-X17: other files ------------------------------------------------------------------------------------------


def test_x15_binary_only() -> None:
    text = f'<OME xmlns="{NS}"><BinaryOnly MetadataFile="x.companion.ome" UUID="urn:uuid:1234"/></OME>'
    doc = parse_ome_xml(text)
    assert doc.binary_only is not None and doc.binary_only.metadata_file == "x.companion.ome"
    assert "OME_BINARY_ONLY" in codes(doc)
    with pytest.raises(UnsupportedOme) as info:
        require_images(doc)
    assert info.value.kind == "binary-only" and "x.companion.ome" in str(info.value)
    assert require_images(parse_ome_xml(ome())).images


def test_x16_x17_other_files_are_reported_and_never_fetched(canary: tuple[str, list[str]]) -> None:
    base, hits = canary
    names = ["part-1.ome.tif", "../../etc/passwd", f"{base}/evil.ome.tif", "/abs/x.tif"]
    body = "".join(
        f'<TiffData FirstZ="{z}" IFD="0" PlaneCount="1"><UUID FileName="{n}">urn:uuid:{z}</UUID></TiffData>'
        for z, n in enumerate(names[:2])
    )
    body += "".join(
        f'<TiffData FirstZ="1" IFD="{i + 1}"><UUID FileName="{n}">urn:uuid:x{i}</UUID></TiffData>'
        for i, n in enumerate(names[2:])
    )
    doc = parse_ome_xml(ome(body=body))
    refs = list(plane_mapping(doc.images[0]).refs())
    assert [r.file_name for r in refs] == names
    assert [(r.z, r.ifd) for r in refs] == [(0, 0), (1, 0), (1, 1), (1, 2)]
    assert {r["File name"] for r in tables(doc)["tiffdata"]} == set(names)
    assert hits == []


# --- X18-X19: inconsistent metadata ------------------------------------------------------------------------------------


def test_x18_insane_sizes_and_plane_counts() -> None:
    data = ome(
        body='<TiffData IFD="0" PlaneCount="100"/><TiffData FirstZ="7"/><TiffData PlaneCount="99999999999"/>'
    )
    data = data.replace(b'SizeX="4"', b'SizeX="-5"').replace(b'SizeY="4"', b'SizeY="99999999999999999999"')
    doc = parse_ome_xml(data)
    p = doc.images[0].pixels
    assert p is not None and p.size_x is None and p.size_y is None
    assert {"OME_BAD_VALUE", "OME_TIFFDATA_RANGE"} <= codes(doc)
    refs = list(plane_mapping(doc.images[0]).refs())
    assert [(r.z, r.ifd, r.tiffdata_index) for r in refs] == [(0, 0, 0), (1, 1, 0), (0, 0, 2), (1, 1, 2)]
    huge = parse_ome_xml(
        ome().replace(b'SizeZ="2"', b'SizeZ="2000000000"').replace(b"<Channel", b"<TiffData/><Channel")
    )
    mapping = plane_mapping(huge.images[0])  # runs, not planes: two billion planes cost one run
    assert len(mapping.runs) == 1 and mapping.mapped == mapping.covered() == 2_000_000_000
    assert [(r.z, r.ifd) for r in mapping.refs(3)] == [(0, 0), (1, 1), (2, 2)]
    assert len(mapping_rows(huge)) == MAPPING_ROWS_SHOWN


def test_x19_duplicates_dangling_and_missing_attributes() -> None:
    text = (
        f'<OME xmlns="{NS}"><Image ID="Image:0"><Pixels ID="Pixels:0" Type="uint8" SizeY="2" SizeZ="1" '
        'SizeC="1" SizeT="1"><Channel ID="Channel:0:0"/><Channel ID="Channel:0:0"/></Pixels>'
        '<AnnotationRef ID="Annotation:missing"/><ROIRef ID="ROI:missing"/></Image>'
        '<Image ID="Image:1"/></OME>'
    )
    doc = parse_ome_xml(text)
    assert {"OME_MISSING_ATTRIBUTE", "OME_DUPLICATE_ID", "OME_DANGLING_REF", "OME_MISSING_ELEMENT"} <= codes(
        doc
    )
    messages = " ".join(f.message for f in doc.findings)
    assert "DimensionOrder" in messages and "SizeX" in messages and "Annotation:missing" in messages
    p = doc.images[0].pixels
    assert p is not None and p.dimension_order is None and p.size_x is None
    assert list(plane_mapping(doc.images[0]).refs()) == []
    rows = tables(doc)
    assert rows["pixels"][0]["Dimension order"] is None


# --- X20-X21: where the XML lives in the TIFF ------------------------------------------------------------------------


def _ifd_descriptions(path: Path) -> list[bytes | None]:
    out: list[bytes | None] = []
    with tifffile.TiffFile(path) as tf:
        for page in tf.pages:
            tag = page.tags.get(270)
            if tag is None:
                out.append(None)
                continue
            tf.filehandle.seek(tag.valueoffset)
            out.append(tf.filehandle.read(tag.count))
    return out


def test_x20_ome_xml_only_in_a_later_ifd(tmp_path: Path) -> None:
    path = tmp_path / "later.tif"
    with tifffile.TiffWriter(path) as tw:
        tw.write(np.zeros((4, 4), np.uint8), description="first page", metadata=None)
        tw.write(np.zeros((4, 4), np.uint8), description=ome().decode(), metadata=None)
    descs = _ifd_descriptions(path)
    with pytest.raises(NotOmeTiff) as info:
        parse_ome_xml(descs[0])
    assert info.value.kind == "text"
    assert parse_ome_xml(descs[1]).images  # the later one is OME: the reader may report it when asked


def test_x21_pyramid_in_subifds(tmp_path: Path) -> None:
    path = tmp_path / "pyramid.ome.tif"
    data = np.zeros((2, 256, 256), np.uint16)
    with tifffile.TiffWriter(path) as tw:
        tw.write(data, subifds=2, metadata={"axes": "CYX", "PhysicalSizeX": 0.5, "PhysicalSizeXUnit": "µm"})
        tw.write(data[:, ::2, ::2], subfiletype=1, metadata=None)
        tw.write(data[:, ::4, ::4], subfiletype=1, metadata=None)
    doc = parse_ome_xml(_ifd_descriptions(path)[0])
    assert len(doc.images) == 1
    p = doc.images[0].pixels
    assert p is not None and (p.size_x, p.size_y, p.size_c) == (256, 256, 2)
    assert p.physical_size_x is not None and p.physical_size_x.to_um() == 0.5


def test_every_error_is_an_ometiff_error() -> None:
    """A fuzz-ish sweep: truncations of a valid document raise only OmeTiffError subclasses."""
    data = ome(body='<TiffData IFD="0"/>', extra="<StructuredAnnotations><TagAnnotation ID='Annotation:1'>"
               "<Value>t</Value></TagAnnotation></StructuredAnnotations>")  # fmt: skip
    for cut in range(0, len(data), 3):
        try:
            parse_ome_xml(data[:cut])
        except OmeTiffError as exc:
            assert_clean(exc)


@pytest.mark.parametrize("raw", ["inf", "-Infinity", "1e400", "nan"])
def test_x18_non_finite_integers_are_findings_not_overflow(raw: str) -> None:
    data = ome(body=f'<TiffData IFD="{raw}" PlaneCount="1"/>').replace(
        b'SizeX="4"', f'SizeX="{raw}"'.encode()
    )
    doc = parse_ome_xml(data)
    p = doc.images[0].pixels
    assert p is not None and p.size_x is None and p.tiffdata[0].ifd == 0 and not p.tiffdata[0].ifd_given
    bad = [f.message for f in doc.findings if f.code == "OME_BAD_VALUE"]
    assert any("SizeX" in m and "not an integer" in m for m in bad)
    assert any("TiffData@IFD" in m for m in bad)


def test_x18_plane_count_running_past_the_last_plane_from_a_later_start() -> None:
    """SizeZ=2: FirstZ=1 with PlaneCount=2 asks for planes 1 and 2; plane 2 does not exist."""
    doc = parse_ome_xml(ome(body='<TiffData FirstZ="1" IFD="1" PlaneCount="2"/>'))
    mapping = plane_mapping(doc.images[0])
    ranges = [f.message for f in mapping.findings if f.code == "OME_TIFFDATA_RANGE"]
    assert len(ranges) == 1 and "PlaneCount=2 from plane 1 on" in ranges[0] and "only 2 planes" in ranges[0]
    assert [(r.z, r.ifd) for r in mapping.refs()] == [(1, 1)]
    fits = parse_ome_xml(ome(body='<TiffData FirstZ="1" IFD="1" PlaneCount="1"/>'))
    assert "OME_TIFFDATA_RANGE" not in codes(fits) and not plane_mapping(fits.images[0]).findings
