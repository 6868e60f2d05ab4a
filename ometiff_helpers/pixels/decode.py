"""Decode one TIFF tile or strip into a numpy array with imagecodecs (never a hand-written codec).

Follows the TIFF 6.0 rules as tifffile applies them: the codec per Compression, then the samples in the file's byte
order, then the predictor (2: horizontal differencing, 3: floating point) on native-order data; JPEG tiles get the
IFD's JPEGTables and the colour space its Photometric implies.
"""

from __future__ import annotations

from typing import Any

import imagecodecs
import numpy as np

from ometiff_helpers.errors import OmeTiffError
from ometiff_helpers.fmt import human_bytes
from ometiff_helpers.frozen import record
from ometiff_helpers.pixels.headers import (
    StreamHeaderError,
    StreamSize,
    j2k_size,
    jpeg_size,
    lerc_size,
    png_size,
    webp_size,
)
from ometiff_helpers.tiff.codes import Compression, PlanarConfig, Predictor, SampleFormat
from ometiff_helpers.tiff.model import IFD

JPEG_TABLES = 347
PREDICTOR = 317
EXTRA_SAMPLES = 338
YCBCR_SUBSAMPLING = 530

#: Compression code -> name of the imagecodecs decoder of a byte stream (the result is bytes, reshaped by the caller);
#: looked up when a tile is decoded, so that only the codec in use loads its extension module
_BYTE_CODECS: dict[int, str] = {
    Compression.LZW: "lzw_decode",
    Compression.ADOBE_DEFLATE: "zlib_decode",
    Compression.DEFLATE: "zlib_decode",
    Compression.PACKBITS: "packbits_decode",
    Compression.ZSTD: "zstd_decode",
    Compression.ZSTD_DEPRECATED: "zstd_decode",
    Compression.LZMA: "lzma_decode",
}
#: Compression code -> name of the imagecodecs decoder returning an image array
_IMAGE_CODECS: dict[int, str] = {
    Compression.APERIO_JP2000_YCBC: "jpeg2k_decode",
    Compression.APERIO_JP2000_RGB: "jpeg2k_decode",
    Compression.JPEG2000: "jpeg2k_decode",
    Compression.WEBP: "webp_decode",
    Compression.WEBP_DEPRECATED: "webp_decode",
    Compression.LERC: "lerc_decode",
    Compression.JPEGXL: "jpegxl_decode",
    Compression.PNG: "png_decode",
}
_JPEG = {Compression.JPEG, Compression.JPEG_LOSSY, Compression.ALT_JPEG}
#: Compression code -> reader of the image size its stream declares (checked before the codec allocates anything)
_HEADERS: dict[int, Any] = {
    **dict.fromkeys(_JPEG, jpeg_size),
    Compression.APERIO_JP2000_YCBC: j2k_size,
    Compression.APERIO_JP2000_RGB: j2k_size,
    Compression.JPEG2000: j2k_size,
    Compression.WEBP: webp_size,
    Compression.WEBP_DEPRECATED: webp_size,
    Compression.LERC: lerc_size,
    Compression.PNG: png_size,
}


#: bounds on a level's layout before anything is allocated: decoded bytes of one tile, tiles of a level, samples
MAX_TILE_BYTES = 64 * 1024 * 1024
MAX_TILES = 1_000_000
MAX_SAMPLES = 16


class UnsupportedLayout(OmeTiffError):
    """The level's pixel layout is one the preview does not decode (say why; the metadata report still holds)."""


class TileDecodeError(OmeTiffError):
    """One tile's bytes did not decode (corrupt data, wrong codec, truncated)."""


class StreamTooLarge(TileDecodeError):
    """A tile's JPEG 2000 or WebP stream declares an image larger than the tile, or one whose decoding would take
    more than ``limit`` bytes: refused from its header, before the codec allocates anything."""

    def __init__(self, message: str, *, value: int, limit: int) -> None:
        super().__init__(message)
        self.value = value  # bytes the declared image would take to decode
        self.limit = limit


