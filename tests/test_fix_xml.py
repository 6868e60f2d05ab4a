"""The corrected OME-XML: only what Viv's schema refuses changes; a hostile document is refused, not rewritten."""

from __future__ import annotations

import pytest
from gen_defects import Spec, ome_xml

from ometiff_helpers.errors import OmeTiffError
from ometiff_helpers.ome.fix import correct_ome_xml
from ometiff_helpers.ome.parser import parse_ome_xml


def test_a_clean_document_needs_nothing() -> None:
    fixed = correct_ome_xml(ome_xml(Spec()))
    assert fixed.changes == ()
    assert parse_ome_xml(fixed.text).images[0].pixels.size_c == 2


def test_units_ids_and_channels_are_corrected() -> None:
    fixed = correct_ome_xml(ome_xml(Spec(unit="um", pixels_id=False, channel_names=[])))
    assert fixed.changes == (
        "Image #0: Pixels ID set to Pixels:0",
        "Image #0: Pixels PhysicalSizeXUnit 'um' -> 'µm'",
        "Image #0: Pixels PhysicalSizeYUnit 'um' -> 'µm'",
        "Image #0: 2 Channel element(s) added (SamplesPerPixel 1)",
    )
    px = parse_ome_xml(fixed.text).images[0].pixels
    assert px.id == "Pixels:0" and px.physical_size_x.unit == "µm"
    assert [c.id for c in px.channels] == ["Channel:0:0", "Channel:0:1"] and len(px.tiffdata) == 2
    assert (
        'xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"' in fixed.text and "ns0:" not in fixed.text
    )


def test_a_dtd_is_refused() -> None:
    evil = '<?xml version="1.0"?><!DOCTYPE OME [<!ENTITY a "aaaa">]><OME xmlns="x">&a;</OME>'
    with pytest.raises(OmeTiffError, match="DOCTYPE"):
        correct_ome_xml(evil)
