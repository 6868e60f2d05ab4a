"""Turn small element subtrees (one top-level OME part at a time) into the frozen records of ``ome.model``.

Elements are matched by local name, so every schema version from 2003-FC to 2016-06 goes through the same code;
older spellings (``PixelType``, ``LogicalChannel``, ``Shape/Rect``, ``AcquiredDate``, ...) are mapped where each part
is built: ``build_images`` (Image, Pixels, Channel, Plane, TiffData), ``build_instruments``, ``build_rois``
(annotations, ROIs, shapes), ``build_containers`` (people, projects, datasets, plates); attribute values are read by
``values.ValueReader``.
"""

from __future__ import annotations

from ometiff_helpers.ome.build_containers import ContainerBuilder
from ometiff_helpers.ome.build_images import ImageBuilder
from ometiff_helpers.ome.build_instruments import InstrumentBuilder


class Converter(ImageBuilder, InstrumentBuilder, ContainerBuilder):
    """Every part's conversion, sharing one findings log (``Converter(log)``)."""
