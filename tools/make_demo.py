"""Write the bundled demo OME-TIFF: ometiff_helpers/data/demo.ome.tif.

A small file shaped like the portal's real ones: a pyramidal (SubIFD) big-endian BigTIFF with 4 channels, 512 px
tiles, Deflate, physical sizes, an instrument, structured annotations and ROIs. The output is byte-for-byte
deterministic. Needs tifffile and numpy (the `test` extra):

    .venv/bin/python tools/make_demo.py
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tifffile

OUT = Path(__file__).resolve().parents[1] / "ometiff_helpers" / "data" / "demo.ome.tif"

SIZE_X, SIZE_Y = 2048, 1536
LEVELS = 4  # full resolution + 3 SubIFD levels, each exactly half the previous one
TILE = 512
CHANNELS = [
    # name, fluor, colour (signed 32-bit RGBA), excitation nm, emission nm
    ("DAPI", "DAPI", 0x0000FFFF, 358, 461),
    ("CD31", "Alexa Fluor 488", 0x00FF00FF, 495, 519),
    ("Ki-67", "Alexa Fluor 555", -16776961, 555, 565),  # 0xFF0000FF
    ("Pan-cytokeratin", "Alexa Fluor 647", -65281, 650, 665),  # 0xFFFF00FF
]
PHYSICAL_SIZE = 0.325  # µm per pixel


def _signed(rgba: int) -> int:
    return rgba - (1 << 32) if rgba >= 1 << 31 else rgba


def _channel_plane(index: int) -> np.ndarray:
    """A smooth synthetic image: a few Gaussian blobs per channel, quantised so that Deflate packs it well."""
    rng = np.random.default_rng(seed=1234 + index)
    y, x = np.mgrid[0:SIZE_Y:4, 0:SIZE_X:4].astype(np.float32)
    img = np.zeros_like(x)
    for _ in range(12):
        cy, cx = rng.uniform(0, SIZE_Y), rng.uniform(0, SIZE_X)
        sigma = rng.uniform(40, 160)
        img += rng.uniform(0.3, 1.0) * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2))
    img = np.round(img / img.max() * 40) * 1000  # 41 grey levels up to 40 000
    full = np.kron(img, np.ones((4, 4), dtype=np.float32))
    return full.astype(np.uint16)


def _levels(plane: np.ndarray) -> list[np.ndarray]:
    levels = [plane]
    for _ in range(1, LEVELS):
        prev = levels[-1]
        levels.append(prev[::2, ::2].copy())
    return levels


def _ome_xml() -> str:
    channels = "\n".join(
        f'      <Channel ID="Channel:0:{i}" Name="{name}" Fluor="{fluor}" Color="{_signed(color)}" '
        f'SamplesPerPixel="1" ExcitationWavelength="{ex}" ExcitationWavelengthUnit="nm" '
        f'EmissionWavelength="{em}" EmissionWavelengthUnit="nm" IlluminationType="Epifluorescence" '
        f'AcquisitionMode="WideField" ContrastMethod="Fluorescence">\n'
        f'        <DetectorSettings ID="Detector:0:0" Binning="1x1"/>\n'
        f"        <LightPath/>\n"
        f"      </Channel>"
        for i, (name, fluor, color, ex, em) in enumerate(CHANNELS)
    )
    tiffdata = "\n".join(
        f'      <TiffData FirstC="{i}" FirstT="0" FirstZ="0" IFD="{i}" PlaneCount="1"/>'
        for i in range(len(CHANNELS))
    )
    planes = "\n".join(
        f'      <Plane TheC="{i}" TheT="0" TheZ="0" DeltaT="0.0" DeltaTUnit="s" ExposureTime="{e}" '
        f'ExposureTimeUnit="ms" PositionX="12500.0" PositionXUnit="µm" PositionY="8300.0" PositionYUnit="µm" '
        f'PositionZ="0.0" PositionZUnit="µm"/>'
        for i, e in enumerate((20.0, 150.0, 300.0, 300.0))
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
     xsi:schemaLocation="http://www.openmicroscopy.org/Schemas/OME/2016-06 http://www.openmicroscopy.org/Schemas/OME/2016-06/ome.xsd"
     Creator="ometiff-inspect demo (tools/make_demo.py)"
     UUID="urn:uuid:6b1f6b4e-3c1a-4d8e-9a57-0d3e1c2b9f10">
  <Experimenter ID="Experimenter:0" FirstName="Ada" LastName="Curator" Email="curator@example.org"/>
  <Instrument ID="Instrument:0">
    <Microscope Manufacturer="Example Optics" Model="Demo Scope 3000" Type="Inverted"/>
    <Laser ID="LightSource:0:0" Manufacturer="Example Lasers" Model="L405" Wavelength="405"
           WavelengthUnit="nm" Type="Semiconductor" LaserMedium="Other"/>
    <Laser ID="LightSource:0:1" Manufacturer="Example Lasers" Model="L488" Wavelength="488"
           WavelengthUnit="nm" Type="SolidState"/>
    <Detector ID="Detector:0:0" Manufacturer="Example Cameras" Model="sCMOS 4.2" Type="CMOS" Gain="1.0"/>
    <Objective ID="Objective:0:0" Manufacturer="Example Optics" Model="Plan Apo 20x" NominalMagnification="20.0"
               LensNA="0.8" Immersion="Air" Correction="PlanApo" WorkingDistance="550" WorkingDistanceUnit="µm"/>
    <FilterSet ID="FilterSet:0:0" Model="Quad band"/>
    <Filter ID="Filter:0:0" Model="BP 460/50" Type="BandPass"/>
    <Dichroic ID="Dichroic:0:0" Model="Quad 405/488/555/647"/>
  </Instrument>
  <Image ID="Image:0" Name="demo tissue section">
    <AcquisitionDate>2026-01-15T10:30:00</AcquisitionDate>
    <ExperimenterRef ID="Experimenter:0"/>
    <Description>Synthetic 4-channel immunofluorescence image bundled with ometiff-inspect.</Description>
    <InstrumentRef ID="Instrument:0"/>
    <ObjectiveSettings ID="Objective:0:0" Medium="Air"/>
    <Pixels ID="Pixels:0" DimensionOrder="XYCZT" Type="uint16" SignificantBits="16" BigEndian="true"
            Interleaved="false" SizeX="{SIZE_X}" SizeY="{SIZE_Y}" SizeC="{len(CHANNELS)}" SizeZ="1" SizeT="1"
            PhysicalSizeX="{PHYSICAL_SIZE}" PhysicalSizeXUnit="µm" PhysicalSizeY="{PHYSICAL_SIZE}"
            PhysicalSizeYUnit="µm">
{channels}
{tiffdata}
{planes}
    </Pixels>
    <ROIRef ID="ROI:0"/>
    <ROIRef ID="ROI:1"/>
    <ROIRef ID="ROI:2"/>
    <AnnotationRef ID="Annotation:0"/>
    <AnnotationRef ID="Annotation:1"/>
    <AnnotationRef ID="Annotation:3"/>
  </Image>
  <StructuredAnnotations>
    <MapAnnotation ID="Annotation:0" Namespace="openmicroscopy.org/omero/client/mapAnnotation">
      <Value>
        <M K="Tissue">Human tonsil</M>
        <M K="Stain panel">DAPI / CD31 / Ki-67 / Pan-cytokeratin</M>
        <M K="Section thickness">5 µm</M>
      </Value>
    </MapAnnotation>
    <CommentAnnotation ID="Annotation:1" Namespace="example.org/demo/notes">
      <Value>Region 2 is slightly out of focus.</Value>
    </CommentAnnotation>
    <XMLAnnotation ID="Annotation:2" Namespace="example.org/demo/acquisition">
      <Value>
        <AcquisitionSettings xmlns="http://example.org/demo">
          <ScanSpeed unit="mm/s">1.5</ScanSpeed>
          <Autofocus>true</Autofocus>
        </AcquisitionSettings>
      </Value>
    </XMLAnnotation>
    <LongAnnotation ID="Annotation:3" Namespace="example.org/demo/cells">
      <Value>18342</Value>
    </LongAnnotation>
    <TagAnnotation ID="Annotation:4">
      <Value>demo</Value>
    </TagAnnotation>
  </StructuredAnnotations>
  <ROI ID="ROI:0" Name="Germinal centre">
    <Union>
      <Ellipse ID="Shape:0:0" X="700" Y="520" RadiusX="260" RadiusY="190" TheC="2" StrokeColor="-16776961"
               Text="germinal centre"/>
    </Union>
  </ROI>
  <ROI ID="ROI:1" Name="Epithelium">
    <Union>
      <Polygon ID="Shape:1:0" Points="1300,200 1800,260 1900,700 1500,900 1250,620" TheC="3"/>
      <Label ID="Shape:1:1" X="1500" Y="180" Text="epithelium"/>
    </Union>
  </ROI>
  <ROI ID="ROI:2" Name="Scan region">
    <Union>
      <Rectangle ID="Shape:2:0" X="100" Y="100" Width="1848" Height="1336"/>
      <Point ID="Shape:2:1" X="1024" Y="768" Text="centre"/>
      <Line ID="Shape:2:2" X1="100" Y1="1500" X2="715" Y2="1500" Text="200 µm"/>
    </Union>
  </ROI>
</OME>
"""


