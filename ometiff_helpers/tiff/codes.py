"""TIFF codes as data: tag names, field types, compression and other enumerations, file-format descriptors.

Data only: no I/O and no parsing. ``tiff.py`` looks everything up here instead of branching on BigTIFF or byte order.
Sources: TIFF 6.0, the Adobe PageMaker/DNG/TIFF-F supplements, BigTIFF, EXIF 2.3, GeoTIFF 1.1, the OME-TIFF
specification and the private tags of common microscopy and slide writers.
"""

from __future__ import annotations

import struct
from enum import IntEnum, IntFlag

from ometiff_helpers.frozen import record

# --- field types ------------------------------------------------------------------------------------------------------


class FieldType(IntEnum):
    """TIFF entry field types (TIFF 6.0 types 1-12, 13 from the PageMaker notes, 16-18 from BigTIFF)."""

    BYTE = 1
    ASCII = 2
    SHORT = 3
    LONG = 4
    RATIONAL = 5
    SBYTE = 6
    UNDEFINED = 7
    SSHORT = 8
    SLONG = 9
    SRATIONAL = 10
    FLOAT = 11
    DOUBLE = 12
    IFD = 13
    UNICODE = 14  # named by some writers, never standardised: no decoding defined
    COMPLEX = 15  # idem
    LONG8 = 16
    SLONG8 = 17
    IFD8 = 18


@record
class FieldTypeInfo:
    """How one field type is stored: struct character per item, items per value, bytes per value."""

    code: int
    name: str
    struct_char: str  # one struct item ("" when the type has no defined layout)
    items: int  # struct items per value: 2 for RATIONAL/SRATIONAL (numerator, denominator)
    size: int  # bytes per value

    @property
    def decodable(self) -> bool:
        return bool(self.struct_char)


FIELD_TYPES: dict[int, FieldTypeInfo] = {
    info.code: info
    for info in (
        FieldTypeInfo(1, "BYTE", "B", 1, 1),
        FieldTypeInfo(2, "ASCII", "s", 1, 1),
        FieldTypeInfo(3, "SHORT", "H", 1, 2),
        FieldTypeInfo(4, "LONG", "I", 1, 4),
        FieldTypeInfo(5, "RATIONAL", "I", 2, 8),
        FieldTypeInfo(6, "SBYTE", "b", 1, 1),
        FieldTypeInfo(7, "UNDEFINED", "B", 1, 1),
        FieldTypeInfo(8, "SSHORT", "h", 1, 2),
        FieldTypeInfo(9, "SLONG", "i", 1, 4),
        FieldTypeInfo(10, "SRATIONAL", "i", 2, 8),
        FieldTypeInfo(11, "FLOAT", "f", 1, 4),
        FieldTypeInfo(12, "DOUBLE", "d", 1, 8),
        FieldTypeInfo(13, "IFD", "I", 1, 4),
        FieldTypeInfo(14, "UNICODE", "", 1, 2),
        FieldTypeInfo(15, "COMPLEX", "", 1, 8),
        FieldTypeInfo(16, "LONG8", "Q", 1, 8),
        FieldTypeInfo(17, "SLONG8", "q", 1, 8),
        FieldTypeInfo(18, "IFD8", "Q", 1, 8),
    )
}

#: field types whose values are file offsets of IFDs (or may be used so: LONG/LONG8 in SubIFDs, EXIF pointers)
IFD_POINTER_TYPES = frozenset({FieldType.LONG, FieldType.IFD, FieldType.LONG8, FieldType.IFD8})


def field_type_name(code: int) -> str:
    info = FIELD_TYPES.get(code)
    return info.name if info else f"UNKNOWN_{code}"


# --- file formats -----------------------------------------------------------------------------------------------------


