"""Instruments of an OME-XML document: microscope, objectives, detectors, light sources, filters, dichroics."""

from __future__ import annotations

from ometiff_helpers.ome.legacy_schema import float_text
from ometiff_helpers.ome.model import (
    Detector,
    Dichroic,
    Filter,
    Instrument,
    LightSource,
    Microscope,
    Objective,
)
from ometiff_helpers.ome.values import ValueReader
from ometiff_helpers.ome.xmlnode import Node

LIGHT_KINDS = frozenset({"Laser", "Arc", "Filament", "LightEmittingDiode", "GenericExcitationSource"})


class InstrumentBuilder(ValueReader):
    """Records of an Instrument and its parts."""

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