@contextlib.contextmanager
def _python_zlib() -> Iterator[None]:
    """Compress with tifffile's Python-zlib fallback even when imagecodecs is installed (tifffile then prefers
    libdeflate, whose bytes differ), so that the demo's bytes do not depend on the installed extras."""
    from tifffile import _imagecodecs

    codecs = tifffile.TIFF.COMPRESSORS._codecs
    saved = {code: codecs.get(code) for code in (8, 32946)}
    for code in saved:
        codecs[code] = _imagecodecs.zlib_encode
    try:
        yield
    finally:
        for code, codec in saved.items():
            if codec is None:
                codecs.pop(code, None)
            else:
                codecs[code] = codec


def main() -> int:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    xml = _ome_xml()
    with _python_zlib(), tifftile_writer(OUT) as tif:
        for c in range(len(CHANNELS)):
            levels = _levels(_channel_plane(c))
            options = {
                "tile": (TILE, TILE),
                "compression": "zlib",
                "photometric": "minisblack",
                "metadata": None,
                "software": "ometiff-inspect demo",
                "datetime": False,
            }
            tif.write(
                levels[0], subifds=LEVELS - 1, description=xml.encode("utf-8") if c == 0 else None, **options
            )
            for level in levels[1:]:
                tif.write(level, subfiletype=1, **options)
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")
    return 0


def tifftile_writer(path: Path) -> tifffile.TiffWriter:
    return tifffile.TiffWriter(path, bigtiff=True, byteorder=">")


if __name__ == "__main__":
    sys.exit(main())
