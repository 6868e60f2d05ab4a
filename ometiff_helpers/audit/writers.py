"""Append-only, resumable tables: CSV written row by row, Parquet finalised from a JSON-lines journal.

A kill at any moment leaves a readable table: each batch of rows goes to the file in one ``write`` call of whole
lines (a partial last line, possible only if the machine itself stops, is cut off when the table is reopened) and is
fsynced at least every second. A Parquet table ``OUT.parquet`` is only ever replaced whole (``os.replace``); rows
go first to ``OUT.parquet.partial.jsonl`` and are folded in when the run ends, or when the next run starts.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ometiff_helpers.audit.rows import COLUMN_TYPES
from ometiff_helpers.errors import OmeTiffError

__all__ = ["CsvTable", "ParquetTable", "Table", "open_table", "read_table"]

_FSYNC_EVERY = 1.0  # seconds


class Table:
    """An output table: ``keys()`` already written, ``write(rows)`` appends, ``close()`` finalises."""

    path: Path
    columns: tuple[str, ...]

    def keys(self) -> set[str]:
        """The ``url`` values of the rows already in the table."""
        raise NotImplementedError

    def keep_only(self, keys: set[str]) -> None:
        """Drop the rows whose ``url`` is not in ``keys`` (findings of files whose row was never written)."""
        raise NotImplementedError

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        """Append ``rows`` (complete, in one write)."""
        raise NotImplementedError

    def close(self) -> None:
        """Flush, fsync and finalise."""
        raise NotImplementedError

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- append-only line files --------------------------------------------------------------------------------------


class _LineFile:
    """A file of complete lines, appended with one ``os.write`` per batch, fsynced at most every second."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._synced = time.monotonic()

    def repair(self) -> None:
        """Cut a partial last line (left by a machine stop mid-write) so that every line is whole."""
        if not self.path.exists():
            return
        with open(self.path, "r+b") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            if size == 0:
                return
            fh.seek(max(0, size - 1))
            if fh.read(1) == b"\n":
                return
            pos = size
            while pos > 0:
                step = min(65536, pos)
                fh.seek(pos - step)
                chunk = fh.read(step)
                at = chunk.rfind(b"\n")
                if at >= 0:
                    fh.truncate(pos - step + at + 1)
                    return
                pos -= step
            fh.truncate(0)

    def append(self, data: bytes) -> None:
        """Write ``data`` (whole lines) at the end of the file."""
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        now = time.monotonic()
        if now - self._synced >= _FSYNC_EVERY:
            os.fsync(self._fd)
            self._synced = now

    def close(self) -> None:
        """fsync and close."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None


def _replace_lines(path: Path, lines: Iterable[bytes]) -> None:
    """Rewrite ``path`` atomically (temporary file, fsync, rename)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        for line in lines:
            fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# --- CSV ---------------------------------------------------------------------------------------------------------


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return " ".join(str(value).split())  # one physical line per row


