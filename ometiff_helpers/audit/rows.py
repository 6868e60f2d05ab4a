"""One file of an audit: ``report.inspect`` -> one row (plain values) and one finding row per finding.

`audit_file` never raises for a bad file: a URL that cannot be read becomes a row with ``ok=False`` and its error, so
that one hostile URL never stops a run of thousands. Every text that goes into a row passes through
``urls.redact_text``; the token is only handed to the reader.
"""

from __future__ import annotations

import time
from dataclasses import field
from typing import Any

from ometiff_helpers.errors import OmeTiffError
from ometiff_helpers.findings import Severity
from ometiff_helpers.frozen import record
from ometiff_helpers.ome.units import length_to_um
from ometiff_helpers.report import HttpOptions, Report, inspect
from ometiff_helpers.urls import SecretURL, redact_text

__all__ = [
    "COLUMNS",
    "FINDING_COLUMNS",
    "AuditSettings",
    "FileResult",
    "audit_file",
    "display_url",
    "finding_rows",
    "report_row",
]

#: the columns of the audit table, in order (columns carried over from the list follow them)
COLUMNS: tuple[str, ...] = (
    "url",
    "ok",
    "error",
    "verdict",
    "n_errors",
    "n_warnings",
    "codes",
    "size",
    "bigtiff",
    "levels",
    "size_x",
    "size_y",
    "size_z",
    "size_c",
    "size_t",
    "pixel_type",
    "channels",
    "compression",
    "tile",
    "physical_size_x",
    "xml_bytes",
    "requests",
    "bytes",
    "seconds",
    "fingerprint",
)

#: the columns of the findings table (one row per finding)
FINDING_COLUMNS: tuple[str, ...] = ("url", "code", "severity", "where", "message")

#: column -> value type, for typed outputs (Parquet) and for reading CSV back
COLUMN_TYPES: dict[str, type] = {
    "url": str,
    "ok": bool,
    "error": str,
    "verdict": str,
    "n_errors": int,
    "n_warnings": int,
    "codes": str,
    "size": int,
    "bigtiff": bool,
    "levels": int,
    "size_x": int,
    "size_y": int,
    "size_z": int,
    "size_c": int,
    "size_t": int,
    "pixel_type": str,
    "channels": str,
    "compression": str,
    "tile": str,
    "physical_size_x": float,
    "xml_bytes": int,
    "requests": int,
    "bytes": int,
    "seconds": float,
    "fingerprint": str,
    "code": str,
    "severity": str,
    "where": str,
    "message": str,
}

#: the verdict of a file that could not be read at all
UNREADABLE = "could not read the file"


PER_FILE_REQUESTS = 8  # requests of one file in flight at once during an audit


@record
class AuditSettings:
    """How each file is read: network probes or not, the wall-clock limit of one file, files in flight."""

    probes: bool = True
    timeout: float = 120.0  # seconds one file may spend in requests (retries included)
    concurrency: int = 32  # files in flight (per process, or per Dask task)
    per_host: int = 16  # files in flight per origin (scheme, host, port)

    def http_options(self) -> HttpOptions:
        """The reader's transport settings for one file: its usual retries, with deadlines within ``timeout``."""
        t = max(0.5, float(self.timeout))
        return HttpOptions(
            connect_timeout=min(10.0, t),
            read_timeout=min(30.0, t),
            request_deadline=min(60.0, t),
            deadline=t,
            # throughput comes from files in flight: per file a few requests at a time, so that 32 files (16 on one
            # host) do not open thousands of connections to a portal
            max_concurrency=PER_FILE_REQUESTS,
        )


@record
class FileResult:
    """What one file gave: its row (without carried-over columns) and its findings' rows."""

    row: dict[str, Any]
    findings: tuple[dict[str, Any], ...] = field(default_factory=tuple)


def display_url(url: str, token: str | None = None) -> str:
    """The URL as it may be written anywhere: secrets replaced by ***; a local path unchanged."""
    text = url.strip()
    if text.lower().startswith(("http://", "https://")):
        return SecretURL(text, token).redacted
    return redact_text(text)


