"""inspect(url): source -> TIFF structure -> OME-XML -> probes -> viewer estimate -> checks, in one JSON-able Report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ometiff_helpers import __version__
from ometiff_helpers.diagnose.check_input import CheckInput
from ometiff_helpers.diagnose.evaluate import early_rules, evaluate
from ometiff_helpers.diagnose.origin import check_origin
from ometiff_helpers.diagnose.viewer import NEWEST, ViewerVersion
from ometiff_helpers.diagnose.viewer_cost import estimate_viewer_cost
from ometiff_helpers.digest import sha256_hex
from ometiff_helpers.errors import OmeTiffError
from ometiff_helpers.findings import Finding, Severity
from ometiff_helpers.fmt import human_bytes
from ometiff_helpers.frozen import record
from ometiff_helpers.io.base import ByteSource, HttpOptions, SourceInfo
from ometiff_helpers.io.ledger import Ledger
from ometiff_helpers.io.open import open_source
from ometiff_helpers.ome.intake import XmlIntake
from ometiff_helpers.ome.parser import OmeDocument, OmeXmlOptions, decode_description
from ometiff_helpers.ome.tables import physical_extent_um
from ometiff_helpers.ometiff import legacy_image_levels, pyramid_how, pyramid_levels
from ometiff_helpers.progress import ProgressCallback
from ometiff_helpers.tiff.read import ReadOptions, TiffStructure, read_tiff
from ometiff_helpers.urls import SecretURL, redact_text

if TYPE_CHECKING:  # the probes module is imported when a URL is probed, not for a local file
    from ometiff_helpers.diagnose.probes import ProbeResults

#: pyramid levels listed in the JSON (the rest are counted in ``levels_omitted``)
_JSON_LEVELS = 64
#: channel names listed in the JSON (the rest are counted in ``channels_omitted``)
_JSON_CHANNELS = 1024


@record
class Level:
    """One pyramid level of the first image."""

    index: int
    width: int
    height: int
    downsample: float  # width of level 0 / width of this level
    tile_width: int | None
    tile_height: int | None
    tile_count: int | None
    compression: str
    path: str


@dataclass
class Report:
    """Everything read about one file. ``display_name`` is the redacted URL or the file name."""

    display_name: str
    source_info: SourceInfo
    tiff: TiffStructure
    ledger: Ledger
    ome: OmeDocument | None = None
    ome_error: str | None = None  # why there is no OME document (not OME, invalid XML, ...)
    ome_error_kind: str | None = None
    xml_bytes: bytes | None = (
        None  # IFD 0's ImageDescription as stored (terminating NULs removed): the one copy
    )
    findings: list[Finding] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # probe results, the viewer estimate
    pixels: Any = None  # pixels.model.PixelPreview when the preview ran (inspect(..., pixels=True))
    pending: tuple[
        str, ...
    ] = ()  # what is still to come, in words (an early answer: see ``Stage``); () when complete

    @property
    def xml_text(self) -> str | None:
        """``xml_bytes`` decoded with the XML's own encoding (declaration / BOM), on each call: a 23 MB XML is not
        kept twice (callers that need the text more than once keep it)."""
        return decode_description(self.xml_bytes) if self.xml_bytes is not None else None

    # --- derived views ---------------------------------------------------------------------------------------------

    def levels(self) -> list[Level]:
        """The pyramid of the first image, as the checks see it (``ometiff.pyramid_levels``): IFD 0 and its
        SubIFDs, or the legacy levels in the main chain (reduced IFDs after IFD 0, or one OME Image per level)."""
        chain = pyramid_levels(self.tiff, self.ome)
        if not chain:
            return []
        first = chain[0]
        base = first.width or 0
        levels = []
        for i, ifd in enumerate(chain):
            width, height = ifd.width or 0, ifd.height or 0
            levels.append(
                Level(
                    index=i,
                    width=width,
                    height=height,
                    downsample=round(base / width, 3) if width else 0.0,
                    tile_width=ifd.tile_width,
                    tile_height=ifd.tile_height,
                    tile_count=ifd.tile_count,
                    compression=ifd.compression_name,
                    path=ifd.path,
                )
            )
        return levels

    @property
    def errors(self) -> list[Finding]:
        """The error findings (the viewer will not render the file)."""
        return [f for f in self.findings if f.severity is Severity.ERROR]

    def verdict(self) -> str:
        """One line: what the viewer will make of this file (of an early answer: so far, and what is pending)."""
        counts = {s: sum(f.severity is s for f in self.findings) for s in Severity}
        if counts[Severity.ERROR]:
            first = self.errors[0]
            text = f"will not render: {counts[Severity.ERROR]} error(s), first {first.code}"
        elif counts[Severity.WARNING]:
            text = f"renders, with {counts[Severity.WARNING]} warning(s)"
        else:
            text = "no problems found"
        if self.pending:
            text += f" so far; pending: {'; '.join(self.pending)}"
        return text

    def summary(self) -> dict[str, str]:
        """Label -> value, in reading order, for the Summary tab and the CLI."""
        t = self.tiff
        out: dict[str, str] = {"File": self.display_name}
        kind = "BigTIFF" if t.bigtiff else "classic TIFF"
        endian = "little-endian" if t.byteorder == "<" else "big-endian"
        if self.ome is None:
            ome = f"not OME-TIFF: {self.ome_error}"
        elif self.ome.binary_only is not None:
            stub = self.ome.binary_only.metadata_file or "a companion file (no MetadataFile given)"
            ome = f"OME-TIFF (schema {self.ome.schema_version}), BinaryOnly stub: the metadata is in {stub}"
        else:
            ome = f"OME-TIFF (schema {self.ome.schema_version})"
        out["Format"] = f"{kind}, {endian}; {ome}"
        out["File size"] = (
            f"{t.size:,} bytes" if t.size < 1024 else f"{human_bytes(t.size)} ({t.size:,} bytes)"
        )
        pixels = _first_pixels(self.ome)
        ifd0 = t.ifds[0] if t.ifds else None
        if pixels is not None:
            out["Dimensions"] = (
                f"X {pixels.size_x} × Y {pixels.size_y} × Z {pixels.size_z} × C {pixels.size_c} × T {pixels.size_t}"
                f" ({pixels.type}, {pixels.dimension_order})"
            )
        elif ifd0 is not None:
            out["Dimensions"] = (
                f"{ifd0.width} × {ifd0.height} px, {ifd0.samples_per_pixel} sample(s) per pixel"
            )
        if self.ome is not None and len(self.ome.images) > 1:
            legacy = legacy_image_levels(self.tiff, self.ome)
            out["Images"] = f"{len(self.ome.images)}" + (
                " (one per pyramid level)" if legacy else " (the viewer shows only the first, described here)"
            )
        channels = list(pixels.channels) if pixels is not None else []
        if channels:
            names = ", ".join(ch.name or ch.id or f"#{ch.index}" for ch in channels)
            spp = max(ch.samples_per_pixel or 1 for ch in channels)
            samples = f" ({spp} samples per pixel{', RGB' if spp == 3 else ''})" if spp > 1 else ""
            out["Channels"] = f"{len(channels)}{samples}: {names}"
        levels = self.levels()
        if levels:
            how = pyramid_how(self.tiff, self.ome)
            sizes = " → ".join(
                f"{lv.width}×{lv.height}" for lv in (levels if len(levels) <= 3 else [levels[0], levels[-1]])
            )
            out["Pyramid levels"] = f"{len(levels)} ({how}): {sizes}"
            lv0 = levels[0]
            tiles = f"{lv0.tile_width}×{lv0.tile_height} tiles" if lv0.tile_width else "strips"
            out["Tiles, compression"] = f"{tiles}, {lv0.compression}"
        out["IFDs"] = f"{len(t.ifds)} top-level + {len(t.all_ifds()) - len(t.ifds)} SubIFDs"
        if pixels is not None:
            px, py = pixels.physical_size_x, pixels.physical_size_y
            if px is not None and py is not None:
                out["Physical pixel size"] = f"{px.value:g} {px.unit} × {py.value:g} {py.unit}"
                width, height, _ = physical_extent_um(pixels)
                if width is not None and height is not None:
                    out["Total extent"] = f"{width:,.1f} × {height:,.1f} µm"
            else:
                out["Physical pixel size"] = "not set"
        writer = _writer(self)
        if writer:
            out["Writer"] = writer
        out["Verdict"] = self.verdict()
        return out

    def fingerprint(self) -> str:
        """One line that changes when the file changes: size, ETag/Last-Modified, first IFD, IFD count, XML hash."""
        info = self.source_info
        parts = [f"size={self.tiff.size}"]
        if info.etag:
            parts.append(f"etag={info.etag}")
        if info.last_modified:
            parts.append(f"last-modified={info.last_modified}")
        parts.append(f"ifd0={self.tiff.first_ifd_offset}")
        parts.append(f"ifds={len(self.tiff.ifds)}+{len(self.tiff.all_ifds()) - len(self.tiff.ifds)}")
        if self.xml_bytes is not None:
            digest = sha256_hex(self.xml_bytes)[:16]
            parts.append(f"xml-sha256={digest}")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON-able values (the ``--json`` output)."""
        data: dict[str, Any] = {
            "tool_version": __version__,
            "source": self.display_name,
            "kind": self.source_info.kind,
        }
        data.update(self.tiff.to_dict())
        levels = self.levels()
        data["levels"] = [lv.__dict__ for lv in levels[:_JSON_LEVELS]]
        if len(levels) > _JSON_LEVELS:  # a damaged file can have thousands of "levels": keep the JSON small
            data["levels_omitted"] = len(levels) - _JSON_LEVELS
        data["ome"] = _ome_summary(self.ome, self.ome_error, self.ome_error_kind)
        data["findings"] = [f.as_dict() for f in self.findings]
        data["verdict"] = self.verdict()
        data["requests"] = self.ledger.as_dict()
        data["fingerprint"] = self.fingerprint()
        data.update(self.extra)
        return data

    def to_json(self, indent: int | None = 2) -> str:
        """``to_dict()`` as JSON text."""
        import json  # here: the text output does not load the JSON module

        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, default=str)


