"""``audit --dask ADDRESS``: the same per-file function on an existing Dask distributed cluster.

URLs go to the workers in batches (one task each, audited there by the threaded runner with the same settings); the
results come back to this process as tasks finish and go to the one writer. Only a bounded window of tasks is in
flight, so a list of millions never sits in the scheduler at once. Tokens travel inside `SealedBatch`, whose
``repr``/``str`` (what Dask shows in its logs and dashboard) name only the number of files; task keys hold none.
Dask is an optional extra (``pip install 'ometiff-inspect[dask]'``); the workers need this package installed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ometiff_helpers.audit.inputs import AuditItem
from ometiff_helpers.audit.rows import AuditSettings, FileResult, display_url
from ometiff_helpers.audit.run import batched, run_local
from ometiff_helpers.errors import OmeTiffError

__all__ = ["DaskRunner", "SealedBatch", "audit_batch"]


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


def audit_batch(batch: SealedBatch, settings: AuditSettings) -> list[tuple[int, FileResult]]:
    """On a worker: audit a batch with the threaded runner; (position in the batch, result) per file."""
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
        except (OSError, TimeoutError) as exc:
            raise OmeTiffError(
                f"cannot reach the Dask scheduler at {self.address}: {type(exc).__name__}",
                hint="Start the cluster first and give its scheduler address (tcp://host:8786).",
            ) from None
        run = uuid.uuid4().hex[:8]
        try:
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
