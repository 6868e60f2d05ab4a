"""Frozen records of the OME parts most OME-TIFFs do not have: experimenter groups, projects, datasets, plates (wells,
well samples) and the BinaryOnly stub. ``ome.model`` offers them under their usual names, importing this module on
first use, so that reading a file without them does not pay for building their classes.
"""

from __future__ import annotations

from ometiff_helpers.frozen import record
from ometiff_helpers.ome.units import Quantity

__all__ = ["BinaryOnly", "Dataset", "ExperimenterGroup", "Plate", "Project", "Well", "WellSample"]


@record
class ExperimenterGroup:
    id: str
    name: str | None = None
    description: str | None = None
    leader_refs: tuple[str, ...] = ()
    experimenter_refs: tuple[str, ...] = ()


@record
class Project:
    id: str
    name: str | None = None
    description: str | None = None
    dataset_refs: tuple[str, ...] = ()
    annotation_refs: tuple[str, ...] = ()


@record
class Dataset:
    id: str
    name: str | None = None
    description: str | None = None
    image_refs: tuple[str, ...] = ()
    annotation_refs: tuple[str, ...] = ()


@record
class WellSample:
    id: str | None
    index: int | None = None
    image_ref: str | None = None
    position_x: Quantity | None = None
    position_y: Quantity | None = None
    timepoint: str | None = None


@record
class Well:
    id: str | None
    row: int | None = None
    column: int | None = None
    external_description: str | None = None
    samples: tuple[WellSample, ...] = ()


@record
class Plate:
    id: str | None
    name: str | None = None
    description: str | None = None
    rows: int | None = None
    columns: int | None = None
    row_naming: str | None = None
    column_naming: str | None = None
    external_identifier: str | None = None
    wells: tuple[Well, ...] = ()


@record
class BinaryOnly:
    """The ImageDescription is only a pointer to the metadata held elsewhere (multi-file OME-TIFF)."""

    metadata_file: str | None
    uuid: str | None
