"""Every diagnostic rule: a fixture that triggers it (code, severity, evidence) and clean files that do not."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from gen_defects import Spec, patch_tag, write, write_legacy_images

from ometiff_helpers.demo import demo_path
from ometiff_helpers.diagnose import evaluate as checks
from ometiff_helpers.diagnose.evaluate import CheckInput, evaluate
from ometiff_helpers.diagnose.viewer_cost import ViewerEstimate
from ometiff_helpers.findings import Finding, Severity
from ometiff_helpers.report import Report, inspect

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO  # noqa: E741

Build = Callable[[Path], Path]


def spec(**kw: object) -> Build:
    return lambda d: write(d / "f.ome.tif", Spec(**kw))  # type: ignore[arg-type]


def corpus(rel: str) -> Build:
    return lambda d: CORPUS / rel


def patched(
    s: Spec, page: int, code: int, value: int, subifd: int | None = None, name: str = "f.ome.tif"
) -> Build:
    def build(d: Path) -> Path:
        p = write(d / name, s)
        patch_tag(p, page, code, value, subifd=subifd)
        return p

    return build


XML_TWO_FILES = (
    '<TiffData IFD="0" PlaneCount="1" FirstC="0"><UUID FileName="other.ome.tif">urn:uuid:1</UUID></TiffData>'
)
XML_SWAPPED = '<TiffData IFD="1" PlaneCount="1" FirstC="0"/><TiffData IFD="0" PlaneCount="1" FirstC="1"/>'

# (id, builder, code, severity, evidence regex in the message)
CASES: list[tuple[str, Build, str, Severity, str]] = [
    ("not-ome", spec(description="ImageJ=1.54f\nimages=2\n"), "NOT_OME", E, r"not an OME-TIFF"),
    ("binary-only", corpus("viv/avivator/data/multifile-Z1.ome.tiff"), "MULTI_FILE", E, r"BinaryOnly"),
    ("tiffdata-other-file", spec(size_c=1, tiffdata=XML_TWO_FILES), "MULTI_FILE", E, r"other\.ome\.tif"),
    ("no-pixels-id", spec(pixels_id=False), "VIV_SCHEMA", E, r"Pixels has no ID"),
    ("unit-um", spec(unit="um"), "VIV_SCHEMA", E, r"PhysicalSizeXUnit 'um'.*'µm'"),
    ("double", corpus("pennsieve-ometiff-processor/type_double.ome.tiff"), "PIXEL_TYPE", W, r"'double'"),
    (
        "type",
        spec(ome_type="uint8"),
        "TYPE_MISMATCH",
        E,
        r"'uint8' expects BitsPerSample 8 .* IFD 0 has BitsPerSample 16",
    ),
    ("size", spec(xml_size_x=65), "SIZE_MISMATCH", E, r"65x48, but IFD 0 is 64x48"),
    (
        "planes",
        spec(xml_size_c=3, tiffdata=""),
        "PLANE_COUNT",
        E,
        r"3 planes .* 2 top-level IFD.*No image at index 2",
    ),
    (
        "extra-ifds",
        spec(extra_ifds=1),
        "PLANE_COUNT",
        I,
        r"3 top-level IFDs but the OME-XML describes 2 planes",
    ),
    (
        "tiffdata-beyond",
        spec(tiffdata='<TiffData IFD="5" PlaneCount="1"/>'),
        "PLANE_COUNT",
        W,
        r"TiffData #0 points at IFD 5",
    ),
    (
        "mapping",
        spec(tiffdata=XML_SWAPPED),
        "PLANE_MAPPING",
        W,
        r"\(z=0, c=0, t=0\) in IFD 1, but DimensionOrder XYCZT gives IFD 0",
    ),
    (
        "coverage",
        spec(tiffdata='<TiffData IFD="0" PlaneCount="1"/>'),
        "PLANE_MAPPING",
        W,
        r"covers 1 of the 2 planes",
    ),
    (
        "mapping-limited",
        spec(xml_size_c=20_000, tiffdata='<TiffData PlaneCount="20000"/>'),
        "PLANE_MAPPING_LIMITED",
        I,
        r"TiffData map 20,000 planes; the plane mapping table lists only the first 10,000",
    ),
    (
        "endian",
        spec(big_endian_flag=True),
        "ENDIAN_FLAG",
        I,
        r"BigEndian=true but the TIFF header is little-endian \(II\)",
    ),
    (
        "spp",
        spec(rgb=True, dtype="uint8", channel_spp=1, size_c=1, tile=None),
        "SAMPLES_MISMATCH",
        E,
        r"SamplesPerPixel is 1 but IFD 0 has SamplesPerPixel 3",
    ),
    ("rgb-guess", spec(size_c=3, dtype="uint8"), "RGB_AMBIGUOUS", W, r"SizeC 3, Type uint8"),
    ("physical", spec(physical=False), "PHYSICAL_SIZE", W, r"PhysicalSizeX is missing"),
    ("channel-names", spec(channel_names=["CD3", "CD3"]), "CHANNELS", W, r"duplicate channel names: 'CD3'"),
    ("channel-black", spec(channel_colour=0), "CHANNELS", W, r"Color 0"),
    (
        "multi-image",
        spec(extra_image=True, size_c=1, extra_ifds=1),
        "MULTI_IMAGE",
        E,
        r"2 Images.*Viv 0\.21\.0",
    ),
    ("huge-xml", spec(annotation_bytes=1_100_000), "HUGE_XML", I, r"OME-XML is 1,10\d,\d{3} bytes"),
    (
        "repeated-xml",
        spec(annotation_bytes=5000, repeat_description=True),
        "HUGE_XML",
        W,
        r"repeated in 1 other IFD",
    ),
    ("significant-bits", spec(significant_bits=12), "CONTRAST", I, r"SignificantBits is 12 of 16"),
    ("many-channels", spec(size_c=12, size_x=16, size_y=16, tile=None), "BROWSER_MEMORY", I, r"SizeC is 12"),
    (
        "mask",
        spec(dtype="uint32", size_c=1, channel_names=["cell mask"]),
        "SEGMENTATION_MASK",
        I,
        r"'cell mask'",
    ),
    (
        "jpeg2000",
        patched(Spec(levels=3), 0, 259, 33003, subifd=1),
        "CODEC_UNSUPPORTED",
        E,
        r"compression 33003 \(APERIO_JP2000_YCBC\) \(JPEG-2000\).*IFD 0 / SubIFD 1",
    ),
    (
        "no-pyramid",
        spec(size_x=4112, size_y=16, size_c=1, dtype="uint8", tile=(16, 16)),
        "NO_PYRAMID",
        E,
        r"4112x16",
    ),
    (
        "lowest-large",
        spec(size_x=8448, size_y=32, size_c=1, dtype="uint8", levels=3, tile=(16, 16)),
        "LOWEST_LEVEL_TOO_LARGE",
        W,
        r"2112x8 px",
    ),
    (
        "quarter",
        spec(levels=2, level_factor=4),
        "PYRAMID_NOT_HALVING",
        W,
        r"IFD 0 / SubIFD 0: 16x12, expected 32x24 \(size >> 1\)",
    ),
    (
        "round-up",
        patched(Spec(size_x=66, levels=2), 0, 256, 34, subifd=0),
        "PYRAMID_NOT_HALVING",
        I,
        r"34x24, expected 33x24",
    ),
    (
        "strips",
        spec(size_x=2064, size_y=16, size_c=1, dtype="uint8", tile=None),
        "TILE_GEOMETRY",
        W,
        r"strips, not tiles \(2064x16 px\)",
    ),
    ("non-square", spec(tile=(16, 32)), "TILE_GEOMETRY", W, r"TileWidth 32 != TileLength 16"),
    ("not-pow2", spec(tile=(48, 48)), "TILE_GEOMETRY", W, r"48x48 .* not a power of two"),
    (
        "level-codec",
        spec(levels=2, level_compression="none"),
        "LEVEL_INCONSISTENT",
        W,
        r"compression differs .* IFD 0 / SubIFD 0: 1 \(NONE\)",
    ),
    ("legacy", spec(levels=2, legacy=True, size_c=1), "LEGACY_PYRAMID", W, r"reduced-resolution IFDs"),
    (
        "legacy-images",
        lambda d: write_legacy_images(d / "f.ome.tif"),
        "LEGACY_PYRAMID",
        E,
        r"separate OME Image .*IFD 0 64x48, IFD 2 32x24, IFD 4 16x12",
    ),
    (
        "jpeg-rgb",
        patched(Spec(rgb=True, dtype="uint8", size_c=1, compression=None), 0, 259, 7),
        "JPEG_COLOUR",
        W,
        r"Photometric RGB \(2\) in IFD 0",
    ),
    ("url-name", lambda d: write(d / "g.tif", Spec()), "URL_NOT_OME_NAME", I, r"'g\.tif'"),
    (
        "offsets-local",
        spec(size_c=41, size_x=8, size_y=8, tile=None),
        "OFFSETS_MISSING",
        I,
        r"41 top-level IFDs",
    ),
]

#: codes only the network probes or a constructed estimate can raise (tested in test_probes / below)
NETWORK_CODES = {"SERVER_RANGE", "CORS", "AUTH", "OFFSETS_WRONG", "EAGER_ARRAYS"}


@pytest.mark.parametrize(
    ("build", "code", "severity", "evidence"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rule_triggers(tmp_path: Path, build: Build, code: str, severity: Severity, evidence: str) -> None:
    report = inspect(str(build(tmp_path)), probes=False)
    hits = [f for f in report.findings if f.code == code]
    assert hits, f"{code} not raised; got {[f.code for f in report.findings]}"
    match = [f for f in hits if f.severity is severity and re.search(evidence, f.message)]
    assert match, [(f.severity, f.message) for f in hits]
    assert all(f.remedy for f in hits)


def test_every_code_has_a_triggering_case() -> None:
    codes = {c[2] for c in CASES} | NETWORK_CODES
    docs = (Path(__file__).resolve().parents[1] / "docs" / "checks.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^### `([A-Z_]+)`", docs, re.M))
    assert codes <= documented
    import inspect as pyinspect

    raised = set()
    for rule in checks.RULES:
        raised |= set(re.findall(r'finding\(\s*"([A-Z_]+)"', pyinspect.getsource(rule)))
    assert raised == codes, raised ^ codes


CLEAN = [
    ("demo", lambda d: demo_path()),
    ("clean-pyramid", spec(levels=3, tile=(16, 16))),
    ("clean-bigtiff-be", spec(levels=2, byteorder=">", bigtiff=True)),
    ("viv-multi-channel", corpus("viv/avivator/data/multi-channel.ome.tif")),
    ("libvips-z", corpus("libvips/multi-channel-z-series.ome.tif")),
]


@pytest.mark.parametrize("build", [c[1] for c in CLEAN], ids=[c[0] for c in CLEAN])
def test_clean_files_pass(tmp_path: Path, build: Build) -> None:
    report = inspect(str(build(tmp_path)), probes=False)
    assert not report.errors, report.errors
    allowed = {"PHYSICAL_SIZE", "CHANNELS", "IFD_OFFSET_ODD"}  # the OME samples lack sizes and channel names
    assert {f.code for f in report.findings} <= allowed


def test_demo_has_no_findings_at_all() -> None:
    report = inspect(str(demo_path()), probes=False)
    assert report.findings == []
    est = report.extra["viewer_estimate"]
    assert est["geotiff_js"]["planes_shown"] == 4
    assert est["geotiff_js"]["ifds_opened"] == 12  # 4 channel IFDs + their lowest and 1024-px SubIFDs
    assert est["this_tool"]["count"] == report.ledger.count


@pytest.mark.parametrize(
    "rel", sorted(str(p.relative_to(CORPUS)) for p in CORPUS.glob("pennsieve-ometiff-processor/*.ome.tiff"))
)
def test_corpus_valid_ome_tiffs_have_no_errors(rel: str) -> None:
    report = inspect(str(CORPUS / rel), probes=False)
    assert not report.errors, report.errors
    warnings = {f.code for f in report.findings if f.severity is W}
    assert warnings <= {"PHYSICAL_SIZE", "PIXEL_TYPE"}


def _estimate(array_bytes: int) -> ViewerEstimate:
    return ViewerEstimate(
        requests=40, bytes=20_000_000, eager_array_bytes=array_bytes, description_bytes=0, ifds_opened=12,
        chain_ifds_walked=0, planes_shown=6, used_offsets=False,
    )  # fmt: skip


def _inp(tmp_path: Path, **kw: object) -> CheckInput:
    report: Report = inspect(str(write(tmp_path / "e.ome.tif", Spec())), probes=False)
    return replace(CheckInput.from_report(report), **kw)  # type: ignore[arg-type]


def test_eager_arrays_levels(tmp_path: Path) -> None:
    def codes(n: int) -> list[Finding]:
        return [f for f in evaluate(_inp(tmp_path, estimate=_estimate(n))) if f.code == "EAGER_ARRAYS"]

    assert codes(500_000) == []
    (info,) = codes(2_000_000)
    assert (
        info.severity is I
        and "2,000,000 bytes of tile offset/byte-count arrays from the 12 IFD(s)" in info.message
    )
    (warn,) = codes(9_000_000)
    assert warn.severity is W


def test_viewer_estimate_walks_the_chain_without_offsets(tmp_path: Path) -> None:
    from ometiff_helpers.diagnose.viewer_cost import estimate_viewer_cost

    p = write(tmp_path / "z.ome.tif", Spec(size_c=3, size_z=4, tile=None, size_x=16, size_y=16))
    inp = CheckInput.from_report(inspect(str(p), probes=False))
    # XYCZT: channel c of z=0 is IFD c; 3 channels: IFDs 0..2, no walk beyond
    assert inp.plane_index(0, 2, 0) == 2
    walk = estimate_viewer_cost(inp.tiff, inp.ome)
    assert walk.chain_ifds_walked == 0 and walk.ifds_opened == 3
    assert estimate_viewer_cost(inp.tiff, None).ifds_opened == 1  # without OME the viewer shows IFD 0 only


def test_inspect_without_probes_estimates_the_viewer_cost(tmp_path: Path) -> None:
    report = inspect(str(write(tmp_path / "n.ome.tif", Spec())), probes=False)
    assert "probes" not in report.extra
    assert report.extra["viewer_estimate"]["geotiff_js"]["requests"] >= 1
    assert not [f for f in report.findings if f.severity is Severity.ERROR]


@pytest.mark.parametrize(
    ("build", "how", "paths"),
    [
        (spec(levels=3), "SubIFDs", ["IFD 0", "IFD 0 / SubIFD 0", "IFD 0 / SubIFD 1"]),
        (spec(levels=3, legacy=True), "legacy: reduced IFDs in the main chain", ["IFD 0", "IFD 1", "IFD 2"]),
        (
            lambda d: write_legacy_images(d / "f.ome.tif"),
            "legacy: one OME Image per level",
            ["IFD 0", "IFD 2", "IFD 4"],
        ),
        (spec(extra_image=True, size_c=1, extra_ifds=1), "no pyramid", ["IFD 0"]),
    ],
    ids=["subifds", "legacy-reduced", "legacy-images", "multi-image"],
)
def test_report_levels_are_the_levels_the_checks_judge(
    tmp_path: Path, build: Build, how: str, paths: list[str]
) -> None:
    report = inspect(str(build(tmp_path)), probes=False)
    assert [lv.path for lv in report.levels()] == paths
    assert [ifd.path for ifd in CheckInput.from_report(report).levels] == paths
    assert report.summary()["Pyramid levels"].startswith(f"{len(paths)} ({how})")


@pytest.mark.parametrize(
    ("build", "label", "expected"),
    [
        (
            corpus("viv/avivator/data/multifile-Z1.ome.tiff"),
            "Format",
            "BinaryOnly stub: the metadata is in multifile.companion.ome",
        ),
        (spec(extra_image=True, size_c=1, extra_ifds=1), "Images", "2 (the viewer shows only the first"),
        (lambda d: write_legacy_images(d / "f.ome.tif"), "Images", "3 (one per pyramid level)"),
        (spec(rgb=True, dtype="uint8", size_c=1), "Channels", "1 (3 samples per pixel, RGB): Ch0"),
    ],
    ids=["binary-only", "multi-image", "legacy-images", "rgb"],
)
def test_summary_names_what_support_staff_must_know(
    tmp_path: Path, build: Build, label: str, expected: str
) -> None:
    summary = inspect(str(build(tmp_path)), probes=False).summary()
    assert expected in summary.get(label, ""), summary


def test_summary_has_no_images_line_for_one_image(tmp_path: Path) -> None:
    summary = inspect(str(demo_path()), probes=False).summary()
    assert "Images" not in summary and summary["Channels"].startswith("4: DAPI")
