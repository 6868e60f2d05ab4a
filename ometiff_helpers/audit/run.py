"""Run an audit: bounded concurrency with a per-origin limit, rows streamed to resumable tables.

`run_audit` reads nothing itself: it skips the files already in ``--out``, feeds the rest to a runner (threads here,
or `ometiff_helpers.audit.dask` on a cluster), and writes each file's findings and then its row as soon as the file is
done. A file's row is written only after its findings, so a run killed between the two leaves findings without a
row; the next run drops those (``Table.keep_only``) before auditing the file again.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ometiff_helpers.audit.inputs import AuditItem
from ometiff_helpers.audit.rows import COLUMNS, FINDING_COLUMNS, AuditSettings, FileResult, audit_file
from ometiff_helpers.audit.writers import Table, open_table
from ometiff_helpers.urls import redact_text

__all__ = ["AuditStats", "run_audit", "run_local"]

#: a runner takes the items to audit and calls ``sink(item, result)`` once per item it completes
Runner = Callable[[Sequence[AuditItem], AuditSettings, Callable[[AuditItem, FileResult], None]], None]


@dataclass
class AuditStats:
    """Running counts of one audit, passed to the progress callback after each file."""

    total: int = 0  # files in the list
    skipped: int = 0  # already in the output (resumed run)
    done: int = 0  # audited by this run
    unreadable: int = 0  # rows with ok=False
    will_not_render: int = 0  # readable, with at least one error-level finding
    started: float = 0.0

    @property
    def todo(self) -> int:
        """Files this run had to audit."""
        return self.total - self.skipped

    @property
    def rate(self) -> float:
        """Files per second so far."""
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0


class _HostSlots:
    """Pending items per origin, handed out round-robin while the origin has fewer than ``per_host`` in flight."""

    def __init__(self, items: Iterable[AuditItem], per_host: int) -> None:
        self.per_host = max(1, per_host)
        self._queues: OrderedDict[str, deque[AuditItem]] = OrderedDict()
        for item in items:
            self._queues.setdefault(item.host, deque()).append(item)
        self._busy: Counter[str] = Counter()

    def take(self) -> AuditItem | None:
        """The next item whose origin has room, or None (all done, or every origin with work is full)."""
        for host in list(self._queues):
            if self._busy[host] < self.per_host:
                queue = self._queues[host]
                item = queue.popleft()
                if queue:
                    self._queues.move_to_end(host)
                else:
                    del self._queues[host]
                self._busy[host] += 1
                return item
        return None

    def release(self, item: AuditItem) -> None:
        """``item`` is done: its origin has one more free slot."""
        self._busy[item.host] -= 1


def run_local(
    items: Sequence[AuditItem],
    settings: AuditSettings,
    sink: Callable[[AuditItem, FileResult], None],
) -> None:
    """Audit ``items`` with ``settings.concurrency`` threads, at most ``settings.per_host`` per origin."""
    slots = _HostSlots(items, settings.per_host)
    concurrency = max(1, settings.concurrency)
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="audit")
    inflight: dict[Future[FileResult], AuditItem] = {}
    finished = False
    try:
        while True:
            while len(inflight) < concurrency and (item := slots.take()) is not None:
                inflight[pool.submit(audit_file, item.url, item.token, settings)] = item
            if not inflight:
                finished = True
                return
            done, _ = wait(inflight, return_when=FIRST_COMPLETED)
            for fut in done:
                item = inflight.pop(fut)
                slots.release(item)
                sink(item, fut.result())
    finally:
        # interrupted: queued files are dropped, the ones in flight end by their own deadline, unwritten
        pool.shutdown(wait=finished, cancel_futures=True)


def _output_row(item: AuditItem, result: FileResult, extra_columns: Sequence[str]) -> dict[str, Any]:
    row = dict(result.row)
    row["url"] = item.key
    carried = dict(item.extra)
    for name in extra_columns:
        row[name] = carried.get(name, "")
    return {k: redact_text(v) if isinstance(v, str) else v for k, v in row.items()}


def _finding_rows(item: AuditItem, result: FileResult) -> list[dict[str, Any]]:
    return [{**f, "url": item.key} for f in result.findings]


def extra_columns(items: Sequence[AuditItem]) -> list[str]:
    """The carried-over columns, in list order."""
    return list(dict.fromkeys(name for item in items for name, _ in item.extra))


def run_audit(
    items: Sequence[AuditItem],
    out: str | Path,
    *,
    findings: str | Path | None = None,
    settings: AuditSettings | None = None,
    runner: Runner | None = None,
    on_progress: Callable[[AuditStats], None] | None = None,
) -> AuditStats:
    """Audit every item not yet in ``out``; append its row to ``out`` and its findings to ``findings``."""
    settings = settings or AuditSettings()
    runner = runner or run_local
    carried = extra_columns(items)
    stats = AuditStats(total=len(items), started=time.monotonic())
    with _Tables(out, [*COLUMNS, *carried], findings) as (table, finding_table):
        done = table.keys()
        if finding_table is not None:
            finding_table.keep_only(done)
        todo = [item for item in items if item.key not in done]
        stats.skipped = len(items) - len(todo)

        def sink(item: AuditItem, result: FileResult) -> None:
            if finding_table is not None:
                finding_table.write(_finding_rows(item, result))
            row = _output_row(item, result, carried)
            table.write([row])
            stats.done += 1
            if not row["ok"]:
                stats.unreadable += 1
            elif row["n_errors"]:
                stats.will_not_render += 1
            if on_progress is not None:
                on_progress(stats)

        if on_progress is not None:
            on_progress(stats)
        runner(todo, settings, sink)
    return stats


class _Tables:
    """Open the output table and the optional findings table; close (finalise) both, even on interrupt."""

    def __init__(self, out: str | Path, columns: Sequence[str], findings: str | Path | None) -> None:
        self._args = (out, columns, findings)
        self._opened: list[Table] = []

    def __enter__(self) -> tuple[Table, Table | None]:
        out, columns, findings = self._args
        table = open_table(out, columns)
        self._opened.append(table)
        finding_table = None
        if findings is not None:
            try:
                finding_table = open_table(findings, FINDING_COLUMNS)
            except BaseException:
                table.close()
                raise
            self._opened.append(finding_table)
        return table, finding_table

    def __exit__(self, *exc: object) -> None:
        for table in reversed(self._opened):
            table.close()


def batched(items: Sequence[AuditItem], size: int) -> Iterator[list[AuditItem]]:
    """``items`` in lists of at most ``size``."""
    it = iter(items)
    while batch := list(itertools.islice(it, max(1, size))):
        yield batch
