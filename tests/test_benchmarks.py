"""The reader benchmark runs end to end, its generated files are what they claim, its counts come from the server.

No timing is asserted: only counts that follow from the readers' logic and the files' structure.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest
import tifffile

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch):
    """The benchmark's modules (a folder of scripts, not a package)."""
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_files
    import bench_reader

    return bench_files, bench_reader


def _table(stdout: str) -> dict[tuple[str, str], list[str]]:
    """Rows of the results table keyed by (file, reader); cells stripped."""
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 11 and cells[0].endswith(".tif"):
            rows[cells[0], cells[1]] = cells
    return rows


def test_bench_reader_script_prints_its_table(bench) -> None:
    _, bench_reader = bench
    setup = bench_reader.node_setup()  # geotiff.js rows when node and tests/viv/node_modules are there
    readers = 4 if isinstance(setup, str) else 6
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench_reader.py"), "--tiny", "--latency", "0"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = _table(proc.stdout)
    files = {"scattered-36ifd.ome.tif", "tail-36ifd.ome.tif", "classic-15page.ome.tif", "demo.ome.tif"}
    assert {f for f, _ in rows} == files
    assert len(rows) == readers * len(files)

    # the seed notebook: 2 (HEAD, header) + IFD 0 (count, entries, SubIFDs array, next) + Software + OME-XML
    # + 8 SubIFDs x 3 + 3 chain IFDs x 4 = 44 requests, counted by the server; it covers 12 of the 36 IFDs
    seed = rows["scattered-36ifd.ome.tif", "seed notebook"]
    assert seed[2] == "44"
    assert seed[6] == "12/36"
    assert seed[7] == "yes"
    # on a classic TIFF it dies on the first ASCII tag, as the notebook did (HEAD, header, count, entries)
    crashed = rows["classic-15page.ome.tif", "seed notebook crashed (struct.error)"]
    assert crashed[2] == "4"

    for name, total in (
        ("scattered-36ifd.ome.tif", 36),
        ("tail-36ifd.ome.tif", 36),
        ("classic-15page.ome.tif", 15),
    ):
        ours = rows[name, "ometiff_helpers read_tiff"]
        assert ours[6] == f"{total}/{total}"
        assert ours[7] == "yes"
        count, _rounds, _kib = (c.strip() for c in ours[9].split("/"))
        assert count == ours[2]  # our ledger and the server agree on the number of requests
        for reader in ("tifffile+fsspec (default 5 MiB blocks)", "tifffile+fsspec (64 KiB blocks)"):
            assert rows[name, reader][6] == f"{total}/{total}"

    if isinstance(setup, str):
        assert f"geotiff.js rows not measured: {setup}." in proc.stdout
        return
    # geotiff.js in Node, counted by the same server: Viv opens the file with IFD 0 and its OME-XML alone; the
    # structure run parses every IFD (the chain and each one's SubIFDs), the demo file's 16 too
    assert f"geotiff.js {setup[1]['geotiff']} with @vivjs/loaders" in proc.stdout
    for name, total in (
        ("scattered-36ifd.ome.tif", 36),
        ("tail-36ifd.ome.tif", 36),
        ("classic-15page.ome.tif", 15),
        ("demo.ome.tif", 16),
    ):
        viv = rows[name, "geotiff.js: Viv loadOmeTiff"]
        assert viv[6] == f"1/{total}"
        assert viv[7] == "yes"
        whole = rows[name, "geotiff.js: every IFD + SubIFDs"]
        assert whole[6] == f"{total}/{total}"
        assert whole[7] == "yes"
        assert int(whole[2]) >= int(viv[2]) >= 1  # requests the server saw
    # the chain is walked one IFD after the other: a classic 15-page file whose IFDs are 64 KiB blocks apart needs
    # one request per IFD, each after the previous one
    classic = rows["classic-15page.ome.tif", "geotiff.js: every IFD + SubIFDs"]
    assert classic[2] == classic[3] == "15"