@record
class TiffFormat:
    """One of the four TIFF container layouts (classic/BigTIFF x little/big endian) as data."""

    bigtiff: bool
    byteorder: str  # "<" or ">"
    header_size: int  # 8 or 16
    offset_size: int  # 4 or 8: IFD offsets, value offsets and the inline value slot
    offset_char: str  # "I" or "Q"
    count_size: int  # size of the IFD entry count: 2 or 8
    count_char: str  # "H" or "Q"
    entry_size: int  # 12 or 20
    entry_struct: struct.Struct  # tag, type, count (the value slot is decoded separately)

    @property
    def name(self) -> str:
        return f"{'BigTIFF' if self.bigtiff else 'classic TIFF'}, {'little' if self.byteorder == '<' else 'big'}-endian"

    def ifd_size(self, n_entries: int) -> int:
        """Bytes of an IFD with ``n_entries``: count, entries and the next-IFD pointer."""
        return self.count_size + n_entries * self.entry_size + self.offset_size

    def unpack_offset(self, data: bytes, pos: int = 0) -> int:
        return struct.unpack_from(self.byteorder + self.offset_char, data, pos)[0]

    def unpack_count(self, data: bytes, pos: int = 0) -> int:
        return struct.unpack_from(self.byteorder + self.count_char, data, pos)[0]


def _format(bigtiff: bool, byteorder: str) -> TiffFormat:
    if bigtiff:
        return TiffFormat(True, byteorder, 16, 8, "Q", 8, "Q", 20, struct.Struct(byteorder + "HHQ"))
    return TiffFormat(False, byteorder, 8, 4, "I", 2, "H", 12, struct.Struct(byteorder + "HHI"))


TIFF_FORMATS: dict[tuple[bool, str], TiffFormat] = {
    (big, order): _format(big, order) for big in (False, True) for order in ("<", ">")
}

#: byte-order marks at offset 0
BYTEORDER_MARKS: dict[bytes, str] = {b"II": "<", b"MM": ">"}
CLASSIC_MAGIC = 42
BIGTIFF_MAGIC = 43

# --- enumerations -----------------------------------------------------------------------------------------------------


class Compression(IntEnum):
    """Compression (tag 259) codes."""

    NONE = 1
    CCITTRLE = 2
    CCITT_T4 = 3
    CCITT_T6 = 4
    LZW = 5
    OJPEG = 6
    JPEG = 7
    ADOBE_DEFLATE = 8
    JBIG_BW = 9
    JBIG_COLOR = 10
    JPEG_99 = 99
    KODAK_262 = 262
    JPEGXR_NDPI = 22610
    NEXT = 32766
    SONY_ARW = 32767
    PACKED_RAW = 32769
    SAMSUNG_SRW = 32770
    CCIRLEW = 32771
    SAMSUNG_SRW2 = 32772
    PACKBITS = 32773
    THUNDERSCAN = 32809
    IT8CTPAD = 32895
    IT8LW = 32896
    IT8MP = 32897
    IT8BL = 32898
    PIXARFILM = 32908
    PIXARLOG = 32909
    DEFLATE = 32946
    DCS = 32947
    APERIO_JP2000_YCBC = 33003
    JPEG_2000_LOSSY = 33004
    APERIO_JP2000_RGB = 33005
    ALT_JPEG = 33007
    JBIG = 34661
    SGILOG = 34676
    SGILOG24 = 34677
    LURADOC = 34692
    JPEG2000 = 34712
    NIKON_NEF = 34713
    JBIG2 = 34715
    MDI_BINARY = 34718
    MDI_PROGRESSIVE = 34719
    MDI_VECTOR = 34720
    LERC = 34887
    JPEG_LOSSY = 34892
    LZMA = 34925
    ZSTD_DEPRECATED = 34926
    WEBP_DEPRECATED = 34927
    PNG = 34933
    JPEGXR = 34934
    JPEGXL_DNG = 52546
    ZSTD = 50000
    WEBP = 50001
    JPEGXL = 50002
    JETRAW = 48124
    EER_V0 = 65000
    EER_V1 = 65001
    EER_V2 = 65002


#: display names for compression codes; 34892 is "JPEG (lossy DNG)" in DNG and is read as JPEG XL by nobody:
#: JPEG XL is 50002 (and 52546 in DNG 1.7).
COMPRESSION_NAMES: dict[int, str] = {int(c): c.name for c in Compression}


class Photometric(IntEnum):
    MINISWHITE = 0
    MINISBLACK = 1
    RGB = 2
    PALETTE = 3
    MASK = 4
    SEPARATED = 5
    YCBCR = 6
    CIELAB = 8
    ICCLAB = 9
    ITULAB = 10
    CFA = 32803
    LOGL = 32844
    LOGLUV = 32845
    LINEAR_RAW = 34892
    DEPTH_MAP = 51177
    SEMANTIC_MASK = 52527


