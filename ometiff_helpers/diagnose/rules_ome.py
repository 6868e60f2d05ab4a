"""Rules on the OME-XML and its agreement with the TIFF structure."""

from __future__ import annotations

from collections import Counter

from ometiff_helpers.diagnose.check_input import OME_TYPES, CheckInput, finding, listing
from ometiff_helpers.diagnose.viewer import levels_from_ifd_numbers_text
from ometiff_helpers.findings import Finding, Severity
from ometiff_helpers.ome.units import is_schema_length_unit, length_to_um, normalise_unit
from ometiff_helpers.ometiff import DIMENSION_ORDERS, MAPPING_ROWS_SHOWN
from ometiff_helpers.tiff.codes import Photometric, PlanarConfig, SampleFormat

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO  # noqa: E741

_RECONVERT = "re-convert with bioformats2raw + raw2ometiff (default options, not --legacy)"
#: OME Type -> (BitsPerSample, SampleFormat)
TYPE_LAYOUT: dict[str, tuple[int, int]] = {
    "int8": (8, SampleFormat.INT), "int16": (16, SampleFormat.INT), "int32": (32, SampleFormat.INT),
    "uint8": (8, SampleFormat.UINT), "uint16": (16, SampleFormat.UINT), "uint32": (32, SampleFormat.UINT),
    "float": (32, SampleFormat.IEEEFP), "double": (64, SampleFormat.IEEEFP), "bit": (1, SampleFormat.UINT),
    "complex": (64, SampleFormat.COMPLEXIEEEFP), "double-complex": (128, SampleFormat.COMPLEXIEEEFP),
}  # fmt: skip
#: the viewer shows at most this many channels at once
VIEWER_MAX_CHANNELS = 10
#: GPU/browser memory for the lowest level of all shown channels: warning above
BROWSER_MEMORY_LIMIT = 512 * 1024 * 1024
HUGE_XML_WARNING = 10 * 1024 * 1024
HUGE_XML_INFO = 1024 * 1024
_MASK_WORDS = ("mask", "segment", "label", "cells", "nuclei", "cell_", "nucleus", "boundar")


def check_not_ome(inp: CheckInput) -> list[Finding]:
    """NOT_OME: IFD 0 carries no usable OME-XML (ImageJ, plain TIFF, other XML, invalid XML)."""
    if inp.ome is not None or inp.ifd0 is None:
        return []
    kind = inp.ome_error_kind or "unknown"
    later = [
        ifd.path
        for ifd in inp.tiff.ifds[1:]
        if (t := ifd.tag(270)) is not None and isinstance(t.value, str) and "<OME" in t.value[:4096]
    ]
    where = (
        f" OME-XML was found in {listing(later)} instead: the spec and the viewer read IFD 0 only."
        if later
        else ""
    )
    reason = inp.ome_error or "IFD 0's ImageDescription holds no OME-XML"
    return [finding(
        "NOT_OME", E,
        f"not an OME-TIFF ({kind}): {reason}.{where} This verdict is about the OME-TIFF route (the portal's, and "
        f"Avivator's for a URL containing 'ome.tif'): {inp.viewer}'s loadOmeTiff fails reading the OME-XML "
        "(\"Cannot read properties of undefined\" / \"of null\"). Avivator opens a URL without 'ome.tif' as plain "
        "TIFFs instead, one channel per IFD, without names or physical sizes.",
        "Convert to OME-TIFF: bioformats2raw + raw2ometiff, or tifffile.imwrite(..., ome=True) for small files.",
        "IFD 0")]  # fmt: skip


