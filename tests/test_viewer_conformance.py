"""The diagnosis against the real viewer: Viv's loaders (tests/viv, npm ci) open every corpus TIFF and every defect
file over loopback HTTP with Range, in one Node process; the project's verdict must be the viewer's."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


def _tool() -> Any:
    spec = importlib.util.spec_from_file_location(
        "viewer_conformance", REPO / "tools" / "viewer_conformance.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["viewer_conformance"] = module
    spec.loader.exec_module(module)
    return module


vc = _tool()


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory, corpus_dir: Path) -> list[Any]:
    cases = vc.corpus_cases(corpus_dir) + vc.defect_cases(tmp_path_factory.mktemp("defects"))
    return vc.run_all(cases)


def _by_name(outcomes: list[Any]) -> dict[str, Any]:
    return {o.case.name: o for o in outcomes}


def test_the_runner_is_the_real_viewer(outcomes: list[Any]) -> None:
    """The oracle works: a clean pyramid opens with its levels and tiles; known defects fail with Viv's own words."""
    by = _by_name(outcomes)
    good = by["defects/good-pyramid.ome.tif"].viewer
    assert good["ok"] and good["levels"] == 3 and good["channels"] == 2 and good["tile_size"] == 16
    assert good["shapes"][-1][-2:] == [12, 16] and len(good["tiles"]) == 4
    assert by["defects/planar-rgb.ome.tif"].viewer["error"] == "Error: No image at index 1"
    assert "Invalid field type" in by["defects/legacy-images.ome.tif"].viewer["error"]
    assert (
        "Unsupported data format/bitsPerSample"
        in by["defects/ycbcr-planar-one-format.ome.tif"].viewer["error"]
    )
    assert by["defects/stripped-pyramid.ome.tif"].viewer["tile_size"] == 1
    assert by["defects/upper-case.OME.TIF"].viewer["route"] == "multi-tiff"
    assert by["defects/underscore_ome.tiff"].viewer["route"] == "ome-tiff"


def test_every_file_gets_the_viewers_verdict(outcomes: list[Any]) -> None:
    """Error exactly when Viv fails (or decodes garbage), on the corpus and the defect registry."""
    assert len(outcomes) >= 110
    assert sum(o.case.origin == "corpus" for o in outcomes) >= 75
    wrong = [
        f"{o.case.name}: viewer {'fails: ' + str(o.viewer.get('error')) if o.viewer_error else 'renders'}; "
        f"project {'error' if o.project_error else 'no error'} {o.project_codes}"
        for o in outcomes
        if not o.agrees
    ]
    assert not wrong, "\n".join(wrong)


def test_where_the_viewer_renders_badly_the_project_warns(outcomes: list[Any]) -> None:
    """Tile size below 16 px in a pyramid, level shapes other than size >> level: a finding names it."""
    problems = [o for o in outcomes if o.render_problems]
    assert any("tile size 1" in p for o in problems for p in o.render_problems)
    assert any(p.startswith("level shapes") for o in problems for p in o.render_problems)
    assert any(p.startswith("rgb guess") for o in problems for p in o.render_problems)
    assert any(p.startswith("channel count") for o in problems for p in o.render_problems)
    assert [(o.case.name, o.unwarned) for o in problems if o.unwarned] == []


def test_the_documented_table_is_current(outcomes: list[Any]) -> None:
    """docs/viewer-conformance.md was regenerated after the last change (same files, same agreement)."""
    doc = vc.DOC.read_text(encoding="utf-8")
    agree = sum(o.agrees for o in outcomes)
    assert f"**{agree} of {len(outcomes)} files agree**" in doc
    listed = set(re.findall(r"^\| `([^`]+)` \|", doc, re.MULTILINE))
    assert listed == {o.case.name for o in outcomes}


def test_the_offsets_file_written_by_the_tool_is_what_viv_reads(tmp_path: Path) -> None:
    """`offsets URL -o X.offsets.json`, served beside the file: Viv opens it with the offsets (one request per IFD);
    the same file with a wrong offsets file fails, so the offsets really are what Viv used."""
    import json

    import tifffile
    from gen_defects import Spec, write

    from ometiff_helpers.__main__ import main

    path = write(tmp_path / "many.ome.tif", Spec(size_c=41, size_x=8, size_y=8, tile=None))
    case = vc.Case("many.ome.tif", path, "defect")
    with vc.serving([case]) as server:
        assert main(["offsets", server.url("many.ome.tif"), "-o", str(tmp_path / "many.offsets.json")]) == 0
    offsets = json.loads((tmp_path / "many.offsets.json").read_text())
    with tifffile.TiffFile(path) as tif:  # the oracle: tifffile's own IFD offsets
        assert offsets == [page.offset for page in tif.pages]
    wrong = [offsets[0]] * len(offsets)  # every channel pointed at IFD 0: Viv must show channel 0 everywhere
    broken = vc.Case("broken.ome.tif", path, "defect")
    extra = {
        "many.offsets.json": tmp_path / "many.offsets.json",
        "broken.offsets.json": json.dumps(wrong).encode(),
    }
    with vc.serving([case, broken], extra) as server:
        good, bad = vc.run_viewer([{"name": c.name, "url": server.url(c.name)} for c in (case, broken)])
    assert good["ok"] and good["offsets_used"] and good["channels"] == 41
    assert bad["offsets_used"]
    assert good["stats"] != bad["stats"]  # channel 1..3 read from IFD 0 with the wrong offsets


def test_a_corrected_xml_put_back_renders_in_viv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """fix-xml writes a corrected OME-XML; put into a copy of the TIFF (tifffile's tiffcomment, as the command says),
    Viv renders the file it refused, and the project no longer reports an error."""
    import shutil

    import tifffile
    from gen_defects import Spec, write

    from ometiff_helpers.__main__ import main

    specs = {
        "unit-um": Spec(unit="um"),
        "no-pixels-id": Spec(pixels_id=False),
        "no-channels": Spec(channel_names=[]),
    }
    cases = []
    for name, spec in specs.items():
        original = write(tmp_path / f"{name}.ome.tif", spec)
        xml = tmp_path / f"{name}.xml"
        assert main(["fix-xml", str(original), "-o", str(xml)]) == 0
        assert f"tiffcomment --set-file {xml} {name}.ome.tif" in capsys.readouterr().out
        fixed = tmp_path / f"{name}-fixed.ome.tif"
        shutil.copy(original, fixed)
        tifffile.tiffcomment(fixed, comment=xml.read_bytes())
        cases += [vc.Case(original.name, original, "defect"), vc.Case(fixed.name, fixed, "defect")]
    with vc.serving(cases) as server:
        results = vc.run_viewer([{"name": c.name, "url": server.url(c.name)} for c in cases])
        verdicts = [vc.project_verdict(server.url(c.name))[0] for c in cases]
    for case, result, project_error in zip(cases, results, verdicts, strict=True):
        refused = not case.name.endswith("-fixed.ome.tif")
        assert result["ok"] is not refused, (case.name, result)
        assert project_error is refused, case.name