# --- orchestration ---------------------------------------------------------------------------------------------------


SUMMARY, COMPLETE = "summary", "complete"
#: what an early answer may still be waiting for (``Report.pending``)
PENDING_XML = "the OME-XML after the Images (ROIs, annotations, ID and reference checks)"
PENDING_PROBES = "the network probes (CORS, Range, offsets.json) and the viewer estimate"
PENDING_PIXELS = "the pixel preview and its checks"


@record
class Stage:
    """One step of an inspection, handed to ``inspect(..., on_stage=...)`` as soon as it is known.

    ``name`` is ``"summary"`` (first: the TIFF structure, the OME-XML up to its Images, every check they allow;
    ``report.pending`` says what is still to come and ``report.verdict()`` says "so far") or ``"complete"`` (last:
    the report ``inspect`` returns). ``xml_parsed`` / ``xml_total``: OME-XML bytes parsed when the stage was
    emitted / in all.
    """

    name: str
    report: Report
    xml_parsed: int = 0
    xml_total: int = 0

    @property
    def complete(self) -> bool:
        """True for the last stage (the whole report)."""
        return self.name == COMPLETE


StageCallback = Callable[[Stage], None]


def inspect(
    url_or_path: str | Path | SecretURL | bytes,
    *,
    token: str | None = None,
    offsets: Sequence[int] | None = None,
    probes: bool = True,
    on_progress: ProgressCallback | None = None,
    options: ReadOptions | None = None,
    http_options: HttpOptions | None = None,
    checks: bool = True,
    pixels: bool = False,
    pixel_options: Any = None,
    viewer: ViewerVersion = NEWEST,
    origin: str | None = None,
    on_stage: StageCallback | None = None,
) -> Report:
    """Read the structure and OME-XML of a local or remote (OME-)TIFF and diagnose it.

    ``origin``: the page origin the CORS probes send (default ``probes.DEFAULT_ORIGIN``, the portal's).

    Raises an ``OmeTiffError`` only when nothing useful can be read (no file, not a TIFF, IFD 0 unreadable); a TIFF
    without (valid) OME-XML still gives a Report, with ``ome_error`` saying why. ``pixels``: also read the lowest
    level's pixels (``pixels.preview``, needs the ``pixels`` extra) into ``Report.pixels`` and run the pixel checks.
    ``viewer``: the Viv release the verdict is about where behaviour differs by release (default: the newest).
    ``on_stage``: called with a ``Stage`` as soon as the summary is known (before the ROIs and annotations of a
    large OME-XML are parsed, the probes sent and the pixels read), then with the complete report.
    """
    origin = check_origin(origin) if origin else None  # a bad origin is refused before any request
    with open_source(url_or_path, token=token, options=http_options) as source:
        return inspect_source(
            source,
            offsets=offsets,
            probes=probes,
            on_progress=on_progress,
            options=options,
            checks=checks,
            viewer=viewer,
            origin=origin,
            pixels=pixels,
            pixel_options=pixel_options,
            on_stage=on_stage,
        )