def check_multi_file(inp: CheckInput) -> list[Finding]:
    """MULTI_FILE: a BinaryOnly stub or TiffData pointing at other files; the viewer reads one file only."""
    ome = inp.ome
    if ome is None:
        return []
    if ome.binary_only is not None:
        return [finding(
            "MULTI_FILE", E,
            f"the OME-XML is a BinaryOnly stub pointing at {ome.binary_only.metadata_file!r}; the viewer does "
            "not fetch companion files.",
            "Combine the set into one OME-TIFF (bioformats2raw + raw2ometiff on the companion file).", "IFD 0")]  # fmt: skip
    px = inp.pixels
    if px is None:
        return []
    others = sorted({
        td.file_name or td.uuid or "?"
        for td in px.tiffdata
        if (td.file_name and td.file_name != inp.url_name) or (td.uuid and ome.uuid and td.uuid != ome.uuid)
    })  # fmt: skip
    if not others:
        return []
    return [finding(
        "MULTI_FILE", E,
        f"TiffData elements refer to {len(others)} other file(s): {listing(others)}; this is part of a "
        "multi-file OME-TIFF and the viewer shows only the planes stored in this file (\"No image at index N\").",
        "Combine the set into one OME-TIFF (bfconvert or bioformats2raw + raw2ometiff).", "Pixels")]  # fmt: skip


def check_viv_schema(inp: CheckInput) -> list[Finding]:
    """VIV_SCHEMA: XML the viewer's schema rejects (missing IDs, no Channel, Type/DimensionOrder/units off-enum)."""
    image, px = inp.image, inp.pixels
    if image is None or px is None:
        if inp.ome is not None and not inp.ome.images and inp.ome.binary_only is None:
            return [finding("VIV_SCHEMA", E, "the OME-XML has no Image element; the viewer has nothing to show.",
                            "Re-export the metadata with the Image.", "OME")]  # fmt: skip
        return []
    problems: list[str] = []
    if not image.id:
        problems.append("Image has no ID")
    if not px.id:
        problems.append("Pixels has no ID")
    if not px.channels:
        problems.append("Pixels has no Channel element")
    if px.type not in OME_TYPES:
        problems.append(f"Type {px.type!r} is not an OME pixel type")
    if px.dimension_order not in DIMENSION_ORDERS:
        problems.append(f"DimensionOrder {px.dimension_order!r} is not one of {', '.join(DIMENSION_ORDERS)}")
    for name in ("physical_size_x", "physical_size_y", "physical_size_z"):
        q = getattr(px, name)
        if q is not None and not q.unit_defaulted and not is_schema_length_unit(q.unit):
            attr = "PhysicalSize" + name[-1].upper() + "Unit"
            problems.append(f"{attr} {q.unit!r} is not a schema unit (expected {normalise_unit(q.unit)!r})")
    if not problems:
        return []
    return [finding(
        "VIV_SCHEMA", E,
        f"the viewer's OME-XML schema rejects this file: {'; '.join(problems)}.",
        "Fix the XML (add the IDs and a Channel per channel, spell units as the schema does, e.g. 'µm'); "
        "tiffcomment or bfconvert can rewrite the description.", image.id or "Image:0")]  # fmt: skip


def check_pixel_type(inp: CheckInput) -> list[Finding]:
    """PIXEL_TYPE: types the viewer cannot show (bit, complex) or shows lossily (double)."""
    px = inp.pixels
    if px is None or px.type is None:
        return []
    if px.type in ("bit", "complex", "double-complex"):
        return [finding("PIXEL_TYPE", E,
                        f"Pixels Type is {px.type!r}, which the viewer cannot show.",
                        "Convert the pixels to uint8/uint16/float before tiling.", px.id or "Pixels")]  # fmt: skip
    if px.type == "double":
        return [finding("PIXEL_TYPE", W,
                        "Pixels Type is 'double' (float64): the viewer converts it to float32, losing precision "
                        "and doubling the bytes it downloads.",
                        "Store float32 (Type 'float') unless the precision is needed.", px.id or "Pixels")]  # fmt: skip
    return []


def check_type_mismatch(inp: CheckInput) -> list[Finding]:
    """TYPE_MISMATCH: Pixels@Type against IFD 0's BitsPerSample and SampleFormat."""
    px, ifd0 = inp.pixels, inp.ifd0
    if px is None or ifd0 is None or px.type not in TYPE_LAYOUT:
        return []
    bits, fmt = TYPE_LAYOUT[px.type]
    found = (ifd0.bits_per_sample, ifd0.sample_format)
    if found == (bits, fmt):
        return []
    return [finding(
        "TYPE_MISMATCH", E,
        f"Pixels Type {px.type!r} expects BitsPerSample {bits} and SampleFormat {fmt}, but IFD 0 has "
        f"BitsPerSample {found[0]} and SampleFormat {found[1]}; the viewer decodes the tiles with the XML's type "
        "and shows garbage.",
        "Fix Pixels@Type to match the TIFF, or re-convert the file.", "IFD 0")]  # fmt: skip


