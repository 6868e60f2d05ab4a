"""Local byte sources (a file, bytes in memory) that plan the same requests an HTTP read would make."""

from __future__ import annotations

import time
from pathlib import Path

from ometiff_helpers.errors import AccessDenied, ConnectionFailed, NotFound, OmeTiffError, ProtocolError
from ometiff_helpers.io.base import ByteSource, Consumer, HttpOptions, Range
from ometiff_helpers.io.ledger import RequestRecord

__all__ = ["BytesSource", "FileSource"]


class BytesSource(ByteSource):
    """An in-memory file; the ledger counts the requests an HTTP source would make."""

    kind = "bytes"

    def __init__(self, data: bytes, name: str = "bytes", *, options: HttpOptions | None = None) -> None:
        super().__init__(options)
        self._data = bytes(data)
        self._name = name

    @property
    def display_name(self) -> str:
        """The name to show."""
        return self._name

    def _open_first(self, first_read: int) -> bytes:
        """Learn the size; read the first bytes."""
        self._size = len(self._data)
        self._content_type = None
        return self._get((0, min(first_read, self._size)), None)

    def _get(self, span: Range, consumer: Consumer | None) -> bytes:
        """Read one span (to the consumer, in chunks, when given)."""
        t0 = time.monotonic()
        data = self._data[span[0] : span[1]]
        self.ledger.add(RequestRecord(span[0], span[1], len(data), 206, t0, time.monotonic(), 1, self.kind))
        if consumer is not None:
            for pos in range(0, len(data), self.options.consumer_chunk):
                consumer(data[pos : pos + self.options.consumer_chunk])
            return b""
        return data


class FileSource(ByteSource):
    """A local file; the ledger counts the requests an HTTP source would make. Each read opens the file briefly,
    so no handle stays open between reads."""

    kind = "file"

    def __init__(self, path: str | Path, *, options: HttpOptions | None = None) -> None:
        super().__init__(options)
        self.path = Path(path)

    @property
    def display_name(self) -> str:
        """The name to show."""
        return str(self.path)

    def _open_first(self, first_read: int) -> bytes:
        """Learn the size; read the first bytes."""
        failure: OmeTiffError | None = None
        try:
            if self.path.is_dir():
                raise IsADirectoryError
            self._size = self.path.stat().st_size
        except FileNotFoundError:
            failure = NotFound(f"no file at {self.path}: check the path", url=str(self.path))
        except IsADirectoryError:
            failure = NotFound(f"{self.path} is a directory, not a file: check the path", url=str(self.path))
        except OSError as exc:
            failure = ConnectionFailed(f"cannot open {self.path}: {exc.strerror}", url=str(self.path))
        if failure is not None:
            raise failure
        return self._get((0, min(first_read, self.size)), None)

    def _get(self, span: Range, consumer: Consumer | None) -> bytes:
        """Read one span (to the consumer, in chunks, when given)."""
        t0 = time.monotonic()
        start, end = span
        step = self.options.consumer_chunk if consumer is not None else end - start
        total = 0
        parts: list[bytes] = []
        failure: OmeTiffError | None = None
        try:
            with self.path.open("rb") as fh:
                fh.seek(start)
                while total < end - start:
                    piece = fh.read(min(step, end - start - total))
                    if not piece:
                        break
                    total += len(piece)
                    if consumer is not None:
                        consumer(piece)
                    else:
                        parts.append(piece)
        except PermissionError:
            failure = AccessDenied(f"no permission to read {self.path}", url=str(self.path))
        except FileNotFoundError:
            failure = NotFound(f"{self.path} disappeared while reading: check the path", url=str(self.path))
        self.ledger.add(RequestRecord(start, end, total, 206, t0, time.monotonic(), 1, self.kind))
        if failure is None and total < end - start:
            failure = ProtocolError(
                f"{self.path} shrank while reading: got {total} of {end - start} bytes at offset {start}",
                url=str(self.path),
            )
        if failure is not None:
            raise failure
        return b"" if consumer is not None else b"".join(parts)
