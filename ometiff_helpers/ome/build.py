"""Turn small element subtrees (one top-level OME part at a time) into the frozen records of ``omexml_model``.

Elements are matched by local name, so every schema version from 2003-FC to 2016-06 goes through the same code;
older spellings (``PixelType``, ``LogicalChannel``, ``Shape/Rect``, ``AcquiredDate``, ...) are mapped here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from xml.sax.saxutils import escape, quoteattr

from ometiff_helpers.findings import FindingLog, Severity
from ometiff_helpers.ome.legacy_schema import float_text, logical_channels
from ometiff_helpers.ome.model import (
    Annotation,
    BinaryOnly,
    Channel,
    Colour,
    Dataset,
    Detector,
    Dichroic,
    Experimenter,
    ExperimenterGroup,
    Filter,
    Image,
    Instrument,
    LightSource,
    Microscope,
    Objective,
    ObjectiveSettings,
    Pixels,
    Plane,
    Plate,
    Project,
    Roi,
    Shape,
    TiffData,
    Well,
    WellSample,
)
from ometiff_helpers.ome.units import Quantity, is_schema_length_unit, normalise_unit

#: sizes beyond this are treated as corrupt (X18): arithmetic stays sane
MAX_SIZE = 2**31

SEP = "\x1f"  # expat namespace separator: cannot occur in XML names or namespace URIs


class Node:
    """A lightweight element: local name, namespace, attributes, children, text and tail (like ElementTree)."""

    __slots__ = ("attrs", "children", "local", "ns", "prefix", "role", "tail", "text")

    def __init__(self, local: str, ns: str, prefix: str, attrs: dict[str, str], role: int = 0) -> None:
        self.local = local
        self.ns = ns
        self.prefix = prefix
        self.attrs = attrs
        self.children: list[Node] = []
        self.text = ""
        self.tail = ""
        self.role = role  # 0 element kept, 1 the root, 2 a container whose children are parts, 3 text skipped

    def get(self, name: str) -> str | None:
        return self.attrs.get(name)

    def child(self, *locals_: str) -> Node | None:
        for c in self.children:
            if c.local in locals_:
                return c
        return None

    def iter_children(self, *locals_: str) -> Iterator[Node]:
        return (c for c in self.children if c.local in locals_)

    def find(self, local: str, max_depth: int = 4) -> Node | None:
        """First descendant named ``local`` within ``max_depth`` levels, breadth first."""
        level = [self]
        for _ in range(max_depth):
            nxt: list[Node] = []
            for n in level:
                for c in n.children:
                    if c.local == local:
                        return c
                    nxt.append(c)
            level = nxt
        return None

    def child_text(self, *locals_: str) -> str | None:
        c = self.child(*locals_)
        return c.text.strip() if c is not None else None


_NAMES: dict[str, tuple[str, str, str]] = {}


def split_name(name: str) -> tuple[str, str, str]:
    """(namespace, local, prefix) from expat's ``uri<SEP>local<SEP>prefix`` (memoised: names repeat)."""
    hit = _NAMES.get(name)
    if hit is not None:
        return hit
    out = _split_name(name)
    if len(_NAMES) < 4096:
        _NAMES[name] = out
    return out


def _split_name(name: str) -> tuple[str, str, str]:
    parts = name.split(SEP)
    if len(parts) == 1:
        return "", parts[0], ""
    if len(parts) == 2:
        return parts[0], parts[1], ""
    return parts[0], parts[1], parts[2]


def _qname(node: Node) -> str:
    return f"{node.prefix}:{node.local}" if node.prefix else node.local


def inner_xml(node: Node) -> str:
    """The content of ``node`` re-serialised (prefixes kept, namespace declarations not reproduced)."""
    out: list[str] = [escape(node.text)]
    for c in node.children:
        _serialise(c, out)
    return "".join(out)