def check_size_mismatch(inp: CheckInput) -> list[Finding]:
    """SIZE_MISMATCH: SizeX/SizeY against IFD 0's ImageWidth/ImageLength."""
    px, ifd0 = inp.pixels, inp.ifd0
    if px is None or ifd0 is None or px.size_x is None or px.size_y is None:
        return []
    if (px.size_x, px.size_y) == (ifd0.width, ifd0.height):
        return []
    return [finding(
        "SIZE_MISMATCH", E,
        f"OME-XML says SizeX x SizeY = {px.size_x}x{px.size_y}, but IFD 0 is {ifd0.width}x{ifd0.height}; the "
        "viewer lays out tiles from the XML sizes, so tiles are missing or misplaced.",
        "Fix SizeX/SizeY in the OME-XML (or re-convert the file).", "IFD 0")]  # fmt: skip


def check_plane_count(inp: CheckInput) -> list[Finding]:
    """PLANE_COUNT: Z x C x T planes against the top-level IFDs and the TiffData IFD indices."""
    px, ome = inp.pixels, inp.ome
    if px is None or ome is None or (inp.pyramid_kind == "legacy" and inp.legacy_image_levels):
        return []
    expected = px.plane_total
    if len(ome.images) > 1:
        expected = sum(img.pixels.plane_total for img in ome.images if img.pixels is not None)
    n = len(inp.tiff.ifds)
    out = []
    dims = f"SizeZ {px.size_z} x SizeC {px.size_c} x SizeT {px.size_t}"
    if len(ome.images) > 1:
        dims += f" (and {len(ome.images) - 1} more Image(s))"
    if n < expected:
        out.append(finding(
            "PLANE_COUNT", E,
            f"the OME-XML describes {expected} planes ({dims}) but the file has {n} top-level IFD(s); the "
            f"viewer fails with \"No image at index {n}\" when it reaches a missing plane.",
            "Fix SizeZ/SizeC/SizeT, or include the missing planes (multi-file sets: combine them).", "Pixels"))  # fmt: skip
    elif n > expected and inp.pyramid_kind != "legacy":
        out.append(finding(
            "PLANE_COUNT", I,
            f"the file has {n} top-level IFDs but the OME-XML describes {expected} planes ({dims}); the "
            f"{n - expected} extra IFD(s) (thumbnail, label, macro?) are ignored by the viewer.",
            "Harmless unless the planes were meant to be shown; fix SizeZ/SizeC/SizeT if so.",
            f"IFD {expected}"))  # fmt: skip
    beyond = [td for td in px.tiffdata if not td.file_name and td.ifd + (td.plane_count or 1) > n]
    if beyond:
        td = beyond[0]
        out.append(finding(
            "PLANE_COUNT", W,
            f"TiffData #{td.index} points at IFD {td.ifd} (PlaneCount {td.plane_count}) but the file has {n} "
            f"top-level IFD(s){'' if len(beyond) == 1 else f'; {len(beyond) - 1} more TiffData like it'}. "
            f"{inp.viewer} ignores TiffData (it finds planes from DimensionOrder) and renders the file; "
            "Bio-Formats, QuPath and OMERO follow TiffData and fail.",
            "Fix the TiffData IFD indices, or re-convert the file.", f"TiffData #{td.index}"))  # fmt: skip
    return out


