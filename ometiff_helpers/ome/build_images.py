"""Images of an OME-XML document: Image, Pixels, Channels, Planes, TiffData (older spellings mapped here)."""

from __future__ import annotations

from ometiff_helpers.findings import Severity
from ometiff_helpers.ome.build_rois import RoiBuilder
from ometiff_helpers.ome.legacy_schema import logical_channels
from ometiff_helpers.ome.model import (
    Channel,
    Colour,
    Image,
    ObjectiveSettings,
    Pixels,
    Plane,
    Roi,
    TiffData,
)
from ometiff_helpers.ome.xmlnode import Node, ref_id


class ImageBuilder(RoiBuilder):
    """Records of an Image and its Pixels (an old schema's ROIs inside the Image too)."""

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
            experimenter_ref=ref_id(n, "ExperimenterRef") or n.get("Experimenter"),
            instrument_ref=ref_id(n, "InstrumentRef"),
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