def _serialise(node: Node, out: list[str]) -> None:
    attrs = "".join(f" {_attr_qname(k)}={quoteattr(v)}" for k, v in node.attrs.items())
    out.append(f"<{_qname(node)}{attrs}>")
    out.append(escape(node.text))
    for c in node.children:
        _serialise(c, out)  # depth is bounded by the parser's max_depth
    out.append(f"</{_qname(node)}>")
    out.append(escape(node.tail))


def _attr_qname(key: str) -> str:
    if SEP not in key:
        return key
    _ns, local, prefix = split_name(key)
    return f"{prefix}:{local}" if prefix else local


# --- value parsing ---------------------------------------------------------------------------------------------------

_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


class Converter:
    """Stateless helpers plus the findings log, shared by every part's conversion."""

    def __init__(self, log: FindingLog) -> None:
        self.log = log

    def _bad(self, node: Node, attr: str, value: str, expected: str) -> None:
        shown = value if len(value) <= 40 else value[:37] + "..."
        self.log.add(
            "OME_BAD_VALUE",
            Severity.WARNING,
            f"{node.local}@{attr} = {shown!r} is not {expected}; the value is ignored.",
            remedy="Fix the writer or re-export the metadata.",
            where=node.get("ID") or node.local,
            key=f"{node.local}@{attr}",
        )

    def int_(self, node: Node, attr: str, *, size: bool = False) -> int | None:
        raw = node.attrs.get(attr)
        if raw is None:
            return None
        try:
            v = int(raw)
        except ValueError:
            try:
                fv = float(raw)
            except ValueError:
                fv = math.nan
            if not math.isfinite(fv) or fv != int(fv):  # "inf", "1e400", "nan": not an integer
                self._bad(node, attr, raw, "an integer")
                return None
            v = int(fv)
        if size and not 0 <= v < MAX_SIZE:
            self._bad(node, attr, raw, f"a size between 0 and {MAX_SIZE - 1}")
            return None
        return v

    def float_(self, node: Node, attr: str) -> float | None:
        raw = node.attrs.get(attr)
        if raw is None:
            return None
        try:
            return float(raw)
        except ValueError:
            self._bad(node, attr, raw, "a number")
            return None

    def bool_(self, node: Node, attr: str) -> bool | None:
        raw = node.get(attr)
        if raw is None:
            return None
        v = raw.strip().lower()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
        self._bad(node, attr, raw, "true or false")
        return None

    def qty(self, node: Node, attr: str, default_unit: str, *, length: bool = False) -> Quantity | None:
        value = self.float_(node, attr)
        if value is None:
            return None
        unit = node.attrs.get(attr + "Unit")
        if unit is None:
            return Quantity(value, default_unit, unit_defaulted=True)
        if length and not is_schema_length_unit(unit):
            fixed = normalise_unit(unit)
            hint = f" (the schema spells it {fixed!r})" if fixed != unit else ""
            self.log.add(
                "OME_UNIT_NONSTANDARD",
                Severity.WARNING,
                f"{node.local}@{attr}Unit = {unit!r} is not a unit of the OME schema{hint}; strict readers reject it.",
                remedy="Write units exactly as the schema enumerates them (e.g. 'µm', not 'um').",
                where=node.get("ID") or node.local,
                key=f"{node.local}@{attr}Unit={unit}",
            )
        return Quantity(value, unit)

    def colour(self, node: Node, attr: str) -> Colour | None:
        raw = node.get(attr)
        if raw is None:
            return None
        try:
            v = int(raw.strip(), 0) if raw.strip().lower().startswith("0x") else int(raw.strip())
        except ValueError:
            self._bad(node, attr, raw, "a 32-bit RGBA integer")
            return None
        if not -(2**31) <= v < 2**32:
            self._bad(node, attr, raw, "a 32-bit RGBA integer")
            return None
        return Colour(v)

    def id_format(self, node: Node, kind: str, where: str) -> None:
        """IDs of Image / Pixels / Channel must look like ``Kind:...`` (the schema's pattern; Viv checks it)."""
        ident = node.get("ID")
        if ident is None or re.match(rf"^(urn:lsid:\S+:)?{kind}:\S+$", ident):
            return
        self.log.add(
            "OME_ID_FORMAT",
            Severity.WARNING,
            f"{node.local} ID {ident!r} does not have the form '{kind}:<n>' that the OME schema requires.",
            remedy="Strict readers (and schema validation) reject the file: re-export the metadata.",
            where=where,
            key=f"{kind}:{ident}",
        )

    def require(self, node: Node, *attrs: str, where: str = "") -> None:
        for a in attrs:
            if node.get(a) is None:
                self.log.add(
                    "OME_MISSING_ATTRIBUTE",
                    Severity.WARNING,
                    f"{node.local} has no {a} attribute, which the OME schema requires.",
                    remedy=f"Add {a} to every {node.local}; viewers such as Viv refuse the file without it.",
                    where=where or node.get("ID") or node.local,
                    key=f"{node.local}@{a}",
                )

    # --- people and containers ------------------------------------------------------------------------------------

    @staticmethod
    def _refs(node: Node, local: str) -> tuple[str, ...]:
        return tuple(c.get("ID") or "" for c in node.iter_children(local))

    def _attr_or_child(self, node: Node, name: str) -> str | None:
        return node.get(name) if node.get(name) is not None else node.child_text(name)

    def experimenter(self, n: Node) -> Experimenter:
        return Experimenter(
            id=n.get("ID") or "",
            first_name=self._attr_or_child(n, "FirstName"),
            last_name=self._attr_or_child(n, "LastName"),
            email=self._attr_or_child(n, "Email"),
            institution=self._attr_or_child(n, "Institution"),
            user_name=self._attr_or_child(n, "UserName") or self._attr_or_child(n, "OMEName"),
        )

    def group(self, n: Node) -> ExperimenterGroup:
        return ExperimenterGroup(
            id=n.get("ID") or "",
            name=self._attr_or_child(n, "Name"),
            description=n.child_text("Description"),
            leader_refs=self._refs(n, "Leader"),
            experimenter_refs=self._refs(n, "ExperimenterRef"),
        )

    def project(self, n: Node) -> Project:
        return Project(
            id=n.get("ID") or "",
            name=n.get("Name"),
            description=n.child_text("Description"),
            dataset_refs=self._refs(n, "DatasetRef"),
            annotation_refs=self._refs(n, "AnnotationRef"),
        )

    def dataset(self, n: Node) -> Dataset:
        return Dataset(
            id=n.get("ID") or "",
            name=n.get("Name"),
            description=n.child_text("Description"),
            image_refs=self._refs(n, "ImageRef"),
            annotation_refs=self._refs(n, "AnnotationRef"),
        )

    # --- instruments ------------------------------------------------------------------------------------------------

    def instrument(self, n: Node) -> Instrument:
        micro = n.child("Microscope")
        objectives, detectors, lights, filters, dichroics, sets = [], [], [], [], [], []
        for c in n.children:
            if c.local == "Objective":
                objectives.append(self._objective(c))
            elif c.local == "Detector":
                detectors.append(self._detector(c))
            elif c.local in LIGHT_KINDS or c.local == "LightSource":
                lights.append(self._light(c))
            elif c.local == "Filter":
                filters.append(self._filter(c))
            elif c.local == "Dichroic":
                dichroics.append(Dichroic(c.get("ID") or "", c.get("Manufacturer"), c.get("Model")))
            elif c.local == "FilterSet":
                sets.append(c.get("ID") or "")
        return Instrument(
            id=n.get("ID") or "",
            microscope=None
            if micro is None
            else Microscope(
                micro.get("Manufacturer"), micro.get("Model"), micro.get("SerialNumber"), micro.get("Type")
            ),
            objectives=tuple(objectives),
            detectors=tuple(detectors),
            light_sources=tuple(lights),
            filters=tuple(filters),
            dichroics=tuple(dichroics),
            filter_set_ids=tuple(sets),
        )

    def _objective(self, c: Node) -> Objective:
        return Objective(
            id=c.get("ID") or "",
            manufacturer=c.get("Manufacturer"),
            model=c.get("Model"),
            serial_number=c.get("SerialNumber"),
            nominal_magnification=self.float_(c, "NominalMagnification")
            if "NominalMagnification" in c.attrs
            else float_text(c.child_text("NominalMagnification")),
            calibrated_magnification=self.float_(c, "CalibratedMagnification"),
            lens_na=self.float_(c, "LensNA") if "LensNA" in c.attrs else float_text(c.child_text("LensNA")),
            immersion=c.get("Immersion"),
            correction=c.get("Correction"),
            working_distance=self.qty(c, "WorkingDistance", "µm", length=True),
        )

    def _detector(self, c: Node) -> Detector:
        return Detector(
            id=c.get("ID") or "",
            manufacturer=c.get("Manufacturer"),
            model=c.get("Model"),
            serial_number=c.get("SerialNumber"),
            type=c.get("Type"),
            gain=self.float_(c, "Gain"),
            offset=self.float_(c, "Offset"),
            zoom=self.float_(c, "Zoom"),
            voltage=self.qty(c, "Voltage", "V"),
        )

    def _light(self, c: Node) -> LightSource:
        base = c
        if c.local == "LightSource":  # 2003-FC .. 2009-09: <LightSource ...><Laser .../></LightSource>
            inner = next((x for x in c.children if x.local in LIGHT_KINDS), None)
            kind = inner.local if inner is not None else "LightSource"
            merged = dict(c.attrs)
            if inner is not None:
                merged.update(inner.attrs)
            base = Node(kind, c.ns, c.prefix, merged)
        return LightSource(
            id=c.get("ID") or "",
            kind=base.local,
            manufacturer=base.get("Manufacturer"),
            model=base.get("Model"),
            serial_number=base.get("SerialNumber"),
            type=base.get("Type"),
            power=self.qty(base, "Power", "mW"),
            wavelength=self.qty(base, "Wavelength", "nm", length=True),
            laser_medium=base.get("LaserMedium") or base.get("Medium"),
        )

    def _filter(self, c: Node) -> Filter:
        tr = c.child("TransmittanceRange")
        return Filter(
            id=c.get("ID") or "",
            manufacturer=c.get("Manufacturer"),
            model=c.get("Model"),
            type=c.get("Type"),
            filter_wheel=c.get("FilterWheel"),
            cut_in=None if tr is None else self.qty(tr, "CutIn", "nm", length=True),
            cut_out=None if tr is None else self.qty(tr, "CutOut", "nm", length=True),
        )

    # --- images ------------------------------------------------------------------------------------------------------

    def image(self, n: Node, index: int, rois: list[Roi]) -> Image:
        image_id = n.get("ID")
        where = image_id or f"Image #{index}"
        self.require(n, "ID", where=where)
        self.id_format(n, "Image", where)
        pixels_nodes = [c for c in n.children if c.local == "Pixels"]
        if not pixels_nodes:  # 2003-FC keeps Pixels under CustomAttributes
            found = n.find("Pixels", max_depth=3)
            pixels_nodes = [found] if found is not None else []
        pixels_node = pixels_nodes[0] if pixels_nodes else None
        if len(pixels_nodes) > 1:
            # as the 2008-09 -> 2009-09 upgrade: the acquired Pixels, else the default one
            default = n.get("AcquiredPixels") or n.get("DefaultPixels")
            pixels_node = next((p for p in pixels_nodes if p.get("ID") == default), pixels_nodes[0])
            self.log.add(
                "OME_MULTIPLE_PIXELS",
                Severity.INFO,
                f"Image {where} has {len(pixels_nodes)} Pixels elements (pre-2010 schema); "
                f"using {pixels_node.get('ID')}.",
                where=where,
            )
        if pixels_node is None:
            self.log.add(
                "OME_MISSING_ELEMENT",
                Severity.WARNING,
                f"Image {where} has no Pixels element: sizes, type and planes are unknown.",
                remedy="Every Image needs a Pixels element; re-export the metadata.",
                where=where,
            )
        for r in n.iter_children("ROI"):  # 2008-09 and older keep ROIs inside the Image
            rois.append(self.roi(r, image_refs=(image_id or "",)))
        os_node = n.child("ObjectiveSettings")
        date = n.child_text("AcquisitionDate", "AcquiredDate", "CreationDate")
        return Image(
            id=image_id,
            index=index,
            name=n.get("Name"),
            acquisition_date=date or n.get("AcquiredDate") or n.get("CreationDate"),
            description=n.child_text("Description") or n.get("Description"),
            experimenter_ref=_ref_id(n, "ExperimenterRef") or n.get("Experimenter"),
            instrument_ref=_ref_id(n, "InstrumentRef"),
            objective_settings=None
            if os_node is None
            else ObjectiveSettings(
                id=os_node.get("ID") or "",
                medium=os_node.get("Medium"),
                refractive_index=self.float_(os_node, "RefractiveIndex"),
                correction_collar=self.float_(os_node, "CorrectionCollar"),
            ),
            pixels=None if pixels_node is None else self.pixels(pixels_node, n, where),
            roi_refs=self._refs(n, "ROIRef"),
            annotation_refs=self._refs(n, "AnnotationRef"),
        )

    def pixels(self, p: Node, image: Node, where: str) -> Pixels:
        pwhere = f"{where} / Pixels"
        self.require(p, "ID", "DimensionOrder", "SizeX", "SizeY", "SizeZ", "SizeC", "SizeT", where=pwhere)
        if p.get("Type") is None and p.get("PixelType") is None:
            self.require(p, "Type", where=pwhere)
        self.id_format(p, "Pixels", pwhere)
        channel_nodes = [c for c in p.children if c.local == "Channel"]
        if not channel_nodes:  # 2008-09: LogicalChannel in the Image; 2003-FC: ChannelInfo
            channel_nodes = [c for c in image.children if c.local in ("LogicalChannel", "ChannelInfo")]
            if not channel_nodes:
                ca = image.child("CustomAttributes")
                channel_nodes = [] if ca is None else list(ca.iter_children("ChannelInfo", "LogicalChannel"))
        if channel_nodes and channel_nodes[0].local == "LogicalChannel":
            channels = logical_channels(self, channel_nodes, p.get("ID"))
        else:
            channels = tuple(self.channel(c, i) for i, c in enumerate(channel_nodes))
        for c in channel_nodes:
            if c.local == "Channel":
                self.id_format(c, "Channel", f"{where} / {c.get('ID')}")
        planes: list[Plane] = []
        tiffdata: list[TiffData] = []
        bin_count = 0
        for c in p.children:
            if c.local == "Plane":
                planes.append(self.plane(c))
            elif c.local == "TiffData":
                tiffdata.append(self.tiffdata(c, len(tiffdata)))
            elif c.local == "BinData":
                bin_count += 1
        return Pixels(
            id=p.get("ID"),
            dimension_order=p.get("DimensionOrder"),
            type=p.get("Type") or p.get("PixelType"),
            size_x=self.int_(p, "SizeX", size=True),
            size_y=self.int_(p, "SizeY", size=True),
            size_z=self.int_(p, "SizeZ", size=True),
            size_c=self.int_(p, "SizeC", size=True),
            size_t=self.int_(p, "SizeT", size=True),
            physical_size_x=self.qty(p, "PhysicalSizeX", "µm", length=True),
            physical_size_y=self.qty(p, "PhysicalSizeY", "µm", length=True),
            physical_size_z=self.qty(p, "PhysicalSizeZ", "µm", length=True),
            time_increment=self.qty(p, "TimeIncrement", "s"),
            significant_bits=self.int_(p, "SignificantBits"),
            big_endian=self.bool_(p, "BigEndian"),
            interleaved=self.bool_(p, "Interleaved"),
            channels=channels,
            planes=tuple(planes),
            tiffdata=tuple(tiffdata),
            bin_data_count=bin_count,
            metadata_only=p.child("MetadataOnly") is not None,
        )

    def channel(self, c: Node, index: int) -> Channel:
        colour = self.colour(c, "Color")
        ls = c.child("LightSourceSettings", "LightSourceRef")
        det = c.child("DetectorSettings", "DetectorRef")
        excitation = self.qty(c, "ExcitationWavelength", "nm", length=True)
        if excitation is None and c.get("ExWave") is not None:
            excitation = self.qty(c, "ExWave", "nm")
        emission = self.qty(c, "EmissionWavelength", "nm", length=True)
        if emission is None and c.get("EmWave") is not None:
            emission = self.qty(c, "EmWave", "nm")
        return Channel(
            id=c.get("ID"),
            index=index,
            name=c.get("Name"),
            samples_per_pixel=self.int_(c, "SamplesPerPixel"),
            colour=colour if colour is not None else Colour(-1),
            colour_defaulted=colour is None,
            fluor=c.get("Fluor"),
            excitation_wavelength=excitation,
            emission_wavelength=emission,
            acquisition_mode=c.get("AcquisitionMode") or c.get("Mode"),
            illumination_type=c.get("IlluminationType"),
            contrast_method=c.get("ContrastMethod"),
            pinhole_size=self.qty(c, "PinholeSize", "µm", length=True),
            nd_filter=self.float_(c, "NDFilter"),
            detector_ref=None if det is None else det.get("ID"),
            light_source_ref=None if ls is None else ls.get("ID"),
        )

    def plane(self, c: Node) -> Plane:
        a = c.attrs
        t_node = s_node = c
        if c.children:  # 2008-09: <PlaneTiming DeltaT=.../> and <StagePosition PositionX=.../>
            timing, stage = c.child("PlaneTiming"), c.child("StagePosition")
            t_node = timing if timing is not None and "DeltaT" not in a else c
            s_node = stage if stage is not None and "PositionX" not in a else c
        ta, sa = t_node.attrs, s_node.attrs
        return Plane(
            the_z=(self.int_(c, "TheZ") or 0) if "TheZ" in a else 0,
            the_c=(self.int_(c, "TheC") or 0) if "TheC" in a else 0,
            the_t=(self.int_(c, "TheT") or 0) if "TheT" in a else 0,
            delta_t=self.qty(t_node, "DeltaT", "s") if "DeltaT" in ta else None,
            exposure_time=self.qty(t_node, "ExposureTime", "s") if "ExposureTime" in ta else None,
            position_x=self.qty(s_node, "PositionX", "reference frame", length=True)
            if "PositionX" in sa
            else None,
            position_y=self.qty(s_node, "PositionY", "reference frame", length=True)
            if "PositionY" in sa
            else None,
            position_z=self.qty(s_node, "PositionZ", "reference frame", length=True)
            if "PositionZ" in sa
            else None,
        )

    def tiffdata(self, c: Node, index: int) -> TiffData:
        ifd = self.int_(c, "IFD", size=True)
        count = self.int_(c, "PlaneCount", size=True)
        uuid = c.child("UUID")
        return TiffData(
            index=index,
            ifd=ifd or 0,
            plane_count=count if count is not None else (1 if ifd is not None else None),
            first_z=self.int_(c, "FirstZ", size=True) or 0,
            first_c=self.int_(c, "FirstC", size=True) or 0,
            first_t=self.int_(c, "FirstT", size=True) or 0,
            uuid=None if uuid is None else (uuid.text.strip() or None),
            file_name=None if uuid is None else uuid.get("FileName"),
            ifd_given=ifd is not None,
            plane_count_given=count is not None,
        )

    # --- annotations, ROIs, plates -------------------------------------------------------------------------------

    def annotation(self, n: Node) -> Annotation:
        kind = n.local[: -len("Annotation")] if n.local.endswith("Annotation") else n.local
        value_node = n.child("Value")
        value: str | None = None
        pairs: tuple[tuple[str, str], ...] = ()
        if kind == "XML" and value_node is not None:
            value = inner_xml(value_node).strip()
        elif kind == "Map":
            holder = value_node if value_node is not None else n
            pairs = tuple((m.get("K") or "", m.text) for m in holder.iter_children("M"))
        elif value_node is not None:
            value = value_node.text.strip()
        bf = n.child("BinaryFile")
        return Annotation(
            id=n.get("ID"),
            kind=kind,
            namespace=n.get("Namespace"),
            description=n.child_text("Description"),
            annotator=n.get("Annotator"),
            value=value,
            pairs=pairs,
            file_name=None if bf is None else bf.get("FileName"),
            file_size=None if bf is None else self.int_(bf, "Size"),
            mime_type=None if bf is None else bf.get("MIMEType"),
            annotation_refs=self._refs(n, "AnnotationRef"),
        )

    def roi(self, n: Node, image_refs: tuple[str, ...] = ()) -> Roi:
        roi_id = n.get("ID")
        shapes: list[Shape] = []
        unions = list(n.iter_children("Union"))
        outer = [s for u in unions for s in u.children if s.local == "Shape"]
        paths = [s for s in outer if s.child("Path") is not None]
        # 2011-06 and older Path shapes: the official upgrade turns them into Labels when the ROI holds nothing
        # else, and drops them otherwise
        paths_as_labels = bool(paths) and len(paths) == len(outer)
        for union in unions:
            for s in union.children:
                if s.local == "Shape":  # 2008-09 .. 2012-06: geometry in a child of Shape
                    inner = next((x for x in s.children if x.local in SHAPE_KINDS), None)
                    if inner is not None:
                        shapes.append(self.shape(s, inner, roi_id))
                    elif paths_as_labels and (path := s.child("Path")) is not None:
                        shapes.append(self.shape(s, path, roi_id, kind="Label"))
                elif s.local in SHAPE_KINDS:
                    shapes.append(self.shape(s, s, roi_id))
        if paths:
            self.log.add(
                "OME_PATH_SHAPE",
                Severity.INFO,
                f"ROI {roi_id} has {len(paths)} Path shape(s) (removed from the schema in 2012-06): "
                + ("kept as Labels" if paths_as_labels else "dropped")
                + ", as the official schema upgrade does.",
                where=roi_id or "ROI",
            )
        return Roi(
            id=roi_id,
            name=n.get("Name"),
            description=n.child_text("Description"),
            shapes=tuple(shapes),
            annotation_refs=self._refs(n, "AnnotationRef"),
            image_refs=image_refs,
        )

    def shape(self, outer: Node, geo: Node, roi_id: str | None, kind: str | None = None) -> Shape:
        kind = kind or SHAPE_KINDS[geo.local]
        ga, oa = geo.attrs, outer.attrs
        if geo.local == "Polyline" and (ga.get("Closed") or "").lower() == "true":
            kind = "Polygon"
        geometry: dict[str, float | None] = {}
        for name, raw in ga.items():  # only the attributes present: 20 000 polygons stay cheap
            fname = _GEOMETRY.get(name)
            if fname is not None and fname not in geometry:
                try:
                    geometry[fname] = float(raw)
                except ValueError:
                    self._bad(geo, name, raw, "a number")
        points = ga.get("Points")
        text = oa.get("Text") or ga.get("Text") or oa.get("Label")
        if text is None and geo.children:
            text = geo.child_text("Value")
        return Shape(
            id=oa.get("ID"),
            kind=kind,
            roi_id=roi_id,
            the_z=self.int_(outer, "TheZ") if "TheZ" in oa else None,
            the_c=self.int_(outer, "TheC") if "TheC" in oa else None,
            the_t=self.int_(outer, "TheT") if "TheT" in oa else None,
            points=points,
            text=text,
            transform=self._transform(outer, geo)
            if (geo.children or outer is not geo or "Transform" in oa)
            else None,
            fill_colour=self.colour(outer, "FillColor") if "FillColor" in oa else None,
            stroke_colour=self.colour(outer, "StrokeColor") if "StrokeColor" in oa else None,
            stroke_width=self.qty(outer, "StrokeWidth", "pixel") if "StrokeWidth" in oa else None,
            **geometry,  # type: ignore[arg-type]
        )

    def _transform(self, outer: Node, geo: Node) -> tuple[float, float, float, float, float, float] | None:
        t = geo.child("Transform") or outer.child("Transform")
        if t is not None:
            vals = [self.float_(t, k) for k in ("A00", "A10", "A01", "A11", "A02", "A12")]
            if all(v is not None for v in vals):
                return tuple(vals)  # type: ignore[return-value]
            return None
        raw = outer.get("Transform") or geo.get("Transform")  # 2010-06 .. 2012-06: "matrix(a b c d e f)"
        if raw:
            nums = _NUMBER.findall(raw)
            if len(nums) == 6:
                a, b, c, d, e, f = (float(x) for x in nums)
                return a, b, c, d, e, f
        return None

    def plate(self, n: Node) -> Plate:
        wells = []
        for w in n.iter_children("Well"):
            samples = tuple(
                WellSample(
                    id=s.get("ID"),
                    index=self.int_(s, "Index"),
                    image_ref=_ref_id(s, "ImageRef"),
                    position_x=self.qty(s, "PositionX", "reference frame", length=True),
                    position_y=self.qty(s, "PositionY", "reference frame", length=True),
                    timepoint=s.get("Timepoint"),
                )
                for s in w.iter_children("WellSample")
            )
            wells.append(
                Well(
                    id=w.get("ID"),
                    row=self.int_(w, "Row"),
                    column=self.int_(w, "Column"),
                    external_description=w.get("ExternalDescription"),
                    samples=samples,
                )
            )
        return Plate(
            id=n.get("ID"),
            name=n.get("Name"),
            description=n.child_text("Description") or n.get("Description"),
            rows=self.int_(n, "Rows"),
            columns=self.int_(n, "Columns"),
            row_naming=n.get("RowNamingConvention"),
            column_naming=n.get("ColumnNamingConvention"),
            external_identifier=n.get("ExternalIdentifier"),
            wells=tuple(wells),
        )

    @staticmethod
    def binary_only(n: Node) -> BinaryOnly:
        return BinaryOnly(metadata_file=n.get("MetadataFile"), uuid=n.get("UUID"))


LIGHT_KINDS = frozenset({"Laser", "Arc", "Filament", "LightEmittingDiode", "GenericExcitationSource"})

#: shape element local names (every schema) -> the 2016-06 kind
SHAPE_KINDS: dict[str, str] = {
    "Rectangle": "Rectangle",
    "Rect": "Rectangle",
    "Ellipse": "Ellipse",
    "Circle": "Ellipse",
    "Point": "Point",
    "Line": "Line",
    "Polyline": "Polyline",
    "Polygon": "Polygon",
    "Label": "Label",
    "Text": "Label",
    "Mask": "Mask",
}

#: geometry attributes (every schema) -> Shape field
_GEOMETRY: dict[str, str] = {
    "X": "x",
    "Y": "y",
    "Cx": "x",
    "Cy": "y",
    "Width": "width",
    "Height": "height",
    "RadiusX": "radius_x",
    "RadiusY": "radius_y",
    "Rx": "radius_x",
    "Ry": "radius_y",
    "X1": "x1",
    "Y1": "y1",
    "X2": "x2",
    "Y2": "y2",
}

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _ref_id(node: Node, local: str) -> str | None:
    c = node.child(local)
    return None if c is None else c.get("ID")
