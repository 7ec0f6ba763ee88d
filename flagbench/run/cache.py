"""flagbench's on-disk cache (ONNX exports, trained weights): where it lives, written safely."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

CACHE_ENV = "FLAGBENCH_CACHE"


def cache_dir(kind: str) -> Path:
    """``$FLAGBENCH_CACHE/<kind>`` or ``<kind>`` under the platform's per-user cache directory,
    created on first use."""
    from platformdirs import user_cache_path

    root = os.environ.get(CACHE_ENV)
    base = Path(root) if root else user_cache_path("flagbench", appauthor=False)
    path = base / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_atomic(target: Path, write: Callable[[str], None]) -> None:
    """Let ``write`` fill a temporary file beside ``target``, then rename it into place:
    concurrent writers at worst do the work twice, and no reader sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-",
                               suffix=target.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