def check_plane_mapping(inp: CheckInput) -> list[Finding]:
    """PLANE_MAPPING: the viewer uses the DimensionOrder formula and ignores TiffData; they must agree.

    Works on the mapping's runs (one per TiffData), so a million planes cost what one does.
    """
    px, mapping = inp.pixels, inp.mapping
    if px is None or mapping is None or not px.tiffdata:
        return []
    out = list(mapping.findings)
    if mapping.order is None:
        return out  # DimensionOrder is not an OME order: VIV_SCHEMA says so, nothing to compare
    differ = [r for r in mapping.runs if r.count and not r.follows_order]
    if differ:
        r = differ[0]
        z, c, t = mapping.order.coords(r.start)
        n = sum(d.count for d in differ)
        out.append(finding(
            "PLANE_MAPPING", W,
            f"TiffData puts (z={z}, c={c}, t={t}) in IFD {r.ifd}, but DimensionOrder {px.dimension_order} "
            f"gives IFD {r.start}; the viewer ignores TiffData and shows the wrong plane "
            f"({n:,} plane(s) differ).",
            "Re-convert so that IFDs follow DimensionOrder (raw2ometiff does), or fix DimensionOrder.",
            f"TiffData #{r.tiffdata_index}"))  # fmt: skip
    covered, total = mapping.covered(), mapping.order.total
    if covered < total:
        out.append(finding(
            "PLANE_MAPPING", W,
            f"TiffData covers {covered:,} of the {total:,} planes (Z x C x T); the others have no IFD and show "
            "as black or fail.",
            "Add TiffData for every plane, or re-convert the file.", "Pixels"))  # fmt: skip
    if mapping.mapped > MAPPING_ROWS_SHOWN:
        out.append(finding(
            "PLANE_MAPPING_LIMITED", I,
            f"TiffData map {mapping.mapped:,} planes; the plane mapping table lists only the first "
            f"{MAPPING_ROWS_SHOWN:,}, to keep the report small. The checks above covered every plane "
            "(they work per TiffData element, not per plane).",
            "Nothing to fix; read the TiffData table for the whole mapping.", "Pixels"))  # fmt: skip
    return out


def check_endian(inp: CheckInput) -> list[Finding]:
    """ENDIAN_FLAG: Pixels@BigEndian against the TIFF header's byte order."""
    px = inp.pixels
    if px is None or px.big_endian is None:
        return []
    header_big = inp.tiff.byteorder == ">"
    if px.big_endian == header_big:
        return []
    return [finding(
        "ENDIAN_FLAG", I,
        f"Pixels BigEndian={str(px.big_endian).lower()} but the TIFF header is "
        f"{'big' if header_big else 'little'}-endian ({'MM' if header_big else 'II'}). The viewer follows the "
        "header, so it renders; readers that trust the XML swap the bytes.",
        "Fix BigEndian (raw2ometiff >= 0.5 writes it right).", "Pixels")]  # fmt: skip


def check_samples(inp: CheckInput) -> list[Finding]:
    """SAMPLES_MISMATCH: Channel@SamplesPerPixel and Interleaved against SamplesPerPixel/PlanarConfiguration."""
    px, ifd0 = inp.pixels, inp.ifd0
    if px is None or ifd0 is None:
        return []
    out = []
    tiff_spp = ifd0.samples_per_pixel
    xml_spp = {ch.samples_per_pixel for ch in px.channels if ch.samples_per_pixel is not None}
    if xml_spp and xml_spp != {tiff_spp}:
        out.append(finding(
            "SAMPLES_MISMATCH", E,
            f"Channel SamplesPerPixel is {', '.join(map(str, sorted(xml_spp)))} but IFD 0 has SamplesPerPixel "
            f"{tiff_spp} (Photometric {ifd0.photometric}); the viewer splits the pixels wrongly.",
            "Fix Channel@SamplesPerPixel to match the TIFF, or re-convert the file.", "IFD 0"))  # fmt: skip
    if tiff_spp > 1 and ifd0.planar_configuration == PlanarConfig.SEPARATE:
        out.append(finding(
            "SAMPLES_MISMATCH", E,
            f"IFD 0 stores its {tiff_spp} samples plane by plane (PlanarConfiguration 2): Viv reads channel c from "
            f"IFD c (one sample per IFD), finds no IFD 1 and fails with \"No image at index 1\".",
            "Re-convert with interleaved samples (PlanarConfiguration 1, as raw2ometiff writes RGB), or one channel "
            "per IFD with SamplesPerPixel 1.", "IFD 0"))  # fmt: skip
    if tiff_spp > 1 and px.interleaved is not None:
        contig = ifd0.planar_configuration == PlanarConfig.CONTIG
        if px.interleaved != contig:
            out.append(finding(
                "SAMPLES_MISMATCH", W,
                f"Pixels Interleaved={str(px.interleaved).lower()} but IFD 0 has PlanarConfiguration "
                f"{ifd0.planar_configuration} ({'contiguous' if contig else 'separate'}) with {tiff_spp} samples.",
                "Set Interleaved to match the PlanarConfiguration (true for contiguous RGB).", "IFD 0"))  # fmt: skip
    return out