@record
class Layout:
    """How one IFD's tiles or strips are laid out and encoded."""

    width: int
    height: int
    tile_width: int  # the image width for strips
    tile_height: int  # RowsPerStrip for strips
    tiled: bool
    samples: int  # samples per pixel
    planar: int  # 1 contiguous, 2 separate
    dtype: Any  # numpy dtype in the file's byte order
    compression: int
    predictor: int
    photometric: int | None
    extra_samples: bool
    jpeg_tables: bytes | None

    @property
    def tiles_across(self) -> int:
        """Tiles per row (1 for strips)."""
        return -(-self.width // self.tile_width)

    @property
    def tiles_down(self) -> int:
        """Tile rows (strips)."""
        return -(-self.height // self.tile_height)

    @property
    def tiles_per_plane(self) -> int:
        """Tiles of one sample plane (all samples when contiguous)."""
        return self.tiles_across * self.tiles_down

    @property
    def plane_samples(self) -> int:
        """Samples stored in one tile: all of them (contiguous) or one (separate planes)."""
        return 1 if self.planar == PlanarConfig.SEPARATE else self.samples


def numpy_dtype(ifd: IFD, byteorder: str) -> Any:
    """The numpy dtype of one sample (``UnsupportedLayout`` for bit depths that are not whole bytes)."""
    bits = ifd.bits_per_sample
    fmt = ifd.sample_format
    kinds = {SampleFormat.UINT: "u", SampleFormat.INT: "i", SampleFormat.IEEEFP: "f", SampleFormat.VOID: "u"}
    kind = kinds.get(fmt)
    if kind is None or bits not in (8, 16, 32, 64) or (kind == "f" and bits == 8):
        raise UnsupportedLayout(
            f"{ifd.path}: {bits}-bit samples with SampleFormat {fmt} are not previewed.",
            hint="The metadata checks still apply; open the file in Fiji to see its pixels.",
        )
    return np.dtype(f"{byteorder}{kind}{bits // 8}")


def layout_of(ifd: IFD, byteorder: str, jpeg_tables: bytes | None = None) -> Layout:
    """The tile/strip layout of ``ifd``; ``UnsupportedLayout`` when a dimension or the codec is not usable."""
    width, height = ifd.width or 0, ifd.height or 0
    if width <= 0 or height <= 0:
        raise UnsupportedLayout(f"{ifd.path}: the image is {width} × {height} pixels: nothing to preview.")
    if ifd.image_depth != 1:
        raise UnsupportedLayout(
            f"{ifd.path}: volumetric tiles (ImageDepth {ifd.image_depth}) are not previewed."
        )
    if ifd.is_tiled:
        tw, th = ifd.tile_width or 0, ifd.tile_height or 0
    else:
        tw, th = width, ifd.rows_per_strip or height
        th = min(max(th, 1), height)
    if tw <= 0 or th <= 0:
        raise UnsupportedLayout(f"{ifd.path}: tile size {tw} × {th} cannot be decoded.")
    spp = ifd.samples_per_pixel
    if not 1 <= spp <= MAX_SAMPLES:
        raise UnsupportedLayout(
            f"{ifd.path}: {spp} samples per pixel: not previewed (at most {MAX_SAMPLES})."
        )
    tile_bytes = tw * th * spp * max(1, ((ifd.bits_per_sample or 8) + 7) // 8)
    if tile_bytes > MAX_TILE_BYTES:
        raise UnsupportedLayout(
            f"{ifd.path}: one {tw} × {th} tile of {spp} sample(s) decodes to {tile_bytes:,} bytes, over the "
            f"preview's {MAX_TILE_BYTES:,}-byte limit: not previewed.",
            hint="Tiles of 256 or 512 px are what the viewer reads well; re-write the file with such tiles.",
        )
    if -(-width // tw) * -(-height // th) > MAX_TILES:
        raise UnsupportedLayout(f"{ifd.path}: more than {MAX_TILES:,} tiles or strips: not previewed.")
    comp = ifd.compression
    if (
        comp != Compression.NONE
        and comp not in _BYTE_CODECS
        and comp not in _IMAGE_CODECS
        and comp not in _JPEG
    ):
        raise UnsupportedLayout(
            f"{ifd.path}: compression {ifd.compression_name} ({comp}) is not previewed.",
            hint="The viewer cannot decode it either; convert the file with a supported codec (LZW, Deflate, JPEG).",
        )
    sub = ifd.tag(YCBCR_SUBSAMPLING)
    if (
        ifd.photometric == 6
        and comp not in _JPEG
        and sub is not None
        and tuple(sub.value or (2, 2))[:2] != (1, 1)
    ):
        raise UnsupportedLayout(f"{ifd.path}: chroma-subsampled YCbCr without JPEG is not previewed.")
    extra = ifd.tag(EXTRA_SAMPLES)
    pred = ifd.tag(PREDICTOR)
    return Layout(
        width=width,
        height=height,
        tile_width=tw,
        tile_height=th,
        tiled=ifd.is_tiled,
        samples=ifd.samples_per_pixel,
        planar=ifd.planar_configuration,
        dtype=numpy_dtype(ifd, byteorder),
        compression=comp,
        predictor=int(pred.first(1)) if pred is not None else 1,
        photometric=ifd.photometric,
        extra_samples=extra is not None and bool(extra.value),
        jpeg_tables=jpeg_tables,
    )


def needed_bytes(layout: Layout, y: int, stored: int) -> int:
    """Bytes of a tile worth fetching: all of a compressed one; of an uncompressed one only the rows inside the
    image (a 192-row lowest level in a 512-row tile needs 192 rows)."""
    if layout.compression != Compression.NONE:
        return stored
    rows = min(layout.tile_height, layout.height - y)
    return min(stored, rows * layout.tile_width * layout.plane_samples * layout.dtype.itemsize)


def row_bytes(layout: Layout) -> int:
    """Bytes of one row of an uncompressed tile (or strip): the tile's width, not the image's."""
    return layout.tile_width * layout.plane_samples * layout.dtype.itemsize


def band_start(layout: Layout, y: int, band: int, factor: int) -> int | None:
    """The first row of a ``band``-row band at the middle of the uncompressed tile starting at level row ``y``, its
    level row a multiple of ``factor`` (so that ``factor`` x ``factor`` blocks fall on lower-level pixels); None when
    the whole tile is read instead (compressed, or not taller than the band)."""
    rows = min(layout.tile_height, layout.height - y)
    if layout.compression != Compression.NONE or band <= 0 or rows <= band:
        return None
    first = rows // 2 - band // 2
    first -= (y + first) % max(factor, 1)
    return max(0, min(first, rows - band))


def tile_origin(layout: Layout, index: int) -> tuple[int, int, int | None]:
    """(top row, left column, sample plane or None) of tile/strip ``index``."""
    sample: int | None = None
    if layout.planar == PlanarConfig.SEPARATE:
        sample, index = divmod(index, layout.tiles_per_plane)
    row, col = divmod(index, layout.tiles_across)
    return row * layout.tile_height, col * layout.tile_width, sample


def decode_tile(layout: Layout, data: bytes, y: int = 0) -> np.ndarray:
    """Decode one tile (or the strip starting at row ``y``) to a native-order array (rows, columns, samples).

    Raises ``TileDecodeError`` when the bytes do not decode to the size the layout needs.
    """
    rows = min(layout.tile_height, layout.height - y)
    if layout.tiled and layout.compression != Compression.NONE:
        rows = layout.tile_height  # a compressed tile decodes whole; uncompressed ones may be read in part
    cols, spp = layout.tile_width, layout.plane_samples
    try:
        arr = _decode(layout, data, rows, cols, spp)
    except TileDecodeError:
        raise
    except (RuntimeError, ValueError, imagecodecs.DelayedImportError, TypeError) as exc:
        # imagecodecs raises its codec errors (subclasses of RuntimeError) and ValueError on bad sizes
        raise TileDecodeError(f"{type(exc).__name__}: {exc}") from None
    return arr


def _decode(layout: Layout, data: bytes, rows: int, cols: int, spp: int) -> np.ndarray:
    """Codec, then byte order, then predictor; imagecodecs errors propagate to ``decode_tile``."""
    comp = layout.compression
    if comp in _HEADERS:
        check_stream_size(layout, data)
    if comp in _JPEG:
        return _decode_jpeg(layout, data, rows, cols, spp)
    if comp in _IMAGE_CODECS:
        out = np.asarray(getattr(imagecodecs, _IMAGE_CODECS[comp])(data))
        out = out.reshape(out.shape[0], out.shape[1], -1)
        if out.shape[0] < rows or out.shape[1] < cols or out.shape[2] != spp:
            raise TileDecodeError(f"decoded to {out.shape}, the tile needs {(rows, cols, spp)}")
        return out[:rows, :cols].astype(layout.dtype.newbyteorder("="), copy=False)
    itemsize = layout.dtype.itemsize
    need = rows * cols * spp * itemsize
    # the output is capped at one full tile (or strip), as tifffile does: a decompression bomb fails, not fills memory
    full = layout.tile_height * cols * spp * itemsize
    raw = data if comp == Compression.NONE else _decode_bytes(comp, data, full)
    if len(raw) < need:
        got_rows = len(raw) // (cols * spp * itemsize)
        raise TileDecodeError(f"{len(raw):,} bytes decoded, {need:,} needed ({got_rows} of {rows} rows)")
    native = layout.dtype.newbyteorder("=")
    if layout.predictor == Predictor.FLOATINGPOINT:
        # the floating-point predictor works on the raw byte layout: read without swapping (as tifffile does)
        arr = np.frombuffer(raw, dtype=native, count=rows * cols * spp).reshape(rows, cols, spp).copy()
        return np.asarray(imagecodecs.floatpred_decode(arr, axis=-2, out=arr))
    arr = np.frombuffer(raw, dtype=layout.dtype, count=rows * cols * spp).reshape(rows, cols, spp)
    arr = arr.astype(native, copy=True)
    if layout.predictor == Predictor.HORIZONTAL:
        arr = imagecodecs.delta_decode(arr, axis=-2, out=arr)
    return arr


def _decode_bytes(comp: int, data: bytes, full: int) -> Any:
    """A byte codec's output, at most ``full`` bytes. Deflate is tried with libdeflate first (several times zlib's
    speed: 0.6 ms instead of 6 ms for the demo's eight tiles); when libdeflate cannot decode the stream (damaged, or
    larger than ``full``), or is not built in, zlib decodes it and its answer stands: its output, or its error, is
    what it was without libdeflate. On a stream both decode the bytes are the same."""
    name = _BYTE_CODECS[comp]
    if name == "zlib_decode":
        try:
            return imagecodecs.deflate_decode(data, out=full)
        except (RuntimeError, ValueError, TypeError, imagecodecs.DelayedImportError):
            pass  # zlib decides
    return getattr(imagecodecs, name)(data, out=full)


def check_stream_size(layout: Layout, data: bytes) -> StreamSize:
    """The size the tile's JPEG, JPEG 2000, WebP, LERC or PNG stream declares, read from its header;
    ``StreamTooLarge`` when it is larger than the tile (width, height, components) or takes more than
    ``MAX_TILE_BYTES`` to decode, ``TileDecodeError`` when the header cannot be read (the codec would have to
    guess)."""
    try:
        size = _HEADERS[layout.compression](data)
    except StreamHeaderError as exc:
        raise TileDecodeError(f"the stream's header is not readable ({exc}): not decoded") from None
    spp = layout.plane_samples
    allowed = max(spp, 4) if size.codec in ("WebP", "PNG") else spp  # RGB or RGBA whatever the tile's samples
    # a JPEG frame may be padded to whole 8 x 8 to 16 x 16 blocks (MCUs) past the tile's edge
    slack = 16 if size.codec == "JPEG" else 0
    declared = f"the {size.codec} stream declares {size.width:,} × {size.height:,} pixels of {size.components} component(s)"
    if (
        size.width > layout.tile_width + slack
        or size.height > layout.tile_height + slack
        or size.components > allowed
    ):
        raise StreamTooLarge(
            f"{declared}, larger than its {layout.tile_width:,} × {layout.tile_height:,} tile of {spp} sample(s): "
            "not decoded (a damaged or hostile stream)",
            value=size.decoded_bytes,
            limit=layout.tile_width * layout.tile_height * allowed * max(size.sample_bytes, size.work_bytes),
        )
    if size.decoded_bytes > MAX_TILE_BYTES:
        raise StreamTooLarge(
            f"{declared}: decoding it takes {human_bytes(size.decoded_bytes)}, over the preview's "
            f"{human_bytes(MAX_TILE_BYTES)} limit: not decoded",
            value=size.decoded_bytes,
            limit=MAX_TILE_BYTES,
        )
    return size


def is_jfif(data: bytes) -> bool:
    """The JPEG stream carries a JFIF marker (then libjpeg assumes YCbCr, as tifffile does)."""
    return data[6:10] == b"JFIF"


def _decode_jpeg(layout: Layout, data: bytes, rows: int, cols: int, spp: int) -> np.ndarray:
    """JPEG with the IFD's tables and the colour space tifffile chooses from Photometric and the JFIF marker."""
    colorspace: int | None = None
    outcolorspace: int | str | None = None
    if not layout.extra_samples:
        if layout.photometric == 6:  # YCbCr -> RGB
            outcolorspace = 2
        elif layout.photometric == 2:  # RGB: no colour transform unless the stream says JFIF
            if not is_jfif(data):
                colorspace = 2
            outcolorspace = 2
    if layout.planar != PlanarConfig.CONTIG:
        outcolorspace = 1
    out = np.asarray(
        imagecodecs.jpeg_decode(
            data,
            bitspersample=layout.dtype.itemsize * 8,
            tables=layout.jpeg_tables,
            colorspace=colorspace,
            outcolorspace=outcolorspace,
            shape=(rows, cols),
        )
    )
    out = out.reshape(out.shape[0], out.shape[1], -1)
    if out.shape[0] < rows or out.shape[1] < cols or out.shape[2] != spp:
        raise TileDecodeError(f"JPEG decoded to {out.shape}, the tile needs {(rows, cols, spp)}")
    return out[:rows, :cols].astype(layout.dtype.newbyteorder("="), copy=False)
