"""Rules that follow what Viv really does (checked in tests/test_viewer_conformance.py): one test per defect class,
the viewer version in the message, and the verdict following --viewer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from gen_defects import Spec, write, write_legacy_images
from viewer_defects import write_planar_rgb, write_stripped_pyramid, write_ycbcr_planar_one_format

from ometiff_helpers.__main__ import main
from ometiff_helpers.diagnose.viewer import NEWEST, RELEASES, ViewerVersion
from ometiff_helpers.findings import Finding, Severity
from ometiff_helpers.report import inspect

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO  # noqa: E741
OLD = ViewerVersion.parse("0.13.8")


def _findings(path: Path | str, code: str, **kw: object) -> list[Finding]:
    return [f for f in inspect(str(path), probes=False, **kw).findings if f.code == code]  # type: ignore[arg-type]


def test_viewer_versions() -> None:
    assert str(NEWEST) == "Viv 0.21.0" and RELEASES[-1] == "0.21.0"
    assert ViewerVersion.parse("viv 0.16") == ViewerVersion(0, 16, 0) < NEWEST
    assert ViewerVersion.parse("0.16.0") > OLD and not OLD.levels_from_ifd_numbers
    assert NEWEST.levels_from_ifd_numbers
    with pytest.raises(ValueError, match=r"'latest' is not a Viv version .*0\.21\.0"):
        ViewerVersion.parse("latest")


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (lambda d: write_legacy_images(d / "l.ome.tif"), "LEGACY_PYRAMID"),
        (lambda d: write(d / "m.ome.tif", Spec(extra_image=True, size_c=1, extra_ifds=1)), "MULTI_IMAGE"),
    ],
    ids=["one-image-per-level", "several-images"],
)
def test_several_images_without_subifds_fail_in_viv_0_16_and_later(
    tmp_path: Path, build: Callable[[Path], Path], code: str
) -> None:
    path = build(tmp_path)
    [new] = _findings(path, code)
    assert new.severity is E
    assert (
        "Viv 0.21.0" in new.message and "parseFileDirectoryAt" in new.message and "byte offset" in new.message
    )
    [old] = _findings(path, code, viewer=OLD)
    assert old.severity is W and "parseFileDirectoryAt" not in old.message


def test_planar_rgb_is_an_error(tmp_path: Path) -> None:
    found = _findings(write_planar_rgb(tmp_path / "p.ome.tif"), "SAMPLES_MISMATCH")
    assert [f.severity for f in found] == [E]
    assert "PlanarConfiguration 2" in found[0].message and "No image at index 1" in found[0].message


def test_one_sample_format_for_three_samples_is_an_error(tmp_path: Path) -> None:
    found = _findings(write_ycbcr_planar_one_format(tmp_path / "y.ome.tif"), "SAMPLES_MISMATCH")
    texts = [f.message for f in found if f.severity is E]
    assert any("SampleFormat has 1 value(s) for 3 samples" in t for t in texts)
    assert any("Unsupported data format/bitsPerSample" in t for t in texts)


def test_stripped_pyramid_warns_of_tile_size_one(tmp_path: Path) -> None:
    found = _findings(write_stripped_pyramid(tmp_path / "s.ome.tif"), "TILE_GEOMETRY")
    assert [f.severity for f in found] == [W]
    assert "strips of 1 row(s)" in found[0].message and "tile size is 1 px" in found[0].message


def test_stripped_single_level_does_not_warn(tmp_path: Path) -> None:
    assert _findings(write(tmp_path / "s.ome.tif", Spec(tile=None)), "TILE_GEOMETRY") == []


def test_tiffdata_past_the_ifds_is_a_warning_for_viv(tmp_path: Path) -> None:
    path = write(tmp_path / "t.ome.tif", Spec(tiffdata='<TiffData IFD="5" PlaneCount="1"/>'))
    found = _findings(path, "PLANE_COUNT")
    assert [f.severity for f in found] == [W] and "Viv 0.21.0 ignores TiffData" in found[0].message


@pytest.mark.parametrize(
    ("name", "warned"),
    [
        ("x.ome.tif", False),
        ("x_ome.tiff", False),
        ("dir/ome.tiff", False),
        ("x.OME.TIF", True),
        ("x.tif", True),
    ],
)
def test_url_name_follows_avivators_test(
    tmp_path: Path, range_server: Callable[..., object], name: str, warned: bool
) -> None:
    path = write(tmp_path / "f.ome.tif", Spec())
    server = range_server({name: path})
    found = _findings(server.url(name), "URL_NOT_OME_NAME")  # type: ignore[attr-defined]
    assert bool(found) is warned
    if warned:
        assert found[0].severity is W and "url.includes('ome.tif')" in found[0].message
        assert ("case-sensitive" in found[0].message) is (name == "x.OME.TIF")


def test_offsets_missing_from_the_ifd_count_without_probes(
    tmp_path: Path, range_server: Callable[..., object]
) -> None:
    path = write(tmp_path / "many.ome.tif", Spec(size_c=41, size_x=8, size_y=8, tile=None))
    server = range_server({"many.ome.tif": path})
    found = _findings(server.url("many.ome.tif"), "OFFSETS_MISSING")  # type: ignore[attr-defined]
    assert len(found) == 1 and "41 top-level IFDs" in found[0].message
    assert "python -m ometiff_helpers offsets" in found[0].remedy


def test_cli_viewer_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_legacy_images(tmp_path / "l.ome.tif")
    assert main([str(path), "--checks", "--no-probes"]) == 1
    assert "Viv 0.21.0" in capsys.readouterr().out
    assert main([str(path), "--checks", "--no-probes", "--viewer", "0.13.8"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main([str(path), "--viewer", "newest"])
    assert exit_info.value.code == 2
    assert "'newest' is not a Viv version" in capsys.readouterr().err
