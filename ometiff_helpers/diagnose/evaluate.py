"""Diagnostics: why the portal's viewer (Viv / Vitessce on geotiff.js 2.x) will not render a file, or renders it badly.

``run_checks(report, source=...)`` runs the network probes (remote files only), estimates what the viewer fetches
before its first tile, then every ``check_*`` rule. Each rule is a pure function of a ``CheckInput`` returning
``Finding``s with a stable upper-case code, a severity (error: the viewer will not render it; warning: renders wrongly
or slowly; info), a message with the evidence and a remedy. ``docs/checks.md`` explains every code.
"""

from __future__ import annotations

from collections.abc import Callable

from ometiff_helpers.diagnose import rules_net as checks_net
from ometiff_helpers.diagnose import rules_ome as checks_ome
from ometiff_helpers.diagnose import rules_tiff as checks_tiff
from ometiff_helpers.diagnose.check_input import CheckInput, ReportLike, dimension_order_index
from ometiff_helpers.diagnose.probes import ProbeOptions, ProbeResults, run_probes
from ometiff_helpers.diagnose.rules_net import (
    check_auth,
    check_cors,
    check_offsets,
    check_server_range,
    check_url_name,
)
from ometiff_helpers.diagnose.rules_ome import (
    check_browser_memory,
    check_channels,
    check_contrast,
    check_endian,
    check_huge_xml,
    check_multi_file,
    check_multi_image,
    check_not_ome,
    check_physical_size,
    check_pixel_type,
    check_plane_count,
    check_plane_mapping,
    check_rgb,
    check_samples,
    check_segmentation_mask,
    check_size_mismatch,
    check_type_mismatch,
    check_viv_schema,
)
from ometiff_helpers.diagnose.rules_tiff import (
    check_codec,
    check_eager_arrays,
    check_jpeg_colour,
    check_legacy_pyramid,
    check_level_consistency,
    check_pyramid,
    check_pyramid_halving,
    check_tile_geometry,
)
from ometiff_helpers.diagnose.viewer import NEWEST, ViewerVersion
from ometiff_helpers.diagnose.viewer_cost import ViewerEstimate, estimate_viewer_cost
from ometiff_helpers.errors import OmeTiffError
from ometiff_helpers.findings import Finding
from ometiff_helpers.io.base import ByteSource
from ometiff_helpers.io.http.source import HttpSource
from ometiff_helpers.urls import redact_text

Rule = Callable[[CheckInput], list[Finding]]

#: every rule, in the order findings are listed (then sorted by severity)
RULES: tuple[Rule, ...] = (*checks_ome.RULES, *checks_tiff.RULES, *checks_net.RULES)

__all__ = [
    "RULES",
    "CheckInput",
    "ProbeOptions",
    "ProbeResults",
    "ViewerEstimate",
    "check_auth",
    "check_browser_memory",
    "check_channels",
    "check_codec",
    "check_contrast",
    "check_cors",
    "check_eager_arrays",
    "check_endian",
    "check_huge_xml",
    "check_jpeg_colour",
    "check_legacy_pyramid",
    "check_level_consistency",
    "check_multi_file",
    "check_multi_image",
    "check_not_ome",
    "check_offsets",
    "check_physical_size",
    "check_pixel_type",
    "check_plane_count",
    "check_plane_mapping",
    "check_pyramid",
    "check_pyramid_halving",
    "check_rgb",
    "check_samples",
    "check_segmentation_mask",
    "check_server_range",
    "check_size_mismatch",
    "check_tile_geometry",
    "check_type_mismatch",
    "check_url_name",
    "check_viv_schema",
    "dimension_order_index",
    "estimate_viewer_cost",
    "evaluate",
    "run_checks",
]


def evaluate(inp: CheckInput) -> list[Finding]:
    """Every rule's findings for ``inp``, without duplicates, errors first."""
    out: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for rule in RULES:
        for f in rule(inp):
            key = (f.code, f.message)
            if key not in seen:
                seen.add(key)
                out.append(f)
    out.sort(key=lambda f: f.severity.rank)
    return out


def run_checks(
    report: ReportLike,
    *,
    source: ByteSource | None = None,
    probe_options: ProbeOptions | None = None,
    viewer: ViewerVersion = NEWEST,
) -> list[Finding]:
    """Probe (when ``source`` is an open ``HttpSource``), estimate the viewer's cost, run every rule.

    Stores ``report.extra["probes"]`` (plain dicts; their requests are counted there, not in the main ledger) and
    ``report.extra["viewer_estimate"]`` (geotiff.js requests/bytes before the first tile beside this tool's own).
    """
    probes: ProbeResults | None = None
    if isinstance(source, HttpSource) and source.is_open:
        try:
            probes = run_probes(source, [ifd.offset for ifd in report.tiff.ifds], options=probe_options)
            report.extra["probes"] = probes.as_dict()
        except (OmeTiffError, OSError, ValueError) as exc:  # a probe must never cost the report
            report.extra["probes"] = {"error": redact_text(f"probes stopped: {type(exc).__name__}: {exc}")}
    base = CheckInput.from_report(report, probes=probes, viewer=viewer)
    has_offsets = probes is not None and any(o.outcome == "valid" for o in probes.offsets)
    estimate = estimate_viewer_cost(base, offsets_available=has_offsets)
    report.extra["viewer_estimate"] = {"geotiff_js": estimate.as_dict(), "this_tool": report.ledger.as_dict()}
    return evaluate(CheckInput.from_report(report, probes=probes, estimate=estimate, viewer=viewer))
