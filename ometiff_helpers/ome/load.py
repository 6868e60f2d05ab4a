"""Load a standalone OME-XML file (``.ome.xml`` / companion ``.ome``) from a path or a URL: the only ome -> io edge."""

from __future__ import annotations

import os
from pathlib import Path

from ometiff_helpers.errors import OmeXmlError
from ometiff_helpers.io.open import open_source
from ometiff_helpers.ome.model import OmeDocument
from ometiff_helpers.ome.parser import MiB, OmeXmlOptions, OmeXmlParser
from ometiff_helpers.progress import ProgressCallback

__all__ = ["load_ome_xml"]


def load_ome_xml(
    path_or_url: str | os.PathLike[str],
    *,
    token: str | None = None,
    options: OmeXmlOptions | None = None,
    on_progress: ProgressCallback | None = None,
) -> OmeDocument:
    """Parse a standalone ``.ome.xml`` / companion ``.ome`` file, local or by URL, streaming and bounded."""
    opts = options or OmeXmlOptions()
    text = os.fspath(path_or_url)
    if text.startswith(("http://", "https://")):
        return _load_url(text, token=token, options=opts, on_progress=on_progress)
    path = Path(text)
    try:
        size = path.stat().st_size
        parser = OmeXmlParser(total=size, on_progress=on_progress, options=opts)
        with path.open("rb") as fh:
            while chunk := fh.read(4 * MiB):
                parser.feed(chunk)
    except OSError as exc:
        raise OmeXmlError(f"cannot read the OME-XML file {path.name!r}: {exc.strerror or exc}.") from None
    return parser.close()


def _load_url(
    url: str, *, token: str | None, options: OmeXmlOptions, on_progress: ProgressCallback | None
) -> OmeDocument:
    """Stream the document at ``url`` into the parser (one request for the head, one for the rest)."""
    with open_source(url, token=token) as src:
        first = src.open(min(options.min_feed, 64 * 1024))
        size = src.size
        parser = OmeXmlParser(total=size, on_progress=on_progress, options=options)
        parser.feed(first)
        if size > len(first):
            src.fetch([(len(first), size)], consumers={0: parser.feed})
        return parser.close()
