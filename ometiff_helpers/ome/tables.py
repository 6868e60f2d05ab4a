"""Plain row tables of an ``OmeDocument`` (stable column order, names a curator understands) and the physical extent
of an image. No pandas here: ``display`` wraps the rows in DataFrames. The TiffData plane mapping (z, c, t -> IFD)
joins the OME-XML with the TIFF: it is ``ometiff.plane_mapping``."""

from __future__ import annotations

from typing import Any

from ometiff_helpers.ome.model import Colour, Image, OmeDocument, Pixels
from ometiff_helpers.ome.units import Quantity

Row = dict[str, Any]

#: longest text kept in a table cell (the records keep everything)
CELL_CHARS = 500

__all__ = ["COLUMNS", "physical_extent_um", "tables"]


def _q(q: Quantity | None) -> tuple[float | None, str | None]:
    return (None, None) if q is None else (q.value, q.unit)


def _um(q: Quantity | None) -> float | None:
    return None if q is None else q.to_um()


def _cell(text: str | None) -> str | None:
    if text is None or len(text) <= CELL_CHARS:
        return text
    return text[: CELL_CHARS - 1] + "…"


def _hex(c: Colour | None) -> str | None:
    return None if c is None else c.hex


# --- physical extent ------------------------------------------------------------------------------------------


def physical_extent_um(pixels: Pixels) -> tuple[float | None, float | None, float | None]:
    """(X, Y, Z) extent of the image in micrometres: size x physical size; None when unknown or not a length."""

    def one(size: int | None, q: Quantity | None) -> float | None:
        um = _um(q)
        return None if size is None or um is None else size * um

    return (
        one(pixels.size_x, pixels.physical_size_x),
        one(pixels.size_y, pixels.physical_size_y),
        one(pixels.size_z, pixels.physical_size_z),
    )


# --- tables ---------------------------------------------------------------------------------------------------------

COLUMNS: dict[str, tuple[str, ...]] = {
    "images": (
        "Image #", "Image ID", "Name", "Acquisition date", "Description", "Experimenter", "Instrument",
        "Objective", "Medium", "Refractive index", "ROIs", "Annotations",
    ),
    "pixels": (
        "Image ID", "Pixels ID", "Type", "Dimension order", "Size X", "Size Y", "Size Z", "Size C", "Size T",
        "Physical size X", "Unit X", "Physical size Y", "Unit Y", "Physical size Z", "Unit Z",
        "Time increment", "Time unit", "Significant bits", "Big endian", "Interleaved",
        "Width (µm)", "Height (µm)", "Depth (µm)", "Channels", "Planes", "TiffData", "BinData", "Metadata only",
    ),
    "channels": (
        "Image ID", "Channel #", "Channel ID", "Name", "Samples per pixel", "Colour (hex)", "Alpha",
        "Colour (int)", "Colour given", "Fluor", "Excitation", "Excitation unit", "Emission", "Emission unit",
        "Acquisition mode", "Illumination", "Contrast method", "Detector", "Light source",
    ),
    "planes": (
        "Image ID", "Z", "C", "T", "Delta T", "Delta T unit", "Exposure time", "Exposure unit",
        "Position X", "Position X unit", "Position Y", "Position Y unit", "Position Z", "Position Z unit",
    ),
    "tiffdata": (
        "Image ID", "TiffData #", "IFD", "Plane count", "First Z", "First C", "First T", "IFD given",
        "Plane count given", "File name", "UUID",
    ),
    "instruments": (
        "Instrument ID", "Component", "ID", "Manufacturer", "Model", "Serial number", "Type",
        "Magnification", "NA", "Immersion", "Wavelength", "Wavelength unit", "Power", "Power unit",
    ),
    "annotations": (
        "Annotation ID", "Kind", "Namespace", "Value", "Keys and values", "File name", "Description",
        "Annotates", "Refers to",
    ),
    "rois": ("ROI ID", "Name", "Description", "Shapes", "Shape kinds", "Images", "Annotations"),
    "shapes": (
        "ROI ID", "Shape ID", "Kind", "Z", "C", "T", "X", "Y", "Width", "Height", "Radius X", "Radius Y",
        "X1", "Y1", "X2", "Y2", "Points", "Point count", "Text", "Transform", "Fill (hex)", "Stroke (hex)",
    ),
    "plates": (
        "Plate ID", "Name", "Rows", "Columns", "Row naming", "Column naming", "Wells", "Well samples",
        "External identifier",
    ),
    "wells": (
        "Plate ID", "Well ID", "Row", "Column", "Well sample ID", "Index", "Image ID", "Position X",
        "Position Y", "Position unit", "Timepoint",
    ),
    "people": ("Kind", "ID", "Name", "Email", "Institution", "User name", "Description", "Members"),
}  # fmt: skip


