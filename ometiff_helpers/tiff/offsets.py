"""The offsets file Viv, Avivator and the portal read beside an OME-TIFF: a JSON array of the top-level IFD offsets.

With it, the viewer opens IFD n with one request (``parseFileDirectoryAt(offsets[n])``) instead of walking the chain.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from ometiff_helpers.errors import OmeTiffError
from ometiff_helpers.findings import Severity
from ometiff_helpers.io.open import open_source
from ometiff_helpers.tiff.read import read_tiff
from ometiff_helpers.urls import SecretURL


def read_ifd_offsets(url_or_path: str | Path | SecretURL, *, token: str | None = None) -> list[int]:
    """The byte offset of every top-level IFD, in chain order; OmeTiffError when the chain cannot be read whole."""
    with open_source(url_or_path, token=token) as source:
        tiff = read_tiff(source)
        broken = [f for f in tiff.findings if f.severity is Severity.ERROR]
        if broken:
            raise OmeTiffError(
                f"{source.display_name}: the IFD chain could not be read whole ({broken[0].message}), so an "
                "offsets file would miss IFDs",
                hint="Repair or re-convert the file first (raw2ometiff writes a clean chain).",
            )
        return [ifd.offset for ifd in tiff.ifds]


def offsets_json(offsets: Sequence[int]) -> str:
    """The offsets file's text: a JSON array of integers, one line."""
    return json.dumps([int(o) for o in offsets]) + "\n"


def offsets_name(url_or_name: str) -> str:
    """Where Avivator looks for it: the URL or name with ``ome.tif(f)`` replaced by ``offsets.json`` (any case)."""
    return re.sub(r"ome\.tif(f?)", "offsets.json", url_or_name, flags=re.IGNORECASE)
