"""Command line: ``python -m ometiff_helpers URL_OR_PATH [--json] [--checks]``, ``record``, ``recheck``, ``audit``.

A thin layer over ``report.inspect``: it only formats. Errors print one clear line on stderr (no traceback) and exit
with status 2; ``--checks`` exits with status 1 when an error-level finding exists. The token can be in the URL or in
the ``OMETIFF_TOKEN`` environment variable; it is never printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ometiff_helpers import __version__
from ometiff_helpers.diagnose.origin import DEFAULT_ORIGIN
from ometiff_helpers.diagnose.viewer import NEWEST, ViewerVersion
from ometiff_helpers.errors import OmeTiffError
from ometiff_helpers.fmt import human_bytes
from ometiff_helpers.io.open import read_small_file
from ometiff_helpers.report import Report, Stage, inspect
from ometiff_helpers.urls import SecretURL, redact_text

EXIT_FINDINGS = 1
_MAX_OFFSETS_JSON = 64 * 1024 * 1024  # a million IFD offsets fit in well under this
EXIT_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ometiff_helpers",
        description="Read the structure and OME-XML of a local or remote (OME-)TIFF over HTTP range requests.",
        epilog=(
            "The token may be part of the URL (?token=...) or given in the OMETIFF_TOKEN environment variable. "
            "A URL ending in .companion.ome is inspected as a multi-file set. Other commands (add --help to any "
            "for its options): `record URL` saves a troubleshooting record (the inspect notebook executed for URL); "
            "`recheck RECORD` reruns a record and says what changed; `offsets URL -o X.offsets.json` writes the "
            "offsets file the viewer reads; `fix-xml URL -o X.xml` writes a corrected OME-XML and the command that "
            "puts it back; `audit LIST --out FILE.csv` inspects every URL of a list into one table."
        ),
        usage="python -m ometiff_helpers [options] (URL_OR_PATH | --demo)\n"
        "       python -m ometiff_helpers record URL [options]\n"
        "       python -m ometiff_helpers recheck RECORD [options]\n"
        "       python -m ometiff_helpers offsets URL_OR_PATH -o X.offsets.json\n"
        "       python -m ometiff_helpers fix-xml URL_OR_PATH -o X.xml\n"
        "       python -m ometiff_helpers audit LIST --out FILE.csv|FILE.parquet [options]",
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
    parser.add_argument(
        "--no-pixels",
        action="store_true",
        help="skip reading the lowest level's pixels (preview, pixel checks)",
    )
    parser.add_argument(
        "--preview", metavar="FILE.png", help="write the preview (channels and composite) as PNG"
    )
    parser.add_argument(
        "--viewer",
        type=_viewer_version,
        default=NEWEST,
        metavar="VERSION",
        help=f"the Viv release the verdict is about (default: the newest, {NEWEST.major}.{NEWEST.minor}.{NEWEST.patch})",
    )
    parser.add_argument(
        "--origin",
        default=DEFAULT_ORIGIN,
        help=f"the viewer page's origin the CORS probes send (default: {DEFAULT_ORIGIN})",
    )
    parser.add_argument("--version", action="version", version=f"ometiff-inspect {__version__}")
    return parser


def _viewer_version(text: str) -> ViewerVersion:
    """--viewer's value as a ViewerVersion (argparse reports a bad one as a usage error)."""
    try:
        return ViewerVersion.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; every failure becomes one clear line on stderr and an exit status, never a traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in ("record", "recheck"):
            return _records_main(argv)
        if argv and argv[0] == "offsets":
            return _offsets_main(argv[1:])
        if argv and argv[0] == "fix-xml":
            return _fix_xml_main(argv[1:])
        if argv and argv[0] == "audit":
            from ometiff_helpers.audit.cli import main as audit_main

            return audit_main(argv[1:])
        with _single_threaded_blas():
            return _inspect_main(argv)
    except OmeTiffError as exc:
        print(f"error: {redact_text(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # whoever read our output went away (`... | head`): not a failure; silence the flush at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug of ours: no traceback (it could show a URL); OMETIFF_DEBUG=1 shows it
        if os.environ.get("OMETIFF_DEBUG"):
            raise
        print(
            f"internal error ({type(exc).__name__}): {redact_text(str(exc))}. Please report it; "
            "rerun with OMETIFF_DEBUG=1 for the traceback.",
            file=sys.stderr,
        )
        return EXIT_ERROR


@contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """OpenBLAS without its thread pool while an inspect runs, unless numpy is already imported or the user set
    ``OPENBLAS_NUM_THREADS``: the pixel preview's only BLAS call is a 2 x N product per level comparison, which it
    does not split across threads (the same results), but numpy's import starts one thread per core, which costs more
    than the whole preview on a busy machine. OpenBLAS reads the setting when numpy loads it; it is removed after."""
    if "numpy" in sys.modules or "OPENBLAS_NUM_THREADS" in os.environ:
        yield
        return
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        yield
    finally:
        os.environ.pop("OPENBLAS_NUM_THREADS", None)


def _inspect_main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    if not args.target and not args.demo:
        _parser().print_usage(sys.stderr)
        print("error: give a URL or path, or --demo", file=sys.stderr)
        return EXIT_ERROR
    if args.preview and args.no_pixels:
        print("error: --preview needs the pixels: drop --no-pixels", file=sys.stderr)
        return EXIT_ERROR
    if args.target and not args.demo and ".companion.ome" in args.target:  # else no need to import companion
        from ometiff_helpers.companion import is_companion

        if is_companion(args.target):
            return _companion_main(args)
    shown: dict[str, str] = {}  # the summary printed early (text output only: --json stays one object)

    def on_stage(stage: Stage) -> None:
        if stage.name == "summary" and not args.json:
            shown.update(stage.report.summary())
            print(summary_text(shown), flush=True)

    report = _run(args, on_stage)
    if args.preview:
        _write_preview(report, args.preview)
    if args.json:
        print(report.to_json())
    elif shown:
        print("\n" + details_text(report, checks=args.checks))
        final = report.summary()
        changed = {k: v for k, v in final.items() if shown.get(k) != v}
        if changed:  # the verdict once every check ran (and anything a late part of the OME-XML changed)
            print("\n" + summary_text(changed, width=max(len(k) for k in final)))
    else:
        print(format_text(report, checks=args.checks))
    if not args.json:
        set_line = _stub_set_line(report, args)
        if set_line:
            print(set_line)
    if args.checks and report.errors:
        return EXIT_FINDINGS
    return 0


def _run(args: argparse.Namespace, on_stage: Callable[[Stage], None] | None = None) -> Report:
    token = os.environ.get("OMETIFF_TOKEN") or None
    offsets = _load_offsets(args.offsets, token) if args.offsets else None
    if args.demo:
        from ometiff_helpers.demo import serve_demo

        with serve_demo() as server:
            return inspect(
                server.url("demo.ome.tif"),
                offsets=offsets,
                probes=not args.no_probes,
                pixels=not args.no_pixels,
                viewer=args.viewer,
                origin=args.origin,
                on_stage=on_stage,
            )
    return inspect(
        args.target,
        token=token,
        offsets=offsets,
        probes=not args.no_probes,
        pixels=not args.no_pixels,
        viewer=args.viewer,
        origin=args.origin,
        on_stage=on_stage,
    )


def _write_preview(report: Report, path: str) -> None:
    """Write the channel thumbnails and the composite, as Viv shows them by default, to ``path`` (PNG)."""
    if report.pixels is None or not report.pixels.arrays:
        why = (report.extra.get("pixels") or {}).get("skipped") or (report.extra.get("pixels") or {}).get(
            "error"
        )
        notices = "; ".join(report.pixels.notices) if report.pixels is not None else ""
        raise OmeTiffError(f"no preview to write: {why or notices or 'no pixels could be read'}")
    from ometiff_helpers.pixels.render import png_bytes, preview_strip

    try:
        with open(path, "wb") as fh:
            fh.write(png_bytes(preview_strip(report.pixels)))
    except OSError as exc:
        raise OmeTiffError(f"cannot write the preview to {path}: {exc.strerror}") from None


def _load_offsets(where: str, token: str | None) -> list[int]:
    """The top-level IFD offsets listed in an offsets.json (path or URL), read as JSON, bounded in size."""
    data = read_small_file(where, token=token, limit=_MAX_OFFSETS_JSON, what="offsets.json")
    name = SecretURL(where).redacted if where.lower().startswith(("http://", "https://")) else where
    import json  # here: a plain inspect does not load the JSON module

    try:
        offsets = json.loads(data)
    except ValueError:
        raise OmeTiffError(
            f"{name} is not JSON: expected a list of IFD offsets",
            hint="Give the offsets.json written by generate_tiff_offsets (a JSON list of integers).",
        ) from None
    if not isinstance(offsets, list) or not all(
        isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offsets
    ):
        raise OmeTiffError(
            f"{name} must be a JSON list of non-negative integers (the top-level IFD offsets)",
            hint="Give the offsets.json written by generate_tiff_offsets.",
        )
    return offsets


def format_text(report: Report, *, checks: bool = False) -> str:
    """The readable summary: key facts, pyramid levels, top-level IFDs, findings, requests."""
    return summary_text(report.summary()) + "\n\n" + details_text(report, checks=checks)


def summary_text(summary: dict[str, str], *, width: int | None = None) -> str:
    """The summary's label/value lines (labels padded to ``width``, by default the longest label's)."""
    width = width if width is not None else max(len(k) for k in summary)
    return redact_text("\n".join(f"{k:<{width}}  {v}" for k, v in summary.items()))


def details_text(report: Report, *, checks: bool = False) -> str:
    """What follows the summary: pyramid levels, top-level IFDs, findings, requests, probes, pixels, fingerprint."""
    lines: list[str] = []
    levels = report.levels()
    if levels:
        lines += ["Pyramid levels:"]
        for lv in levels:
            tiles = f"{lv.tile_width}x{lv.tile_height} tiles ({lv.tile_count})" if lv.tile_width else "strips"
            lines.append(
                f"  {lv.index}: {lv.width} x {lv.height}  downsample {lv.downsample:g}  {tiles}  {lv.compression}  [{lv.path}]"
            )
        lines.append("")
    lines.append(f"Top-level IFDs ({len(report.tiff.ifds)}):")
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
    ]
    lines += _diagnostics_lines(report)
    lines += _pixels_lines(report)
    lines.append(f"Fingerprint: {report.fingerprint()}")
    return redact_text("\n".join(lines))


