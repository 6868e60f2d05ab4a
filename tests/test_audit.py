"""`audit`: many files into one table, against real loopback servers (good files, defects, 404s, HTML, hangs, resets).

The oracle of a row is the single-file report (``inspect(url).to_json()``, what ``--json`` prints), read back from
JSON and turned into the expected columns here, independently of ``audit/rows.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from faultserver import FaultServer
from gen_defects import Spec, write

from ometiff_helpers.audit.inputs import AuditItem, items_from_lines, read_list
from ometiff_helpers.audit.rows import COLUMNS, PER_FILE_REQUESTS, AuditSettings, audit_file
from ometiff_helpers.audit.run import _HostSlots, run_audit
from ometiff_helpers.audit.writers import CsvTable, read_table
from ometiff_helpers.demo import demo_path
from ometiff_helpers.errors import OmeTiffError
from ometiff_helpers.report import inspect

ROOT = Path(__file__).resolve().parents[1]
FAST = AuditSettings(timeout=3.0, concurrency=8, per_host=8)


@pytest.fixture(scope="module")
def defect_files(tmp_path_factory) -> dict[str, Path]:
    """Small OME-TIFFs written by tifffile: a SubIFD pyramid, one without physical sizes, one without a pyramid."""
    d = tmp_path_factory.mktemp("defects")
    return {
        "pyramid.ome.tif": write(d / "pyramid.ome.tif", Spec(size_x=256, size_y=192, levels=3)),
        "nophys.ome.tif": write(d / "nophys.ome.tif", Spec(physical=False, levels=2, size_x=128, size_y=96)),
        "flat.ome.tif": write(d / "flat.ome.tif", Spec(size_x=1200, size_y=900, tile=(256, 256))),
    }


@pytest.fixture
def portal(range_server, defect_files) -> FaultServer:
    files = {"demo.ome.tif": demo_path(), **defect_files}
    return range_server(files, cls=FaultServer)


def portal_urls(server: FaultServer) -> list[str]:
    return [
        server.url("demo.ome.tif"),
        server.url("pyramid.ome.tif"),
        server.url("nophys.ome.tif"),
        server.url("flat.ome.tif"),
        server.url("missing.ome.tif"),  # 404
        server.fault_url("html", "demo.ome.tif", token=None),  # a login page
        server.fault_url("ignore_range", "small/pyramid.ome.tif", token=None),  # whole file, Range ignored
    ]


def expected_row(url: str) -> tuple[dict, list[dict]]:
    """The audit columns of ``url`` derived from its single-file JSON report (or its error)."""
    try:
        data = json.loads(inspect(url).to_json())
    except OmeTiffError as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {' '.join(str(exc).split())}"}, []
    pixels = data["ome"].get("pixels") or {}
    level0 = data["levels"][0]
    physical = pixels.get("physical_size_x")
    findings = data["findings"]
    row = {
        "ok": True,
        "error": None,
        "verdict": data["verdict"],
        "n_errors": sum(f["severity"] == "error" for f in findings),
        "n_warnings": sum(f["severity"] == "warning" for f in findings),
        "codes": ";".join(dict.fromkeys(f["code"] for f in findings)) or None,
        "size": data["size"],
        "bigtiff": data["bigtiff"],
        "levels": len(data["levels"]),
        "size_x": pixels.get("size_x"),
        "size_y": pixels.get("size_y"),
        "size_z": pixels.get("size_z"),
        "size_c": pixels.get("size_c"),
        "size_t": pixels.get("size_t"),
        "pixel_type": pixels.get("type"),
        "channels": ";".join(data["ome"]["channels"]),
        "compression": level0["compression"],
        "tile": f"{level0['tile_width']}x{level0['tile_height']}",
        "physical_size_x": physical[0] if physical and physical[1] == "µm" else None,
        "xml_bytes": data["ome"]["xml_bytes"],
        "requests": data["requests"]["count"],
        "bytes": data["requests"]["bytes"],
        "fingerprint": data["fingerprint"],
    }
    return row, [{k: f[k] for k in ("code", "severity", "where", "message")} for f in findings]


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ometiff_helpers", "audit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


# --- rows ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_rows_equal_the_single_file_reports(portal, tmp_path, defect_files, suffix) -> None:
    urls = [*portal_urls(portal), str(defect_files["nophys.ome.tif"])]
    out, findings = tmp_path / f"audit{suffix}", tmp_path / f"findings{suffix}"
    stats = run_audit(items_from_lines(urls), out, findings=findings, settings=FAST)
    assert (stats.total, stats.done, stats.skipped) == (len(urls), len(urls), 0)
    rows = {r["url"]: r for r in read_table(out)}
    found = read_table(findings)
    assert set(rows) == set(urls)
    assert list(read_table(out)[0]) == list(COLUMNS)
    for url in urls:
        expected, expected_findings = expected_row(url)
        row = rows[url]
        assert {k: row[k] for k in expected} == expected, url
        got_findings = [
            {k: f[k] or "" for k in ("code", "severity", "where", "message")}
            for f in found
            if f["url"] == url
        ]
        assert got_findings == [{k: v or "" for k, v in f.items()} for f in expected_findings], url
        assert row["seconds"] is not None and row["seconds"] >= 0
    # the mix is what it claims to be
    assert rows[urls[0]]["verdict"] == "no problems found" and rows[urls[0]]["levels"] == 4
    assert rows[urls[2]]["physical_size_x"] is None and rows[urls[1]]["physical_size_x"] == 0.5
    assert rows[urls[4]]["error"].startswith("NotFound:")
    assert rows[urls[5]]["error"].startswith("NotATiff:")
    assert (
        rows[urls[6]]["ok"] is True
        and rows[urls[6]]["size"] == defect_files["pyramid.ome.tif"].stat().st_size
    )


def test_a_hanging_url_and_a_resetting_server_become_rows(portal, tmp_path) -> None:
    urls = [
        portal.fault_url("silent", "demo.ome.tif", token=None),  # never answers
        portal.fault_url("slow", "demo.ome.tif", token=None, every="1"),  # a byte a second
        portal.fault_url("reset", "demo.ome.tif", token=None),  # TCP reset on every request
        portal.url("demo.ome.tif"),
    ]
    t0 = time.monotonic()
    run_audit(items_from_lines(urls), tmp_path / "a.csv", settings=AuditSettings(timeout=2.0, concurrency=4))
    elapsed = time.monotonic() - t0
    rows = {r["url"]: r for r in read_table(tmp_path / "a.csv")}
    assert set(rows) == set(urls)
    assert rows[urls[0]]["error"].startswith("DeadlineExceeded:"), rows[urls[0]]["error"]
    assert rows[urls[1]]["error"].startswith("DeadlineExceeded:"), rows[urls[1]]["error"]
    # the resets end the retries, or (on a busy machine) use up the deadline first: then the error names them
    reset_error = rows[urls[2]]["error"]
    assert reset_error.split(":")[0] in ("ConnectionFailed", "ProtocolError") or (
        reset_error.startswith("DeadlineExceeded:") and "earlier attempt" in reset_error
    ), reset_error
    assert rows[urls[3]]["ok"] is True and rows[urls[3]]["verdict"] == "no problems found"
    assert elapsed < 60  # bounded by the per-file deadline, not by the 30 s hang


# --- resuming --------------------------------------------------------------------------------------------------


def _list_file(tmp_path: Path, server, n: int) -> Path:
    names = ["demo.ome.tif", "nophys.ome.tif", "pyramid.ome.tif", "missing.ome.tif"]
    lines = ["url,dataset"] + [f"{server.url(names[i % 4])}?copy={i},ds-{i}" for i in range(n)]
    path = tmp_path / "list.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_killed_run_resumes_with_every_url_exactly_once(
    range_server, defect_files, tmp_path, suffix
) -> None:
    server = range_server({"demo.ome.tif": demo_path(), **defect_files}, cls=FaultServer, latency=0.05)
    n = 40
    listing = _list_file(tmp_path, server, n)
    out, findings = tmp_path / f"out{suffix}", tmp_path / f"findings{suffix}"
    args = [
        str(listing),
        "--out",
        str(out),
        "--findings",
        str(findings),
        "--concurrency",
        "2",
        "--no-progress",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ometiff_helpers", "audit", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    journal = out.with_name(out.name + ".partial.jsonl") if suffix == ".parquet" else out
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if journal.exists() and journal.read_bytes().count(b"\n") >= 10:
                break
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed halfway"
    if suffix == ".csv":
        partial = read_table(out)  # readable after kill -9: whole lines only
        assert 9 <= len(partial) < n
        assert out.read_bytes().endswith(b"\n")
    else:
        assert not out.exists()  # never finalised, so never half-written
        assert 10 <= journal.read_bytes().count(b"\n") < n + 1
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    assert "already in" in done.stdout
    rows = read_table(out)
    assert Counter(r["url"] for r in rows) == Counter(
        f"{line.split(',')[0]}" for line in listing.read_text().split()[1:]
    )
    assert {r["dataset"] for r in rows} == {f"ds-{i}" for i in range(n)}
    assert not journal.exists() or suffix == ".csv"
    # findings: each file's, once (a file killed between its findings and its row was audited again, cleanly)
    per_url = Counter(f["url"] for f in read_table(findings))
    for row in rows:
        expected = 0 if not row["ok"] else len([c for c in (row["codes"] or "").split(";") if c])
        assert per_url[row["url"]] >= expected
    counts_by_file = {}
    for row in rows:
        name = row["url"].split("/")[-1].split("?")[0]
        counts_by_file.setdefault(name, set()).add(per_url[row["url"]])
    assert all(len(v) == 1 for v in counts_by_file.values()), counts_by_file


def test_a_partial_last_line_is_cut_when_the_table_is_reopened(tmp_path) -> None:
    path = tmp_path / "t.csv"
    table = CsvTable(path, COLUMNS)
    table.write([{"url": "http://h/a.tif", "ok": True}])
    table.close()
    with open(path, "ab") as fh:
        fh.write(b"http://h/b.tif,Tr")  # what a machine stop mid-write could leave
    table = CsvTable(path, COLUMNS)
    assert table.keys() == {"http://h/a.tif"}
    table.close()
    assert [r["url"] for r in read_table(path)] == ["http://h/a.tif"]


def test_an_existing_table_with_other_columns_is_refused(tmp_path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(OmeTiffError, match="other columns"):
        CsvTable(path, COLUMNS)
    assert path.read_text(encoding="utf-8") == "a,b\n1,2\n"


# --- secrets ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_token_appears_nowhere(range_server, tmp_path, suffix, canary) -> None:
    server = range_server({"demo.ome.tif": demo_path()}, cls=FaultServer, require_token=canary)
    base = server.url("demo.ome.tif")
    listing = tmp_path / "list.csv"
    listing.write_text(
        "url,token,owner\n"
        f"{base}?copy=1,{canary},lab-a\n"  # token column
        f"{base}?copy=2,,lab-b\n"  # OMETIFF_TOKEN
        f"{base}?copy=3&token={canary},,lab-c\n"  # in the URL
        f"{server.url('nothing.tif')},{canary},lab-d\n"  # 404 with a token
        f"{server.fault_url('html', 'demo.ome.tif', token=canary)},,lab-e\n",  # a login page echoing the query
        encoding="utf-8",
    )
    out, findings = tmp_path / f"out{suffix}", tmp_path / f"findings{suffix}"
    env = {**os.environ, "OMETIFF_TOKEN": canary}
    done = run_cli(str(listing), "--out", str(out), "--findings", str(findings), env=env)
    assert done.returncode == 0, done.stderr
    rows = read_table(out)
    assert [r["owner"] for r in rows if r["ok"]] and "token" not in rows[0]
    assert sum(r["ok"] for r in rows) == 3  # the token reached the server for each readable file
    assert {r["owner"] for r in rows} == {"lab-a", "lab-b", "lab-c", "lab-d", "lab-e"}
    for path in (out, findings):
        assert canary.encode() not in path.read_bytes()
        assert canary not in json.dumps(read_table(path), default=str)
    assert canary not in done.stdout + done.stderr
    assert "token=***" in json.dumps(rows)


# --- inputs and scheduling -------------------------------------------------------------------------------------


def test_a_csv_list_carries_its_columns_and_hides_its_tokens(tmp_path) -> None:
    listing = tmp_path / "portal.csv"
    listing.write_text(
        "dataset,URL,token,size\n"
        "d1,http://h/a.tif,secretvalue1,10\n"
        "d2,http://h/a.tif,secretvalue2,10\n"  # the same file twice: audited once
        "d3,/data/b.tif,,20\n"
        ",,,\n",
        encoding="utf-8",
    )
    items = read_list(listing, token="envtoken99")
    assert [i.key for i in items] == ["http://h/a.tif?token=***", "/data/b.tif"]
    assert items[0].extra == (("dataset", "d1"), ("list_size", "10"))
    assert items[1].token == "envtoken99" and items[0].token == "secretvalue1"
    assert "secretvalue1" not in repr(items[0])
    text = tmp_path / "urls.txt"
    text.write_text("# portal\nhttp://h/a.tif\n\n  http://h/c.tif  \n", encoding="utf-8")
    assert [i.key for i in read_list(text, token=None)] == ["http://h/a.tif", "http://h/c.tif"]


def test_one_file_of_an_audit_sends_a_few_requests_at_a_time(range_server, tmp_path) -> None:
    """A 60-IFD classic file, planes 2 MiB apart (one request per IFD): alone, the reader would send dozens at once; in an audit, where
    many files are in flight, one file has at most PER_FILE_REQUESTS requests open at the server at any time."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    try:
        from bench_files import FileSpec, write_file
    finally:
        sys.path.remove(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    spec = FileSpec("planes.ome.tif", "classic", 1024, 1024, 3, planes=20, byteorder="<")
    server = range_server({spec.name: write_file(spec, tmp_path / spec.name)})
    server.latency = 0.05  # requests overlap long enough to be seen overlapping
    run_audit(
        items_from_lines([server.url(spec.name)]), tmp_path / "a.csv", settings=AuditSettings(probes=False)
    )
    rows = read_table(tmp_path / "a.csv")
    assert len(rows) == 1 and rows[0]["ok"] is True, rows
    gets = [r for r in server.log if r.method == "GET"]
    assert len(gets) >= 60
    edges = sorted([(r.t_start, 1) for r in gets] + [(r.t_end, -1) for r in gets])
    open_now = most = 0
    for _, step in edges:
        open_now += step
        most = max(most, open_now)
    assert 2 <= most <= PER_FILE_REQUESTS, most


def test_per_origin_slots_round_robin_and_limit() -> None:
    items = [AuditItem(key=f"http://a/{i}", url=f"http://a:80/{i}") for i in range(4)]
    items += [AuditItem(key=f"http://b/{i}", url=f"http://b/{i}") for i in range(2)]
    slots = _HostSlots(items, per_host=2)
    taken = [slots.take() for _ in range(4)]
    assert [t.url for t in taken] == ["http://a:80/0", "http://b/0", "http://a:80/1", "http://b/1"]
    assert slots.take() is None  # origin a has 2 in flight, b has no more work
    slots.release(taken[0])
    assert slots.take().url == "http://a:80/2"


def test_the_command_reports_bad_options_in_one_line(tmp_path) -> None:
    done = run_cli(str(tmp_path / "absent.txt"), "--out", str(tmp_path / "o.csv"))
    assert done.returncode == 2 and "no list of URLs" in done.stderr and "Traceback" not in done.stderr
    (tmp_path / "l.txt").write_text("x.tif\n", encoding="utf-8")
    done = run_cli(str(tmp_path / "l.txt"), "--out", str(tmp_path / "o.xlsx"))
    assert done.returncode == 2 and "FILE.csv or FILE.parquet" in done.stderr


def test_one_file_never_raises(tmp_path) -> None:
    result = audit_file(str(tmp_path / "nothing.tif"), None, FAST)
    assert result.row["ok"] is False and result.row["verdict"] == "could not read the file"
    assert list(result.row) == list(COLUMNS)
    (tmp_path / "t.tif").write_bytes(b"II*\0" + b"\xff" * 100)
    result = audit_file(str(tmp_path / "t.tif"), None, FAST)
    assert result.row["ok"] is False and result.row["error"].split(":")[0] in ("CorruptTiff", "FormatError")


# --- Dask ------------------------------------------------------------------------------------------------------


def _comparable(path: Path) -> list[dict]:
    """The rows of a table without the wall-clock column, in a stable order."""
    return sorted(({k: v for k, v in r.items() if k != "seconds"} for r in read_table(path)), key=str)


def test_the_same_rows_through_a_local_dask_cluster_of_processes(
    portal, tmp_path, caplog, capfd, canary
) -> None:
    """Two worker processes, batches of 5: the rows and findings equal the threaded run's; no token anywhere; on
    CPython 3.11 each worker's statistical profiler is off (it deadlocked workers in long runs)."""
    distributed = pytest.importorskip("distributed")
    from ometiff_helpers.audit.dask import PROFILER_DEADLOCKS, DaskRunner, profiler_running

    urls = [f"{url}{'&' if '?' in url else '?'}n={i}" for i in range(4) for url in portal_urls(portal)]
    urls.append(f"{portal.url('demo.ome.tif')}?token={canary}")
    items = items_from_lines(urls)
    assert len(items) == 29
    run_audit(items, tmp_path / "local.csv", findings=tmp_path / "lf.csv", settings=FAST)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", death_timeout=120
        ) as cluster,
        distributed.Client(cluster, timeout=120) as client,
    ):
        client.wait_for_workers(2, timeout=120)
        assert all(client.run(profiler_running).values())  # the cluster's default: on
        runner = DaskRunner(cluster.scheduler_address, batch_size=5, timeout=120)
        stats = run_audit(
            items, tmp_path / "dask.csv", findings=tmp_path / "df.csv", settings=FAST, runner=runner
        )
        profiling = client.run(profiler_running)
    assert stats.done == len(urls) and runner.lost == 0
    assert len(profiling) == 2 and set(profiling.values()) == {not PROFILER_DEADLOCKS}
    assert runner.profilers_stopped == (2 if PROFILER_DEADLOCKS else 0)
    assert _comparable(tmp_path / "dask.csv") == _comparable(tmp_path / "local.csv")
    assert sorted(map(str, read_table(tmp_path / "df.csv"))) == sorted(
        map(str, read_table(tmp_path / "lf.csv"))
    )
    out, err = capfd.readouterr()
    assert canary not in caplog.text + out + err
    assert canary not in (tmp_path / "dask.csv").read_text(encoding="utf-8")
    assert "token=***" in (tmp_path / "dask.csv").read_text(encoding="utf-8")