def inspect_source(
    source: ByteSource,
    *,
    offsets: Sequence[int] | None = None,
    probes: bool = True,
    on_progress: ProgressCallback | None = None,
    options: ReadOptions | None = None,
    checks: bool = True,
    viewer: ViewerVersion = NEWEST,
    origin: str | None = None,
    pixels: bool = False,
    pixel_options: Any = None,
    on_stage: StageCallback | None = None,
) -> Report:
    """Like ``inspect`` on an open ByteSource (the caller closes it): tiff -> ome (up to the Images) -> [summary
    stage] -> probes beside the rest of the ome -> estimate -> evaluate -> pixels -> [complete stage]."""
    read_options = options or ReadOptions()
    xml_options = OmeXmlOptions(max_bytes=read_options.max_description_bytes)  # one XML size limit
    intake = XmlIntake(on_progress, xml_options)
    sent: list[Stage] = []  # the summary stage, once emitted

    def structure_known(tiff: TiffStructure) -> None:
        """Every IFD is read: emit the summary now if the XML is still arriving and its head is parsed."""
        if on_stage is None or intake.total is None or intake.received >= intake.total:
            return  # no description streaming: the summary follows the reading at once
        head = intake.wait_head()
        if head is None:
            return
        draft = Report(source.display_name, source.info, tiff, source.ledger)
        probing = checks and probes and source.info.kind == "http"
        early = _early_report(
            draft, head, intake, checks=checks, probing=probing, pixels=pixels, viewer=viewer
        )
        sent.append(Stage(SUMMARY, early, intake.parsed, intake.total))
        on_stage(sent[-1])

    try:
        tiff = read_tiff(
            source,
            options=read_options,
            offsets=offsets,
            description_consumer=intake,
            on_progress=intake.relay,
            on_structure=structure_known,
        )
    except BaseException:
        intake.close_input(abort=True)  # its head thread stops
        raise
    payload = intake.payload()
    source.release_threads()  # the parse of the rest, the probes and the checks need none of the reading's threads
    report = Report(
        display_name=source.display_name,
        source_info=source.info,
        tiff=tiff,
        ledger=source.ledger,
        xml_bytes=payload,
    )
    probing = checks and probes and source.is_open and source.info.kind == "http"
    if on_stage is not None and not sent:
        head = intake.head()
        early = _early_report(
            report, head, intake, checks=checks, probing=probing, pixels=pixels, viewer=viewer
        )
        on_stage(Stage(SUMMARY, early, intake.parsed, len(payload or b"")))
    ome, probe_results = _rest_and_probes(
        report, source, intake, origin if probing else None, probing=probing
    )
    _set_ome(report, ome, intake, payload)
    report.findings = list(tiff.findings) + (list(ome.findings) if ome is not None else [])
    if checks:
        has_offsets = probe_results is not None and any(o.outcome == "valid" for o in probe_results.offsets)
        estimate = estimate_viewer_cost(tiff, ome, offsets_available=has_offsets)
        report.extra["viewer_estimate"] = {
            "geotiff_js": estimate.as_dict(),
            "this_tool": report.ledger.as_dict(),
        }
        report.findings.extend(
            evaluate(CheckInput.from_report(report, probes=probe_results, estimate=estimate, viewer=viewer))
        )
    report.findings.sort(key=lambda f: f.severity.rank)
    if pixels:
        run_pixels(report, source, pixel_options)
    if on_stage is not None:
        on_stage(Stage(COMPLETE, report, intake.parsed, len(payload or b"")))
    return report


