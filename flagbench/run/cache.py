"""flagbench's on-disk cache (ONNX exports, trained weights, FLOP counts): where it lives,
written safely, and checked before it is used.

A cached file is trusted only when its content matches the SHA-256 recorded beside it
(``<name>.sha256``) when it was written: a truncated copy, a disk error or a hand edit is
noticed and the file rebuilt, instead of failing every later run. This guards against
accidents, not against someone who can write to the cache (they could write the digest too,
and the user's own files besides).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

CACHE_ENV = "FLAGBENCH_CACHE"
_CHUNK = 1 << 20


def cache_dir(kind: str) -> Path:
    """``$FLAGBENCH_CACHE/<kind>`` or ``<kind>`` under the platform's per-user cache directory,
    created on first use."""
    from platformdirs import user_cache_path

    root = os.environ.get(CACHE_ENV)
    base = Path(root) if root else user_cache_path("flagbench", appauthor=False)
    path = base / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def digest_file(target: Path) -> Path:
    """Where ``target``'s recorded SHA-256 is kept."""
    return target.with_name(target.name + ".sha256")


def _sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _replace_with(target: Path, write: Callable[[str], None]) -> str:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-",
                               suffix=target.suffix)
    os.close(fd)
    try:
        write(tmp)
        digest = _sha256(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return digest


def write_atomic(target: Path, write: Callable[[str], None]) -> None:
    """Let ``write`` fill a temporary file beside ``target``, then rename it into place and
    record its digest: concurrent writers at worst do the work twice, and no reader sees half
    a file (one that reads between the two renames takes the file for stale and rebuilds)."""
    digest = _replace_with(target, write)

    def record(tmp: str) -> None:
        Path(tmp).write_text(digest + "\n", encoding="ascii")

    _replace_with(digest_file(target), record)


def verified(target: Path) -> bool:
    """True when ``target`` exists and matches its recorded digest; False for a file that is
    missing, corrupt, or has no digest (written by hand, or by a flagbench before digests)."""
    try:
        recorded = digest_file(target).read_text(encoding="ascii").strip()
        return recorded == _sha256(target)
    except (OSError, ValueError):
        return False
