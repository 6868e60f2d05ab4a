"""A corrected OME-XML for the XML-level defects Viv's schema refuses: unit spellings (``um``), missing IDs, missing
Channel elements. The pixels are not touched: the corrected XML goes back into the TIFF with a TIFF comment tool.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from ometiff_helpers.frozen import record
from ometiff_helpers.ome.parser import parse_ome_xml
from ometiff_helpers.ome.units import normalise_unit

_UNIT_ATTR = re.compile(r"Unit$")
#: how to put the corrected XML into IFD 0's ImageDescription (tifffile's console script, or Bio-Formats' bftools)
PUT_BACK = (
    "tiffcomment --set-file {xml} {tiff}   (tifffile)",
    "tiffcomment -set {xml} {tiff}   (Bio-Formats bftools)",
)


@record
class CorrectedXml:
    """The corrected document and what was changed (one line each); ``changes`` is empty when nothing needed it."""

    text: str
    changes: tuple[str, ...]


def _local(tag: str) -> str:
    """An ElementTree tag without its ``{namespace}``."""
    return tag.rsplit("}", 1)[-1]


def correct_ome_xml(text: str | bytes) -> CorrectedXml:
    """The corrected OME-XML of ``text`` (OmeTiffError when it is not OME-XML or declares a DTD)."""
    parse_ome_xml(text)  # the package's safe parser first: refuses DOCTYPE/ENTITY and what is not OME-XML
    raw = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text
    root = ET.fromstring(raw.rstrip("\0"))
    ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    ET.register_namespace("", ns)
    ET.register_namespace("xsi", "http://www.w3.org/2001/XMLSchema-instance")
    q = (lambda name: f"{{{ns}}}{name}") if ns else (lambda name: name)
    changes: list[str] = []
    for i, image in enumerate(el for el in root if _local(el.tag) == "Image"):
        if not image.get("ID"):
            image.set("ID", f"Image:{i}")
            changes.append(f"Image #{i}: ID set to Image:{i}")
        pixels = image.find(q("Pixels"))
        if pixels is None:
            continue
        if not pixels.get("ID"):
            pixels.set("ID", f"Pixels:{i}")
            changes.append(f"Image #{i}: Pixels ID set to Pixels:{i}")
        for name, value in list(pixels.attrib.items()):
            if _UNIT_ATTR.search(name):
                fixed = normalise_unit(value)
                if fixed != value:
                    pixels.set(name, fixed)
                    changes.append(f"Image #{i}: Pixels {name} {value!r} -> {fixed!r}")
        channels = pixels.findall(q("Channel"))
        if not channels:
            size_c = int(pixels.get("SizeC") or "1")
            at = next((k for k, el in enumerate(pixels) if _local(el.tag) != "Channel"), len(pixels))
            for c in reversed(range(size_c)):
                el = ET.Element(q("Channel"), {"ID": f"Channel:{i}:{c}", "SamplesPerPixel": "1"})
                pixels.insert(at, el)
            changes.append(f"Image #{i}: {size_c} Channel element(s) added (SamplesPerPixel 1)")
        for c, ch in enumerate(pixels.findall(q("Channel"))):
            if not ch.get("ID"):
                ch.set("ID", f"Channel:{i}:{c}")
                changes.append(f"Image #{i}: Channel #{c} ID set to Channel:{i}:{c}")
    body = ET.tostring(root, encoding="unicode")
    return CorrectedXml('<?xml version="1.0" encoding="UTF-8"?>\n' + body, tuple(changes))