class PlanarConfig(IntEnum):
    CONTIG = 1
    SEPARATE = 2


class SampleFormat(IntEnum):
    UINT = 1
    INT = 2
    IEEEFP = 3
    VOID = 4
    COMPLEXINT = 5
    COMPLEXIEEEFP = 6


class Predictor(IntEnum):
    NONE = 1
    HORIZONTAL = 2
    FLOATINGPOINT = 3


class ResolutionUnit(IntEnum):
    NONE = 1
    INCH = 2
    CENTIMETER = 3
    MILLIMETER = 4  # DNG/Bio-Formats extensions
    MICROMETER = 5


class NewSubfileType(IntFlag):
    """NewSubfileType (tag 254) bits."""

    UNDEFINED = 0
    REDUCEDIMAGE = 1
    PAGE = 2
    MASK = 4
    MACRO = 8  # Aperio/SVS-ish usage
    MRC = 16
    DEPTH = 64
    ENHANCED = 128


class SubfileType(IntEnum):
    """Old SubfileType (tag 255) values."""

    FILE = 1
    REDUCEDIMAGE = 2
    PAGE = 3


# --- tag codes --------------------------------------------------------------------------------------------------------


class TagCode(IntEnum):
    """The tag codes the reader itself uses (names for all known codes are in TAG_NAMES)."""

    NEW_SUBFILE_TYPE = 254
    SUBFILE_TYPE = 255
    IMAGE_WIDTH = 256
    IMAGE_LENGTH = 257
    BITS_PER_SAMPLE = 258
    COMPRESSION = 259
    PHOTOMETRIC = 262
    IMAGE_DESCRIPTION = 270
    STRIP_OFFSETS = 273
    SAMPLES_PER_PIXEL = 277
    ROWS_PER_STRIP = 278
    STRIP_BYTE_COUNTS = 279
    PLANAR_CONFIGURATION = 284
    SOFTWARE = 305
    TILE_WIDTH = 322
    TILE_LENGTH = 323
    TILE_OFFSETS = 324
    TILE_BYTE_COUNTS = 325
    SUB_IFDS = 330
    SAMPLE_FORMAT = 339
    IMAGE_DEPTH = 32997
    TILE_DEPTH = 32998
    EXIF_IFD = 34665
    GPS_IFD = 34853
    INTEROPERABILITY_IFD = 40965


#: tags whose values are (potentially large) per-strip/per-tile arrays: never fetched eagerly
LARGE_ARRAY_TAGS = frozenset(
    {TagCode.STRIP_OFFSETS, TagCode.STRIP_BYTE_COUNTS, TagCode.TILE_OFFSETS, TagCode.TILE_BYTE_COUNTS}
)

#: tags that describe an image without changing how it is read or shown (names, dates, the writing software, the
#: resolution: the viewer takes the pixel size from the OME-XML): no check uses their values. IFD 0's are loaded (the
#: report names its Software); any other IFD's only when their bytes came with a read already made, so that they
#: never cost a request or a read through offset arrays (``load_tag_value`` loads one on demand)
DESCRIPTIVE_TAGS = frozenset(
    {
        269,  # DocumentName
        271,  # Make
        272,  # Model
        282,  # XResolution
        283,  # YResolution
        285,  # PageName
        286,  # XPosition
        287,  # YPosition
        305,  # Software
        306,  # DateTime
        315,  # Artist
        316,  # HostComputer
        33432,  # Copyright
    }
)