def _pixels_lines(report: Report) -> list[str]:
    """The preview in a few lines: the level read, its cost, each channel's domain and default contrast limits."""
    p = report.pixels
    if p is None:
        info = report.extra.get("pixels") or {}
        reason = info.get("skipped") or info.get("error")
        return [f"Pixels: not read ({reason})"] if reason else []
    lines = [
        f"Pixels: level {p.level} of {p.level_count} ({p.width} x {p.height}), {p.tiles_read} tile(s), "
        f"{p.bytes_read:,} bytes in {p.rounds} round(s)"
    ]
    for c in p.channels:
        lines.append(
            f"  {c.index} {c.name}: {c.dtype}, domain [{c.min:g}, {c.max:g}], contrast limits "
            f"[{c.contrast_limits[0]:g}, {c.contrast_limits[1]:g}], mean {c.mean:.4g}, "
            f"{c.fraction_zero:.1%} at 0"
        )
    lines += [f"  note: {n}" for n in p.notices]
    return lines


# --- troubleshooting records: `record URL -o records/NAME.ipynb`, `recheck records/NAME.ipynb` ---------------------


def _records_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ometiff_helpers",
        description="Troubleshooting records: the inspect notebook executed for one file and saved with its outputs.",
        epilog="The token may be in the URL (?token=...) or in OMETIFF_TOKEN; it is never written into a record.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="execute the inspect notebook for URL and save it as a record")
    rec.add_argument(
        "url", nargs="?", help="URL (token included, or in OMETIFF_TOKEN) or local path of the file"
    )
    rec.add_argument("--demo", action="store_true", help="record the bundled demo file instead")
    rec.add_argument("-o", "--output", help="where to save it (default: records/<file>-<date>.ipynb)")
    rec.add_argument(
        "--notebook", help="the notebook to execute (default: the inspect notebook shipped with the package)"
    )
    rec.add_argument("--force", action="store_true", help="overwrite an existing record")
    rec.add_argument("--ask-token", action="store_true", help="prompt for the token (not echoed)")
    rec.add_argument("--timeout", type=int, default=600, help="seconds a cell may run (default 600)")
    chk = sub.add_parser(
        "recheck",
        help="re-read a record's file with the packaged notebook (none of the record's code runs) and report, cell by "
        "cell, what changed; exit 0 unchanged, 1 changed, 2 error, 3 the record's code was edited",
    )
    chk.add_argument("record", help="the record (.ipynb) made by `record`")
    chk.add_argument("--url", help="read the file at this URL instead (it moved; a test server's new port)")
    chk.add_argument("--save", help="also save the rerun (token-free) as this notebook")
    chk.add_argument(
        "--sanitize-with", help="nbval sanitiser file (default: the package's copy of notebooks/sanitize.cfg)"
    )
    chk.add_argument(
        "--notebook", help="the trusted notebook to rerun, for a record made with record --notebook"
    )
    chk.add_argument(
        "--trust-record-host",
        action="store_true",
        help="send the token to the server the record names (by default only to hosts in $OMETIFF_TRUSTED_HOSTS "
        "or to the --url you give)",
    )
    chk.add_argument("--timeout", type=int, default=600, help="seconds a cell may run (default 600)")
    return parser


