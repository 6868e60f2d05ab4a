"""The inspect notebook's app: a URL form, a progress bar, and the report in tabs.

The app only wires widgets: every table and figure comes from `tables` and `plots`, the reading from
`report.inspect`. The URL's secrets stay in memory (a `urls.SecretURL`); once a URL has been read, the URL field
shows its redacted form and the token field is emptied, so nothing secret sits in widget state.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd

from ometiff_helpers.diagnose.origin import DEFAULT_ORIGIN
from ometiff_helpers.display import plots, tables
from ometiff_helpers.display.live import LiveSection
from ometiff_helpers.display.pager import Pager, page_frame
from ometiff_helpers.display.progressbar import ByteProgress
from ometiff_helpers.display.pyramid import pyramid_svg
from ometiff_helpers.display.verdict import failure_html, verdict_html
from ometiff_helpers.errors import OmeTiffError
from ometiff_helpers.io.base import HttpOptions
from ometiff_helpers.target import Target, location, resolve_target
from ometiff_helpers.urls import SecretURL, redact_text

__all__ = ["InspectApp", "Target", "pixel_channels_frame", "resolve_target"]

XML_LINES_PER_PAGE = 200
XML_EAGER_CHARS = 1_000_000  # a bigger OME-XML is laid out in lines when its tab is first opened

TAB_TITLES = (
    "Summary",
    "Preview",
    "Pyramid",
    "Channels",
    "Planes",
    "TiffData",
    "IFDs & tags",
    "Instrument",
    "Annotations",
    "ROIs",
    "Raw XML",
    "Requests",
)


def pixel_channels_frame(preview: Any) -> pd.DataFrame:
    """One row per channel previewed: Viv's domain and default contrast limits, mean, fractions at 0 and at max."""
    rows = [
        {
            "Channel": f"{c.index}: {c.name}",
            "Type": c.dtype,
            "Domain": f"[{c.min:g}, {c.max:g}]",
            "Contrast limits": f"[{c.contrast_limits[0]:g}, {c.contrast_limits[1]:g}]",
            "Mean": f"{c.mean:.4g}",
            "At 0": f"{c.fraction_zero:.1%}",
            "At type max": f"{c.fraction_type_max:.1%}",
            "IFD": c.ifd_path,
        }
        for c in preview.channels
    ]
    return pd.DataFrame(rows)


# --- the app ----------------------------------------------------------------------------------------------------------


_STYLE = """<style>
.ometiff-table { border-collapse: collapse; font-size: 12px; margin: 4px 0 10px; }
.ometiff-table th, .ometiff-table td { border: 1px solid #ddd; padding: 3px 8px; text-align: left;
  vertical-align: top; }
.ometiff-table thead th { background: #f3f3f3; }
.ometiff-table thead tr, .ometiff-table th { text-align: left !important; }
.ometiff-table tbody tr:nth-child(even) { background: #fafafa; }
/* tab titles are never cut: each tab is as wide as its title, the bar wraps when they do not fit */
.ometiff-tabs > .lm-TabBar .lm-TabBar-content, .ometiff-tabs > .p-TabBar .p-TabBar-content { flex-wrap: wrap; }
.ometiff-tabs > .lm-TabBar .lm-TabBar-tab, .ometiff-tabs > .p-TabBar .p-TabBar-tab {
  flex: 0 0 auto !important; min-width: fit-content !important; max-width: none !important; }
.ometiff-tabs > .lm-TabBar, .ometiff-tabs > .p-TabBar { min-height: fit-content; overflow: visible; }
</style>"""


def _scroll(html_text: str, height: str = "520px") -> str:
    return f'<div style="max-height:{height};overflow:auto">{html_text}</div>'


def _wide(html_text: str) -> str:
    """Wide tables scroll sideways; nothing scrolls vertically inside a tab (pages are bounded instead)."""
    return f'<div style="overflow-x:auto">{html_text}</div>'


