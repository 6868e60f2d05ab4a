"""Round trips, requests and bytes needed to read a remote OME-TIFF's structure and OME-XML, per reader.

Serves generated files from the loopback test server (`tests/faultserver.py`) with an injected per-request latency and runs, one after the
other, on each file:

- ``ometiff_helpers``: ``read_tiff`` over an ``HttpSource`` with IFD 0's OME-XML streamed to a consumer;
- ``seed notebook``: the starting notebook's reading logic (``seed_reader.py``);
- ``tifffile+fsspec``: ``tifffile.TiffFile`` over ``fsspec.open(url, block_size=...)``, every page, SubIFD and tag,
  with fsspec's default block size and with 64 KiB blocks;
- ``geotiff.js``, Viv's reader, in Node (``geotiff_reader.mjs``, packages from ``tests/viv/node_modules``): Viv's
  ``loadOmeTiff`` (what the viewer reads to open the file), and every IFD and SubIFD read with geotiff.js.

Requests, bytes and sequential rounds are counted by the server (`FaultServer.log`, `sequential_rounds`); our reader's
own ledger is shown next to them. Prints one markdown table. Run from the repository root:

    .venv/bin/python benchmarks/bench_reader.py [--latency 0.05] [--quick] [--geomx] [--planes] [--no-geotiff]

Without ``node`` or ``tests/viv/node_modules`` (``cd tests/viv && npm ci --no-audit --no-fund``) the geotiff.js rows
are left out and the table says why.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import fsspec
import tifffile

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: sibling modules
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # and the package from the checkout
sys.path.insert(
    0, str(Path(__file__).resolve().parents[1] / "tests")
)  # the test server: latency and a request log

from bench_files import FileSpec, write_file
from faultserver import FaultServer, ServedRequest, sequential_rounds
from seed_reader import read_like_seed

from ometiff_helpers.io.base import HttpOptions
from ometiff_helpers.io.open import open_source
from ometiff_helpers.tiff.read import read_tiff

KIB = 1024
OFFSET_ARRAYS = frozenset({273, 279, 324, 325})  # Strip/Tile offsets and byte counts
DEMO = Path(__file__).resolve().parents[1] / "ometiff_helpers" / "data" / "demo.ome.tif"
GEOTIFF_SCRIPT = Path(__file__).resolve().parent / "geotiff_reader.mjs"
VIV_MODULES = Path(__file__).resolve().parents[1] / "tests" / "viv" / "node_modules"
GEOTIFF_PACKAGES = ("geotiff", "@vivjs/loaders", "@xmldom/xmldom")
NODE_TIMEOUT = 900.0  # seconds for one geotiff.js run (the 540-IFD file walks its chain one round per IFD)


@dataclass(frozen=True)
class FileFacts:
    """What tifffile (the oracle) says about a served file."""

    name: str
    size: int
    ifds: int  # every IFD, SubIFDs included
    ome_xml: int  # bytes of IFD 0's ImageDescription
    metadata: int  # the strict count: IFD spans + out-of-line values except offset arrays (OME-XML included)
    offset_arrays: int = 0  # out-of-line Strip/Tile offset and byte-count arrays

    @property
    def metadata_all(self) -> int:
        """Metadata bytes: everything that is not pixel data (IFDs, every out-of-line value, offset arrays too)."""
        return self.metadata + self.offset_arrays

    @property
    def budget_all(self) -> int:
        """The issue's byte budget, 2 x metadata + 256 KiB, with metadata = everything that is not pixel data."""
        return 2 * self.metadata_all + 256 * KIB

    @property
    def budget(self) -> int:
        """The strict budget: 2 x the metadata bytes without the offset arrays + 64 KiB."""
        return 2 * self.metadata + 64 * KIB


@dataclass
class Outcome:
    """What a reader got, by its own account (the server counts the requests)."""

    ifds: int = 0
    xml_bytes: int = 0
    error: str | None = None
    ledger: dict[str, int | float] | None = None
    seconds: float | None = None  # the reader's own timing, when it runs in another process (Node)


