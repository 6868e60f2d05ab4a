"""DataFrames (and a few HTML tables) from a `report.Report` and the core's plain rows.

Every function returns data: a ``pandas.DataFrame``, or an `HtmlTable` where a column needs HTML (colour swatches,
coloured severities). Nothing here touches widgets, so the notebooks' plain cells, the widget apps and the tests all
use the same functions. Functions take a `report.Report` (display sits above report in the pipeline, so this import
makes no cycle), its `Ledger`, and the TIFF model's `IFD` and `Tag`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field
from enum import IntEnum, IntFlag
from typing import Any

import pandas as pd

from ometiff_helpers.findings import Finding, Severity
from ometiff_helpers.fmt import human_bytes
from ometiff_helpers.frozen import record
from ometiff_helpers.io.ledger import Ledger
from ometiff_helpers.ome.description import decode_description
from ometiff_helpers.report import Report
from ometiff_helpers.tiff import codes as tifftags
from ometiff_helpers.tiff.model import IFD, Tag

__all__ = [
    "HtmlTable",
    "channels_table",
    "colour_css",
    "find_lines",
    "findings_table",
    "format_bytes",
    "frame",
    "ifds_table",
    "levels_table",
    "ome_part",
    "ome_rows",
    "page_count",
    "page_html",
    "pretty_xml_lines",
    "requests_summary",
    "requests_table",
    "summary_table",
    "tag_value_text",
    "tags_table",
]

#: the OME parts `omexml.tables` returns, in the order the notebooks show them
OME_PARTS = (
    "images",
    "pixels",
    "channels",
    "planes",
    "tiffdata",
    "plane_mapping",
    "instruments",
    "annotations",
    "rois",
    "shapes",
    "plates",
)

SEVERITY_COLOURS: Mapping[str, str] = {
    Severity.ERROR.value: "#c62828",
    Severity.WARNING.value: "#ef6c00",
    Severity.INFO.value: "#1565c0",
}

HTML_ROWS = 200  # rows of an HtmlTable rendered as HTML
_TAG_VALUE_LIMIT = 160  # characters of a tag value shown in tables
_TAG_ITEMS_LIMIT = 8  # items of an array tag shown before "..."


# --- a DataFrame with an HTML rendering ------------------------------------------------------------------------------


@record
class HtmlTable:
    """A DataFrame shown as HTML with some cells rendered by us (swatches, colours); plain text is the DataFrame's.

    Both renderings are deterministic (no random ids, no memory addresses), so saved notebooks compare equal.
    """

    frame: pd.DataFrame
    html: str
    empty_text: str = "(nothing)"
    renderers: Mapping[str, Any] = field(default_factory=dict)  # column -> cell value -> HTML

    def page_html(self, rows: pd.DataFrame) -> str:
        """Some of this table's rows (a page) rendered like the whole table."""
        return _html_table(rows, self.renderers, self.empty_text).html

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.frame.to_string(index=False) if len(self.frame) else self.empty_text


def _html_table(df: pd.DataFrame, renderers: Mapping[str, Any], empty_text: str = "(nothing)") -> HtmlTable:
    """Escape every cell, except the columns in ``renderers`` which produce their own (safe) HTML.

    At most ``HTML_ROWS`` rows are rendered (then a line saying how many more there are): the HTML stays small
    whatever the file; the plain text (the DataFrame's) and the app's paged tabs have every row.
    """
    if df.empty:
        return HtmlTable(df, f"<p><i>{html.escape(empty_text)}</i></p>", empty_text)
    more = len(df) - HTML_ROWS
    full, df = df, df.head(HTML_ROWS)
    shown = pd.DataFrame(
        {
            col: [
                renderers[col](v) if col in renderers else html.escape("" if _missing(v) else str(v))
                for v in df[col]
            ]
            for col in df.columns
        },
        columns=df.columns,
    )
    text = shown.to_html(index=False, escape=False, border=0, classes="ometiff-table")
    if more > 0:
        text += f"<p><i>… and {more:,} more rows (the form's tabs page through all of them)</i></p>"
    return HtmlTable(full, text, empty_text, renderers)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


