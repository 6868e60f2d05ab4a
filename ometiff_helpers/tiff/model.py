"""The records of a TIFF structure (frozen dataclasses) and the read options; ``tiff`` re-exports them.

``tiff.py`` is the public face (``read_tiff``, ``load_tag_value``), ``tiffplan.py`` plans and performs the reads,
``tiffparse.py`` decodes header, entries and values. This module holds no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import field
from typing import Any

from ometiff_helpers.findings import Finding
from ometiff_helpers.frozen import record
from ometiff_helpers.tiff.codes import (
    TIFF_FORMATS,
    NewSubfileType,
    PlanarConfig,
    SubfileType,
    TagCode,
    TiffFormat,
    compression_name,
    field_type_name,
    tag_name,
)

TagValue = tuple[Any, ...] | str | bytes

#: arrays longer than this are elided (with their length) in ``to_dict``
DICT_ARRAY_ITEMS = 64
#: strings and bytes longer than this are elided in ``to_dict``
DICT_TEXT_CHARS = 512
#: ``to_dict`` lists at most this many tags of one IFD (a damaged IFD can declare thousands)
DICT_TAGS_PER_IFD = 128
#: ``TiffStructure.to_dict`` lists IFDs (depth-first) until their compact JSON reaches about this many characters
DICT_IFDS_CHARS = 80_000


@record
class ReadOptions:
    """Bounds and tuning of ``read_tiff``. Every loop and every download is capped by one of these."""

    max_ifds: int = 10_000  # top-level IFDs in the chain
    max_subifds: int = 20_000  # SubIFDs in the whole file (all levels)
    max_subifd_depth: int = 2  # 1: SubIFDs of top-level IFDs; 2: also their SubIFDs
    max_tags_per_ifd: int = 4096
    max_entries: int = 200_000  # entries of every IFD and SubIFD together: the work bound of one read
    max_requests: int = 5_000
    max_bytes: int = 512 * 1024 * 1024
    max_description_bytes: int = 256 * 1024 * 1024
    first_read: int = 64 * 1024
    small_value_bytes: int = 4096  # out-of-line values up to this size are loaded with the IFDs
    max_value_items: int = 4_000_000  # items of those values in the whole read (each a Python object)
    # Strip/Tile offset and byte-count arrays are loaded only up to this many items, and only when their bytes came
    # with a read already made (the pixel reader loads the arrays it needs: load_tag_value)
    array_load_items: int = 64
    ifd_read_margin: int = 256  # extra bytes read after an IFD's estimated span (12 BigTIFF entries)
    # bytes of unneeded values (offset arrays) read through to reach a needed value (the SubIFDs array, a Software
    # string) in the same request; a needed value further on is a range of its own in the same round
    read_through_max: int = 4 * 1024
    template_span_max: int = (
        4 * 1024 * 1024
    )  # cap on an IFD's read span learnt from a sibling (values included)
    # IFD 0 this close to EOF: read to EOF in one request (raw2ometiff's layout) when the tail costs less than the
    # round trip it saves: its size against what the link delivers in one round trip's latency, measured on the
    # first read; tail_read_bytes when that cannot be measured (a local file); never more than tail_read_max
    tail_read_max: int = 1024 * 1024
    tail_read_bytes: int = 256 * 1024
    stride_lookahead: int = 8  # predicted chain IFDs fetched speculatively per round (doubles while right)
    max_stride_lookahead: int = 256
    predict_window_bytes: int = 256 * 1024  # strides this small: read one window of the next strides instead
    strict: bool = (
        False  # raise IFDLoop / CorruptTiff instead of recording a finding where reading could go on
    )


@record
class Tag:
    """One IFD entry. ``value`` is None when the value was not loaded (large array) or cannot be decoded."""

    code: int
    type: int
    count: int
    value: TagValue | None
    value_offset: int | None  # None when the value is stored inline in the entry
    nbytes: int  # count x type size (0 for an unknown type)
    entry_offset: int = 0  # file offset of the 12/20-byte entry

    @property
    def name(self) -> str:
        return tag_name(self.code)

    @property
    def type_name(self) -> str:
        return field_type_name(self.type)

    @property
    def loaded(self) -> bool:
        return self.value is not None

    def first(self, default: Any = None) -> Any:
        """The first item of a numeric value (``default`` when absent or not loaded)."""
        if isinstance(self.value, tuple) and self.value:
            return self.value[0]
        return default

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "name": self.name,
            "type": self.type_name,
            "count": self.count,
        }
        if self.value_offset is not None:
            out["value_offset"] = self.value_offset
        out.update(_value_for_dict(self.value))
        return out


def _value_for_dict(value: TagValue | None) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, tuple):
        if len(value) > DICT_ARRAY_ITEMS:
            return {"value_length": len(value)}
        return {"value": [v if isinstance(v, (int, float)) else str(v) for v in value]}
    if isinstance(value, str):
        if len(value) > DICT_TEXT_CHARS:
            return {"value_length": len(value)}
        return {"value": value}
    if len(value) > DICT_ARRAY_ITEMS:
        return {"value_length": len(value)}
    return {"value": value.hex()}


@record
class IFD:
    """One image file directory (top-level or SubIFD) with its tags in file order and decoded summary properties."""

    offset: int
    index: int  # position in the chain (top-level) or in the parent's SubIFDs tag
    path: str  # "IFD 3", "IFD 0 / SubIFD 2"
    tags: tuple[Tag, ...]
    next_offset: int  # 0 at the end of the chain (SubIFDs: their own next pointer, not followed)
    subifds: tuple[IFD, ...] = ()
    depth: int = 0  # 0 top-level, 1 SubIFD, 2 SubIFD of a SubIFD
    nbytes: int = 0  # bytes of the directory itself (count, entries, next pointer)

    def tag(self, code: int) -> Tag | None:
        """The first tag with this code (duplicates are reported as findings), or None."""
        for t in self.tags:
            if t.code == code:
                return t
        return None

    def _int(self, code: int, default: int | None = None) -> int | None:
        t = self.tag(code)
        if t is None:
            return default
        v = t.first()
        return int(v) if isinstance(v, int) else default

    @property
    def width(self) -> int | None:
        return self._int(TagCode.IMAGE_WIDTH)

    @property
    def height(self) -> int | None:
        return self._int(TagCode.IMAGE_LENGTH)

    @property
    def image_depth(self) -> int:
        return self._int(TagCode.IMAGE_DEPTH, 1) or 1

    @property
    def bits_per_sample(self) -> int:
        return self._int(TagCode.BITS_PER_SAMPLE, 1) or 1

    @property
    def sample_format(self) -> int:
        return self._int(TagCode.SAMPLE_FORMAT, 1) or 1

    @property
    def samples_per_pixel(self) -> int:
        return self._int(TagCode.SAMPLES_PER_PIXEL, 1) or 1

    @property
    def planar_configuration(self) -> int:
        return self._int(TagCode.PLANAR_CONFIGURATION, 1) or 1

    @property
    def photometric(self) -> int | None:
        return self._int(TagCode.PHOTOMETRIC)

    @property
    def compression(self) -> int:
        return self._int(TagCode.COMPRESSION, 1) or 1

    @property
    def compression_name(self) -> str:
        return compression_name(self.compression)

    @property
    def is_tiled(self) -> bool:
        return self.tag(TagCode.TILE_WIDTH) is not None

    @property
    def tile_width(self) -> int | None:
        return self._int(TagCode.TILE_WIDTH) if self.is_tiled else None

    @property
    def tile_height(self) -> int | None:
        return self._int(TagCode.TILE_LENGTH) if self.is_tiled else None

    @property
    def rows_per_strip(self) -> int | None:
        return None if self.is_tiled else self._int(TagCode.ROWS_PER_STRIP)

    @property
    def tile_count(self) -> int | None:
        """Tiles (or strips) computed from the geometry and planar configuration; None when not computable."""
        width, height = self.width, self.height
        if width is None or height is None:
            return None
        planes = self.samples_per_pixel if self.planar_configuration == PlanarConfig.SEPARATE else 1
        if self.is_tiled:
            tw, th = self.tile_width, self.tile_height
            if not tw or not th:
                return None
            td = self._int(TagCode.TILE_DEPTH, 1) or 1
            return math.ceil(width / tw) * math.ceil(height / th) * math.ceil(self.image_depth / td) * planes
        rps = self.rows_per_strip
        if rps is None or rps <= 0 or rps >= height:
            return planes if height > 0 else 0
        return math.ceil(height / rps) * planes

    @property
    def offsets_count(self) -> int | None:
        """The count of the TileOffsets (or StripOffsets) tag, to compare with ``tile_count``."""
        t = self.tag(TagCode.TILE_OFFSETS if self.is_tiled else TagCode.STRIP_OFFSETS)
        return None if t is None else t.count

    @property
    def new_subfile_type(self) -> int:
        return self._int(TagCode.NEW_SUBFILE_TYPE, 0) or 0

    @property
    def is_reduced(self) -> bool:
        """A reduced-resolution image: NewSubfileType bit 0, or the old SubfileType 2."""
        return bool(self.new_subfile_type & NewSubfileType.REDUCEDIMAGE) or (
            self._int(TagCode.SUBFILE_TYPE) == SubfileType.REDUCEDIMAGE
        )

    @property
    def image_description_length(self) -> int | None:
        t = self.tag(TagCode.IMAGE_DESCRIPTION)
        return None if t is None else t.nbytes

    def walk(self) -> Iterator[IFD]:
        """This IFD, then its SubIFDs depth-first."""
        yield self
        for sub in self.subifds:
            yield from sub.walk()

    def to_dict(self, budget: list[int] | None = None) -> dict[str, Any]:
        """This IFD and its SubIFDs as plain data; with ``budget`` (characters left, shared and decremented), the
        SubIFDs are listed only while it lasts and ``subifds_omitted`` counts the rest."""
        tags = self.tags[:DICT_TAGS_PER_IFD]
        out: dict[str, Any] = {
            "offset": self.offset,
            "path": self.path,
            "width": self.width,
            "height": self.height,
            "compression": self.compression,
            "compression_name": self.compression_name,
            "tile_width": self.tile_width,
            "tile_height": self.tile_height,
            "bits_per_sample": self.bits_per_sample,
            "samples_per_pixel": self.samples_per_pixel,
            "photometric": self.photometric,
            "planar_configuration": self.planar_configuration,
            "sample_format": self.sample_format,
            "tiled": self.is_tiled,
            "tile_count": self.tile_count,
            "offsets_count": self.offsets_count,
            "new_subfile_type": self.new_subfile_type,
            "is_reduced": self.is_reduced,
            "image_description_length": self.image_description_length,
            "next_offset": self.next_offset,
            "tags": [t.to_dict() for t in tags],
        }
        if len(self.tags) > len(tags):
            out["tags_omitted"] = len(self.tags) - len(tags)
        if budget is not None:
            import json  # here: reading a file does not load the JSON module

            budget[0] -= len(json.dumps(out, default=str))
        subs = []
        for sub in self.subifds:
            if budget is not None and budget[0] <= 0:
                break
            subs.append(sub.to_dict(budget))
        out["subifds"] = subs
        if len(subs) < len(self.subifds):
            out["subifds_omitted"] = len(self.subifds) - len(subs)
        return out


@record
class TiffStructure:
    """Everything read from the TIFF container: header facts, the IFD tree, IFD 0's description and findings."""

    size: int
    bigtiff: bool
    byteorder: str  # "<" or ">"
    first_ifd_offset: int
    ifds: tuple[IFD, ...]
    image_description: bytes | None = None  # IFD 0's, None when absent or streamed to description_consumer
    findings: tuple[Finding, ...] = field(default=())

    @property
    def format(self) -> TiffFormat:
        return TIFF_FORMATS[(self.bigtiff, self.byteorder)]

    def all_ifds(self) -> list[IFD]:
        """Every IFD, depth-first: IFD 0, its SubIFDs, IFD 1, ..."""
        return [ifd for top in self.ifds for ifd in top.walk()]

    @property
    def image_description_length(self) -> int | None:
        return self.ifds[0].image_description_length if self.ifds else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "bigtiff": self.bigtiff,
            "byteorder": self.byteorder,
            "first_ifd_offset": self.first_ifd_offset,
            **self._ifds_dict(),
            "image_description_length": self.image_description_length,
            "findings": [f.as_dict() for f in self.findings],
        }

    def _ifds_dict(self) -> dict[str, Any]:
        """``{"ifds": [...]}``, listed until about ``DICT_IFDS_CHARS`` of JSON; ``ifds_omitted`` counts the rest."""
        budget = [DICT_IFDS_CHARS]
        ifds = []
        for ifd in self.ifds:
            if budget[0] <= 0:
                break
            ifds.append(ifd.to_dict(budget))
        out: dict[str, Any] = {"ifds": ifds}
        if len(ifds) < len(self.ifds):
            out["ifds_omitted"] = len(self.ifds) - len(ifds)
        return out