def test_a_batch_stops_the_profiler_of_a_worker_that_joined_later(tmp_path) -> None:
    """A worker the run did not see at its start (a restarted one) stops its profiler with its first batch."""
    distributed = pytest.importorskip("distributed")
    from ometiff_helpers.audit.dask import PROFILER_DEADLOCKS, SealedBatch, audit_batch, profiler_running

    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert all(client.run(profiler_running).values())
        results = client.submit(audit_batch, SealedBatch([(str(tmp_path / "none.tif"), None)]), FAST).result()
        assert [row.row["ok"] for _, row in results] == [False]
        # the stop runs on the worker's event loop, soon after the task starts
        deadline = time.monotonic() + 60
        while any(client.run(profiler_running).values()) and time.monotonic() < deadline:
            if not PROFILER_DEADLOCKS:
                break
            time.sleep(0.1)
        assert set(client.run(profiler_running).values()) == {not PROFILER_DEADLOCKS}


def test_the_command_on_a_dask_cluster_says_it_turned_the_profilers_off(portal, tmp_path) -> None:
    """``audit --dask ADDRESS``: every row written, exit 0, and (Python 3.11) a note on stderr about the profiler."""
    distributed = pytest.importorskip("distributed")
    from ometiff_helpers.audit.dask import PROFILER_DEADLOCKS, profiler_running

    (tmp_path / "list.txt").write_text("\n".join(portal_urls(portal)) + "\n", encoding="utf-8")
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        done = run_cli(
            str(tmp_path / "list.txt"),
            "--out",
            str(tmp_path / "out.csv"),
            "--dask",
            cluster.scheduler_address,
            "--batch-size",
            "3",
            "--timeout",
            "10",
            "--no-progress",
        )
        profiling = set(client.run(profiler_running).values())
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(read_table(tmp_path / "out.csv")) == len(portal_urls(portal))
    assert profiling == {not PROFILER_DEADLOCKS}
    assert ("Turned off the statistical profiler of 1 Dask worker" in done.stderr) == PROFILER_DEADLOCKS