def test_scattered_layout_is_tifffiles(tmp_path: Path, bench) -> None:
    """Same order of IFDs and pixel data as tifffile writes a 4-channel, 8-SubIFD pyramid."""
    bench_files, _ = bench

    def order(path: Path) -> list[tuple[str, int]]:
        """(kind, channel) of every IFD and every image's first tile, in file order."""
        items = []
        with tifffile.TiffFile(path) as tif:
            for c, page in enumerate(tif.pages):
                for p in (page, *page.pages):
                    items += [(p.offset, "ifd", c), (p.dataoffsets[0], "data", c)]
        return [(kind, c) for _, kind, c in sorted(items)]

    ours = bench_files.write_file(
        bench_files.FileSpec("s.ome.tif", "scattered", 2048, 2048, channels=4, levels=8),
        tmp_path / "s.ome.tif",
    )
    theirs = tmp_path / "t.ome.tif"
    with tifffile.TiffWriter(theirs, bigtiff=True, byteorder=">") as w:
        for _channel in range(4):
            w.write(shape=(2048, 2048), dtype="uint16", tile=(512, 512), subifds=8, metadata=None)
            for lvl in range(1, 9):
                w.write(
                    shape=(2048 >> lvl,) * 2, dtype="uint16", tile=(512, 512), subfiletype=1, metadata=None
                )
    assert order(ours) == order(theirs)
    assert order(ours)[:2] == [("ifd", 0), ("data", 0)]


def test_tail_layout_has_all_metadata_after_the_pixels(tmp_path: Path, bench) -> None:
    bench_files, bench_reader = bench
    spec = bench_files.FileSpec("t.ome.tif", "tail", 4096, 4096, channels=4, levels=8)
    path = bench_files.write_file(spec, tmp_path / "t.ome.tif")
    with tifffile.TiffFile(path) as tif:
        pages = [p for top in tif.pages for p in (top, *top.pages)]
        last_data = max(p.dataoffsets[-1] + p.databytecounts[-1] for p in pages)
        first_ifd = min(p.offset for p in pages)
        assert len(pages) == 36
        assert tif.is_ome and tif.is_bigtiff and tif.byteorder == ">"
        assert len(tif.series[0].levels) == 9
        assert tif.pages[0].description.startswith("<?xml")
        arrays = sum(t.valuebytecount for p in pages for t in p.tags.values() if t.code in (324, 325))
    header_first = struct.unpack(">Q", path.read_bytes()[8:16])[0]
    assert first_ifd >= last_data  # every IFD after every pixel
    assert header_first == tif.pages[0].offset  # IFD 0 (with the OME-XML) heads the chain at the tail
    # the tail is exactly IFDs + values: metadata bytes + offset arrays, up to even/16-byte alignment padding
    facts = bench_reader.file_facts(path.name, path)
    tail = path.stat().st_size - first_ifd
    assert 0 <= tail - (facts.metadata + arrays) < 16 * 36
    assert facts.budget == 2 * facts.metadata + 64 * 1024


def test_classic_file_has_the_tags_the_seed_cannot_read(tmp_path: Path, bench) -> None:
    bench_files, _ = bench
    spec = bench_files.FileSpec("c.ome.tif", "classic", 256, 256, 3, planes=5, byteorder="<")
    path = bench_files.write_file(spec, tmp_path / "c.ome.tif")
    with tifffile.TiffFile(path) as tif:
        assert not tif.is_bigtiff
        assert len(tif.pages) == 15
        tags = tif.pages[0].tags
        assert tags[270].dtype == 2 and tags[282].dtype == 5  # ASCII and RATIONAL
        assert tif.series[0].axes == "CZYX" and tif.series[0].shape == (
            3,
            5,
            256,
            256,
        )  # the OME-XML's TiffData