def _rest_and_probes(
    report: Report, source: ByteSource, intake: XmlIntake, origin: str | None, *, probing: bool
) -> tuple[OmeDocument | None, ProbeResults | None]:
    """The rest of the OME-XML parsed here while the network probes (when ``probing``) wait on the network in a
    thread of their own."""
    if not probing:
        return intake.finish(), None
    from concurrent.futures import ThreadPoolExecutor  # a URL only: a local inspect does not import it

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="probes") as pool:
        job = pool.submit(_probe, report, source, check_origin(origin) if origin else None)
        ome = intake.finish()
        return ome, job.result()


def _set_ome(report: Report, ome: OmeDocument | None, intake: XmlIntake, payload: bytes | None) -> None:
    """The report's OME document, or why there is none."""
    report.ome = ome
    if ome is None:
        report.ome_error, report.ome_error_kind = _ome_error(intake.error, payload)


def _early_report(
    report: Report,
    head: OmeDocument | None,
    intake: XmlIntake,
    *,
    checks: bool,
    probing: bool,
    pixels: bool,
    viewer: ViewerVersion,
) -> Report:
    """The summary stage's report: the structure, the OME-XML up to its Images, the checks these allow, and what
    is still pending (a new Report: the complete one is built apart)."""
    xml_pending = head is not None and not intake.complete
    pending = [PENDING_XML] if xml_pending else []
    if probing:
        pending.append(PENDING_PROBES)
    if pixels:
        pending.append(PENDING_PIXELS)
    early = Report(
        display_name=report.display_name,
        source_info=report.source_info,
        tiff=report.tiff,
        ledger=report.ledger,
        xml_bytes=report.xml_bytes,
        pending=tuple(pending),
    )
    _set_ome(early, head, intake, report.xml_bytes)
    early.findings = list(report.tiff.findings) + (list(head.findings) if head is not None else [])
    if checks:
        estimate = None if probing else estimate_viewer_cost(report.tiff, head, offsets_available=False)
        inp = CheckInput.from_report(early, estimate=estimate, viewer=viewer)
        early.findings.extend(evaluate(inp, early_rules(xml_pending=xml_pending, probes_pending=probing)))
    early.findings.sort(key=lambda f: f.severity.rank)
    return early