@dataclass
class Row:
    file: FileFacts
    reader: str
    requests: int
    rounds: int
    nbytes: int
    seconds: float
    outcome: Outcome
    notes: list[str] = field(default_factory=list)


def geomx_spec(scale: str = "full", rois: int = 20_000) -> FileSpec:
    """A GeoMx-like slide: BigTIFF, big-endian, 4 channels x (1 + 8 SubIFD levels), about 23 MB of OME-XML.

    The OME-XML holds 20,000 polygon ROIs of 86 vertices and 4,000 StructuredAnnotations (Map and XML alternately),
    after the Image (``rois``: fewer for a smaller XML, with one annotation per 5 ROIs); "tiny" keeps the layout with
    1024 px images and 200 ROIs (the smoke test).
    """
    if scale == "tiny":
        return FileSpec("geomx-like.ome.tif", "scattered", 1024, 1024, 4, levels=8, rois=200, annotations=40)
    size = (49152, 65536) if scale == "full" else (8192, 8192)
    return FileSpec(
        "geomx-like.ome.tif", "scattered", *size, 4, levels=8, rois=rois, points=86, annotations=rois // 5
    )


def planes_spec(scale: str = "full") -> FileSpec:
    """Many planes: classic TIFF, 3 channels x 180 z-planes = 540 chain IFDs of 1024 px (256 px for "tiny")."""
    side = 256 if scale == "tiny" else 1024
    return FileSpec("planes-180x3.ome.tif", "classic", side, side, 3, planes=180, byteorder="<")


def file_specs(scale: str = "full", rois: int = 200) -> list[FileSpec]:
    """The benchmark files: the issue's 36-IFD tifffile layout, a raw2ometiff tail layout, a classic multi-page.

    ``scale``: "full" (49152 x 65536 px, like the portal's files), "quick" (8192 px) or "tiny" (1024 px, tests);
    ``rois``: polygon ROIs in the OME-XML (200: about 47 KiB of XML).
    """
    (w, h), classic = {
        "full": ((49152, 65536), 2048),
        "quick": ((8192, 8192), 1024),
        "tiny": ((1024, 1024), 256),
    }[scale]
    return [
        FileSpec("scattered-36ifd.ome.tif", "scattered", w, h, channels=4, levels=8, rois=rois),
        FileSpec("tail-36ifd.ome.tif", "tail", w, h, channels=4, levels=8, rois=rois),
        FileSpec(
            "classic-15page.ome.tif", "classic", classic, classic, 3, planes=5, byteorder="<", rois=rois
        ),
    ]


def file_facts(name: str, path: Path) -> FileFacts:
    """IFD count, OME-XML size, metadata and offset-array bytes, read locally with tifffile."""
    with tifffile.TiffFile(path) as tif:
        big = tif.is_bigtiff
        count, entry, pointer = (8, 20, 8) if big else (2, 12, 4)
        pages = []
        for page in tif.pages:
            assert isinstance(page, tifffile.TiffPage)
            pages.append(page)
            pages.extend(p for p in (page.pages or []) if isinstance(p, tifffile.TiffPage))
        metadata = arrays = 0
        for page in pages:
            metadata += count + entry * len(page.tags) + pointer
            for tag in page.tags.values():
                if tag.valuebytecount <= pointer:
                    continue
                if tag.code in OFFSET_ARRAYS:
                    arrays += tag.valuebytecount
                else:
                    metadata += tag.valuebytecount
        desc = pages[0].tags.get(270)
        xml = desc.valuebytecount if desc is not None else 0
    return FileFacts(name, path.stat().st_size, len(pages), xml, metadata, arrays)


# --- readers -------------------------------------------------------------------------------------------------------


