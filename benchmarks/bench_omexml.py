"""OME-XML parsing benchmark: time and peak memory of ometiff_helpers.ome.parser against ElementTree and ome-types.

Inputs: a generated 25 MB OME-XML with 20 000 polygon ROIs (tests/gen_omexml.py) and the corpus' largest real XML.
Each (method, file) runs in a fresh subprocess: time is the best of ``--repeat`` runs; peak memory is the rise of
the process' resident set (VmHWM after resetting it, Linux) over the baseline with the XML bytes already loaded.

    .venv/bin/python benchmarks/bench_omexml.py            # prints a Markdown table
    .venv/bin/python benchmarks/bench_omexml.py --json
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

METHODS = ("omexml", "omexml-stream-1MiB", "etree.fromstring", "ome-types")


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _run_once(method: str, data: bytes, path: Path) -> object:
    if method == "omexml":
        from ometiff_helpers.ome.parser import parse_ome_xml

        return parse_ome_xml(data)
    if method == "omexml-stream-1MiB":
        from ometiff_helpers.ome.parser import OmeXmlParser

        p = OmeXmlParser(total=len(data))
        step = 1 << 20
        for i in range(0, len(data), step):
            p.feed(data[i : i + step])
        return p.close()
    if method == "etree.fromstring":
        import xml.etree.ElementTree as ET

        return ET.fromstring(data)
    if method == "ome-types":
        import warnings

        import ome_types

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ome_types.from_xml(data.decode("utf-8"), validate=False)
    raise ValueError(method)


def worker(method: str, path: Path, repeat: int) -> dict[str, float]:
    data = path.read_bytes()
    _run_once(method, data[:0] or b"<OME/>", path) if method != "ome-types" else None  # warm imports
    times = []
    peak_kib = 0
    for _ in range(repeat):
        gc.collect()
        base = _rss_kib("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        t0 = time.perf_counter()
        result = _run_once(method, data, path)
        times.append(time.perf_counter() - t0)
        peak_kib = max(peak_kib, _rss_kib("VmHWM") - base)
        del result
    return {"seconds": min(times), "peak_mib": peak_kib / 1024, "xml_mib": len(data) / 2**20}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--worker", nargs=2, metavar=("METHOD", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], Path(args.worker[1]), args.repeat)))
        return

    from gen_omexml import Spec, generate

    tmp = Path(tempfile.mkdtemp(prefix="bench-omexml-"))
    generated = tmp / "generated-20000-polygons.ome.xml"
    generated.write_bytes(generate(Spec(rois=20_000, target_bytes=25 * 1024 * 1024)))
    xmls = [p for p in CORPUS.rglob("*") if p.suffix in (".xml", ".ome")]
    real = max(xmls, key=lambda p: p.stat().st_size)  # 2015-01: ome-types cannot read it without lxml
    real_2016 = max(
        (p for p in xmls if b"OME/2016-06" in p.read_bytes()[:4000]), key=lambda p: p.stat().st_size
    )
    rows = []
    for path in (generated, real, real_2016):
        for method in METHODS:
            repeat = 1 if method == "ome-types" and path == generated else args.repeat
            out = subprocess.run(
                [sys.executable, __file__, "--repeat", str(repeat), "--worker", method, str(path)],
                capture_output=True,
                text=True,
                timeout=1800,
            )
            if out.returncode != 0:
                rows.append(
                    {"file": path.name, "method": method, "error": out.stderr.strip().splitlines()[-1]}
                )
                continue
            res = json.loads(out.stdout)
            rows.append(
                {"file": path.name, "method": method, **res, "peak_x_xml": res["peak_mib"] / res["xml_mib"]}
            )
    generated.unlink()
    tmp.rmdir()
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print("| file | MiB | method | best time (s) | peak RSS rise (MiB) | peak / XML size |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['file']} | | {r['method']} | error: {r['error']} | | |")
            continue
        print(
            f"| {r['file']} | {r['xml_mib']:.1f} | {r['method']} | {r['seconds']:.3f} | {r['peak_mib']:.1f} "
            f"| {r['peak_x_xml']:.2f} |"
        )


if __name__ == "__main__":
    main()