def _flat(text: object) -> str:
    """One line of redacted text (rows stay one line each in CSV)."""
    return " ".join(redact_text(str(text)).split())


def report_row(report: Report) -> dict[str, Any]:
    """The audit columns of one readable file, from its Report (``url``, ``seconds`` set by the caller)."""
    counts = {s: sum(f.severity is s for f in report.findings) for s in Severity}
    codes = list(dict.fromkeys(f.code for f in report.findings))
    ome = report.ome
    pixels = ome.images[0].pixels if ome is not None and ome.images else None
    levels = report.levels()
    ifd0 = report.tiff.ifds[0] if report.tiff.ifds else None
    base = levels[0] if levels else None
    size_x = pixels.size_x if pixels is not None else (ifd0.width if ifd0 is not None else None)
    size_y = pixels.size_y if pixels is not None else (ifd0.height if ifd0 is not None else None)
    physical_x = None
    if pixels is not None and pixels.physical_size_x is not None:
        physical_x = length_to_um(pixels.physical_size_x.value, pixels.physical_size_x.unit)
    if base is not None:
        compression: str | None = base.compression
        tile = f"{base.tile_width}x{base.tile_height}" if base.tile_width else "strips"
    else:
        compression = ifd0.compression_name if ifd0 is not None else None
        tile = None
    requests = report.ledger.as_dict()
    return {
        "ok": True,
        "error": None,
        "verdict": _flat(report.verdict()),
        "n_errors": counts[Severity.ERROR],
        "n_warnings": counts[Severity.WARNING],
        "codes": ";".join(codes) or None,
        "size": report.tiff.size,
        "bigtiff": report.tiff.bigtiff,
        "levels": len(levels),
        "size_x": size_x,
        "size_y": size_y,
        "size_z": pixels.size_z if pixels is not None else None,
        "size_c": pixels.size_c if pixels is not None else None,
        "size_t": pixels.size_t if pixels is not None else None,
        "pixel_type": pixels.type if pixels is not None else None,
        "channels": ";".join(_flat(ch.name or "") for ch in pixels.channels) if pixels is not None else None,
        "compression": compression,
        "tile": tile,
        "physical_size_x": physical_x,
        "xml_bytes": ome.xml_bytes if ome is not None else None,
        "requests": int(requests["count"]),
        "bytes": int(requests["bytes"]),
        "fingerprint": _flat(report.fingerprint()),
    }


def finding_rows(report: Report, url: str) -> tuple[dict[str, Any], ...]:
    """One row per finding of ``report`` (message flattened to one redacted line)."""
    return tuple(
        {
            "url": url,
            "code": f.code,
            "severity": f.severity.value,
            "where": _flat(f.where),
            "message": _flat(f.message),
        }
        for f in report.findings
    )


def error_row(exc: BaseException) -> dict[str, Any]:
    """The row of a file that could not be read: ``ok=False`` and the error's class and redacted message."""
    if isinstance(exc, OmeTiffError):
        error = f"{type(exc).__name__}: {_flat(exc)}"
    else:  # a defect of this tool: the run goes on, the row says so
        error = f"internal error ({type(exc).__name__}): {_flat(exc)}"
    row: dict[str, Any] = dict.fromkeys(COLUMNS[1:])
    row.update({"ok": False, "error": error, "verdict": UNREADABLE, "n_errors": 0, "n_warnings": 0})
    return row


def audit_file(url: str, token: str | None, settings: AuditSettings) -> FileResult:
    """Inspect one URL or path as ``python -m ometiff_helpers URL --json`` would; never raises for a bad file."""
    shown = display_url(url, token)
    t0 = time.monotonic()
    try:
        report = inspect(
            url.strip(), token=token, probes=settings.probes, http_options=settings.http_options()
        )
        row = report_row(report)
        findings = finding_rows(report, shown)
    except Exception as exc:  # every failure of one file is that file's row, never the end of the run
        row, findings = error_row(exc), ()
    row["url"] = shown
    row["seconds"] = round(time.monotonic() - t0, 3)
    return FileResult(row={c: row.get(c) for c in COLUMNS}, findings=findings)
