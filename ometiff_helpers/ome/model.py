"""Frozen records for the parts of the OME data model that appear in OME-TIFF files (2003-FC to 2016-06)."""

from __future__ import annotations

import re
from dataclasses import field
from typing import TYPE_CHECKING, Any

from ometiff_helpers.findings import Finding
from ometiff_helpers.frozen import record
from ometiff_helpers.ome.units import Quantity

if TYPE_CHECKING:
    from ometiff_helpers.ome.model_containers import (
        BinaryOnly,
        Dataset,
        ExperimenterGroup,
        Plate,
        Project,
        Well,
        WellSample,
    )

__all__ = [
    "Annotation",
    "BinaryOnly",
    "Channel",
    "Colour",
    "Dataset",
    "Detector",
    "Dichroic",
    "Experimenter",
    "ExperimenterGroup",
    "Filter",
    "Image",
    "Instrument",
    "LightSource",
    "Microscope",
    "Objective",
    "ObjectiveSettings",
    "OmeDocument",
    "Pixels",
    "Plane",
    "PlaneRef",
    "Plate",
    "Project",
    "Quantity",
    "Roi",
    "Shape",
    "TiffData",
    "Well",
    "WellSample",
]


#: records most OME-TIFFs do not have, in a module of their own (a file without them does not pay for building their
#: classes): loaded on first use by ``__getattr__`` below
_CONTAINERS = frozenset(
    {"BinaryOnly", "Dataset", "ExperimenterGroup", "Plate", "Project", "Well", "WellSample"}
)

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


