"""``digest``: the SHA-256 of an OME-XML, by the built-in hash while small, by OpenSSL's past ``SMALL`` bytes."""

from __future__ import annotations

import hashlib
import os

import pytest

from ometiff_helpers import digest
from ometiff_helpers.digest import SMALL, Sha256, sha256_hex


@pytest.mark.parametrize("size", [0, 1, 4096, SMALL - 1, SMALL, SMALL + 1, 3 * SMALL + 7])
def test_the_digest_is_hashlibs_whole_or_in_pieces(size: int) -> None:
    data = os.urandom(size)
    expected = hashlib.sha256(data).hexdigest()
    assert sha256_hex(data) == expected
    for piece in (1000, 65536, SMALL // 3 + 1):
        hasher = Sha256()
        for start in range(0, size, piece):
            hasher.update(memoryview(data)[start : start + piece])  # the views are copied while kept
        assert hasher.hexdigest() == expected


def test_openssl_takes_over_past_small_and_the_kept_bytes_are_released() -> None:
    hasher = Sha256()
    hasher.update(b"x" * SMALL)
    assert hasher._big is None and sum(map(len, hasher._kept)) == SMALL
    hasher.update(b"y")
    assert hasher._big is not None and hasher._kept == [] and hasher._small is None
    assert hasher.hexdigest() == hashlib.sha256(b"x" * SMALL + b"y").hexdigest()


def test_without_a_built_in_hash_hashlib_does_it_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(digest, "_builtin_sha256", None)
    hasher = Sha256()
    hasher.update(b"abc")
    assert hasher._big is not None
    assert hasher.hexdigest() == hashlib.sha256(b"abc").hexdigest()
