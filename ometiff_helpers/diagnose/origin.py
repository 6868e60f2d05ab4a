"""The page origin the CORS probes send: its default and its check (apart from the probes, which a local inspect
does not import).
"""

from __future__ import annotations

import re

from ometiff_helpers.errors import OmeTiffError

#: the Origin the CORS probes send unless told otherwise (CLI ``--origin``, the notebook's Origin field): the page the
#: portal's viewer runs on
DEFAULT_ORIGIN = "https://portal.hubmapconsortium.org"
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")


def check_origin(origin: str) -> str:
    """``origin`` as the Origin header sends it (``https://host[:port]``, no path); raises OmeTiffError otherwise."""
    text = origin.strip().rstrip("/")
    if not _ORIGIN.fullmatch(text):
        raise OmeTiffError(
            f"not a page origin: {text[:80]!r}. An origin is a scheme and a host, with an optional port, "
            f"like {DEFAULT_ORIGIN}."
        )
    return text