def check_rgb(inp: CheckInput) -> list[Finding]:
    """RGB_AMBIGUOUS: interleaved RGB shown wrong, or 3-channel uint8 fluorescence shown as RGB."""
    px, ifd0 = inp.pixels, inp.ifd0
    if px is None or ifd0 is None:
        return []
    if (
        px.size_c == 3
        and px.type == "uint8"
        and ifd0.samples_per_pixel == 1
        and ifd0.photometric != Photometric.RGB
    ):
        return [finding(
            "RGB_AMBIGUOUS", W,
            "SizeC 3, Type uint8, one sample per IFD (Photometric "
            f"{ifd0.photometric}): the viewer guesses this is an RGB photo and blends the channels as red, green "
            "and blue instead of showing them as fluorescence channels.",
            "If these are fluorescence channels, pick the channels' colours in the viewer; or store them as uint16.",
            "Pixels")]  # fmt: skip
    if (
        ifd0.samples_per_pixel >= 3
        and ifd0.photometric != Photometric.RGB
        and ifd0.photometric != Photometric.YCBCR
    ):
        return [finding(
            "RGB_AMBIGUOUS", W,
            f"IFD 0 has {ifd0.samples_per_pixel} samples per pixel but Photometric {ifd0.photometric} (not RGB): "
            "the viewer does not know whether to show colour or separate channels.",
            "Write Photometric RGB (2) for colour images, or one sample per IFD for channels.", "IFD 0")]  # fmt: skip
    return []


def check_physical_size(inp: CheckInput) -> list[Finding]:
    """PHYSICAL_SIZE: PhysicalSizeX/Y (and Z for stacks) present, positive and in length units."""
    px = inp.pixels
    if px is None:
        return []
    missing = []
    for axis in ("X", "Y"):
        q = getattr(px, f"physical_size_{axis.lower()}")
        if q is None:
            missing.append(f"PhysicalSize{axis} is missing")
        elif q.value <= 0:
            missing.append(f"PhysicalSize{axis} is {q.value:g}")
        elif length_to_um(q.value, q.unit) is None:
            missing.append(f"PhysicalSize{axis} has unit {q.unit!r}, not a length")
    out = []
    if missing:
        out.append(finding(
            "PHYSICAL_SIZE", W,
            f"{'; '.join(missing)}: the viewer shows no scale bar, and layers or segmentations do not line up.",
            "Set PhysicalSizeX/Y with units µm (bioformats2raw keeps them from the source; or edit the OME-XML).",
            px.id or "Pixels"))  # fmt: skip
    if (px.size_z or 1) > 1 and px.physical_size_z is None:
        out.append(finding(
            "PHYSICAL_SIZE", I,
            f"SizeZ is {px.size_z} but PhysicalSizeZ is missing: 3D views cannot scale Z.",
            "Set PhysicalSizeZ with unit µm.", px.id or "Pixels"))  # fmt: skip
    return out


