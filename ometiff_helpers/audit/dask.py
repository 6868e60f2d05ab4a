"""``audit --dask ADDRESS``: the same per-file function on an existing Dask distributed cluster.

URLs go to the workers in batches (one task each, audited there by the threaded runner with the same settings); the
results come back to this process as tasks finish and go to the one writer. Only a bounded window of tasks is in
flight, so a list of millions never sits in the scheduler at once. Tokens travel inside `SealedBatch`, whose
``repr``/``str`` (what Dask shows in its logs and dashboard) name only the number of files; task keys hold none.
Dask is an optional extra (``pip install 'ometiff-inspect[dask]'``); the workers need this package installed.

On a worker running CPython before 3.12, the audit turns off distributed's statistical profiler (the periodic
callbacks ``profile`` and ``profile-cycle``). Every 10 ms while a task runs, the profiler calls
``sys._current_frames()`` on the worker's event loop. In CPython 3.11 that call holds the interpreter's thread-list
lock while it allocates, so a garbage collection can run in it. That collection runs finalisers (urllib3's pool
finaliser closes sockets and so releases the GIL); if another thread then takes the GIL and starts or ends a thread
(the reader starts one per request for its deadline), the two wait for each other forever. An audit starts and ends
threads all the time, and at 10,000 URLs worker processes hung until Dask restarted them (python/cpython#106883,
dask/distributed#8616; distributed turns off its event-loop profiler on 3.11 for the same reason, but not the
workers' task profiler). The runner stops the profilers of the workers it finds at its start, and a batch stops
that of a worker that joined later; ``distributed.worker.profile.enabled: false`` in the cluster's configuration
also covers a restarted worker's first moments.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ometiff_helpers.audit.inputs import AuditItem
from ometiff_helpers.audit.rows import AuditSettings, FileResult, display_url
from ometiff_helpers.audit.run import batched, run_local
from ometiff_helpers.errors import OmeTiffError

__all__ = [
    "PROFILER_DEADLOCKS",
    "DaskRunner",
    "SealedBatch",
    "audit_batch",
    "profiler_running",
    "stop_worker_profiler",
]

#: this interpreter can deadlock in ``sys._current_frames()`` (CPython before 3.12): see the module docstring
PROFILER_DEADLOCKS = sys.version_info < (3, 12)

#: the worker's periodic callbacks that call ``sys._current_frames()``
_PROFILER_CALLBACKS = ("profile", "profile-cycle")


class SealedBatch:
    """URLs and tokens for one task; shown as "SealedBatch(N files)" wherever Dask prints its arguments."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Iterable[tuple[str, str | None]]) -> None:
        self._entries = tuple(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> list[AuditItem]:
        """The batch as items (the key is computed again here: it also teaches this process the secrets)."""
        return [AuditItem(key=display_url(url, token), url=url, token=token) for url, token in self._entries]

    def __getstate__(self) -> tuple[tuple[str, str | None], ...]:
        return self._entries

    def __setstate__(self, state: tuple[tuple[str, str | None], ...]) -> None:
        self._entries = tuple(state)

    def __repr__(self) -> str:
        return f"SealedBatch({len(self._entries)} files)"

    __str__ = __repr__


def profiler_running(dask_worker: Any) -> bool:
    """Whether a worker's statistical profiler is on (``client.run(profiler_running)`` asks every worker)."""
    callbacks = getattr(dask_worker, "periodic_callbacks", {})
    return any(callbacks[name].is_running() for name in _PROFILER_CALLBACKS if name in callbacks)


def stop_worker_profiler(dask_worker: Any) -> bool:
    """On a worker's event loop, when its interpreter can deadlock there: stop its profiler; True if it ran."""
    if not PROFILER_DEADLOCKS or not profiler_running(dask_worker):
        return False
    for name in _PROFILER_CALLBACKS:
        callback = dask_worker.periodic_callbacks.get(name)
        if callback is not None:
            callback.stop()
    return True


def _quiet_this_worker() -> None:
    """In a task: have the worker running it stop its profiler (a worker that joined after the run started)."""
    if not PROFILER_DEADLOCKS:
        return
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not in a Dask task
        return
    if profiler_running(worker):
        worker.loop.add_callback(stop_worker_profiler, worker)  # periodic callbacks belong to the event loop


def audit_batch(batch: SealedBatch, settings: AuditSettings) -> list[tuple[int, FileResult]]:
    """On a worker: audit a batch with the threaded runner; (position in the batch, result) per file."""
    _quiet_this_worker()
    items = batch.items()
    position = {id(item): i for i, item in enumerate(items)}
    out: list[tuple[int, FileResult]] = []
    run_local(items, settings, lambda item, result: out.append((position[id(item)], result)))
    return out


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise OmeTiffError(
            "--dask needs Dask distributed: pip install 'ometiff-inspect[dask]' (and this package on every worker)"
        ) from None
    return distributed


class DaskRunner:
    """A runner for `run_audit` that sends batches of ``batch_size`` files to the cluster at ``address``."""

    def __init__(self, address: str, *, batch_size: int = 64, timeout: float = 30.0) -> None:
        self.address = address
        self.batch_size = max(1, batch_size)
        self.timeout = timeout
        self.lost = 0  # files of tasks that failed on the cluster (not written: a rerun audits them)
        self.failures: list[str] = []
        self.profilers_stopped = 0  # workers whose profiler this run stopped (see the module docstring)

    def __call__(
        self,
        items: Sequence[AuditItem],
        settings: AuditSettings,
        sink: Callable[[AuditItem, FileResult], None],
    ) -> None:
        """Submit the batches (a window of twice the cluster's threads), hand each result to ``sink``."""
        distributed = _distributed()
        try:
            client = distributed.Client(self.address, set_as_default=False, timeout=self.timeout)
        except (OSError, TimeoutError, ValueError) as exc:  # ValueError: an address Dask cannot use
            raise OmeTiffError(
                f"cannot reach the Dask scheduler at {self.address}: {type(exc).__name__}",
                hint="Start the cluster first and give its scheduler address (tcp://host:8786).",
            ) from None
        run = uuid.uuid4().hex[:8]
        try:
            # a worker that cannot answer now stops its profiler with its first batch
            stopped = client.run(stop_worker_profiler, on_error="return")
            self.profilers_stopped = sum(value is True for value in stopped.values())
            window = 2 * max(1, sum(client.nthreads().values()))
            batches = enumerate(batched(items, self.batch_size))
            pending: dict[str, list[AuditItem]] = {}

            def submit_next() -> Any:
                nxt = next(batches, None)
                if nxt is None:
                    return None
                i, batch = nxt
                sealed = SealedBatch((item.url, item.token) for item in batch)
                fut = client.submit(audit_batch, sealed, settings, key=f"ometiff-audit-{run}-{i}", pure=False)
                pending[fut.key] = batch
                return fut

            first = [fut for fut in (submit_next() for _ in range(window)) if fut is not None]
            if not first:
                return
            completed = distributed.as_completed(first, loop=client.loop)
            for fut in completed:
                batch = pending.pop(fut.key)
                try:
                    results = fut.result()
                except Exception as exc:  # a worker died or the task failed: its files stay to be audited
                    self.lost += len(batch)
                    self.failures.append(f"{type(exc).__name__} in task {fut.key}")
                else:
                    for i, result in results:
                        sink(batch[i], result)
                finally:
                    fut.release()
                nxt = submit_next()
                if nxt is not None:
                    completed.add(nxt)
        finally:
            client.close()