def test_geomx_like_file_has_the_slides_metadata(bench) -> None:
    """BigTIFF, big-endian, 49152 x 65536 x 4 channels, 8 SubIFD levels, about 23 MB of OME-XML, 20,000 ROIs."""
    bench_files, bench_reader = bench
    spec = bench_reader.geomx_spec("full")
    assert (spec.layout, spec.byteorder, spec.width, spec.height, spec.channels, spec.levels) == (
        "scattered",
        ">",
        49152,
        65536,
        4,
        8,
    )
    xml = bench_files.ome_xml(spec)
    assert 21_000_000 < len(xml) < 25_000_000
    assert xml.count(b"<ROI ") == 20_000
    assert xml.count(b"<MapAnnotation ") + xml.count(b"<XMLAnnotation ") == 4_000
    # Pixels and its Channels come first (then the Image's ROIRefs), the annotations and ROIs after them
    assert xml.index(b"</Pixels>") < 64 * 1024
    assert xml.index(b"</Image>") < xml.index(b"<StructuredAnnotations>") < xml.index(b"<ROI ")


def _rows(stdout: str, columns: int) -> dict[str, list[str]]:
    """Markdown table rows with ``columns`` cells, keyed by their first cell."""
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if (
            line.startswith("|")
            and len(cells) == columns
            and not cells[0].startswith(("---", "reader", "command"))
        ):
            rows[cells[0]] = cells
    return rows


def test_bench_inspect_script_prints_its_table() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench_inspect.py"), "--tiny", "--latency", "0"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = _rows(proc.stdout, 12)
    cli = "CLI process (--no-pixels)"
    assert set(rows) == {"ometiff_helpers inspect", "seed notebook", "tifffile+fsspec", cli}
    assert rows[cli][1] == rows["ometiff_helpers inspect"][1]  # the command line sends the inspect's requests
    assert rows["ometiff_helpers inspect"][4] == "36/36"
    assert rows["ometiff_helpers inspect"][5] == "yes"
    assert rows["tifffile+fsspec"][4] == "36/36"
    assert rows["seed notebook"][1] == "44"  # the seed's 44 sequential requests, counted by the server
    assert rows["seed notebook"][4] == "12/36"
    assert all(float(r[8].split()[0]) >= 0 for r in rows.values())  # a peak memory was measured in every run
    ours = rows["ometiff_helpers inspect"]
    assert (
        0 <= float(ours[6].split()[0]) <= float(ours[7])
    )  # its first answer (summary stage) came before the end
    assert ours[6].endswith("% of the XML in)")  # and how much of the XML had arrived then
    assert rows["seed notebook"][6].startswith("= ")  # the others answer only at the end
    assert float(ours[10]) > 0 and float(ours[11]) > 0  # Python's allocations traced in a run of their own


def test_bench_startup_script_prints_its_table() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench_startup.py"), "--runs", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = _rows(proc.stdout, 5)
    assert len(rows) == 6
    assert rows["`python -m tifffile --maxplots 0 FILE`"][3] == "1.00"
    assert rows["`python -c 'import ometiff_helpers.report'`"][4].startswith("none of")
    assert "requests" in rows["`python -m ometiff_helpers --demo`"][4]


def test_bench_startup_can_leave_the_url_inspect_out() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench_startup.py"), "--runs", "1", "--without-demo"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = _rows(proc.stdout, 5)
    assert len(rows) == 5 and "`python -m ometiff_helpers --demo`" not in rows
    assert "numpy" in rows["`python -m ometiff_helpers FILE`"][4]


def test_bench_startup_times_another_checkout_in_the_same_rotation() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH / "bench_startup.py"),
            "--runs",
            "1",
            "--without-demo",
            "--before",
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = _rows(proc.stdout, 5)
    assert len(rows) == 7
    assert "numpy" in rows["`before: python -m ometiff_helpers FILE`"][4]
    assert rows["`before: python -m ometiff_helpers FILE --no-pixels`"][4].startswith("none of")