def check_channels(inp: CheckInput) -> list[Finding]:
    """CHANNELS: Channel count, names, IDs and colours."""
    px = inp.pixels
    if px is None or not px.channels:
        return []
    out = []
    chans = px.channels
    spp = chans[0].samples_per_pixel or 1
    if len(chans) * spp != (px.size_c or 1) and len(chans) != (px.size_c or 1):
        out.append(finding(
            "CHANNELS", W,
            f"{len(chans)} Channel element(s) but SizeC is {px.size_c} (SamplesPerPixel {spp}); the viewer names "
            "and colours the channels wrongly.",
            "Write one Channel per channel (SizeC / SamplesPerPixel of them).", "Pixels"))  # fmt: skip
    unnamed = [f"#{c.index}" for c in chans if not c.name]
    if unnamed:
        out.append(finding(
            "CHANNELS", I,
            f"channel(s) {listing(unnamed)} have no Name; the viewer shows 'Channel 0', 'Channel 1'...",
            "Set Channel@Name to the marker or stain.", f"Channel #{chans[0].index}"))  # fmt: skip
    names = Counter(c.name for c in chans if c.name)
    dup = [n for n, k in names.items() if k > 1]
    if dup:
        out.append(finding(
            "CHANNELS", W,
            f"duplicate channel names: {listing([repr(n) for n in dup])}; the viewer's channel picker cannot "
            "tell them apart.", "Give every channel a distinct Name.", "Pixels"))  # fmt: skip
    ids = Counter(c.id for c in chans if c.id)
    dup_ids = [i for i, k in ids.items() if k > 1]
    if dup_ids:
        out.append(finding(
            "CHANNELS", W, f"duplicate Channel IDs: {listing(dup_ids)}.",
            "Give every Channel a unique ID (Channel:0:N).", dup_ids[0]))  # fmt: skip
    black = [c.id or f"#{c.index}" for c in chans if c.colour is not None and c.colour.value == 0]
    if black:
        out.append(finding(
            "CHANNELS", W,
            f"channel(s) {listing(black)} have Color 0 (transparent black): they show as black.",
            "Set Color to an opaque RGBA value (e.g. -16776961 for blue) or drop the attribute.", black[0]))  # fmt: skip
    return out


def check_multi_image(inp: CheckInput) -> list[Finding]:
    """MULTI_IMAGE: several Images (series, label/macro, plates) that the viewer may read as one."""
    ome = inp.ome
    if ome is None:
        return []
    out = []
    if len(ome.images) > 1 and not inp.legacy_image_levels:
        sizes = [
            f"{img.id or img.index}: {img.pixels.size_x}x{img.pixels.size_y}"
            for img in ome.images
            if img.pixels
        ]
        ifd0, px = inp.ifd0, inp.pixels
        if ifd0 is not None and not ifd0.subifds and px is not None and inp.viewer.levels_from_ifd_numbers:
            out.append(finding(
                "MULTI_IMAGE", E,
                f"the OME-XML holds {len(ome.images)} Images ({listing(sizes)}) and IFD 0 has no SubIFDs. "
                f"{levels_from_ifd_numbers_text(inp.viewer, px.plane_total)}.",
                "Split the series into one OME-TIFF per Image (bioformats2raw --series / raw2ometiff per series), "
                "each with its pyramid in SubIFDs.", ome.images[1].id or "Image #1"))  # fmt: skip
        else:
            out.append(finding(
                "MULTI_IMAGE", W,
                f"the OME-XML holds {len(ome.images)} Images ({listing(sizes)}); the viewer shows the first one "
                "only, and may take the others for pyramid levels when they are smaller.",
                "Split the series into one OME-TIFF per Image (bioformats2raw --series / raw2ometiff per series).",
                ome.images[1].id or "Image #1"))  # fmt: skip
    if ome.plates:
        out.append(finding(
            "MULTI_IMAGE", W,
            f"the OME-XML describes {len(ome.plates)} Plate(s); the viewer shows a single field, not the plate.",
            "Export the wells of interest as separate OME-TIFFs, or use an OME-Zarr plate viewer.", "Plate"))  # fmt: skip
    return out


def check_huge_xml(inp: CheckInput) -> list[Finding]:
    """HUGE_XML: an OME-XML large enough to slow the first paint (it is parsed before anything shows)."""
    n = inp.tiff.image_description_length or 0
    out = []
    if n >= HUGE_XML_INFO:
        ome = inp.ome
        extra = ""
        if ome is not None:
            extra = f" ({ome.shape_count:,} ROI shapes, {len(ome.annotations):,} annotations, {ome.element_count:,} elements)"
        out.append(finding(
            "HUGE_XML", W if n >= HUGE_XML_WARNING else I,
            f"IFD 0's OME-XML is {n:,} bytes{extra}; the viewer downloads and parses all of it before the first "
            "tile.",
            "Move ROIs and large annotations out of the OME-XML (export them separately), then re-write the file.",
            "IFD 0"))  # fmt: skip
    repeated = [
        ifd.path
        for ifd in inp.tiff.ifds[1:]
        if (ln := ifd.image_description_length) is not None and n >= 4096 and ln >= n // 2
    ]
    if repeated:
        out.append(finding(
            "HUGE_XML", W,
            f"a large ImageDescription ({n:,} bytes in IFD 0) is repeated in {len(repeated)} other IFD(s): "
            f"{listing(repeated)}; each copy is downloaded when the viewer opens that IFD.",
            "Re-convert with a writer that stores the OME-XML in IFD 0 only (raw2ometiff does).", repeated[0]))  # fmt: skip
    return out