def run_ours(url: str, options: HttpOptions | None = None) -> Outcome:
    chunks: list[bytes] = []
    with open_source(url, options=options) as source:
        try:
            tiff = read_tiff(source, description_consumer=chunks.append)
        except NotImplementedError:
            return Outcome(error="not implemented yet")
        xml = tiff.image_description if tiff.image_description is not None else b"".join(chunks)
        return Outcome(len(tiff.all_ifds()), len(xml), ledger=source.ledger.as_dict())


def run_seed(url: str) -> Outcome:
    result = read_like_seed(url)
    return Outcome(result.ifds_covered, result.ome_xml_bytes, result.error)


def run_tifffile(url: str, block_size: int | None) -> Outcome:
    kwargs = {} if block_size is None else {"block_size": block_size}
    ifds = 0
    xml = 0
    with fsspec.open(url, mode="rb", **kwargs) as fh, tifffile.TiffFile(fh) as tif:
        for page in tif.pages:
            assert isinstance(page, tifffile.TiffPage)
            pages = [page, *(page.pages or [])]
            for p in pages:
                assert isinstance(p, tifffile.TiffPage)
                for tag in p.tags.values():
                    _ = tag.value
                ifds += 1
            desc = page.tags.get(270)
            if ifds == len(pages) and desc is not None and desc.value:  # IFD 0: .value read the whole string
                xml = desc.valuebytecount
    return Outcome(ifds, xml)


def node_setup() -> tuple[str, dict[str, str]] | str:
    """Node and the versions of the geotiff.js packages in tests/viv/node_modules, or why they cannot run."""
    node = shutil.which("node")
    if node is None:
        return "node is not on PATH"
    versions = {}
    for package in GEOTIFF_PACKAGES:
        manifest = VIV_MODULES / package / "package.json"
        if not manifest.is_file():
            return f"{package} is not installed in tests/viv/node_modules (cd tests/viv && npm ci --no-audit --no-fund)"
        versions[package] = str(json.loads(manifest.read_text(encoding="utf-8")).get("version", "?"))
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=60, check=False)
    versions["node"] = version.stdout.strip() or "?"
    return node, versions


