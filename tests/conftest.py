"""Shared fixtures. Keep this file small and general; append new fixtures at the end."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from faultserver import FaultServer

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
CANARY_TOKEN = "CANARY5ecret"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The shared corpus of real TIFF / OME-TIFF / OME-XML files (read in place, never copied)."""
    if not CORPUS.is_dir():
        pytest.fail(f"corpus not found at {CORPUS}: the tests read it from ../shared/corpus next to the repo")
    return CORPUS


@pytest.fixture
def canary() -> str:
    """A secret token value that must never appear in any message, repr, traceback or log."""
    return CANARY_TOKEN


@pytest.fixture
def range_server() -> Iterator[Callable[..., FaultServer]]:
    """Factory: ``range_server(files, **kwargs)`` starts the test `FaultServer` (latency, token, TLS, modes and a
    request log are its keyword arguments; ``cls=`` a subclass) on loopback; every server started is stopped after
    the test."""
    started: list[FaultServer] = []

    def start(
        files: Mapping[str, Path | bytes] | None = None, *, cls: type[FaultServer] = FaultServer, **kwargs
    ) -> FaultServer:
        server = cls(files or {}, **kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
