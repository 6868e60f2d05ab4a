"""Working copies of the notebooks for a session (``./dev.sh demo`` / ``./dev.sh app``): nothing tracked changes.

Copies ``notebooks/*.ipynb`` into a git-ignored folder (``workspace/`` by default, or the one given), without their
jupytext pairing (``metadata.jupytext.formats``) and with a ``jupytext.toml`` there that pairs nothing: saving a
working copy writes only that copy, never a ``.py`` and never ``notebooks/``. A copy newer than its source (the
user's own changes) is kept. Standard library only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = '# Working copies of notebooks/*.ipynb (see tools/make_workspace.py): no jupytext pairing here.\nformats = "ipynb"\n'


def make_workspace(folder: Path) -> list[Path]:
    """Copy the notebooks into ``folder`` (unpaired) and return the copies."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "jupytext.toml").write_text(CONFIG, encoding="utf-8")
    copies = []
    for source in sorted((REPO / "notebooks").glob("*.ipynb")):
        copy = folder / source.name
        if not copy.exists() or copy.stat().st_mtime < source.stat().st_mtime:
            nb = json.loads(source.read_text(encoding="utf-8"))
            nb.get("metadata", {}).get("jupytext", {}).pop("formats", None)
            copy.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        copies.append(copy)
    return copies


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "workspace"
    for path in make_workspace(target):
        print(path)