def run_geotiff(url: str, node: str, mode: str) -> Outcome:
    """geotiff.js in Node on ``url``: ``mode`` "viv" (Viv's loadOmeTiff) or "structure" (every IFD and SubIFD)."""
    proc = subprocess.run(
        [node, str(GEOTIFF_SCRIPT), mode, url, str(VIV_MODULES)],
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        return Outcome(error=f"node: {last[:120]}")
    got = json.loads(lines[-1])
    error = got["error"].replace("|", "/")[:120] if got["error"] else None
    return Outcome(int(got["ifds"]), int(got["xml_bytes"]), error, seconds=float(got["seconds"]))


def geotiff_readers(node: str) -> list[tuple[str, Callable[[str], Outcome]]]:
    """The two geotiff.js rows: what Viv reads to open the file, and the whole structure read with geotiff.js."""
    return [
        ("geotiff.js: Viv loadOmeTiff", lambda url: run_geotiff(url, node, "viv")),
        ("geotiff.js: every IFD + SubIFDs", lambda url: run_geotiff(url, node, "structure")),
    ]


ONE_CONNECTION = (
    "ometiff_helpers read_tiff, XML on one connection",
    lambda url: run_ours(url, HttpOptions(stream_pieces=1)),
)
READERS: list[tuple[str, Callable[[str], Outcome]]] = [
    ("ometiff_helpers read_tiff", run_ours),
    ("seed notebook", run_seed),
    ("tifffile+fsspec (default 5 MiB blocks)", lambda url: run_tifffile(url, None)),
    ("tifffile+fsspec (64 KiB blocks)", lambda url: run_tifffile(url, 64 * KIB)),
]


def measure(server: FaultServer, facts: FileFacts, reader: str, run: Callable[[str], Outcome]) -> Row:
    server.reset_log()
    t0 = time.perf_counter()
    try:
        outcome = run(server.url(facts.name))
    except Exception as exc:  # a reader that raises is a result, not a benchmark failure
        outcome = Outcome(error=_error_name(exc))
    seconds = time.perf_counter() - t0 if outcome.seconds is None else outcome.seconds
    log = _settled_log(server)
    return Row(facts, reader, len(log), sequential_rounds(log), sum(r.nbytes for r in log), seconds, outcome)


def _error_name(exc: BaseException) -> str:
    kind = type(exc)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def _settled_log(server: FaultServer) -> list[ServedRequest]:
    """The server's log once it stops growing (a response is logged just after its last byte is sent)."""
    log = server.log
    for _ in range(50):
        time.sleep(0.02)
        again = server.log
        if len(again) == len(log):
            return again
        log = again
    return log


# --- report --------------------------------------------------------------------------------------------------------


def _targets(row: Row) -> str:
    """The targets for our reader: bytes at most 2 x the metadata without offset arrays + 64 KiB (every file);
    rounds (at most today's: 4 scattered, 3 tail) and requests (one per IFD + 2) on the 36-IFD pyramid; at most 20
    rounds on the many-plane file."""
    if not row.reader.startswith("ometiff_helpers") or row.outcome.error:
        return ""
    checks = []
    if row.file.name.startswith("scattered"):
        checks.append(f"rounds<=4 {'yes' if row.rounds <= 4 else 'NO'}")
        checks.append(f"requests<={row.file.ifds + 2} {'yes' if row.requests <= row.file.ifds + 2 else 'NO'}")
    if row.file.name.startswith("tail"):
        checks.append(f"rounds<=3 {'yes' if row.rounds <= 3 else 'NO'}")
    if row.file.name.startswith("planes"):
        checks.append(f"rounds<=20 {'yes' if row.rounds <= 20 else 'NO'}")
    checks.append(f"bytes<=2x+64KiB {'yes' if row.nbytes <= row.file.budget else 'NO'}")
    return ", ".join(checks)


def _yes(ok: bool) -> str:
    return "yes" if ok else "no"


def _kib(n: int) -> str:
    return f"{n / KIB:,.1f}"


def markdown(
    rows: list[Row], latency: float, geotiff: dict[str, str] | str = "not run (--no-geotiff)"
) -> str:
    """The files table, the readers table and a line on the geotiff.js rows (the versions run, or why not run)."""
    lines = [
        f"Latency {latency * 1000:.0f} ms per request. Requests, rounds and bytes are counted by the server; "
        "budget = 2 x metadata bytes + 256 KiB, metadata = everything that is not pixel data (IFDs, every "
        "out-of-line value including the tile/strip offset and byte-count arrays, the OME-XML); the strict "
        "budget (the target) = 2 x the metadata without the offset arrays + 64 KiB.",
        *(
            ["Without latency requests do not overlap: the rounds column then counts requests."]
            if latency <= 0
            else []
        ),
        "",
        "| file | size | IFDs | OME-XML KiB | metadata KiB | budget KiB | metadata w/o offset arrays KiB "
        "| strict budget KiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    seen = set()
    for row in rows:
        f = row.file
        if f.name not in seen:
            seen.add(f.name)
            lines.append(
                f"| {f.name} | {f.size / 2**30:,.2f} GiB | {f.ifds} | {_kib(f.ome_xml)} | {_kib(f.metadata_all)} "
                f"| {_kib(f.budget_all)} | {_kib(f.metadata)} | {_kib(f.budget)} |"
            )
    lines += [
        "",
        "| file | reader | requests | rounds | KiB | wall s | IFDs covered | OME-XML read | within budget (strict) "
        "| our ledger (req / rounds / KiB) | targets |",
        "|---|---|---:|---:|---:|---:|---:|---|---|---|---|",
    ]
    for row in rows:
        o = row.outcome
        covered = f"{o.ifds}/{row.file.ifds}"
        xml_ok = (
            "yes" if row.file.ome_xml and o.xml_bytes >= row.file.ome_xml - 1 else "no"
        )  # NUL kept or not
        status = f"crashed ({o.error})" if o.error else ""
        ledger = (
            f"{o.ledger['count']} / {o.ledger['rounds']} / {_kib(int(o.ledger['bytes']))}" if o.ledger else ""
        )
        within = f"{_yes(row.nbytes <= row.file.budget_all)} ({_yes(row.nbytes <= row.file.budget)})"
        lines.append(
            f"| {row.file.name} | {row.reader} {status}".rstrip()
            + f" | {row.requests} | {row.rounds} | {_kib(row.nbytes)} | {row.seconds:.2f} | {covered} | {xml_ok} "
            f"| {within} | {ledger} | {_targets(row)} |"
        )
    if isinstance(geotiff, str):
        lines += ["", f"geotiff.js rows not measured: {geotiff}."]
    else:
        lines += [
            "",
            f"geotiff.js {geotiff['geotiff']} with @vivjs/loaders {geotiff['@vivjs/loaders']} (tests/viv/node_modules) "
            f"in Node {geotiff['node']}, over Node's fetch in 64 KiB blocks (geotiff.js's BlockedSource); its wall "
            'times are taken inside Node (no Node start-up or module loading). "Viv loadOmeTiff" is what the '
            'viewer reads to open the file (IFD 0 and its OME-XML); "every IFD + SubIFDs" walks the IFD chain and '
            "reads each IFD's SubIFDs as soon as it is parsed.",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every response (0.05)")
    parser.add_argument(
        "--quick", action="store_true", help="smaller files (8192 px instead of 49152 x 65536)"
    )
    parser.add_argument("--tiny", action="store_true", help="1024 px files (the smoke test)")
    parser.add_argument("--rois", type=int, default=200, help="ROIs in the OME-XML, sets its size (200)")
    parser.add_argument("--no-demo", action="store_true", help="leave out the bundled demo file")
    parser.add_argument(
        "--geomx", action="store_true", help="add the GeoMx-like file (about 23 MB of OME-XML; slower)"
    )
    parser.add_argument(
        "--planes", action="store_true", help="add the many-plane file (3 channels x 180 z: 540 IFDs)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="Mbit/s per connection (the server throttles each response; 0: unthrottled); adds our reader with "
        "the OME-XML on one connection",
    )
    parser.add_argument("--only", default="", help="only the files whose name contains this")
    parser.add_argument("--no-geotiff", action="store_true", help="leave out the geotiff.js rows (Node)")
    args = parser.parse_args(argv)
    setup = "not run (--no-geotiff)" if args.no_geotiff else node_setup()
    geotiff = setup if isinstance(setup, str) else setup[1]

    with tempfile.TemporaryDirectory(prefix="bench_reader_") as tmp:
        files: dict[str, Path] = {}
        scale = "tiny" if args.tiny else "quick" if args.quick else "full"
        specs = file_specs(scale, args.rois) + ([geomx_spec(scale)] if args.geomx else [])
        specs += [planes_spec(scale)] if args.planes else []
        specs = [s for s in specs if args.only in s.name]
        for spec in specs:
            files[spec.name] = write_file(spec, Path(tmp) / spec.name)
        if not args.no_demo and DEMO.is_file() and args.only in DEMO.name:
            files["demo.ome.tif"] = DEMO
        facts = [file_facts(name, path) for name, path in files.items()]
        rows = []
        readers = READERS[:1] + ([ONE_CONNECTION] if args.rate > 0 else []) + READERS[1:]
        readers += [] if isinstance(setup, str) else geotiff_readers(setup[0])
        with FaultServer(files, latency=args.latency, rate=args.rate * 1e6 / 8) as server:
            for f in facts:
                for reader, run in readers:
                    rows.append(measure(server, f, reader, run))
    print(markdown(rows, args.latency, geotiff))
    if args.rate > 0:
        print(f"\nEvery response throttled to {args.rate:g} Mbit/s per connection.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