@record
class Colour:
    """An OME ``Color``: a 32-bit RGBA integer (R in the top byte), stored signed in the XML (-1 is opaque white)."""

    value: int  # as written (signed or unsigned 32-bit)

    @property
    def rgba(self) -> tuple[int, int, int, int]:
        v = self.value & 0xFFFFFFFF
        return (v >> 24) & 0xFF, (v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF

    @property
    def hex(self) -> str:
        """``#RRGGBBAA``."""
        return "#{:02X}{:02X}{:02X}{:02X}".format(*self.rgba)

    @property
    def hex_rgb(self) -> str:
        """``#RRGGBB`` (alpha dropped)."""
        return self.hex[:7]

    @property
    def alpha(self) -> int:
        return self.rgba[3]

    @property
    def signed(self) -> int:
        v = self.value & 0xFFFFFFFF
        return v - (1 << 32) if v >= 1 << 31 else v


# --- people (groups, projects and datasets: model_containers) -----------------------------------------------------


@record
class Experimenter:
    """An OME ``Experimenter``: a person named by the document."""

    id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    institution: str | None = None
    user_name: str | None = None


# --- instruments ------------------------------------------------------------------------------------------------------


@record
class Microscope:
    """An ``Instrument``'s ``Microscope``."""

    manufacturer: str | None = None
    model: str | None = None
    serial_number: str | None = None
    type: str | None = None


@record
class Objective:
    """An ``Instrument``'s ``Objective``."""

    id: str
    manufacturer: str | None = None
    model: str | None = None
    serial_number: str | None = None
    nominal_magnification: float | None = None
    calibrated_magnification: float | None = None
    lens_na: float | None = None
    immersion: str | None = None
    correction: str | None = None
    working_distance: Quantity | None = None


@record
class Detector:
    """An ``Instrument``'s ``Detector``."""

    id: str
    manufacturer: str | None = None
    model: str | None = None
    serial_number: str | None = None
    type: str | None = None
    gain: float | None = None
    offset: float | None = None
    zoom: float | None = None
    voltage: Quantity | None = None


@record
class LightSource:
    """An ``Instrument``'s light source of any kind (``kind`` names the element)."""

    id: str
    kind: str  # Laser, Arc, Filament, LightEmittingDiode, GenericExcitationSource
    manufacturer: str | None = None
    model: str | None = None
    serial_number: str | None = None
    type: str | None = None
    power: Quantity | None = None
    wavelength: Quantity | None = None  # lasers
    laser_medium: str | None = None


@record
class Filter:
    """An ``Instrument``'s ``Filter``."""

    id: str
    manufacturer: str | None = None
    model: str | None = None
    type: str | None = None
    filter_wheel: str | None = None
    cut_in: Quantity | None = None
    cut_out: Quantity | None = None


@record
class Dichroic:
    """An ``Instrument``'s ``Dichroic``."""

    id: str
    manufacturer: str | None = None
    model: str | None = None


@record
class Instrument:
    """An OME ``Instrument``: microscope, objectives, detectors, light sources, filters, dichroics."""

    id: str
    microscope: Microscope | None = None
    objectives: tuple[Objective, ...] = ()
    detectors: tuple[Detector, ...] = ()
    light_sources: tuple[LightSource, ...] = ()
    filters: tuple[Filter, ...] = ()
    dichroics: tuple[Dichroic, ...] = ()
    filter_set_ids: tuple[str, ...] = ()


# --- images --------------------------------------------------------------------------------------------------------


@record
class ObjectiveSettings:
    """An ``Image``'s ``ObjectiveSettings``: the objective used and its medium."""

    id: str
    medium: str | None = None
    refractive_index: float | None = None
    correction_collar: float | None = None


@record
class Channel:
    """One ``Channel`` of a ``Pixels``."""

    id: str | None
    index: int
    name: str | None = None
    samples_per_pixel: int | None = None
    colour: Colour | None = None
    colour_defaulted: bool = False  # True when Color was absent (schema default -1, opaque white)
    fluor: str | None = None
    excitation_wavelength: Quantity | None = None
    emission_wavelength: Quantity | None = None
    acquisition_mode: str | None = None
    illumination_type: str | None = None
    contrast_method: str | None = None
    pinhole_size: Quantity | None = None
    nd_filter: float | None = None
    detector_ref: str | None = None
    light_source_ref: str | None = None


@record
class Plane:
    """One ``Plane`` of a ``Pixels``: its (z, c, t), time, exposure and stage position."""

    the_z: int
    the_c: int
    the_t: int
    delta_t: Quantity | None = None
    exposure_time: Quantity | None = None
    position_x: Quantity | None = None
    position_y: Quantity | None = None
    position_z: Quantity | None = None


@record
class TiffData:
    """One ``TiffData`` element, with the spec's defaults applied (``ifd_given``/``plane_count_given`` keep what was written)."""

    index: int
    ifd: int
    plane_count: int | None  # None when neither IFD nor PlaneCount was given: "all planes"
    first_z: int = 0
    first_c: int = 0
    first_t: int = 0
    uuid: str | None = None
    file_name: str | None = None
    ifd_given: bool = False
    plane_count_given: bool = False


@record
class PlaneRef:
    """Where plane (z, c, t) lives: a file (None = this file) and an IFD index in it."""

    z: int
    c: int
    t: int
    ifd: int
    file_name: str | None
    uuid: str | None
    tiffdata_index: int


@record
class Pixels:
    """An ``Image``'s ``Pixels``: sizes, type, dimension order, channels, planes, TiffData."""

    id: str | None
    dimension_order: str | None
    type: str | None
    size_x: int | None
    size_y: int | None
    size_z: int | None
    size_c: int | None
    size_t: int | None
    physical_size_x: Quantity | None = None
    physical_size_y: Quantity | None = None
    physical_size_z: Quantity | None = None
    time_increment: Quantity | None = None
    significant_bits: int | None = None
    big_endian: bool | None = None
    interleaved: bool | None = None
    channels: tuple[Channel, ...] = ()
    planes: tuple[Plane, ...] = ()
    tiffdata: tuple[TiffData, ...] = ()
    bin_data_count: int = 0
    metadata_only: bool = False

    @property
    def plane_total(self) -> int:
        """SizeZ x SizeC(effective) x SizeT: the planes the DimensionOrder formula expects."""
        return (self.size_z or 1) * self.effective_size_c * (self.size_t or 1)

    @property
    def effective_size_c(self) -> int:
        """SizeC divided by the samples per pixel of the channels (RGB counts as one plane per channel)."""
        size_c = self.size_c or 1
        spp = self.channels[0].samples_per_pixel if self.channels else None
        if spp and spp > 1 and size_c % spp == 0 and len(self.channels) * spp == size_c:
            return size_c // spp
        return size_c


@record
class Image:
    """One OME ``Image``."""

    id: str | None
    index: int
    name: str | None = None
    acquisition_date: str | None = None
    description: str | None = None
    experimenter_ref: str | None = None
    instrument_ref: str | None = None
    objective_settings: ObjectiveSettings | None = None
    pixels: Pixels | None = None
    roi_refs: tuple[str, ...] = ()
    annotation_refs: tuple[str, ...] = ()


# --- annotations, ROIs (plates: model_containers) -----------------------------------------------------------------------


@record(slots=True)  # tens of thousands of them in a GeoMx slide
class Annotation:
    """A structured annotation of any kind; ``value`` is the text value (inner XML for XMLAnnotation)."""

    id: str | None
    kind: str  # Map, XML, Comment, Long, Double, Boolean, Timestamp, Tag, Term, File, List, ...
    namespace: str | None = None
    description: str | None = None
    annotator: str | None = None
    value: str | None = None
    pairs: tuple[tuple[str, str], ...] = ()  # MapAnnotation
    file_name: str | None = None  # FileAnnotation
    file_size: int | None = None
    mime_type: str | None = None
    annotation_refs: tuple[str, ...] = ()  # ListAnnotation members and annotations of annotations
    annotates: tuple[str, ...] = ()  # IDs of the objects whose AnnotationRef points here


@record(slots=True)  # tens of thousands of them in a GeoMx slide
class Shape:
    """One ROI shape; geometry fields not used by the kind stay None. ``points`` keeps the raw string."""

    id: str | None
    kind: str  # Rectangle, Ellipse, Point, Line, Polyline, Polygon, Label, Mask
    roi_id: str | None
    the_z: int | None = None
    the_c: int | None = None
    the_t: int | None = None
    x: float | None = None
    y: float | None = None
    width: float | None = None
    height: float | None = None
    radius_x: float | None = None
    radius_y: float | None = None
    x1: float | None = None
    y1: float | None = None
    x2: float | None = None
    y2: float | None = None
    points: str | None = None  # as written ("x1,y1 x2,y2 ..."); see point_list()
    text: str | None = None
    transform: tuple[float, float, float, float, float, float] | None = None  # A00 A10 A01 A11 A02 A12
    fill_colour: Colour | None = None
    stroke_colour: Colour | None = None
    stroke_width: Quantity | None = None

    def point_list(self) -> list[tuple[float, float]]:
        """The ``points`` string as (x, y) pairs (tolerates the stray commas and spaces real writers produce)."""
        nums = [float(v) for v in _NUMBER.findall(self.points or "")]
        return list(zip(nums[0::2], nums[1::2], strict=False))

    @property
    def point_count(self) -> int | None:
        """How many (x, y) pairs ``points`` holds, as `point_list` counts them, in one linear pass.

        The usual ``"x1,y1 x2,y2 ..."`` (one comma in each space-separated pair) is counted by its separators, with
        no number scan (20,000 polygons of 100 points: 0.06 s instead of 0.6 s); any other spelling is scanned.
        """
        if self.points is None:
            return None
        text = self.points.strip(" ")
        pairs = text.count(" ") + 1 if text else 0
        if (
            text.count(",") == pairs
            and "  " not in text
            and ", " not in text
            and " ," not in text
            and ",," not in text
            and text[:1] != ","
            and text[-1:] != ","
            and text.isprintable()  # no tab or line break
        ):
            return pairs  # each single-space-separated part holds one comma between two non-empty parts
        return len(_NUMBER.findall(self.points)) // 2


@record(slots=True)  # tens of thousands of them in a GeoMx slide
class Roi:
    """One OME ``ROI`` and its shapes."""

    id: str | None
    name: str | None = None
    description: str | None = None
    shapes: tuple[Shape, ...] = ()
    annotation_refs: tuple[str, ...] = ()
    image_refs: tuple[str, ...] = ()  # Images whose ROIRef points here


# --- the document ------------------------------------------------------------------------------------------------------


@record
class OmeDocument:
    """A parsed OME-XML document: its images and the other top-level parts, with what reading it found."""

    namespace: str | None
    schema_version: str | None  # "2016-06", ..., or None when not recognised
    creator: str | None = None
    uuid: str | None = None
    images: tuple[Image, ...] = ()
    instruments: tuple[Instrument, ...] = ()
    experimenters: tuple[Experimenter, ...] = ()
    groups: tuple[ExperimenterGroup, ...] = ()
    projects: tuple[Project, ...] = ()
    datasets: tuple[Dataset, ...] = ()
    annotations: tuple[Annotation, ...] = ()
    rois: tuple[Roi, ...] = ()
    plates: tuple[Plate, ...] = ()
    binary_only: BinaryOnly | None = None
    findings: tuple[Finding, ...] = ()
    xml_bytes: int = 0
    sha256: str = ""
    element_count: int = 0
    encoding: str = "UTF-8"
    extra: dict[str, int] = field(default_factory=dict)  # counts of recognised but unmodelled top-level parts

    @property
    def shape_count(self) -> int:
        return sum(len(r.shapes) for r in self.rois)


def __getattr__(name: str) -> Any:
    """The groups, projects, datasets, plates and BinaryOnly records, from ``model_containers`` when first asked for."""
    if name in _CONTAINERS:
        from ometiff_helpers.ome import model_containers

        return getattr(model_containers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
