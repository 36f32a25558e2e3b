"""Manifests of indexes saved on disk: a small JSON file saying what an index was built from.

An index folder is reused only when its manifest equals the one the current corpus and settings
would produce; the manifest is written last and atomically, so an interrupted save never looks
valid. Not here: the index files themselves (``bm25``, ``dense``).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest at ``path``, or ``None`` when it is absent or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        logger.warning("ignoring unreadable index manifest %s: %s", path, e)
        return None
    return data if isinstance(data, dict) else None


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest`` to ``path`` atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def remove_manifest(path: Path) -> None:
    """Invalidate an index before rewriting its files."""
    path.unlink(missing_ok=True)


__all__ = ["FORMAT_VERSION", "read_manifest", "remove_manifest", "write_manifest"]
