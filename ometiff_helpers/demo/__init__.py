"""The bundled demo OME-TIFF and a loopback range server for it, so that the notebooks run with no set-up.

The demo (``data/demo.ome.tif``, written by ``tools/make_demo.py``) is a small pyramidal, multi-channel big-endian
BigTIFF with physical sizes, an instrument, annotations and ROIs: everything the notebooks show.
"""

from __future__ import annotations

import atexit
import threading
from pathlib import Path

from ometiff_helpers.demo.server import RangeServer

__all__ = ["DEMO_NAME", "demo_path", "demo_url", "serve_demo"]

#: the name under which the demo is served (the last path segment of `demo_url()`)
DEMO_NAME = "demo.ome.tif"

_lock = threading.Lock()
_shared: RangeServer | None = None


def demo_path() -> Path:
    """Where the bundled demo file is (inside the installed package)."""
    return Path(__file__).resolve().parents[1] / "data" / DEMO_NAME


def serve_demo() -> RangeServer:
    """A started loopback `RangeServer` serving the demo as ``demo.ome.tif``; it is stopped at interpreter exit.

    Call ``.stop()`` to stop it earlier. (Token checks and latency are test matters: see ``tests/faultserver.py``.)
    """
    server = RangeServer({DEMO_NAME: demo_path()}).start()
    atexit.register(server.stop)
    return server


def demo_url() -> str:
    """The URL of the demo on a shared loopback server (started on first use, without token check).

    The URL holds the port (it changes from one process to the next) but no secret.
    """
    global _shared
    with _lock:
        if _shared is None:
            _shared = serve_demo()
        return _shared.url(DEMO_NAME)
