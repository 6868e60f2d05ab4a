"""The image size a JPEG, JPEG 2000, WebP, LERC or PNG stream declares, read from its header before anything is decoded.

These codecs allocate their output (and, for JPEG 2000, 32-bit working buffers per component) from the size the
stream declares, whatever the tile's size in the TIFF: a few hundred bytes can declare a 40,000 x 40,000 image (a
600-byte JPEG declaring 60,000 x 60,000 pixels made libjpeg fill 3.4 GB and the process grow to 6.9 GB). The
preview reads the header first and refuses a stream larger than its tile, or over the decode budget, before the codec
sees it. Only headers are parsed here; the codecs are imagecodecs'.
"""

from __future__ import annotations

import struct

from ometiff_helpers.frozen import record

_J2K_SOC_SIZ = b"\xff\x4f\xff\x51"  # start of codestream, then the image and tile size marker
_J2K_SIZ_FIXED = 38  # Lsiz .. Csiz
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_VP8_START = b"\x9d\x01\x2a"


class StreamHeaderError(ValueError):
    """A header that cannot be read: too short, or not the codec's."""


@record
class StreamSize:
    """What a stream declares: pixels across and down, components, bytes per decoded sample, bytes per sample the
    decoder works with (JPEG 2000 decodes into 32-bit integers)."""

    codec: str
    width: int
    height: int
    components: int
    sample_bytes: int
    work_bytes: int

    @property
    def decoded_bytes(self) -> int:
        """Bytes the decoder allocates for the whole image (its output or its working buffers, the larger)."""
        return self.width * self.height * self.components * max(self.sample_bytes, self.work_bytes)


def j2k_size(data: bytes) -> StreamSize:
    """Size and components from the SIZ marker of a JPEG 2000 codestream (raw, or inside a JP2 file)."""
    at = 0
    if not data.startswith(_J2K_SOC_SIZ):
        if not data.startswith(_JP2_SIGNATURE):
            raise StreamHeaderError("neither a JPEG 2000 codestream nor a JP2 file")
        at = data.find(_J2K_SOC_SIZ)
        if at < 0:
            raise StreamHeaderError("a JP2 file without a codestream header")
    fixed = data[at + 4 : at + 4 + _J2K_SIZ_FIXED]
    if len(fixed) < _J2K_SIZ_FIXED:
        raise StreamHeaderError("the JPEG 2000 header is cut short")
    _lsiz, _rsiz, xsiz, ysiz, xo, yo, _xt, _yt, _xto, _yto, csiz = struct.unpack(">HHIIIIIIIIH", fixed)
    comps = data[at + 4 + _J2K_SIZ_FIXED : at + 4 + _J2K_SIZ_FIXED + 3 * csiz]
    if csiz == 0 or len(comps) < 3 * csiz or xsiz <= xo or ysiz <= yo:
        raise StreamHeaderError("the JPEG 2000 header declares no image")
    bits = max((comps[3 * i] & 0x7F) + 1 for i in range(csiz))
    sample = 1 if bits <= 8 else 2 if bits <= 16 else 4
    return StreamSize("JPEG 2000", xsiz - xo, ysiz - yo, csiz, sample, 4)


#: JPEG start-of-frame markers (every process but DHT C4, JPG C8 and DAC CC)
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset([0x01, *range(0xD0, 0xD8)])


def jpeg_size(data: bytes) -> StreamSize:
    """Size and components from the frame header (SOF) of a JPEG stream, walking its segments from SOI."""
    if not data.startswith(b"\xff\xd8"):
        raise StreamHeaderError("not a JPEG stream (no SOI marker)")
    at, end = 2, len(data)
    while at + 4 <= end:
        if data[at] != 0xFF:
            raise StreamHeaderError(f"no JPEG marker at byte {at}")
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _STANDALONE:
            at += 2
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in _SOF:
            frame = data[at + 4 : at + 10]
            if length < 8 or len(frame) < 6:
                raise StreamHeaderError("the JPEG frame header is cut short")
            bits, height, width, comps = (
                frame[0],
                int.from_bytes(frame[1:3], "big"),
                int.from_bytes(frame[3:5], "big"),
                frame[5],
            )
            if not (height and width and comps):
                raise StreamHeaderError("the JPEG frame header declares no image")
            return StreamSize("JPEG", width, height, comps, 1 if bits <= 8 else 2, 1)
        if marker in (0xD9, 0xDA) or length < 2:  # end of image or scan data before any frame header
            break
        at += 2 + length
    raise StreamHeaderError("no JPEG frame header before the scan data")