# --- generic helpers ---------------------------------------------------------------------------------------------------


def frame(rows: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Plain rows (dicts with the same keys, as `omexml.tables` gives them) -> DataFrame keeping column order."""
    rows = list(rows)
    if columns is None:
        seen: dict[str, None] = {}
        for row in rows:
            for key in row:
                seen.setdefault(key, None)
        columns = list(seen)
    # column by column (20,000 ROIs: 0.05 s instead of 0.4 s row by row), a column's cells made friendly only when
    # one is not a plain value; object dtype: a missing value stays None (not NaN) and integers stay integers
    data: dict[str, list[object]] = {}
    for c in columns:
        values = [row.get(c) for row in rows]
        if not all(type(v) in _PLAIN for v in values):
            values = [_cell(v) for v in values]
        data[c] = values
    return pd.DataFrame(data, columns=list(columns), dtype=object)


_PLAIN = {type(None), bool, int, float, str}  # cell values shown as they are


def _cell(value: object) -> object:
    """Make a row value friendly for a table cell: tuples/lists joined, enums by name, objects by ``str``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return ", ".join(str(_cell(v)) for v in value)
    return str(value)


def format_bytes(n: int | None) -> str:
    """``1536`` -> ``"1.5 KiB (1,536 bytes)"``."""
    if n is None:
        return "unknown"
    return f"{n:,} bytes" if n < 1024 else f"{human_bytes(n)} ({n:,} bytes)"


# --- summary and findings ---------------------------------------------------------------------------------------------


def summary_table(report: Report) -> pd.DataFrame:
    """The Summary tab: one row per label of ``report.summary()`` (format, size, dimensions, channels, ...)."""
    items = list(report.summary().items())
    return pd.DataFrame({"": [k for k, _ in items], "value": [str(v) for _, v in items]}).set_index("")


def findings_table(findings: Iterable[Finding]) -> HtmlTable:
    """Findings, worst first, with the severity cell coloured."""
    ordered = sorted(findings, key=lambda f: (f.severity.rank, f.code, f.where))
    df = pd.DataFrame(
        [f.as_dict() for f in ordered], columns=["severity", "code", "where", "message", "remedy"]
    )

    def severity(value: object) -> str:
        colour = SEVERITY_COLOURS.get(str(value), "#555555")
        return (
            f'<span style="color:#fff;background:{colour};padding:1px 6px;border-radius:3px">'
            f"{html.escape(str(value))}</span>"
        )

    return _html_table(df, {"severity": severity}, "No findings.")


# --- TIFF: levels, IFDs, tags -------------------------------------------------------------------------------------------


def levels_table(report: Report) -> pd.DataFrame:
    """The Pyramid tab: one row per resolution level (size, downsampling, tiles, compression, where)."""
    rows = []
    for lv in report.levels():
        tiled = bool(lv.tile_width and lv.tile_height)
        rows.append(
            {
                "level": lv.index,
                "size (px)": f"{lv.width} × {lv.height}",
                "downsampling": f"×{_num(lv.downsample)}",
                "tile (px)": f"{lv.tile_width} × {lv.tile_height}" if tiled else "strips",
                "tiles": lv.tile_count if tiled else None,
                "compression": lv.compression,
                "IFD": lv.path,
            }
        )
    return pd.DataFrame(
        rows, columns=["level", "size (px)", "downsampling", "tile (px)", "tiles", "compression", "IFD"]
    ).set_index("level")


def _num(x: float) -> str:
    """2.0 -> "2", 2.5 -> "2.5", 3.333 -> "3.33"."""
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _walk(ifds: Iterable[IFD]) -> Iterable[IFD]:
    for ifd in ifds:
        yield ifd
        yield from _walk(ifd.subifds)


def ifds_table(report: Report) -> pd.DataFrame:
    """Every IFD and SubIFD (depth first): where it is, its image, tiling, compression, subfile type."""
    rows = []
    for ifd in _walk(report.tiff.ifds):
        rows.append(
            {
                "IFD": ifd.path,
                "offset": ifd.offset,
                "size (px)": f"{ifd.width} × {ifd.height}",
                "tile (px)": f"{ifd.tile_width} × {ifd.tile_height}" if ifd.is_tiled else "strips",
                "tiles": ifd.tile_count if ifd.is_tiled else None,
                "compression": ifd.compression_name,
                "subfile type": _flag_text(tifftags.NewSubfileType, ifd.new_subfile_type),
                "tags": len(ifd.tags),
                "SubIFDs": len(ifd.subifds),
            }
        )
    columns = [
        "IFD",
        "offset",
        "size (px)",
        "tile (px)",
        "tiles",
        "compression",
        "subfile type",
        "tags",
        "SubIFDs",
    ]
    return pd.DataFrame(rows, columns=columns)


#: tags whose integer values name something (decoded as "8 (ADOBE_DEFLATE)")
_ENUM_TAGS: Mapping[int, type[IntEnum]] = {
    259: tifftags.Compression,
    262: tifftags.Photometric,
    284: tifftags.PlanarConfig,
    296: tifftags.ResolutionUnit,
    317: tifftags.Predictor,
    339: tifftags.SampleFormat,
    255: tifftags.SubfileType,
}
_FLAG_TAGS: Mapping[int, type[IntFlag]] = {254: tifftags.NewSubfileType}


def _enum_text(enum: type[IntEnum], value: object) -> str:
    try:
        return f"{value} ({enum(int(value)).name})"  # type: ignore[call-overload]
    except (ValueError, TypeError):
        return f"{value} (unknown)"


def _flag_text(flags: type[IntFlag], value: object) -> str:
    if value is None:
        return ""
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return str(value)
    if number == 0:
        return "0"
    names = [f.name for f in flags if f.value and number & f.value and f.name]
    known = sum(f.value for f in flags if f.value and number & f.value)
    if number & ~known:
        names.append(f"0x{number & ~known:X}")
    return f"{number} ({' | '.join(names)})"


def _item_text(item: object) -> str:
    if isinstance(item, float):
        return f"{item:g}"
    if isinstance(item, tuple):  # e.g. a RATIONAL kept as (numerator, denominator)
        return "/".join(_item_text(i) for i in item)
    return str(item)


def tag_value_text(tag: Tag, limit: int = _TAG_VALUE_LIMIT) -> str:
    """A tag's value decoded for a table: names for enumerations, arrays shortened, long text cut with its length."""
    value = tag.value
    if value is None:
        where = f" at offset {tag.value_offset:,}" if getattr(tag, "value_offset", None) is not None else ""
        unit = "characters" if tag.type == 2 else "values"  # ASCII: a descriptive string of a later IFD
        return f"(not fetched: {tag.count:,} {unit}{where})"
    if isinstance(value, str):
        head = value[: limit * 8]  # a 23 MB OME-XML is cut before its whitespace is collapsed
        text = _one_line(head)
        if len(text) > limit or len(head) < len(value):
            return f"{text[:limit]}… ({len(value):,} characters)"
        return text
    if isinstance(value, (bytes, bytearray)):
        head = bytes(value[:16]).hex(" ")
        more = " …" if len(value) > 16 else ""
        return f"{head}{more} ({len(value):,} bytes)"
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if tag.type_name in ("RATIONAL", "SRATIONAL") and len(items) == 2 * tag.count:
        items = tuple(zip(items[::2], items[1::2], strict=True))  # flat numerator, denominator pairs
    if len(items) == 1 and tag.code in _ENUM_TAGS:
        return _enum_text(_ENUM_TAGS[tag.code], items[0])
    if len(items) == 1 and tag.code in _FLAG_TAGS:
        return _flag_text(_FLAG_TAGS[tag.code], items[0])
    shown = ", ".join(_item_text(i) for i in items[:_TAG_ITEMS_LIMIT])
    if len(items) > _TAG_ITEMS_LIMIT:
        shown += f", … ({len(items):,} values)"
    return shown


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def tags_table(report: Report, path: str | None = None) -> pd.DataFrame:
    """Every tag of every IFD (or of the IFD whose ``path`` is given), in file order, values decoded."""
    rows = []
    first = report.tiff.ifds[0] if report.tiff.ifds else None
    for ifd in _walk(report.tiff.ifds):
        if path is not None and ifd.path != path:
            continue
        for tag in ifd.tags:
            value = tag_value_text(tag)
            if tag.value is None and tag.code == 270 and ifd is first and report.xml_bytes:
                # IFD 0's description was streamed to the OME-XML parser rather than kept on the tag: its head only
                head = decode_description(report.xml_bytes[: _TAG_VALUE_LIMIT * 32])[: _TAG_VALUE_LIMIT * 8]
                value = f"{_one_line(head)[:_TAG_VALUE_LIMIT]}… (OME-XML: see Raw XML)"
            rows.append(
                {
                    "IFD": ifd.path,
                    "code": tag.code,
                    "name": tag.name,
                    "type": tag.type_name,
                    "count": tag.count,
                    "value": value,
                }
            )
    return pd.DataFrame(rows, columns=["IFD", "code", "name", "type", "count", "value"])


# --- OME parts ------------------------------------------------------------------------------------------------------------


def ome_rows(report: Report, *, mapping: bool = True) -> dict[str, list[dict[str, Any]]]:
    """``ome.tables(report.ome)`` plus, with ``mapping``, the plane mapping (``ometiff.mapping_rows``: at most
    ``MAPPING_ROWS_SHOWN`` rows, a ``PLANE_MAPPING_LIMITED`` finding says when there are more); empty parts when the
    file has no OME-XML."""
    if report.ome is None:
        return {part: [] for part in OME_PARTS}
    from ometiff_helpers import ometiff  # imported here: display imports without the parser
    from ometiff_helpers.ome import tables as ome_tables

    global _last_rows
    if (
        _last_rows is None or _last_rows[0] is not report.ome
    ):  # one document's rows kept: its tables built once
        _last_rows = (report.ome, ome_tables.tables(report.ome), {})
    doc, parts, mapped = _last_rows
    if mapping and "rows" not in mapped:
        mapped["rows"] = ometiff.mapping_rows(doc)
    return {**parts, "plane_mapping": mapped["rows"] if mapping else []}


_last_rows: tuple[Any, dict[str, list[dict[str, Any]]], dict[str, Any]] | None = None


def ome_part(report: Report, part: str) -> pd.DataFrame:
    """One part of the OME metadata (planes, tiffdata, instruments, annotations, rois, shapes, ...) as a DataFrame.

    The frame is built once per document (the app's tab and the notebook's section share it): do not modify it.
    """
    rows = ome_rows(report, mapping=part == "plane_mapping").get(part, [])
    if report.ome is None or _last_rows is None or _last_rows[0] is not report.ome:
        return frame(rows)
    frames = _last_rows[2].setdefault("frames", {})
    if part not in frames:
        frames[part] = frame(rows)
    return frames[part]


_HEX_RE = re.compile(r"^#?([0-9A-Fa-f]{6})([0-9A-Fa-f]{2})?$")


def colour_css(value: object) -> str | None:
    """An OME colour (signed/unsigned RGBA int, ``#RRGGBB[AA]``, or an object with ``hex_rgb``) -> ``#RRGGBB``."""
    if value is None or isinstance(value, bool):
        return None
    rgb = getattr(value, "hex_rgb", None)
    if isinstance(rgb, str):
        return rgb.upper()
    if isinstance(value, int):
        v = value & 0xFFFFFFFF
        return f"#{(v >> 24) & 0xFF:02X}{(v >> 16) & 0xFF:02X}{(v >> 8) & 0xFF:02X}"
    if isinstance(value, str):
        text = value.strip()
        m = _HEX_RE.match(text)
        if m:
            return f"#{m.group(1).upper()}"
        try:
            return colour_css(int(text))
        except ValueError:
            return None
    return None


def _swatch(value: object) -> str:
    css = colour_css(value)
    if css is None:
        return "" if _missing(value) else html.escape(str(value))
    return (
        f'<span style="display:inline-block;width:1.6em;height:1em;background:{css};'
        f'border:1px solid #888;vertical-align:middle"></span> {css}'
    )


def channels_table(report: Report) -> HtmlTable:
    """Channels with a colour swatch column (the colour each channel gets in the viewer)."""
    rows = ome_rows(report, mapping=False).get("channels", [])
    df = frame(rows)
    candidates = [c for c in df.columns if c.lower().startswith(("colour", "color"))]
    colour_col = next((c for c in candidates if "hex" in c.lower()), candidates[0] if candidates else None)
    if colour_col is None:
        return _html_table(df, {})
    df.insert(list(df.columns).index(colour_col), "swatch", [colour_css(v) for v in df[colour_col]])
    return _html_table(df, {"swatch": _swatch})


# --- the request ledger ---------------------------------------------------------------------------------------------------


def requests_summary(ledger: Ledger, *, times: bool = True) -> pd.DataFrame:
    """Totals: requests, bytes, rounds (and seconds, which vary from run to run, when ``times``)."""
    totals = ledger.as_dict()
    rows = {
        "requests": f"{totals['count']:,}",
        "bytes": format_bytes(totals["bytes"]),
        "rounds": f"{totals['rounds']:,}",
    }
    if times:
        rows["time"] = f"{totals['seconds']:.3f} s"
    return pd.DataFrame({"": list(rows), "value": list(rows.values())}).set_index("")


def requests_table(ledger: Ledger, *, times: bool = True) -> pd.DataFrame:
    """Every request, ordered by byte range (concurrent requests finish in any order): range, bytes, status."""
    records = sorted(ledger.records, key=lambda r: (r.start, r.end, r.attempt))
    t0 = min((r.t_start for r in records), default=0.0)
    rows = []
    for r in records:
        row: dict[str, Any] = {
            "start": r.start,
            "end": r.end,
            "bytes": r.nbytes,
            "status": r.status,
            "attempt": r.attempt,
            "note": r.note,
        }
        if times:
            row["at (ms)"] = round((r.t_start - t0) * 1000, 1)
            row["took (ms)"] = round((r.t_end - r.t_start) * 1000, 1)
        rows.append(row)
    columns = ["start", "end", "bytes", "status", "attempt", "note"]
    return pd.DataFrame(rows, columns=columns + (["at (ms)", "took (ms)"] if times else []))


# --- raw XML text: pretty-printed, paged, searchable ---------------------------------------------------------------------

_TOKEN_RE = re.compile(r"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<[^>]*>|[^<]+", re.DOTALL)


def viewer_estimate_table(report: Report) -> pd.DataFrame:
    """What a geotiff.js 2.x viewer (Viv) must fetch before its first tile, beside what this tool needed."""
    estimate = report.extra.get("viewer_estimate", {}).get("geotiff_js")
    ours = report.ledger.as_dict()
    if not estimate:
        return frame([], ["", "geotiff.js 2.x (estimate)", "this tool"])
    rows = [
        {
            "": "requests",
            "geotiff.js 2.x (estimate)": f"{estimate['requests']:,}",
            "this tool": f"{ours['count']:,}",
        },
        {
            "": "bytes",
            "geotiff.js 2.x (estimate)": format_bytes(estimate["bytes"]),
            "this tool": format_bytes(ours["bytes"]),
        },
        {
            "": "IFDs opened",
            "geotiff.js 2.x (estimate)": f"{estimate['ifds_opened']:,}",
            "this tool": f"{len(report.tiff.all_ifds()):,} (all)",
        },
        {
            "": "offset arrays read",
            "geotiff.js 2.x (estimate)": format_bytes(estimate["eager_array_bytes"]),
            "this tool": "only on demand",
        },
    ]
    return frame(rows).set_index("")


def probes_table(report: Report) -> pd.DataFrame:
    """The network probes' answers (HTTP files only): what the viewer's browser will meet on this server."""
    probes = report.extra.get("probes") or {}
    rows = []
    for probe in probes.values():
        if not isinstance(probe, dict) or "label" not in probe:
            continue
        headers = probe.get("headers") or {}
        shown = {k: v for k, v in headers.items() if k.startswith("access-control-") or k == "content-range"}
        rows.append(
            {
                "probe": probe["label"],
                "request": f"{probe['method']} {probe.get('request_range') or ''}".strip(),
                "status": probe["status"] if probe["status"] is not None else "",
                "answer": probe.get("error") or "; ".join(f"{k}: {v}" for k, v in shown.items()),
            }
        )
    for found in probes.get("offsets") or []:
        rows.append(
            {
                "probe": f"offsets.json ({found['location']})",
                "request": "GET" if found.get("status") is not None else "",
                "status": found["status"] if found.get("status") is not None else "",
                "answer": f"{found['outcome']}: {found['detail']}",
            }
        )
    return frame(rows, ["probe", "request", "status", "answer"])


def pretty_xml_lines(text: str, indent: str = "  ") -> list[str]:
    """Indent XML text one element per line, without parsing it (so it works on broken or hostile XML too).

    ``<a>text</a>`` stays on one line; whitespace-only text between tags is dropped. Linear in the text size.
    """
    # whitespace inside a tag (attributes over several lines) becomes one space
    tokens = [
        re.sub(r"\s+", " ", t) if t.startswith("<") else t for t in _TOKEN_RE.findall(text) if t.strip()
    ]
    lines: list[str] = []
    depth = 0
    i = 0
    while i < len(tokens):
        tok = tokens[i].strip() if not tokens[i].startswith("<") else tokens[i]
        if tok.startswith("</"):
            depth = max(0, depth - 1)
            lines.append(indent * depth + tok)
        elif tok.startswith(("<?", "<!")) or tok.endswith("/>"):
            lines.append(indent * depth + tok)
        elif tok.startswith("<"):
            # <a>text</a> on one line
            if (
                i + 2 < len(tokens)
                and not tokens[i + 1].startswith("<")
                and tokens[i + 2].startswith("</")
                and "\n" not in tokens[i + 1].strip()
            ):
                lines.append(indent * depth + tok + tokens[i + 1].strip() + tokens[i + 2])
                i += 3
                continue
            lines.append(indent * depth + tok)
            depth += 1
        else:
            lines.extend(indent * depth + part.strip() for part in tok.splitlines() if part.strip())
        i += 1
    return lines


def page_count(lines: Sequence[str], per_page: int) -> int:
    return max(1, -(-len(lines) // per_page))


def find_lines(lines: Sequence[str], query: str) -> list[int]:
    """Indexes of the lines containing ``query`` (case-insensitive); empty for an empty query."""
    needle = query.strip().lower()
    if not needle:
        return []
    return [i for i, line in enumerate(lines) if needle in line.lower()]


def page_html(lines: Sequence[str], page: int, per_page: int, query: str = "") -> str:
    """Page ``page`` (0-based, clamped) as an HTML ``<pre>`` with line numbers and ``query`` highlighted."""
    page = min(max(0, page), page_count(lines, per_page) - 1)
    start = page * per_page
    needle = query.strip()
    pattern = re.compile(re.escape(needle), re.IGNORECASE) if needle else None
    out = []
    width = len(str(len(lines)))
    for n, line in enumerate(lines[start : start + per_page], start=start + 1):
        body = _highlight(line, pattern)
        out.append(f'<span style="color:#999">{n:>{width}}</span>  {body}')
    return '<pre class="ometiff-xml" style="font-size:12px;line-height:1.35">' + "\n".join(out) + "</pre>"


def _highlight(line: str, pattern: re.Pattern[str] | None) -> str:
    """``line`` escaped for HTML with the matches of ``pattern`` wrapped in ``<mark>``."""
    if pattern is None:
        return html.escape(line)
    out, pos = [], 0
    for m in pattern.finditer(line):
        out.append(html.escape(line[pos : m.start()]))
        out.append(f"<mark>{html.escape(m.group(0))}</mark>")
        pos = m.end()
    out.append(html.escape(line[pos:]))
    return "".join(out)