def _row(table: str, *values: Any) -> Row:
    cols = COLUMNS[table]
    assert len(cols) == len(values), (table, len(cols), len(values))
    return dict(zip(cols, values, strict=True))


def tables(doc: OmeDocument) -> dict[str, list[Row]]:
    """Every part of ``doc`` as rows of plain values, keyed by table name (see ``COLUMNS`` for each order)."""
    out: dict[str, list[Row]] = {name: [] for name in COLUMNS}
    for im in doc.images:
        _image_rows(im, out)
    for inst in doc.instruments:
        _instrument_rows(inst, out["instruments"])
    for a in doc.annotations:
        pairs = "; ".join(f"{k}={v}" for k, v in a.pairs) if a.pairs else None
        out["annotations"].append(
            _row(
                "annotations", a.id, a.kind, a.namespace, _cell(a.value), _cell(pairs), a.file_name,
                _cell(a.description), ", ".join(a.annotates) or None, ", ".join(a.annotation_refs) or None,
            )
        )  # fmt: skip
    for r in doc.rois:
        kinds = sorted({s.kind for s in r.shapes})
        out["rois"].append(
            _row(
                "rois", r.id, r.name, _cell(r.description), len(r.shapes), ", ".join(kinds),
                ", ".join(r.image_refs) or None, ", ".join(r.annotation_refs) or None,
            )
        )  # fmt: skip
        for s in r.shapes:
            out["shapes"].append(
                _row(
                    "shapes", r.id, s.id, s.kind, s.the_z, s.the_c, s.the_t, s.x, s.y, s.width, s.height,
                    s.radius_x, s.radius_y, s.x1, s.y1, s.x2, s.y2, _cell(s.points), s.point_count, s.text,
                    None if s.transform is None else " ".join(f"{v:g}" for v in s.transform),
                    _hex(s.fill_colour), _hex(s.stroke_colour),
                )
            )  # fmt: skip
    for p in doc.plates:
        out["plates"].append(
            _row(
                "plates", p.id, p.name, p.rows, p.columns, p.row_naming, p.column_naming, len(p.wells),
                sum(len(w.samples) for w in p.wells), p.external_identifier,
            )
        )  # fmt: skip
        for w in p.wells:
            for ws in w.samples or (None,):
                px, py = (ws.position_x, ws.position_y) if ws is not None else (None, None)
                out["wells"].append(
                    _row(
                        "wells", p.id, w.id, w.row, w.column, None if ws is None else ws.id,
                        None if ws is None else ws.index, None if ws is None else ws.image_ref,
                        _q(px)[0], _q(py)[0], (px or py).unit if (px or py) else None,
                        None if ws is None else ws.timepoint,
                    )
                )  # fmt: skip
    people = out["people"]
    for e in doc.experimenters:
        name = " ".join(x for x in (e.first_name, e.last_name) if x) or None
        people.append(
            _row("people", "Experimenter", e.id, name, e.email, e.institution, e.user_name, None, None)
        )
    for g in doc.groups:
        members = ", ".join(g.experimenter_refs) or None
        people.append(_row("people", "Group", g.id, g.name, None, None, None, _cell(g.description), members))
    for pr in doc.projects:
        members = ", ".join(pr.dataset_refs) or None
        people.append(
            _row("people", "Project", pr.id, pr.name, None, None, None, _cell(pr.description), members)
        )
    for d in doc.datasets:
        members = ", ".join(d.image_refs) or None
        people.append(
            _row("people", "Dataset", d.id, d.name, None, None, None, _cell(d.description), members)
        )
    return out