def check_contrast(inp: CheckInput) -> list[Finding]:
    """CONTRAST (metadata part): SignificantBits below the bit depth; float data without a natural range."""
    px = inp.pixels
    if px is None or px.type not in TYPE_LAYOUT:
        return []
    bits = TYPE_LAYOUT[px.type][0]
    if (
        px.significant_bits is not None
        and 0 < px.significant_bits < bits
        and px.type not in ("float", "double")
    ):
        return [finding(
            "CONTRAST", I,
            f"SignificantBits is {px.significant_bits} of {bits}: the data uses a fraction of the {px.type} range, "
            "so a full-range default contrast looks black; the viewer's auto-contrast must be used.",
            "Nothing to fix in the file; set contrast limits in the viewer if the image looks dark.", "Pixels")]  # fmt: skip
    if px.type in ("float", "double"):
        return [finding(
            "CONTRAST", I,
            f"Type {px.type!r}: floating-point data has no natural display range; the viewer guesses contrast "
            "from the lowest level and may show it black or washed out.",
            "Set contrast limits in the viewer; store integers if the data allow.", "Pixels")]  # fmt: skip
    return []


def check_browser_memory(inp: CheckInput) -> list[Finding]:
    """BROWSER_MEMORY: lowest-level bytes times shown channels; more channels than the viewer shows at once."""
    px = inp.pixels
    levels = inp.levels
    if px is None or not levels or px.type not in TYPE_LAYOUT:
        return []
    low = levels[-1]
    bytes_per = max(1, TYPE_LAYOUT[px.type][0] // 8) * max(1, low.samples_per_pixel)
    shown = min(px.effective_size_c, 6)
    need = (low.width or 0) * (low.height or 0) * bytes_per * shown
    out = []
    if need > BROWSER_MEMORY_LIMIT:
        out.append(finding(
            "BROWSER_MEMORY", W,
            f"the lowest level ({low.path}, {low.width}x{low.height} {px.type}) for {shown} shown channel(s) "
            f"needs {need / 2**20:,.0f} MiB in the browser; tabs crash above a few hundred MiB.",
            "Add smaller pyramid levels so that the lowest is at most 1024 px on a side.", low.path))  # fmt: skip
    if px.effective_size_c > VIEWER_MAX_CHANNELS:
        out.append(finding(
            "BROWSER_MEMORY", I,
            f"SizeC is {px.size_c}: the viewer shows at most {VIEWER_MAX_CHANNELS} channels at once (the first "
            "six by default); choose the others in its channel picker.",
            "Nothing to fix; tell users to pick channels in the viewer.", "Pixels"))  # fmt: skip
    return out


def check_segmentation_mask(inp: CheckInput) -> list[Finding]:
    """SEGMENTATION_MASK: integer label images shown as intensities."""
    px = inp.pixels
    if px is None or px.type not in ("uint32", "int32", "uint16", "uint8"):
        return []
    names = [c.name for c in px.channels if c.name and any(w in c.name.lower() for w in _MASK_WORDS)]
    if not names or (px.type in ("uint16", "uint8") and len(names) < len(px.channels)):
        return []
    return [finding(
        "SEGMENTATION_MASK", I,
        f"this looks like a segmentation mask ({px.type}, channels {listing([repr(n) for n in names])}): the "
        "image viewer shows object IDs as intensities.",
        "Show it in the portal's segmentation (bitmask) layer with the base image's scale.", "Pixels")]  # fmt: skip


RULES = (
    check_not_ome,
    check_multi_file,
    check_viv_schema,
    check_pixel_type,
    check_type_mismatch,
    check_size_mismatch,
    check_plane_count,
    check_plane_mapping,
    check_endian,
    check_samples,
    check_rgb,
    check_physical_size,
    check_channels,
    check_multi_image,
    check_huge_xml,
    check_contrast,
    check_browser_memory,
    check_segmentation_mask,
)