TAG_NAMES: dict[int, str] = {
    # TIFF 6.0 baseline and extensions
    254: "NewSubfileType",
    255: "SubfileType",
    256: "ImageWidth",
    257: "ImageLength",
    258: "BitsPerSample",
    259: "Compression",
    262: "PhotometricInterpretation",
    263: "Thresholding",
    264: "CellWidth",
    265: "CellLength",
    266: "FillOrder",
    269: "DocumentName",
    270: "ImageDescription",
    271: "Make",
    272: "Model",
    273: "StripOffsets",
    274: "Orientation",
    277: "SamplesPerPixel",
    278: "RowsPerStrip",
    279: "StripByteCounts",
    280: "MinSampleValue",
    281: "MaxSampleValue",
    282: "XResolution",
    283: "YResolution",
    284: "PlanarConfiguration",
    285: "PageName",
    286: "XPosition",
    287: "YPosition",
    288: "FreeOffsets",
    289: "FreeByteCounts",
    290: "GrayResponseUnit",
    291: "GrayResponseCurve",
    292: "T4Options",
    293: "T6Options",
    296: "ResolutionUnit",
    297: "PageNumber",
    300: "ColorResponseUnit",
    301: "TransferFunction",
    305: "Software",
    306: "DateTime",
    315: "Artist",
    316: "HostComputer",
    317: "Predictor",
    318: "WhitePoint",
    319: "PrimaryChromaticities",
    320: "ColorMap",
    321: "HalftoneHints",
    322: "TileWidth",
    323: "TileLength",
    324: "TileOffsets",
    325: "TileByteCounts",
    326: "BadFaxLines",
    327: "CleanFaxData",
    328: "ConsecutiveBadFaxLines",
    330: "SubIFDs",
    332: "InkSet",
    333: "InkNames",
    334: "NumberOfInks",
    336: "DotRange",
    337: "TargetPrinter",
    338: "ExtraSamples",
    339: "SampleFormat",
    340: "SMinSampleValue",
    341: "SMaxSampleValue",
    342: "TransferRange",
    343: "ClipPath",
    344: "XClipPathUnits",
    345: "YClipPathUnits",
    346: "Indexed",
    347: "JPEGTables",
    351: "OPIProxy",
    400: "GlobalParametersIFD",
    401: "ProfileType",
    402: "FaxProfile",
    403: "CodingMethods",
    404: "VersionYear",
    405: "ModeNumber",
    433: "Decode",
    434: "DefaultImageColor",
    435: "T82Options",
    437: "JPEGTables_",  # TIFF-FX
    512: "JPEGProc",
    513: "JPEGInterchangeFormat",
    514: "JPEGInterchangeFormatLength",
    515: "JPEGRestartInterval",
    517: "JPEGLosslessPredictors",
    518: "JPEGPointTransforms",
    519: "JPEGQTables",
    520: "JPEGDCTables",
    521: "JPEGACTables",
    529: "YCbCrCoefficients",
    530: "YCbCrSubSampling",
    531: "YCbCrPositioning",
    532: "ReferenceBlackWhite",
    559: "StripRowCounts",
    700: "XMP",
    4864: "AndorId",
    4869: "AndorTemperature",
    4876: "AndorExposureTime",
    4878: "AndorKineticCycleTime",
    4879: "AndorAccumulations",
    4881: "AndorAcquisitionCycleTime",
    4882: "AndorReadoutTime",
    4884: "AndorPhotonCounting",
    4885: "AndorEmDacLevel",
    4890: "AndorFrames",
    4896: "AndorHorizontalFlip",
    4897: "AndorVerticalFlip",
    4898: "AndorClockwise",
    4899: "AndorCounterClockwise",
    4904: "AndorVerticalClockVoltage",
    4905: "AndorVerticalShiftSpeed",
    4907: "AndorPreAmpSetting",
    4908: "AndorCameraSerial",
    4911: "AndorActualTemperature",
    4912: "AndorBaselineClamp",
    4913: "AndorPrescans",
    4914: "AndorModel",
    4915: "AndorChipSizeX",
    4916: "AndorChipSizeY",
    4944: "AndorBaselineOffset",
    4966: "AndorSoftwareVersion",
    18246: "Rating",
    18249: "RatingPercent",
    28672: "SonyRawFileType",
    28722: "VignettingCorrParams",
    28725: "ChromaticAberrationCorrParams",
    28727: "DistortionCorrParams",
    # private, widely seen
    32781: "ImageID",
    32932: "WangAnnotation",
    32953: "ImageReferencePoints",
    32954: "RegionXformTackPoint",
    32955: "WarpQuadrilateral",
    32956: "AffineTransformMat",
    32995: "Matteing",
    32996: "DataType",
    32997: "ImageDepth",
    32998: "TileDepth",
    33300: "ImageFullWidth",
    33301: "ImageFullLength",
    33302: "TextureFormat",
    33303: "TextureWrapModes",
    33304: "FieldOfViewCotangent",
    33305: "MatrixWorldToScreen",
    33306: "MatrixWorldToCamera",
    33405: "Model2",
    33421: "CFARepeatPatternDim",
    33422: "CFAPattern",
    33423: "BatteryLevel",
    33424: "KodakIFD",
    33432: "Copyright",
    33434: "ExposureTime",
    33437: "FNumber",
    33445: "MDFileTag",
    33446: "MDScalePixel",
    33447: "MDColorTable",
    33448: "MDLabName",
    33449: "MDSampleInfo",
    33450: "MDPrepDate",
    33451: "MDPrepTime",
    33452: "MDFileUnits",
    33471: "OlympusINI",
    33550: "ModelPixelScaleTag",
    33560: "OlympusSIS",
    33589: "AdventScale",
    33590: "AdventRevision",
    33628: "UIC1tag",
    33629: "UIC2tag",
    33630: "UIC3tag",
    33631: "UIC4tag",
    33723: "IPTCNAA",
    33858: "ExtendedTagsOffset",
    33918: "IntergraphPacketData",
    33919: "IntergraphFlagRegisters",
    33920: "IntergraphMatrixTag",
    33921: "INGRReserved",
    33922: "ModelTiepointTag",
    33923: "LeicaMagic",
    34016: "Site",
    34017: "ColorSequence",
    34018: "IT8Header",
    34019: "RasterPadding",
    34020: "BitsPerRunLength",
    34021: "BitsPerExtendedRunLength",
    34022: "ColorTable",
    34023: "ImageColorIndicator",
    34024: "BackgroundColorIndicator",
    34025: "ImageColorValue",
    34026: "BackgroundColorValue",
    34027: "PixelIntensityRange",
    34028: "TransparencyIndicator",
    34029: "ColorCharacterization",
    34030: "HCUsage",
    34031: "TrapIndicator",
    34032: "CMYKEquivalent",
    34118: "CZ_SEM",
    34152: "AFCP_IPTC",
    34232: "PixelMagicJBIGOptions",
    34263: "JPLCartoIFD",
    34264: "ModelTransformationTag",
    34306: "WB_GRGBLevels",
    34310: "LeafData",
    34361: "MM_Header",
    34362: "MM_Stamp",
    34363: "MM_Unknown",
    34377: "ImageResources",
    34386: "MM_UserBlock",
    34412: "CZ_LSMINFO",
    34665: "ExifTag",
    34675: "InterColorProfile",
    34680: "FEI_SFEG",
    34682: "FEI_HELIOS",
    34683: "FEI_TITAN",
    34687: "FXExtensions",
    34688: "MultiProfiles",
    34689: "SharedData",
    34690: "T88Options",
    34710: "MarCCD",
    34732: "ImageLayer",
    34735: "GeoKeyDirectoryTag",
    34736: "GeoDoubleParamsTag",
    34737: "GeoAsciiParamsTag",
    34750: "JBIGOptions",
    34821: "PIXTIFF",
    34850: "ExposureProgram",
    34852: "SpectralSensitivity",
    34853: "GPSTag",
    34855: "ISOSpeedRatings",
    34856: "OECF",
    34857: "Interlace",
    34858: "TimeZoneOffset",
    34859: "SelfTimerMode",
    34864: "SensitivityType",
    34865: "StandardOutputSensitivity",
    34866: "RecommendedExposureIndex",
    34867: "ISOSpeed",
    34868: "ISOSpeedLatitudeyyy",
    34869: "ISOSpeedLatitudezzz",
    34908: "HylaFAXFaxRecvParams",
    34909: "HylaFAXFaxSubAddress",
    34910: "HylaFAXFaxRecvTime",
    34911: "FaxDcs",
    34929: "FedexEDR",
    34954: "LeafSubIFD",
    34976: "Aphelion1",
    34977: "Aphelion2",
    34978: "AphelionInternal",
    36864: "ExifVersion",
    36867: "DateTimeOriginal",
    36868: "DateTimeDigitized",
    36873: "GooglePlusUploadCode",
    36880: "OffsetTime",
    36881: "OffsetTimeOriginal",
    36882: "OffsetTimeDigitized",
    37120: "TVX_UserVariables",
    37121: "ComponentsConfiguration",
    37122: "CompressedBitsPerPixel",
    37377: "ShutterSpeedValue",
    37378: "ApertureValue",
    37379: "BrightnessValue",
    37380: "ExposureBiasValue",
    37381: "MaxApertureValue",
    37382: "SubjectDistance",
    37383: "MeteringMode",
    37384: "LightSource",
    37385: "Flash",
    37386: "FocalLength",
    37387: "FlashEnergy_",
    37388: "SpatialFrequencyResponse_",
    37389: "Noise",
    37390: "FocalPlaneXResolution",
    37391: "FocalPlaneYResolution",
    37392: "FocalPlaneResolutionUnit",
    37393: "ImageNumber",
    37394: "SecurityClassification",
    37395: "ImageHistory",
    37396: "SubjectLocation",
    37397: "ExposureIndex",
    37398: "TIFFEPStandardID",
    37399: "SensingMethod",
    37434: "CIP3DataFile",
    37435: "CIP3Sheet",
    37436: "CIP3Side",
    37439: "StoNits",
    37500: "MakerNote",
    37510: "UserComment",
    37520: "SubsecTime",
    37521: "SubsecTimeOriginal",
    37522: "SubsecTimeDigitized",
    37679: "MODIText",
    37680: "MODIOLEPropertySetStorage",
    37681: "MODIPositioning",
    37701: "AgilentBinary",
    37702: "AgilentString",
    37706: "TVIPS",
    37707: "TVIPS1",
    37708: "TVIPS2",
    37724: "ImageSourceData",
    37888: "Temperature",
    37889: "Humidity",
    37890: "Pressure",
    37891: "WaterDepth",
    37892: "Acceleration",
    37893: "CameraElevationAngle",
    40000: "XPos",
    40001: "YPos",
    40002: "ZPos",
    40100: "MC_IdOld",
    40965: "InteroperabilityTag",
    40091: "XPTitle",
    40092: "XPComment",
    40093: "XPAuthor",
    40094: "XPKeywords",
    40095: "XPSubject",
    40960: "FlashpixVersion",
    40961: "ColorSpace",
    40962: "PixelXDimension",
    40963: "PixelYDimension",
    40964: "RelatedSoundFile",
    41483: "FlashEnergy",
    41484: "SpatialFrequencyResponse",
    41486: "FocalPlaneXResolution",
    41487: "FocalPlaneYResolution",
    41488: "FocalPlaneResolutionUnit",
    41492: "SubjectLocation",
    41493: "ExposureIndex",
    41495: "SensingMethod",
    41728: "FileSource",
    41729: "SceneType",
    41730: "CFAPattern",
    41985: "CustomRendered",
    41986: "ExposureMode",
    41987: "WhiteBalance",
    41988: "DigitalZoomRatio",
    41989: "FocalLengthIn35mmFilm",
    41990: "SceneCaptureType",
    41991: "GainControl",
    41992: "Contrast",
    41993: "Saturation",
    41994: "Sharpness",
    41995: "DeviceSettingDescription",
    41996: "SubjectDistanceRange",
    42016: "ImageUniqueID",
    42032: "CameraOwnerName",
    42033: "BodySerialNumber",
    42034: "LensSpecification",
    42035: "LensMake",
    42036: "LensModel",
    42037: "LensSerialNumber",
    42112: "GDAL_METADATA",
    42113: "GDAL_NODATA",
    42240: "Gamma",
    43314: "NIHImageHeader",
    44992: "ExpandSoftware",
    44993: "ExpandLens",
    44994: "ExpandFilm",
    44995: "ExpandFilterLens",
    44996: "ExpandScanner",
    44997: "ExpandFlashLamp",
    48129: "PixelFormat",
    48130: "Transformation",
    48131: "Uncompressed",
    48132: "ImageType",
    48256: "ImageWidth_",  # HD Photo
    48257: "ImageHeight_",
    48258: "WidthResolution",
    48259: "HeightResolution",
    48320: "ImageOffset",
    48321: "ImageByteCount",
    48322: "AlphaOffset",
    48323: "AlphaByteCount",
    48324: "ImageDataDiscard",
    48325: "AlphaDataDiscard",
    50003: "KodakAPP3",
    50215: "OceScanjobDescription",
    50216: "OceApplicationSelector",
    50217: "OceIdentificationNumber",
    50218: "OceImageLogicCharacteristics",
    50255: "Annotations",
    50288: "MC_Id",
    50289: "MC_XYPosition",
    50290: "MC_ZPosition",
    50291: "MC_XYCalibration",
    50292: "MC_LensCharacteristics",
    50293: "MC_ChannelName",
    50294: "MC_ExcitationWavelength",
    50295: "MC_TimeStamp",
    50296: "MC_FrameProperties",
    50341: "PrintImageMatching",
    50495: "PCO_RAW",
    50547: "OriginalFileName",
    50560: "USPTO_OriginalContentType",
    50561: "USPTO_RotationCode",
    50648: "CR2Unknown1",
    50649: "CR2Unknown2",
    50656: "CR2CFAPattern",
    50674: "LercParameters",
    50706: "DNGVersion",
    50707: "DNGBackwardVersion",
    50708: "UniqueCameraModel",
    50709: "LocalizedCameraModel",
    50710: "CFAPlaneColor",
    50711: "CFALayout",
    50712: "LinearizationTable",
    50713: "BlackLevelRepeatDim",
    50714: "BlackLevel",
    50715: "BlackLevelDeltaH",
    50716: "BlackLevelDeltaV",
    50717: "WhiteLevel",
    50718: "DefaultScale",
    50719: "DefaultCropOrigin",
    50720: "DefaultCropSize",
    50721: "ColorMatrix1",
    50722: "ColorMatrix2",
    50723: "CameraCalibration1",
    50724: "CameraCalibration2",
    50725: "ReductionMatrix1",
    50726: "ReductionMatrix2",
    50727: "AnalogBalance",
    50728: "AsShotNeutral",
    50729: "AsShotWhiteXY",
    50730: "BaselineExposure",
    50731: "BaselineNoise",
    50732: "BaselineSharpness",
    50733: "BayerGreenSplit",
    50734: "LinearResponseLimit",
    50735: "CameraSerialNumber",
    50736: "LensInfo",
    50737: "ChromaBlurRadius",
    50738: "AntiAliasStrength",
    50739: "ShadowScale",
    50740: "DNGPrivateData",
    50741: "MakerNoteSafety",
    50752: "RawImageSegmentation",
    50778: "CalibrationIlluminant1",
    50779: "CalibrationIlluminant2",
    50780: "BestQualityScale",
    50781: "RawDataUniqueID",
    50784: "AliasLayerMetadata",
    50827: "OriginalRawFileName",
    50828: "OriginalRawFileData",
    50829: "ActiveArea",
    50830: "MaskedAreas",
    50831: "AsShotICCProfile",
    50832: "AsShotPreProfileMatrix",
    50833: "CurrentICCProfile",
    50834: "CurrentPreProfileMatrix",
    50838: "IJMetadataByteCounts",
    50839: "IJMetadata",
    50844: "RPCCoefficientTag",
    50879: "ColorimetricReference",
    50885: "SRawType",
    50898: "PanasonicTitle",
    50899: "PanasonicTitle2",
    50908: "RSID",
    50909: "GEO_METADATA",
    50931: "CameraCalibrationSignature",
    50932: "ProfileCalibrationSignature",
    50933: "ProfileIFD",
    50934: "AsShotProfileName",
    50935: "NoiseReductionApplied",
    50936: "ProfileName",
    50937: "ProfileHueSatMapDims",
    50938: "ProfileHueSatMapData1",
    50939: "ProfileHueSatMapData2",
    50940: "ProfileToneCurve",
    50941: "ProfileEmbedPolicy",
    50942: "ProfileCopyright",
    50964: "ForwardMatrix1",
    50965: "ForwardMatrix2",
    50966: "PreviewApplicationName",
    50967: "PreviewApplicationVersion",
    50968: "PreviewSettingsName",
    50969: "PreviewSettingsDigest",
    50970: "PreviewColorSpace",
    50971: "PreviewDateTime",
    50972: "RawImageDigest",
    50973: "OriginalRawFileDigest",
    50974: "SubTileBlockSize",
    50975: "RowInterleaveFactor",
    50981: "ProfileLookTableDims",
    50982: "ProfileLookTableData",
    51008: "OpcodeList1",
    51009: "OpcodeList2",
    51022: "OpcodeList3",
    51023: "FibicsXML",
    51041: "NoiseProfile",
    51043: "TimeCodes",
    51044: "FrameRate",
    51058: "TStop",
    51081: "ReelName",
    51089: "OriginalDefaultFinalSize",
    51090: "OriginalBestQualitySize",
    51091: "OriginalDefaultCropSize",
    51105: "CameraLabel",
    51107: "ProfileHueSatMapEncoding",
    51108: "ProfileLookTableEncoding",
    51109: "BaselineExposureOffset",
    51110: "DefaultBlackRender",
    51111: "NewRawImageDigest",
    51112: "RawToPreviewGain",
    51113: "CacheBlob",
    51114: "CacheVersion",
    51123: "MicroManagerMetadata",
    51125: "DefaultUserCrop",
    51159: "ZIFmetadata",
    51160: "ZIFannotations",
    51177: "DepthFormat",
    51178: "DepthNear",
    51179: "DepthFar",
    51180: "DepthUnits",
    51181: "DepthMeasureType",
    51182: "EnhanceParams",
    52525: "ProfileGainTableMap",
    52526: "SemanticName",
    52528: "SemanticInstanceID",
    52529: "CalibrationIlluminant3",
    52530: "CameraCalibration3",
    52531: "ColorMatrix3",
    52532: "ForwardMatrix3",
    52533: "IlluminantData1",
    52534: "IlluminantData2",
    52535: "IlluminantData3",
    52536: "MaskSubArea",
    52537: "ProfileHueSatMapData3",
    52538: "ReductionMatrix3",
    52543: "RGBTables",
    52544: "ProfileGainTableMap2",
    52547: "ColumnInterleaveFactor",
    52548: "ImageSequenceInfo",
    52550: "ImageStats",
    52551: "ProfileDynamicRange",
    52552: "ProfileGroupName",
    52553: "JXLDistance",
    52554: "JXLEffort",
    52555: "JXLDecodeSpeed",
    55000: "AperioUnknown55000",
    55001: "AperioMagnification",
    55002: "AperioMPP",
    55003: "AperioScanScopeID",
    55004: "AperioDate",
    59932: "Padding",
    59933: "OffsetSchema",
    # Hamamatsu NDPI private tags (65420-65480)
    65200: "FlexXML",
    65420: "NDPI_FORMAT_FLAG",
    65421: "NDPI_SOURCELENS",
    65422: "NDPI_XOFFSET",
    65423: "NDPI_YOFFSET",
    65424: "NDPI_FOCAL_PLANE",
    65425: "NDPI_FOCAL_PLANE_",
    65426: "NDPI_MCU_STARTS",
    65427: "NDPI_REFERENCE",
    65428: "NDPI_AuthCode",
    65432: "NDPI_McuStartsHighBytes",
    65433: "NDPI_CHANNEL",
    65434: "NDPI_ScannerSerialNumber",
    65439: "NDPI_SCANNER_SERIAL_NUMBER",
    65440: "NDPI_BarcodeType",
    65441: "NDPI_WRITER",
    65442: "NDPI_SERIAL_NUMBER",
    65443: "NDPI_CHANNEL_",
    65444: "NDPI_ZSTACK",
    65445: "NDPI_SCANTYPE",
    65446: "NDPI_OPTICS",
    65447: "NDPI_BLANKLANES",
    65449: "NDPI_PROPERTY_MAP",
    65455: "NDPI_MAGNIFICATION",
    65456: "NDPI_SCANNER_TYPE",
    65457: "NDPI_XOFFSET_SCALED",
    65458: "NDPI_YOFFSET_SCALED",
    65468: "NDPI_CropCOORD",
    65480: "NDPI_Version",
}


def tag_name(code: int) -> str:
    """The tag's name, or its number as text when unknown."""
    return TAG_NAMES.get(code, str(code))


def compression_name(code: int | None) -> str:
    if code is None:
        return "NONE"  # tag absent: the TIFF default is 1, no compression
    return COMPRESSION_NAMES.get(code, f"UNKNOWN_{code}")
