"""Files named by the user (a suite, weights, images, a database): regular files only. A
FIFO would block the read for ever and a device (/dev/zero) would never end, so both are
refused before anything is read; opening never blocks."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from flagbench.api.errors import FlagbenchError


def is_regular(path: str | Path) -> bool:
    """Whether ``path`` is (or links to) a regular file; never blocks, never raises."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def read_regular(path: str | Path, what: str, max_bytes: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``max_bytes`` of them; a one-line
    FlagbenchError for a special file or a bigger one. FileNotFoundError passes through."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise FlagbenchError(f"{what} {path} is not a regular file")
    with os.fdopen(fd, "rb") as f:
        if info.st_size > max_bytes:
            raise FlagbenchError(f"{what} {path} is {info.st_size} bytes; at most "
                                 f"{max_bytes} are read")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FlagbenchError(f"{what} {path} is over {max_bytes} bytes")
    return data
