"""Old OME-XML schemas read the way the official upgrades (ome-model's XSLT, as ome-types applies them) read them."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ometiff_helpers.ome.model import Channel, Colour

if TYPE_CHECKING:
    from ometiff_helpers.ome.build_images import ImageBuilder
    from ometiff_helpers.ome.xmlnode import Node


def logical_channels(conv: ImageBuilder, nodes: list[Node], pixels_id: str | None) -> tuple[Channel, ...]:
    """2008-09: as the official 2008-09 -> 2009-09 upgrade does, one Channel per ChannelComponent that names
    this Pixels (ID ``Channel:...:<position>``, Color from ColorDomain, no SamplesPerPixel); a LogicalChannel
    without components stays one Channel."""
    out: list[Channel] = []
    for lc in nodes:
        comps = [cc for cc in lc.children if cc.local == "ChannelComponent"]
        if not comps:
            out.append(conv.channel(lc, len(out)))
            continue
        for position, cc in enumerate(comps, start=1):
            if cc.get("Pixels") not in (None, pixels_id):
                continue
            base = conv.channel(lc, len(out))
            lc_id = (lc.get("ID") or "").replace("LogicalChannel", "Channel")
            out.append(
                dataclasses.replace(
                    base,
                    id=f"{lc_id}:{position}",
                    samples_per_pixel=None,
                    colour=Colour(_colour_domain(cc.get("ColorDomain") or "")),
                )
            )
    return tuple(out)


def _colour_domain(domain: str) -> int:
    """A 2008-09 ChannelComponent@ColorDomain as the upgrade's Color (signed RGBA): r, g, b, else white."""
    for letter, rgba in (("r", 0xFF0000FF), ("g", 0x00FF00FF), ("b", 0x0000FFFF)):
        if letter in domain.lower():
            return rgba - (1 << 32) if rgba >= 1 << 31 else rgba
    return -1


def float_text(text: str | None) -> float | None:
    """A number written as element text (2008-09 Objective/LensNA), or None."""
    try:
        return None if text is None else float(text)
    except ValueError:
        return None
