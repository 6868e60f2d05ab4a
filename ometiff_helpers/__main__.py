"""Command line: ``python -m ometiff_helpers URL_OR_PATH [--json] [--checks]``.

A thin layer over ``report.inspect``: it only formats. Errors print one clear line on stderr (no traceback) and exit
with status 2; ``--checks`` exits with status 1 when an error-level finding exists. The token can be in the URL or in
the ``OMETIFF_TOKEN`` environment variable; it is never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from . import __version__
from .errors import OmeTiffError
from .report import Report, inspect
from .urls import redact_text

EXIT_FINDINGS = 1
EXIT_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ometiff_helpers",
        description="Read the structure and OME-XML of a local or remote (OME-)TIFF over HTTP range requests.",
        epilog="The token may be part of the URL (?token=...) or given in the OMETIFF_TOKEN environment variable.",
    )
    parser.add_argument("target", nargs="?", help="URL (http/https) or local path of the (OME-)TIFF")
    parser.add_argument(
        "--demo", action="store_true", help="inspect the bundled demo file (served on 127.0.0.1)"
    )
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    parser.add_argument("--checks", action="store_true", help="print the findings; exit 1 if any is an error")
    parser.add_argument("--offsets", help="offsets.json (path or URL) listing the top-level IFD offsets")
    parser.add_argument(
        "--no-probes", action="store_true", help="skip the network probes (CORS, offsets.json, ...)"
    )
    parser.add_argument("--version", action="version", version=f"ometiff-inspect {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.target and not args.demo:
        _parser().print_usage(sys.stderr)
        print("error: give a URL or path, or --demo", file=sys.stderr)
        return EXIT_ERROR
    try:
        report = _run(args)
    except OmeTiffError as exc:
        print(f"error: {redact_text(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        print(report.to_json())
    else:
        print(format_text(report, checks=args.checks))
    if args.checks and report.errors:
        return EXIT_FINDINGS
    return 0


def _run(args: argparse.Namespace) -> Report:
    token = os.environ.get("OMETIFF_TOKEN") or None
    offsets = _load_offsets(args.offsets, token) if args.offsets else None
    if args.demo:
        from .demo import serve_demo

        with serve_demo() as server:
            return inspect(server.url("demo.ome.tif"), offsets=offsets, probes=not args.no_probes)
    return inspect(args.target, token=token, offsets=offsets, probes=not args.no_probes)


def _load_offsets(where: str, token: str | None) -> list[int]:
    from .source import open_source

    with open_source(where, token=token) as src:
        data = src.read(0, src.size)
    try:
        offsets = json.loads(data)
    except ValueError:
        raise OmeTiffError(f"{where!s} is not JSON: expected a list of IFD offsets") from None
    if not isinstance(offsets, list) or not all(isinstance(o, int) and o >= 0 for o in offsets):
        raise OmeTiffError(
            "offsets.json must be a JSON list of non-negative integers (top-level IFD offsets)"
        )
    return offsets


def format_text(report: Report, *, checks: bool = False) -> str:
    """The readable summary: key facts, pyramid levels, top-level IFDs, findings, requests."""
    lines = []
    summary = report.summary()
    width = max(len(k) for k in summary)
    lines += [f"{k:<{width}}  {v}" for k, v in summary.items()]
    levels = report.levels()
    if levels:
        lines += ["", "Pyramid levels:"]
        for lv in levels:
            tiles = f"{lv.tile_width}x{lv.tile_height} tiles ({lv.tile_count})" if lv.tile_width else "strips"
            lines.append(
                f"  {lv.index}: {lv.width} x {lv.height}  downsample {lv.downsample:g}  {tiles}  {lv.compression}  [{lv.path}]"
            )
    lines += ["", f"Top-level IFDs ({len(report.tiff.ifds)}):"]
    shown = report.tiff.ifds[:50]
    for ifd in shown:
        sub = f", {len(ifd.subifds)} SubIFDs" if ifd.subifds else ""
        lines.append(
            f"  {ifd.path} @ {ifd.offset:,}: {ifd.width} x {ifd.height}, {ifd.compression_name}, {len(ifd.tags)} tags{sub}"
        )
    if len(report.tiff.ifds) > len(shown):
        lines.append(f"  ... and {len(report.tiff.ifds) - len(shown)} more (use --json for all)")
    if report.findings or checks:
        lines += ["", f"Findings ({len(report.findings)}):"]
        for f in report.findings:
            where = f" [{f.where}]" if f.where else ""
            lines.append(f"  {f.severity.value.upper():7} {f.code}{where}: {f.message}")
            if f.remedy and checks:
                lines.append(f"          fix: {f.remedy}")
        if not report.findings:
            lines.append("  none")
    req = report.ledger.as_dict()
    lines += [
        "",
        f"Requests: {req['count']} in {req['rounds']} round(s), {req['bytes']:,} bytes, {req['seconds']:.2f} s",
        f"Fingerprint: {report.fingerprint()}",
    ]
    return redact_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
