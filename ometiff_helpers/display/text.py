"""Plain lines of text as a notebook output: the first lines of the pretty-printed OME-XML."""

from __future__ import annotations

import html

from ometiff_helpers.display.tables import pretty_xml_lines
from ometiff_helpers.frozen import record

__all__ = ["TextLines", "xml_head"]


@record
class TextLines:
    """Lines of text shown as they are (plain text and a <pre> block)."""

    lines: tuple[str, ...]

    def _repr_html_(self) -> str:
        return f"<pre style='font-size:11px'>{html.escape(chr(10).join(self.lines))}</pre>"

    def __repr__(self) -> str:
        return "\n".join(self.lines)


def xml_head(text: str, count: int) -> TextLines:
    """The line count of the pretty-printed XML, then its first ``count`` lines."""
    lines = pretty_xml_lines(text) if text else []
    return TextLines((f"{len(lines):,} lines", *lines[:count]))
