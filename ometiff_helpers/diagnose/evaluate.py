"""Diagnostics: why the portal's viewer (Viv / Vitessce on geotiff.js 2.x) will not render a file, or renders it badly.

``evaluate(inp)`` runs every ``check_*`` rule on one ``CheckInput`` (``report.inspect`` builds it once, from the
TIFF, the OME-XML, the network probes and the viewer estimate). Each rule is a pure function of a ``CheckInput`` returning
``Finding``s with a stable upper-case code, a severity (error: the viewer will not render it; warning: renders wrongly
or slowly; info), a message with the evidence and a remedy. ``docs/checks.md`` explains every code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ometiff_helpers.diagnose import rules_net as checks_net
from ometiff_helpers.diagnose import rules_ome as checks_ome
from ometiff_helpers.diagnose import rules_tiff as checks_tiff
from ometiff_helpers.diagnose.check_input import CheckInput
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
from ometiff_helpers.diagnose.viewer_cost import ViewerEstimate, estimate_viewer_cost
from ometiff_helpers.findings import Finding

if TYPE_CHECKING:  # the probes module is imported when a URL is probed, not for a local file
    from ometiff_helpers.diagnose.probes import ProbeOptions, ProbeResults

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
    "estimate_viewer_cost",
    "evaluate",
]


#: rules that need the whole OME-XML: what may follow the Images (a BinaryOnly stub, the ROI and annotation counts)
WHOLE_XML_RULES: tuple[Rule, ...] = (check_multi_file, check_huge_xml)
#: rules that need the network probes' answers, or the viewer estimate made with them
PROBE_RULES: tuple[Rule, ...] = (
    check_server_range,
    check_cors,
    check_auth,
    check_offsets,
    checks_tiff.check_eager_arrays,
)


def early_rules(*, xml_pending: bool, probes_pending: bool) -> tuple[Rule, ...]:
    """The rules an early answer can run: all but those waiting for the rest of the OME-XML or for the probes."""
    waiting = (WHOLE_XML_RULES if xml_pending else ()) + (PROBE_RULES if probes_pending else ())
    return tuple(rule for rule in RULES if rule not in waiting)


def evaluate(inp: CheckInput, rules: Sequence[Rule] = RULES) -> list[Finding]:
    """The findings of ``rules`` (every rule by default) for ``inp``, without duplicates, errors first."""
    out: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for rule in rules:
        for f in rule(inp):
            key = (f.code, f.message)
            if key not in seen:
                seen.add(key)
                out.append(f)
    out.sort(key=lambda f: f.severity.rank)
    return out


def __getattr__(name: str) -> Any:
    """``ProbeOptions`` and ``ProbeResults``, from the probes module when first asked for (a local inspect does not
    import it)."""
    if name in ("ProbeOptions", "ProbeResults"):
        from ometiff_helpers.diagnose import probes

        return getattr(probes, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
