"""SHA-256 of an OME-XML without loading OpenSSL when the text is small.

``import hashlib`` loads OpenSSL's libcrypto: about 2.5 ms of every start of the command line, while the interpreter's
own SHA-256 (the module hashlib falls back to) hashes a small description in microseconds. It is slower on large
inputs (about 370 MB/s here against OpenSSL's 2 GB/s), so past ``SMALL`` bytes hashlib takes over. The digest is the
same either way.
"""

from __future__ import annotations

import sys
from typing import Any

_builtin_sha256: Any
try:  # the interpreter's own SHA-256: _sha256 up to Python 3.11, _sha2 from 3.12
    if sys.version_info < (3, 12):
        from _sha256 import sha256 as _builtin_sha256
    else:  # pragma: no cover - depends on the Python version
        from _sha2 import sha256 as _builtin_sha256
except ImportError:  # pragma: no cover - a build without it: hashlib for every input
    _builtin_sha256 = None

#: up to this many bytes the built-in SHA-256 is used (hashing 1 MiB with it costs about what loading OpenSSL does)
SMALL = 1 << 20


def _openssl_sha256() -> Any:
    """A new hashlib (OpenSSL) SHA-256, hashlib imported on first use."""
    import hashlib

    return hashlib.sha256()


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` as 64 hex digits."""
    hasher = Sha256()
    hasher.update(data)
    return hasher.hexdigest()


class Sha256:
    """An incremental SHA-256: the built-in one while at most ``SMALL`` bytes came, hashlib's once more come (the bytes
    hashed so far, kept until then, are hashed again)."""

    def __init__(self) -> None:
        """An empty hash."""
        self._small: Any = _builtin_sha256() if _builtin_sha256 is not None else None
        self._big: Any = None if self._small is not None else _openssl_sha256()
        self._kept: list[bytes] = []  # the bytes given while small (at most SMALL bytes)
        self._count = 0

    def update(self, data: bytes) -> None:
        """Add ``data`` to the hash."""
        if self._big is not None:
            self._big.update(data)
            return
        self._count += len(data)
        if self._count <= SMALL:
            self._small.update(data)
            self._kept.append(bytes(data))
            return
        self._big = _openssl_sha256()
        for kept in self._kept:
            self._big.update(kept)
        self._big.update(data)
        self._kept, self._small = [], None

    def hexdigest(self) -> str:
        """The digest of the bytes so far, as 64 hex digits."""
        return str((self._big if self._big is not None else self._small).hexdigest())
