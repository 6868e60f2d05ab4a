"""A small sample portal on 127.0.0.1 for the audit notebook and its tests: the bundled demo and defects made from it.

The defects are byte patches of the demo (same length, so every offset stays right): no physical pixel size, a
SizeC that does not match the planes, a pixel type that does not match the TIFF, a truncated copy; plus an HTML
login page and a URL that does not exist. The same bytes every time, so the audit's table is too.
"""

from __future__ import annotations

from ometiff_helpers.demo import DEMO_NAME, demo_path, serve_demo
from ometiff_helpers.demo.server import RangeServer

__all__ = ["sample_files", "serve_sample_portal"]

_LOGIN = (
    b"<!DOCTYPE html><html><head><title>Sign in</title></head>"
    b"<body><form action='/login'>Please sign in</form></body></html>"
)


def sample_files() -> dict[str, bytes]:
    """Name -> bytes of the sample portal's files (the demo first)."""
    demo = demo_path().read_bytes()
    no_physical = demo.replace(
        b'PhysicalSizeX="0.325" PhysicalSizeXUnit="\xc2\xb5m" PhysicalSizeY="0.325"\n            PhysicalSizeYUnit',
        b'PhysicalSizeQ="0.325" PhysicalSizeQUnit="\xc2\xb5m" PhysicalSizeR="0.325"\n            PhysicalSizeRUnit',
        1,
    )
    return {
        DEMO_NAME: demo,
        "no-physical-size.ome.tif": no_physical,
        "five-channels-declared.ome.tif": demo.replace(b'SizeC="4"', b'SizeC="5"', 1),
        "uint32-declared.ome.tif": demo.replace(b'Type="uint16"', b'Type="uint32"', 1),
        "truncated.ome.tif": demo[:30000],
        "login-page.ome.tif": _LOGIN,
    }


def serve_sample_portal() -> tuple[RangeServer, list[str]]:
    """A started loopback server with the sample files, and the URLs to audit (one of them missing: a 404)."""
    server = serve_demo()
    for name, data in sample_files().items():
        server.set_file(name, data)
    names = [*sample_files(), "missing.ome.tif"]
    return server, [server.url(name) for name in names]
