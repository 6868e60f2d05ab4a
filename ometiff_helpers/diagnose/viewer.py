"""Which viewer the verdict is about: a Viv (@vivjs/loaders) release, and the behaviours that differ by release.

The facts here were read from the published packages (``npm pack @vivjs/loaders@X``) and checked by running them
(``tests/test_viewer_conformance.py`` runs the newest one over the corpus).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: the @vivjs/loaders releases on the npm registry, oldest first
RELEASES = ("0.13.2", "0.13.3", "0.13.5", "0.13.6", "0.13.7", "0.13.8", "0.16.0", "0.16.1", "0.17.2", "0.17.3",
            "0.18.0", "0.18.2", "0.19.0", "0.21.0")  # fmt: skip
_VERSION = re.compile(r"^\s*(?:viv\s*)?v?(\d+)\.(\d+)(?:\.(\d+))?\s*$", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class ViewerVersion:
    """A Viv release, compared by number."""

    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> ViewerVersion:
        """'0.21.0', '0.21' or 'viv 0.21.0'; ValueError with the known releases when it is not a version."""
        m = _VERSION.match(text)
        if m is None:
            raise ValueError(
                f"{text!r} is not a Viv version such as 0.21.0 (releases: {', '.join(RELEASES)})"
            )
        return cls(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))

    def __str__(self) -> str:
        """'Viv 0.21.0', as messages name it."""
        return f"Viv {self.major}.{self.minor}.{self.patch}"

    @property
    def levels_from_ifd_numbers(self) -> bool:
        """Viv >= 0.16 finds level L of a file without SubIFDs with ``parseFileDirectoryAt(ifd + L * planes)``,
        an IFD number used as a byte offset; 0.13 read the level with ``getImage(ifd + L * planes)``."""
        return self >= ViewerVersion(0, 16, 0)


#: the release the verdict is about unless told otherwise (``--viewer``)
NEWEST = ViewerVersion.parse(RELEASES[-1])


def levels_from_ifd_numbers_text(viewer: ViewerVersion, planes: int) -> str:
    """Why a file with several Images and no SubIFDs fails in ``viewer`` (>= 0.16), in words with the evidence."""
    return (
        f"{viewer} takes each further Image of a file without SubIFDs for a pyramid level and reads level L at "
        f"`parseFileDirectoryAt(IFD + L x {planes})`, an IFD number used as a byte offset (Viv 0.16.0 and later; "
        '0.13 read the IFD itself), so every level above 0 parses garbage ("Invalid field type", "exceeds '
        "MAX_SAFE_INTEGER\") and Avivator's first step, the statistics of the lowest level, fails"
    )