def _probe(report: Report, source: ByteSource, origin: str | None = None) -> ProbeResults | None:
    """The network probes of an open HTTP source (stored in ``report.extra["probes"]``, counted apart from the
    main ledger); None for local files. A probe that fails is recorded there and never costs the report."""
    if not (source.is_open and source.info.kind == "http"):
        return None
    from ometiff_helpers.io.http.source import HttpSource  # already imported: the source is one

    if not isinstance(source, HttpSource):
        return None
    from ometiff_helpers.diagnose.probes import ProbeOptions, run_probes  # a URL only

    try:
        options = ProbeOptions(origin=origin) if origin else None
        results = run_probes(source, [ifd.offset for ifd in report.tiff.ifds], options=options)
    except (OmeTiffError, OSError, ValueError) as exc:
        report.extra["probes"] = {"error": redact_text(f"probes stopped: {type(exc).__name__}: {exc}")}
        return None
    report.extra["probes"] = results.as_dict()
    return results


def run_pixels(report: Report, source: ByteSource, options: Any = None) -> None:
    """Read the lowest level's pixels into ``report.pixels`` (``extra["pixels"]`` in the JSON) and add the pixel
    checks' findings; without the ``pixels`` extra (numpy, imagecodecs) say so in ``extra["pixels"]``."""
    try:
        from ometiff_helpers.pixels.preview import preview
    except ImportError:
        report.extra["pixels"] = {
            "skipped": "the pixels extra is not installed: pip install 'ometiff-inspect[pixels]'"
        }
        return
    from ometiff_helpers.diagnose.rules_pixels import run_pixel_checks

    try:
        report.pixels = preview(source, report.tiff, report.ome, options)
    except OmeTiffError as exc:
        report.extra["pixels"] = {"error": str(exc)}
        return
    except (
        ValueError,
        IndexError,
        OverflowError,
        MemoryError,
    ) as exc:  # a damaged layout the checks did not foresee
        report.extra["pixels"] = {
            "error": redact_text(
                f"the preview could not decode this file's pixels ({type(exc).__name__}: {exc}); the metadata "
                "report and its verdict still hold. The layout tags (SamplesPerPixel, BitsPerSample, tile or strip "
                "offsets and sizes) are probably damaged: check them with tiffinfo."
            )
        }
        return
    report.extra["pixels"] = report.pixels.to_dict()
    report.findings.extend(run_pixel_checks(report.pixels))
    report.findings.sort(key=lambda f: f.severity.rank)