#: LERC data types: char, uchar, short, ushort, int, uint, float, double -> bytes per value
_LERC_TYPE_BYTES = (1, 1, 2, 2, 4, 4, 4, 8)


def lerc_size(data: bytes) -> StreamSize:
    """Size and values per pixel from the header of a LERC 2 blob (the first blob, when bands follow)."""
    if not data.startswith(b"Lerc2 ") or len(data) < 10:
        raise StreamHeaderError("not a LERC 2 blob")
    version = struct.unpack("<i", data[6:10])[0]
    at = 14 if version >= 3 else 10  # a checksum follows the version from version 3
    count = 6 if version >= 4 else 5  # rows, columns, [depth,] valid pixels, micro block size, blob size
    fields = data[at : at + 4 * count]
    if version < 2 or len(fields) < 4 * count:
        raise StreamHeaderError("the LERC header is cut short or of an unknown version")
    values = struct.unpack(f"<{count}i", fields)
    rows, cols, depth = values[0], values[1], (values[2] if version >= 4 else 1)
    at += 4 * count  # the data type follows (version 6 adds its fields after it)
    dtype = struct.unpack("<i", data[at : at + 4])[0] if len(data) >= at + 4 else -1
    if rows <= 0 or cols <= 0 or depth <= 0 or not 0 <= dtype < len(_LERC_TYPE_BYTES):
        raise StreamHeaderError("the LERC header declares no image")
    return StreamSize("LERC", cols, rows, depth, _LERC_TYPE_BYTES[dtype], 1)


def webp_size(data: bytes) -> StreamSize:
    """Size and components (RGB, or RGBA with alpha) from a WebP file's first chunk (VP8, VP8L or VP8X)."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise StreamHeaderError("not a WebP (RIFF) stream, or cut short")
    chunk = data[12:16]
    if chunk == b"VP8 ":
        if data[23:26] != _VP8_START:
            raise StreamHeaderError("a VP8 chunk without its start code")
        width, height = struct.unpack("<HH", data[26:30])
        return StreamSize("WebP", width & 0x3FFF, height & 0x3FFF, 3, 1, 1)
    if chunk == b"VP8L":
        if data[20] != 0x2F:
            raise StreamHeaderError("a VP8L chunk without its signature")
        bits = struct.unpack("<I", data[21:25])[0]
        alpha = bool(bits >> 28 & 1)
        return StreamSize("WebP", (bits & 0x3FFF) + 1, (bits >> 14 & 0x3FFF) + 1, 4 if alpha else 3, 1, 1)
    if chunk == b"VP8X":
        flags = data[20]
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return StreamSize("WebP", width, height, 4 if flags & 0x10 else 3, 1, 1)
    raise StreamHeaderError(f"an unknown first WebP chunk {chunk!r}")


#: PNG colour type -> samples per pixel (a palette is expanded to RGB)
_PNG_COMPONENTS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}


def png_size(data: bytes) -> StreamSize:
    """Size and samples per pixel from a PNG's IHDR chunk."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or data[12:16] != b"IHDR" or len(data) < 26:
        raise StreamHeaderError("not a PNG stream, or cut short")
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    if not width or not height or colour not in _PNG_COMPONENTS:
        raise StreamHeaderError("the PNG header declares no image")
    return StreamSize("PNG", width, height, _PNG_COMPONENTS[colour], 2 if depth == 16 else 1, 1)
