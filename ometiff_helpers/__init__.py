"""Read and diagnose the metadata of (remote) OME-TIFF files over HTTP range requests.

The public API, imported on first use (``import ometiff_helpers`` stays cheap):

- `inspect(url_or_path, ...) -> Report`: the whole pipeline (source -> TIFF -> OME -> checks), see `report`;
  `inspect(..., on_stage=callback)` hands over each `Stage` (the early summary, then the complete report).
- `read_tiff(source, ...) -> TiffStructure` and `open_source(url_or_path, ...) -> ByteSource`: the TIFF structure alone.
- `parse_ome_xml(data) -> OmeDocument` and `load_ome_xml(path_or_url) -> OmeDocument`: OME-XML alone.
- `OmeTiffError` and its subclasses (`errors`): every failure a user can meet; `Finding` and `Severity`: what the
  checks report.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_PUBLIC = {
    "inspect": "ometiff_helpers.report",
    "Report": "ometiff_helpers.report",
    "Stage": "ometiff_helpers.report",
    "read_tiff": "ometiff_helpers.tiff.read",
    "TiffStructure": "ometiff_helpers.tiff.model",
    "open_source": "ometiff_helpers.io.open",
    "parse_ome_xml": "ometiff_helpers.ome.parser",
    "OmeDocument": "ometiff_helpers.ome.model",
    "load_ome_xml": "ometiff_helpers.ome.load",
    "OmeTiffError": "ometiff_helpers.errors",
    "Finding": "ometiff_helpers.findings",
    "Severity": "ometiff_helpers.findings",
}

__all__ = [  # noqa: RUF022 (grouped by stage, as _PUBLIC)
    "__version__",
    "inspect",
    "Report",
    "Stage",
    "read_tiff",
    "TiffStructure",
    "open_source",
    "parse_ome_xml",
    "OmeDocument",
    "load_ome_xml",
    "OmeTiffError",
    "Finding",
    "Severity",
]

if TYPE_CHECKING:
    from ometiff_helpers.errors import OmeTiffError
    from ometiff_helpers.findings import Finding, Severity
    from ometiff_helpers.io.open import open_source
    from ometiff_helpers.ome.load import load_ome_xml
    from ometiff_helpers.ome.model import OmeDocument
    from ometiff_helpers.ome.parser import parse_ome_xml
    from ometiff_helpers.report import Report, Stage, inspect
    from ometiff_helpers.tiff.model import TiffStructure
    from ometiff_helpers.tiff.read import read_tiff


def __getattr__(name: str) -> Any:
    """The public names, imported from their stage on first use."""
    if name in _PUBLIC:
        value = getattr(import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ometiff_helpers' has no attribute {name!r}")