# --- summary ---------------------------------------------------------------------------------------------------


def test_summary_counts_and_a_shareable_inspect_command() -> None:
    from ometiff_helpers.audit.summary import code_counts, inspect_command, outcome_counts, without_secrets

    rows = [
        {"ok": False, "n_errors": 0, "n_warnings": 0, "codes": None},
        {"ok": True, "n_errors": 2, "n_warnings": 1, "codes": "PLANE_COUNT;CHANNELS"},
        {"ok": True, "n_errors": 0, "n_warnings": 1, "codes": "CHANNELS"},
        {"ok": True, "n_errors": 0, "n_warnings": 0, "codes": "AUTH"},
    ]
    assert outcome_counts(rows) == {
        "could not read": 1,
        "will not render": 1,
        "renders with warnings": 1,
        "no problems found": 1,
    }
    assert code_counts(rows) == {"CHANNELS": 2, "AUTH": 1, "PLANE_COUNT": 1}
    assert without_secrets("https://h/x.ome.tif?token=***&n=1") == "https://h/x.ome.tif?n=1"
    command = inspect_command("https://h/a b.ome.tif?X-Amz-Signature=***")
    assert command.startswith("OMETIFF_URL='https://h/a b.ome.tif' ") and "***" not in command


def test_the_sample_portal_has_each_outcome(tmp_path) -> None:
    from ometiff_helpers.audit.sample import serve_sample_portal
    from ometiff_helpers.audit.summary import outcome_counts

    server, urls = serve_sample_portal()
    try:
        run_audit(items_from_lines(urls), tmp_path / "s.csv", settings=FAST)
    finally:
        server.stop()
    counts = outcome_counts(read_table(tmp_path / "s.csv"))
    assert counts == {
        "could not read": 2,
        "will not render": 3,
        "renders with warnings": 1,
        "no problems found": 1,
    }