def _image_rows(im: Image, out: dict[str, list[Row]]) -> None:
    """The rows of one Image: images, pixels, channels, planes, tiffdata."""
    os_ = im.objective_settings
    out["images"].append(
        _row(
            "images", im.index, im.id, im.name, im.acquisition_date, _cell(im.description), im.experimenter_ref,
            im.instrument_ref, None if os_ is None else os_.id, None if os_ is None else os_.medium,
            None if os_ is None else os_.refractive_index, len(im.roi_refs), len(im.annotation_refs),
        )
    )  # fmt: skip
    p = im.pixels
    if p is None:
        return
    ext = physical_extent_um(p)
    out["pixels"].append(
        _row(
            "pixels", im.id, p.id, p.type, p.dimension_order, p.size_x, p.size_y, p.size_z, p.size_c, p.size_t,
            *_q(p.physical_size_x), *_q(p.physical_size_y), *_q(p.physical_size_z), *_q(p.time_increment),
            p.significant_bits, p.big_endian, p.interleaved, *ext, len(p.channels), len(p.planes),
            len(p.tiffdata), p.bin_data_count, p.metadata_only,
        )
    )  # fmt: skip
    for ch in p.channels:
        col = ch.colour
        out["channels"].append(
            _row(
                "channels", im.id, ch.index, ch.id, ch.name, ch.samples_per_pixel, _hex(col),
                None if col is None else col.alpha, None if col is None else col.signed, not ch.colour_defaulted,
                ch.fluor, *_q(ch.excitation_wavelength), *_q(ch.emission_wavelength), ch.acquisition_mode,
                ch.illumination_type, ch.contrast_method, ch.detector_ref, ch.light_source_ref,
            )
        )  # fmt: skip
    for pl in p.planes:
        out["planes"].append(
            _row(
                "planes", im.id, pl.the_z, pl.the_c, pl.the_t, *_q(pl.delta_t), *_q(pl.exposure_time),
                *_q(pl.position_x), *_q(pl.position_y), *_q(pl.position_z),
            )
        )  # fmt: skip
    for td in p.tiffdata:
        out["tiffdata"].append(
            _row(
                "tiffdata", im.id, td.index, td.ifd, td.plane_count, td.first_z, td.first_c, td.first_t,
                td.ifd_given, td.plane_count_given, td.file_name, td.uuid,
            )
        )  # fmt: skip


def _instrument_rows(inst: Any, rows: list[Row]) -> None:
    def add(component: str, ident: str | None, obj: Any, **kw: Any) -> None:
        rows.append(
            _row(
                "instruments", inst.id, component, ident, getattr(obj, "manufacturer", None),
                getattr(obj, "model", None), getattr(obj, "serial_number", None), getattr(obj, "type", None),
                kw.get("mag"), kw.get("na"), kw.get("immersion"), *_q(kw.get("wavelength")), *_q(kw.get("power")),
            )
        )  # fmt: skip

    if inst.microscope is not None:
        add("Microscope", None, inst.microscope)
    for o in inst.objectives:
        add("Objective", o.id, o, mag=o.nominal_magnification, na=o.lens_na, immersion=o.immersion)
    for d in inst.detectors:
        add("Detector", d.id, d)
    for ls in inst.light_sources:
        add(f"Light source ({ls.kind})", ls.id, ls, wavelength=ls.wavelength, power=ls.power)
    for f in inst.filters:
        add("Filter", f.id, f)
    for d in inst.dichroics:
        add("Dichroic", d.id, d)