def _csv_line(values: Iterable[Any]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([_csv_cell(v) for v in values])
    return buf.getvalue().encode("utf-8")


class CsvTable(Table):
    """A CSV table appended row by row; reopening it resumes (same columns required)."""

    def __init__(self, path: str | Path, columns: Sequence[str]) -> None:
        self.path = Path(path)
        self.columns = tuple(columns)
        self._file = _LineFile(self.path)
        self._file.repair()
        self._keys: set[str] = set()
        if self.path.exists() and self.path.stat().st_size:
            self._load()
        else:
            self._file.append(_csv_line(self.columns))

    def _rows(self) -> Iterable[list[str]]:
        with open(self.path, encoding="utf-8", newline="") as fh:
            yield from csv.reader(fh)

    def _load(self) -> None:
        rows = iter(self._rows())
        header = tuple(next(rows, []))
        if header != self.columns:
            raise OmeTiffError(
                f"{self.path} already holds a table with other columns ({', '.join(header)[:200]}): "
                "give another output file, or the same list as the run that wrote it"
            )
        at = self.columns.index("url")
        self._keys = {row[at] for row in rows if len(row) > at}

    def keys(self) -> set[str]:
        return set(self._keys)

    def keep_only(self, keys: set[str]) -> None:
        if self._keys <= keys:
            return
        at = self.columns.index("url")
        kept = [_csv_line(self.columns)]
        rows = iter(self._rows())
        next(rows, None)
        kept += [_csv_line(row) for row in rows if len(row) > at and row[at] in keys]
        self._file.close()
        _replace_lines(self.path, kept)
        self._keys &= keys

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        self._file.append(b"".join(_csv_line(row.get(c) for c in self.columns) for row in rows))
        self._keys.update(str(row.get("url")) for row in rows)

    def close(self) -> None:
        self._file.close()


# --- Parquet -----------------------------------------------------------------------------------------------------


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise OmeTiffError(
            "writing Parquet needs pyarrow: pip install 'ometiff-inspect[audit]', or write a .csv"
        ) from None
    return pyarrow


def _schema(pa: Any, columns: Sequence[str]) -> Any:
    kinds = {str: pa.string(), bool: pa.bool_(), int: pa.int64(), float: pa.float64()}
    return pa.schema([(c, kinds[COLUMN_TYPES.get(c, str)]) for c in columns])


class ParquetTable(Table):
    """``OUT.parquet`` (replaced whole when finalised) plus an append-only journal of the rows written since."""

    def __init__(self, path: str | Path, columns: Sequence[str]) -> None:
        self._pa = _pyarrow()
        self.path = Path(path)
        self.columns = tuple(columns)
        self.journal = _LineFile(self.path.with_name(self.path.name + ".partial.jsonl"))
        self.journal.repair()
        self._keys = self._finalised_keys() | {str(r.get("url")) for r in self._journal_rows()}

    def _finalised_keys(self) -> set[str]:
        if not self.path.exists():
            return set()
        table = self._read_finalised()
        return {str(k) for k in table.column("url").to_pylist()}

    def _read_finalised(self) -> Any:
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(self.path)
        except (OSError, self._pa.ArrowException) as exc:
            raise OmeTiffError(f"{self.path} is not a readable Parquet table: {exc}") from None
        if tuple(table.column_names) != self.columns:
            raise OmeTiffError(
                f"{self.path} already holds a table with other columns: give another output file, "
                "or the same list as the run that wrote it"
            )
        return table

    def _journal_rows(self) -> list[dict[str, Any]]:
        if not self.journal.path.exists():
            return []
        with open(self.journal.path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def keys(self) -> set[str]:
        return set(self._keys)

    def keep_only(self, keys: set[str]) -> None:
        if self._keys <= keys:
            return
        self.journal.close()
        if self.journal.path.exists():
            kept = [r for r in self._journal_rows() if r.get("url") in keys]
            _replace_lines(self.journal.path, (_json_line(r) for r in kept))
        if self.path.exists():
            table = self._read_finalised()
            mask = self._pa.array([k in keys for k in table.column("url").to_pylist()], self._pa.bool_())
            self._write_parquet(table.filter(mask))
        self._keys &= keys

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        self.journal.append(b"".join(_json_line({c: row.get(c) for c in self.columns}) for row in rows))
        self._keys.update(str(row.get("url")) for row in rows)

    def _write_parquet(self, table: Any) -> None:
        import pyarrow.parquet as pq

        tmp = self.path.with_name(self.path.name + ".tmp")
        pq.write_table(table, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def close(self) -> None:
        """Fold the journal into ``OUT.parquet`` (journal rows win over finalised rows of the same file)."""
        self.journal.close()
        journal = self._journal_rows()
        if not journal and self.path.exists():
            return
        fresh = {r.get("url") for r in journal}
        schema = _schema(self._pa, self.columns)
        parts = []
        if self.path.exists():
            old = self._read_finalised()
            mask = self._pa.array([k not in fresh for k in old.column("url").to_pylist()], self._pa.bool_())
            parts.append(old.filter(mask).cast(schema))
        parts.append(self._pa.Table.from_pylist([_typed(r, self.columns) for r in journal], schema=schema))
        self._write_parquet(self._pa.concat_tables(parts))
        self.journal.path.unlink(missing_ok=True)


def _json_line(row: dict[str, Any]) -> bytes:
    return (json.dumps(row, ensure_ascii=False, allow_nan=False, default=str) + "\n").encode("utf-8")


def _typed(row: dict[str, Any], columns: Sequence[str]) -> dict[str, Any]:
    """Values of the declared types (carried-over columns are text)."""
    out = {}
    for c in columns:
        value = row.get(c)
        kind = COLUMN_TYPES.get(c, str)
        out[c] = None if value is None or (value == "" and kind is not str) else kind(value)
    return out


# --- choosing and reading ----------------------------------------------------------------------------------------


def open_table(path: str | Path, columns: Sequence[str]) -> Table:
    """A CSV or Parquet table by the file's extension (``.csv``, ``.parquet``/``.pq``)."""
    suffix = Path(path).suffix.lower()
    if suffix in (".parquet", ".pq"):
        return ParquetTable(path, columns)
    if suffix == ".csv":
        return CsvTable(path, columns)
    raise OmeTiffError(f"cannot tell the format of {path}: name the output FILE.csv or FILE.parquet")


def read_table(path: str | Path) -> list[dict[str, Any]]:
    """The rows of an audit table (CSV values typed back), for tests, notebooks and resumed runs."""
    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        _pyarrow()
        import pyarrow.parquet as pq

        return list(pq.read_table(path).to_pylist())
    with open(path, encoding="utf-8", newline="") as fh:
        return [{k: _cell_value(k, v) for k, v in row.items()} for row in csv.DictReader(fh)]


def _cell_value(column: str, text: str) -> Any:
    kind = COLUMN_TYPES.get(column, str)
    if kind is str:
        return text if text != "" or column not in COLUMN_TYPES else None
    if text == "":
        return None
    if kind is bool:
        return text == "True"
    return kind(text)