def _ask_token() -> str | None:
    import getpass

    return getpass.getpass("Token (not echoed): ").strip() or None


def _records_main(argv: Sequence[str]) -> int:
    from ometiff_helpers import records

    parser = _records_parser()
    args = parser.parse_args(argv)
    if args.command == "record":
        if (args.url is None) == (not args.demo):
            parser.error("record: give a URL or path, or --demo")
        token = _ask_token() if args.ask_token else (os.environ.get("OMETIFF_TOKEN") or None)
        out = args.output or records.default_record_path(args.url)
        path = records.make_record(
            args.url, out, token=token, notebook=args.notebook, timeout=args.timeout, overwrite=args.force
        )
        info = records.record_info(records.read_record(path), path)
        print(f"Saved record: {path}")
        print(f"Fingerprint:  {info.get('fingerprint', '')}")
        print(f"Recheck with: python -m ometiff_helpers recheck {path}")
        return 0
    token = os.environ.get("OMETIFF_TOKEN") or None
    if token is None and args.url is None and sys.stdin.isatty() and records.needs_token(args.record):
        token = _ask_token()
    result = records.recheck(
        args.record,
        url=args.url,
        token=token,
        timeout=args.timeout,
        sanitize_with=args.sanitize_with,
        save_to=args.save,
        notebook=args.notebook,
        trust_record_host=args.trust_record_host,
    )
    print(result)
    return int(result.status)