# --- helpers -----------------------------------------------------------------------------------------------------------


def _first_pixels(ome: OmeDocument | None) -> Any:
    if ome is None or not ome.images:
        return None
    return ome.images[0].pixels


def _writer(report: Report) -> str:
    parts = []
    ifd0 = report.tiff.ifds[0] if report.tiff.ifds else None
    software = ifd0.tag(305) if ifd0 is not None else None
    if software is not None and isinstance(software.value, str) and software.value:
        parts.append(f"Software tag: {software.value}")
    if report.ome is not None and report.ome.creator:
        parts.append(f"OME Creator: {report.ome.creator}")
    return "; ".join(parts)


def _ome_error(error: OmeTiffError | None, raw: bytes | None) -> tuple[str, str]:
    if error is not None:
        return str(error), getattr(error, "kind", type(error).__name__)
    if raw is None:
        return "IFD 0 has no ImageDescription, so there is no OME-XML", "no-description"
    return "IFD 0's ImageDescription holds no OME-XML", "unknown"


def _ome_summary(ome: OmeDocument | None, error: str | None, kind: str | None) -> dict[str, Any]:
    if ome is None:
        return {"present": False, "error": error, "kind": kind}
    pixels = _first_pixels(ome)
    out: dict[str, Any] = {
        "present": True,
        "namespace": ome.namespace,
        "schema_version": ome.schema_version,
        "creator": ome.creator,
        "images": len(ome.images),
        "xml_bytes": ome.xml_bytes,
    }
    if pixels is not None:
        out["pixels"] = {
            "size_x": pixels.size_x,
            "size_y": pixels.size_y,
            "size_z": pixels.size_z,
            "size_c": pixels.size_c,
            "size_t": pixels.size_t,
            "type": pixels.type,
            "dimension_order": pixels.dimension_order,
            "physical_size_x": _quantity(pixels.physical_size_x),
            "physical_size_y": _quantity(pixels.physical_size_y),
            "physical_size_z": _quantity(pixels.physical_size_z),
        }
        out["channels"] = [ch.name for ch in pixels.channels[:_JSON_CHANNELS]]
        if len(pixels.channels) > _JSON_CHANNELS:
            out["channels_omitted"] = len(pixels.channels) - _JSON_CHANNELS
    return out


def _quantity(q: Any) -> list[Any] | None:
    return None if q is None else [q.value, q.unit]
