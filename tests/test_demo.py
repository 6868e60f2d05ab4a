"""The bundled demo file: reproducible from its generator, valid against the OME schema, clean for the viewer."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ometiff_helpers.demo import demo_path
from ometiff_helpers.ome.schema import validate_ome_xml
from ometiff_helpers.report import inspect

REPO = Path(__file__).resolve().parents[1]


def test_demo_is_what_tools_make_demo_writes(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_demo_check", REPO / "tools" / "make_demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.OUT = tmp_path / "demo.ome.tif"
    assert module.main() == 0
    assert module.OUT.read_bytes() == demo_path().read_bytes(), "run tools/make_demo.py and commit the demo"


@pytest.fixture(scope="module")
def demo_report():
    return inspect(str(demo_path()))


def test_demo_ome_xml_is_schema_valid(demo_report) -> None:
    assert demo_report.xml_text is not None
    assert validate_ome_xml(demo_report.xml_text.encode("utf-8")) == []


def test_demo_has_what_the_notebooks_show(demo_report) -> None:
    ome = demo_report.ome
    pixels = ome.images[0].pixels
    assert [ch.name for ch in pixels.channels] == ["DAPI", "CD31", "Ki-67", "Pan-cytokeratin"]
    assert [(lv.width, lv.height) for lv in demo_report.levels()] == [
        (2048 >> k, 1536 >> k) for k in range(4)
    ]
    assert (pixels.physical_size_x.value, pixels.physical_size_x.unit) == (0.325, "µm")
    assert len(ome.rois) == 3 and len(ome.annotations) == 5
    assert demo_report.findings == [], [f.code for f in demo_report.findings]