def _stub_set_line(report: Report, args: argparse.Namespace) -> str:
    """For a BinaryOnly stub whose companion is reachable beside it: the set's verdict, in one line."""
    stub = report.ome.binary_only if report.ome is not None else None
    if stub is None or not stub.metadata_file or args.demo:
        return ""
    from ometiff_helpers.companion import inspect_companion, member_location  # a stub only

    where = member_location(args.target, stub.metadata_file)
    try:
        companion = inspect_companion(
            where, token=os.environ.get("OMETIFF_TOKEN") or None, viewer=args.viewer
        )
    except OmeTiffError as exc:
        return redact_text(f"The set's companion {stub.metadata_file} could not be read: {exc}")
    return redact_text(
        f"The set, opened through its companion {companion.display_name} ({len(companion.files)} files): "
        f"{companion.verdict()}. Open that URL in the viewer, not this file."
    )


def _companion_main(args: argparse.Namespace) -> int:
    """Inspect a multi-file set through its companion file: each member's structure and the set's verdict."""
    from ometiff_helpers.companion import inspect_companion

    token = os.environ.get("OMETIFF_TOKEN") or None
    report = inspect_companion(args.target, token=token, viewer=args.viewer)
    if args.json:
        import json  # here: a plain inspect does not load the JSON module

        print(redact_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False)))
    else:
        lines = [
            f"File     {report.display_name}",
            f"Format   companion OME-XML, {len(report.ome.images)} Image(s)",
        ]
        lines.append(f"Files ({len(report.files)}):")
        for m in report.files:
            what = f"error: {m.error}" if m.error else f"{m.ifds} IFD(s), {m.width} x {m.height}"
            lines.append(f"  {m.file_name}: {what}")
        lines.append(f"Findings ({len(report.findings)}):")
        lines += [
            f"  {f.severity.value.upper():7} {f.code} [{f.where}]: {f.message}" for f in report.findings
        ]
        lines.append(f"Verdict  {report.verdict()}")
        print(redact_text("\n".join(lines)))
    return EXIT_FINDINGS if args.checks and report.errors else 0


