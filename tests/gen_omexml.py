"""Generate large, valid (2016-06) synthetic OME-XML: many polygon ROIs, planes, TiffData and annotations.

Used by the tests (small sizes) and by ``benchmarks/bench_omexml.py`` (25 MB with 20 000 polygon ROIs).
Run as a script to write a file: ``python tests/gen_omexml.py out.ome.xml --rois 20000 --mb 25``.
"""

from __future__ import annotations

import argparse
import random
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


@dataclass(frozen=True)
class Spec:
    rois: int = 20_000
    target_bytes: int | None = 25 * 1024 * 1024  # pad polygons until about this size (None: fixed 40 points)
    size_z: int = 10
    size_c: int = 4
    size_t: int = 5
    map_annotations: int = 200
    seed: int = 1


def _points_per_polygon(spec: Spec) -> int:
    if spec.target_bytes is None:
        return 40
    fixed = 2_000 + spec.size_z * spec.size_c * spec.size_t * 260 + spec.map_annotations * 180
    per_roi = max(150, (spec.target_bytes - fixed) // max(1, spec.rois))
    return max(3, (per_roi - 150) // 16)


def generate(spec: Spec = Spec()) -> bytes:
    """The XML as UTF-8 bytes (deterministic for a given spec)."""
    rnd = random.Random(spec.seed)
    n_points = _points_per_polygon(spec)
    ruuid = uuidlib.UUID(int=rnd.getrandbits(128))
    out: list[str] = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<OME xmlns="{NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" Creator="gen_omexml.py" '
        f'UUID="urn:uuid:{ruuid}">\n',
        '  <Instrument ID="Instrument:0"><Microscope Manufacturer="Synth" Model="S1"/>'
        '<Laser ID="LightSource:0" Wavelength="488" WavelengthUnit="nm" Power="20" PowerUnit="mW"/>'
        '<Objective ID="Objective:0" NominalMagnification="40" LensNA="1.3" Immersion="Oil"/></Instrument>\n',
        '  <Image ID="Image:0" Name="synthetic µ-image">\n',
        "    <AcquisitionDate>2024-01-02T03:04:05</AcquisitionDate>\n",
        '    <InstrumentRef ID="Instrument:0"/><ObjectiveSettings ID="Objective:0" Medium="Oil"/>\n',
        f'    <Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint16" SizeX="4096" SizeY="3072" '
        f'SizeZ="{spec.size_z}" SizeC="{spec.size_c}" SizeT="{spec.size_t}" PhysicalSizeX="0.325" '
        f'PhysicalSizeXUnit="µm" PhysicalSizeY="0.325" PhysicalSizeYUnit="µm" PhysicalSizeZ="1.5" '
        f'PhysicalSizeZUnit="µm" TimeIncrement="30" TimeIncrementUnit="s" SignificantBits="12">\n',
    ]
    colours = [-16776961, 16711935, 65535, -1]
    for c in range(spec.size_c):
        out.append(
            f'      <Channel ID="Channel:0:{c}" Name="Ch{c}" SamplesPerPixel="1" Color="{colours[c % 4]}" '
            f'ExcitationWavelength="{405 + 80 * c}" ExcitationWavelengthUnit="nm"><LightPath/></Channel>\n'
        )
    ifd = 0
    for t in range(spec.size_t):
        for c in range(spec.size_c):
            for z in range(spec.size_z):
                out.append(
                    f'      <TiffData FirstZ="{z}" FirstC="{c}" FirstT="{t}" IFD="{ifd}" PlaneCount="1">'
                    f'<UUID FileName="synthetic.ome.tif">urn:uuid:{ruuid}</UUID></TiffData>\n'
                )
                ifd += 1
    for t in range(spec.size_t):
        for c in range(spec.size_c):
            for z in range(spec.size_z):
                out.append(
                    f'      <Plane TheZ="{z}" TheC="{c}" TheT="{t}" DeltaT="{t * 30.0}" DeltaTUnit="s" '
                    f'ExposureTime="12.5" ExposureTimeUnit="ms" PositionX="1.0" PositionXUnit="mm"/>\n'
                )
    out.append("    </Pixels>\n")
    for i in range(spec.rois):
        out.append(f'    <ROIRef ID="ROI:{i}"/>\n')
    for i in range(spec.map_annotations):
        out.append(f'    <AnnotationRef ID="Annotation:{i}"/>\n')
    out.append("  </Image>\n")
    out.append("  <StructuredAnnotations>\n")
    for i in range(spec.map_annotations):
        out.append(
            f'    <MapAnnotation ID="Annotation:{i}" Namespace="openmicroscopy.org/omero/client/mapAnnotation">'
            f'<Value><M K="cell line">HeLa {i}</M><M K="treatment">{quoteattr("a&b <" + str(i) + ">")[1:-1]}</M>'
            "</Value></MapAnnotation>\n"
        )
    out.append("  </StructuredAnnotations>\n")
    for i in range(spec.rois):
        cx, cy = rnd.uniform(100, 3900), rnd.uniform(100, 2900)
        pts = " ".join(
            f"{cx + rnd.uniform(-60, 60):.2f},{cy + rnd.uniform(-60, 60):.2f}" for _ in range(n_points)
        )
        out.append(
            f'  <ROI ID="ROI:{i}" Name="cell {i}"><Union><Polygon ID="Shape:{i}" TheZ="{i % spec.size_z}" '
            f'TheC="0" TheT="0" StrokeColor="-16776961" Points="{pts}"/></Union></ROI>\n'
        )
    out.append("</OME>\n")
    return "".join(out).encode("utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", type=Path)
    ap.add_argument("--rois", type=int, default=20_000)
    ap.add_argument("--mb", type=float, default=25.0)
    args = ap.parse_args()
    data = generate(Spec(rois=args.rois, target_bytes=int(args.mb * 1024 * 1024)))
    args.out.write_bytes(data)


if __name__ == "__main__":
    main()