def _frame_html(df: pd.DataFrame, *, index: bool = True) -> str:
    if df.empty:
        return "<p><i>nothing in this file</i></p>"
    return df.to_html(index=index, border=0, classes="ometiff-table")


def _table_html(table: pd.DataFrame | tables.HtmlTable, *, index: bool = False) -> str:
    if isinstance(table, tables.HtmlTable):
        return table.html if len(table.frame) else "<p><i>nothing in this file</i></p>"
    return _frame_html(table, index=index)


def _heading(text: str) -> str:
    return f"<h4 style='margin:8px 0 4px'>{html.escape(text)}</h4>"


def _location(url: str) -> SecretURL | str:
    """A URL as a `SecretURL`, a local path as it is."""
    return location(url, None)[0]


def _close_thread_event_loop() -> None:
    """Close the event loop nbclient (through jupyter_core's run_sync) opened in this worker thread."""
    from jupyter_core.utils import ensure_event_loop

    loop = ensure_event_loop()
    if not loop.is_running():
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


class InspectApp:
    """The form (URL, token, Inspect), a progress bar, a status line and twelve result tabs.

    ``inspect`` is the function that reads a file (``report.inspect`` by default; tests may pass another one with
    the same signature). `run` inspects programmatically (the notebook uses it to load the demo on start).
    """

    def __init__(
        self,
        inspect: Callable[..., Any] | None = None,
        save_record: Callable[..., Any] | None = None,
        *,
        http_options: HttpOptions | None = None,
    ) -> None:
        if inspect is None:
            from ometiff_helpers import report

            inspect = report.inspect
        if save_record is None:
            from ometiff_helpers.records import make_record

            save_record = make_record
        self._inspect = inspect
        self.http_options = http_options or HttpOptions()
        self._save_record = save_record
        self.saved_record: Path | None = None  # the last record saved with the "Save record" button
        self.records_dir: Path | None = None  # where records go (None: records.RECORDS_DIR)
        self._secret: SecretURL | str | None = None  # the last location read, kept in memory only
        self.report: Any = None
        self.error: str | None = None  # the last failure, redacted (None after a success)
        self._xml_lines: list[str] = []
        self._xml_text = ""  # the OME-XML not laid out in lines yet ("" once it is)
        self._xml_page = 0
        self._xml_hits: list[int] = []

        self.url = w.Text(
            placeholder="Paste the whole URL, token included (https://…/file.ome.tif?token=…) or a local path",
            description="URL",
            layout=w.Layout(width="min(100%, 900px)"),
        )
        self.url.add_class("ometiff-url")
        self.token = w.Password(
            placeholder="optional: a token, if it is not in the URL",
            description="Token",
            layout=w.Layout(width="min(100%, 500px)"),
        )
        self.token.add_class("ometiff-token")
        self.origin = w.Text(
            value=DEFAULT_ORIGIN,
            description="Origin",
            tooltip="the page the viewer runs on: the Origin the CORS probes send",
            layout=w.Layout(width="min(100%, 500px)"),
        )
        self.origin.add_class("ometiff-origin")
        self.button = w.Button(description="Inspect", button_style="primary", icon="search")
        self.button.add_class("ometiff-inspect")
        self.loader = ByteProgress()  # bytes of OME-XML received (rate, time left) and IFDs read
        self.progress, self.progress_label = self.loader.bar, self.loader.label
        self.status = w.HTML("")
        self.status.add_class("ometiff-status")
        self.verdict = w.HTML("")
        self.verdict.add_class("ometiff-verdict-box")
        self._sections: list[LiveSection] = []
        self._pagers: dict[str, Pager] = {}
        self.tabs = w.Tab()
        self.tabs.add_class("ometiff-tabs")
        self._panes = {title: w.VBox() for title in TAB_TITLES}
        self.tabs.children = list(self._panes.values())
        self.tabs.titles = list(TAB_TITLES)
        self.tabs.observe(lambda _: self._on_tab(), names="selected_index")

        # Raw XML pager
        self.xml_search = w.Text(placeholder="search the XML", description="Find", continuous_update=False)
        self.xml_prev = w.Button(description="◀ page", layout=w.Layout(width="90px"))
        self.xml_next = w.Button(description="page ▶", layout=w.Layout(width="90px"))
        self.xml_next_hit = w.Button(description="next match", layout=w.Layout(width="110px"))
        self.xml_info = w.Label("")
        self.xml_view = w.HTML("")
        self.xml_prev.on_click(lambda _: self._xml_goto(self._xml_page - 1))
        self.xml_next.on_click(lambda _: self._xml_goto(self._xml_page + 1))
        self.xml_next_hit.on_click(lambda _: self._xml_next_match())
        self.xml_search.observe(lambda _: self._xml_search(), names="value")

        # IFD picker for the tags table
        self.ifd_picker = w.Dropdown(description="Tags of", options=[])
        self.ifd_picker.observe(lambda _: self._show_tags(), names="value")

        self.button.on_click(lambda _: self.inspect_form())
        self.save_button = w.Button(
            description="Save record", icon="save", disabled=True, tooltip="run this inspection as a record"
        )
        self.save_button.add_class("ometiff-save-record")
        self.save_button.on_click(lambda _: self.save_record())
        self.widget = w.VBox(
            [
                w.HTML(
                    _STYLE
                    + "<b>Inspect a remote OME-TIFF</b> (the metadata and the lowest level's pixels, with HTTP range requests)"
                ),
                self.url,
                w.HBox([self.token, self.button, self.save_button]),
                self.origin,
                self.loader.widget,
                self.status,
                self.verdict,
                self.tabs,
            ]
        )

    # --- display ------------------------------------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data = self.widget._repr_mimebundle_(**kwargs) or {}
        # a fixed plain-text fallback: saved notebooks carry no widget state, and no URL or port
        data["text/plain"] = "Inspect form (widgets: run the notebook to use it)"
        return data

    # --- reading ------------------------------------------------------------------------------------------------------

    def inspect_form(self) -> Any:
        """Inspect what the form holds; the URL field then shows the redacted URL and the token field is emptied."""
        raw = self.url.value.strip()
        token = self.token.value.strip()
        self.token.value = ""
        if not raw:
            self._status("Paste a URL (or a local path) first.", error=True)
            return None
        note = None
        if self._secret is not None and raw == str(self._secret) and not token:
            where: SecretURL | str = self._secret  # the redacted text of what we read last: read it again
        else:
            where, note = location(raw, token)
        rep = self.run(where)
        if rep is not None and note:
            self._status(f"Inspected {html.escape(str(where))}. Note: {html.escape(note)}")
        return rep

    def run(self, location: SecretURL | str, token: str | None = None) -> Any:
        """Inspect ``location`` (a URL, a `SecretURL` or a path) and show the result in every tab."""
        if token:
            location = SecretURL(location, token=token)
        elif isinstance(location, str):
            location = _location(location)
        self._secret = location
        self.url.value = str(location)  # redacted
        self.report = None
        self._clear()
        self.error = None
        self._status(f"Reading {html.escape(str(location))} …")
        self.button.disabled = True
        try:
            rep = self._inspect(
                location,
                on_progress=self.loader,
                origin=self.origin.value.strip() or None,
                pixels=True,
                http_options=self.http_options,
            )
        except OmeTiffError as exc:
            self.error = redact_text(str(exc))
            self.loader.finish("failed", error=True)
            self._failed(location)
            return None
        except (
            Exception
        ) as exc:  # a bug, not a file problem: say so, without a traceback that could hold secrets
            self.error = f"Unexpected error ({type(exc).__name__}): {redact_text(str(exc))}"
            self.loader.finish("failed", error=True)
            self._failed(location)
            return None
        finally:
            self.button.disabled = False
        self.report = rep
        self.save_button.disabled = False
        self.verdict.value = verdict_html(rep)  # the answer first; the tabs and sections follow
        self._status(f"Read {html.escape(str(location))}: filling the tabs …")
        self._show(rep)
        for section in self._sections:
            section.update(rep)
        totals = rep.ledger.as_dict()
        self.loader.finish(
            f"done: {totals['count']:,} requests, {tables.format_bytes(totals['bytes'])}, {totals['rounds']} rounds"
        )
        self._status(f"Inspected {html.escape(str(location))}")
        return rep

    def save_record(self, *, wait: bool = False) -> threading.Thread:
        """Save a troubleshooting record of the file last read (records/<name>-<time>.ipynb), in the background.

        The record re-executes the inspect notebook for the same URL; the token goes to its kernel only through
        the environment and is written nowhere (see ``records.make_record``).
        """
        from ometiff_helpers.records import RECORDS_DIR, default_record_path

        location = self._secret
        if location is None:
            self._status("Inspect a file first, then save a record of it.", error=True)
            raise OmeTiffError("nothing inspected yet: inspect a file, then save a record of it")
        out = default_record_path(location, self.records_dir or RECORDS_DIR)
        self.save_button.disabled = True
        self._status(f"Saving a record to {html.escape(str(out))} (the notebook runs again, ~10 s) …")

        def work() -> None:
            try:
                self.saved_record = Path(self._save_record(location, out))
                self._status(f"Saved record: {html.escape(str(self.saved_record))}")
            except OmeTiffError as exc:
                self._status(html.escape(f"Could not save the record: {redact_text(str(exc))}"), error=True)
            except Exception as exc:  # a bug: report it without a traceback that could hold secrets
                message = f"Could not save the record ({type(exc).__name__}): {redact_text(str(exc))}"
                self._status(html.escape(message), error=True)
            finally:
                self.save_button.disabled = False
                _close_thread_event_loop()

        thread = threading.Thread(target=work, name="save-record", daemon=True)
        thread.start()
        if wait:
            thread.join()
        return thread

    def _status(self, text: str, *, error: bool = False) -> None:
        colour = "#c62828" if error else "#2e7d32"
        self.status.value = f'<span style="color:{colour}">{redact_text(text)}</span>'

    def _failed(self, location: SecretURL | str) -> None:
        """Say that reading ``location`` failed: status, banner, and every notebook section (no stale results)."""
        error = self.error or ""
        self._status(f"Could not read {html.escape(str(location))}: the reason is below.", error=True)
        self.verdict.value = failure_html(error, str(location))
        for number, section in enumerate(self._sections):
            # the first section says why; the others only that there is nothing to show
            section.update(None, error if number == 0 else "see the first section below the form")

    def section(self, render: Callable[[Any], Any]) -> LiveSection:
        """A notebook section showing ``render(report)`` for the file this app inspected last (see `LiveSection`).

        Display it (as a cell's last expression); every later inspection re-renders it, a failed one replaces it
        with a note, so the cells below the form never describe another file than the form's.
        """
        live = LiveSection(render, self.report, self.error)
        self._sections.append(live)
        return live

    def _clear(self) -> None:
        for pane in self._panes.values():
            pane.children = []
        self.verdict.value = ""
        self.loader.start("connecting …")

    # --- tabs ---------------------------------------------------------------------------------------------------------

    def _pane(self, title: str, *children: w.Widget) -> None:
        self._panes[title].children = list(children)

    def _html(self, *parts: str) -> w.HTML:
        return w.HTML(_wide("".join(parts)))

    def _paged(
        self, key: str, name: str, table: pd.DataFrame | tables.HtmlTable, *, index: bool = False
    ) -> w.Widget:
        """A bounded page of ``table`` with its count, paging and a filter (one `Pager` per table, reused)."""
        pager = self._pagers.get(key)
        if pager is None:
            pager = self._pagers[key] = Pager(name)
        if isinstance(table, tables.HtmlTable):
            html_table = table
            pager.set(
                table.frame, render=lambda df: html_table.page_html(page_frame(df)), empty=table.empty_text
            )
        else:
            pager.set(table, index=index)
        return pager.widget

    def _show(self, rep: Any) -> None:
        summary = tables.summary_table(rep)
        findings = tables.findings_table(rep.findings)
        self._pane(
            "Summary",
            self._html(_frame_html(summary), _heading("Findings")),
            self._paged("findings", "findings", findings),
        )

        self._pane("Preview", *self._preview_children(rep))

        picture = pyramid_svg(rep.levels(), title=plots.short_name(rep.display_name))
        image = w.HTML(_wide(picture.svg))
        image.add_class("ometiff-pyramid")
        self._pane("Pyramid", self._html(_frame_html(tables.levels_table(rep))), image)

        ome_note = (
            ""
            if rep.ome is not None
            else f"<p><i>No OME metadata: {html.escape(rep.ome_error or '')}</i></p>"
        )
        note = [self._html(ome_note)] if ome_note else []
        self._pane("Channels", *note, self._paged("channels", "channels", tables.channels_table(rep)))
        self._pane("Planes", *note, self._paged("planes", "planes", tables.ome_part(rep, "planes")))
        self._pane(
            "TiffData",
            *note,
            self._html(_heading("TiffData elements")),
            self._paged("tiffdata", "TiffData elements", tables.ome_part(rep, "tiffdata")),
            self._html(_heading("Plane (Z, C, T) → IFD")),
            self._paged("mapping", "mapping rows", tables.ome_part(rep, "plane_mapping")),
        )
        self._pane(
            "Instrument", *note, self._paged("instruments", "rows", tables.ome_part(rep, "instruments"))
        )
        self._pane(
            "Annotations",
            *note,
            self._paged("annotations", "annotations", tables.ome_part(rep, "annotations")),
        )
        self._pane(
            "ROIs",
            *note,
            self._html(_heading("ROIs")),
            self._paged("rois", "ROIs", tables.ome_part(rep, "rois")),
            self._html(_heading("Shapes")),
            self._paged("shapes", "shapes", tables.ome_part(rep, "shapes")),
        )

        ifds = tables.ifds_table(rep)
        self.ifd_picker.options = list(ifds["IFD"])
        self.ifd_picker.value = self.ifd_picker.options[0] if self.ifd_picker.options else None
        self._show_tags()
        self._pane("IFDs & tags", self._paged("ifds", "IFDs", ifds), self.ifd_picker, self._tags_pager.widget)

        self._xml_lines, self._xml_hits = [], []
        self._xml_text = rep.xml_text or ""
        if len(self._xml_text) <= XML_EAGER_CHARS:
            self._xml_layout()
        else:
            size = tables.format_bytes(len(rep.xml_bytes or b""))
            self.xml_view.value = (
                f"<p><i>The OME-XML ({html.escape(size)}) is laid out when this tab is opened …</i></p>"
            )
            self.xml_info.value = ""
        self._pane(
            "Raw XML",
            w.HBox([self.xml_search, self.xml_next_hit, self.xml_prev, self.xml_next, self.xml_info]),
            self.xml_view,
        )

        self._pane(
            "Requests",
            self._html(
                _frame_html(tables.requests_summary(rep.ledger)),
                _heading("Before its first tile, the viewer must fetch"),
                _frame_html(tables.viewer_estimate_table(rep)),
                _heading("Network probes"),
                _frame_html(tables.probes_table(rep), index=False),
                _heading("Requests"),
            ),
            self._paged("requests", "requests", tables.requests_table(rep.ledger)),
        )

    def _preview_children(self, rep: Any) -> list[w.Widget]:
        """The Preview tab: channel thumbnails and composite with Viv's default contrast, histograms, statistics."""
        preview = getattr(rep, "pixels", None)
        if preview is None or not preview.arrays:
            info = rep.extra.get("pixels") or {}
            why = info.get("skipped") or info.get("error") or "; ".join(getattr(preview, "notices", ()) or ())
            return [self._html(f"<p><i>No pixels read: {html.escape(why or 'nothing to preview')}</i></p>")]
        head = (
            f"<p>Lowest pyramid level {preview.level} of {preview.level_count} ({preview.width} × {preview.height} px), "
            f"as the viewer shows it by default: {preview.tiles_read} tile(s), "
            f"{tables.format_bytes(preview.bytes_read)} in {preview.rounds} extra round(s).</p>"
        )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in preview.notices)
        thumbs = w.Image(value=plots.preview_png(preview), format="png",
                         layout=w.Layout(max_width="1100px"))  # fmt: skip
        thumbs.add_class("ometiff-preview")
        hist = w.Image(value=plots.histograms_png(preview), format="png",
                       layout=w.Layout(max_width="1100px"))  # fmt: skip
        hist.add_class("ometiff-histograms")
        stats = _frame_html(pixel_channels_frame(preview), index=False)
        return [self._html(head, f"<ul>{notes}</ul>" if notes else ""), thumbs, hist, self._html(stats)]

    @property
    def tags_view(self) -> w.HTML:
        """The page of the tags table of the IFD picked."""
        return self._tags_pager.view

    @property
    def _tags_pager(self) -> Pager:
        pager = self._pagers.get("tags")
        if pager is None:
            pager = self._pagers["tags"] = Pager("tags")
        return pager

    def _show_tags(self) -> None:
        path = self.ifd_picker.value
        if self.report is None or path is None:
            self._tags_pager.clear()
            return
        self._tags_pager.set(tables.tags_table(self.report, path))

    # --- raw XML pager ------------------------------------------------------------------------------------------------

    def _on_tab(self) -> None:
        index = self.tabs.selected_index
        if index is not None and TAB_TITLES[index] == "Raw XML" and self._xml_text:
            self._xml_layout()

    def _xml_layout(self) -> None:
        """Lay the OME-XML out in lines (once per inspection) and show the first page."""
        text, self._xml_text = self._xml_text, ""
        self._xml_lines = tables.pretty_xml_lines(text) if text else self._xml_lines
        self._xml_goto(0)

    def _xml_goto(self, page: int) -> None:
        if self._xml_text:
            self._xml_layout()
            return
        if not self._xml_lines:
            self.xml_view.value = "<p><i>no OME-XML in this file</i></p>"
            self.xml_info.value = ""
            return
        pages = tables.page_count(self._xml_lines, XML_LINES_PER_PAGE)
        self._xml_page = min(max(0, page), pages - 1)
        self.xml_view.value = _wide(
            tables.page_html(self._xml_lines, self._xml_page, XML_LINES_PER_PAGE, self.xml_search.value)
        )
        hits = f", {len(self._xml_hits):,} matching lines" if self.xml_search.value.strip() else ""
        self.xml_info.value = f"page {self._xml_page + 1} of {pages} ({len(self._xml_lines):,} lines{hits})"

    def _xml_search(self) -> None:
        if self._xml_text:
            self._xml_layout()
        self._xml_hits = tables.find_lines(self._xml_lines, self.xml_search.value)
        first = self._xml_hits[0] // XML_LINES_PER_PAGE if self._xml_hits else self._xml_page
        self._xml_goto(first)

    def _xml_next_match(self) -> None:
        if not self._xml_hits:
            return
        end_of_page = (self._xml_page + 1) * XML_LINES_PER_PAGE
        later = [i for i in self._xml_hits if i >= end_of_page]
        target = later[0] if later else self._xml_hits[0]
        self._xml_goto(target // XML_LINES_PER_PAGE)