# --- remedies: `offsets URL -o X.offsets.json` -------------------------------------------------------------------


def _offsets_main(argv: Sequence[str]) -> int:
    """Write the offsets file (JSON array of top-level IFD offsets) that Viv and Avivator read beside the file."""
    from ometiff_helpers.tiff.offsets import offsets_json, offsets_name, read_ifd_offsets

    parser = argparse.ArgumentParser(
        prog="python -m ometiff_helpers offsets",
        description="Write X.offsets.json, the top-level IFD offsets Viv/Avivator read beside X.ome.tif.",
        epilog="Put the file beside the OME-TIFF under the name Avivator derives: ome.tif(f) -> offsets.json.",
    )
    parser.add_argument("target", help="URL (http/https) or local path of the OME-TIFF")
    parser.add_argument("-o", "--output", required=True, help="the offsets file to write ('-' for stdout)")
    args = parser.parse_args(argv)
    token = os.environ.get("OMETIFF_TOKEN") or None
    offsets = read_ifd_offsets(args.target, token=token)
    text = offsets_json(offsets)
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    Path(args.output).write_text(text, encoding="utf-8")
    name = SecretURL(args.target).redacted if "://" in args.target else args.target
    print(
        f"Wrote {len(offsets)} IFD offsets to {args.output}; serve it as {offsets_name(name.rsplit('/', 1)[-1])}"
    )
    return 0


def _fix_xml_main(argv: Sequence[str]) -> int:
    """Write a corrected OME-XML (units, IDs, Channel elements) and say how to put it into the TIFF."""
    from ometiff_helpers.ome.fix import PUT_BACK, correct_ome_xml

    parser = argparse.ArgumentParser(
        prog="python -m ometiff_helpers fix-xml",
        description="Write a corrected OME-XML for defects Viv's schema refuses (unit 'um', missing IDs or Channels).",
    )
    parser.add_argument("target", help="URL (http/https) or local path of the OME-TIFF")
    parser.add_argument("-o", "--output", required=True, help="the corrected OME-XML file to write")
    args = parser.parse_args(argv)
    token = os.environ.get("OMETIFF_TOKEN") or None
    report = inspect(args.target, token=token, probes=False, checks=False)
    if report.xml_text is None:
        raise OmeTiffError(
            f"{report.display_name} has no ImageDescription to correct", hint="Is it an OME-TIFF?"
        )
    fixed = correct_ome_xml(report.xml_text)
    Path(args.output).write_text(fixed.text, encoding="utf-8")
    lines = [f"  {c}" for c in fixed.changes] or ["  nothing needed correcting"]
    name = report.display_name.split("?")[0].rsplit("/", 1)[-1]
    put = [f"  {p.format(xml=args.output, tiff=name)}" for p in PUT_BACK]
    print(
        redact_text(
            "\n".join([f"Wrote {args.output}:", *lines, "Put it into (a copy of) the TIFF with:", *put])
        )
    )
    return 0


def _diagnostics_lines(report: Report) -> list[str]:
    """The geotiff.js first-tile estimate and the network probes' answers, when the checks produced them."""
    lines = []
    estimate = report.extra.get("viewer_estimate", {}).get("geotiff_js")
    if estimate:
        lines.append(
            f"Viewer estimate: geotiff.js 2.x needs about {estimate['requests']} request(s) and "
            f"{human_bytes(estimate['bytes'])} before its first tile ({estimate['ifds_opened']} IFDs opened)"
        )
    probes = report.extra.get("probes")
    if probes:
        answers = [
            f"{probe['label']} {probe['status'] or probe['error'] or '-'}"
            for probe in probes.values()
            if isinstance(probe, dict) and "label" in probe
        ]
        if answers:
            lines.append("Probes: " + "; ".join(answers))
    return lines


if __name__ == "__main__":
    sys.exit(main())
