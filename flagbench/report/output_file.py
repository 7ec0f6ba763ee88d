"""Writing a report or export to ``--out``: the one guard every command that writes a file
goes through. It never replaces the results database (or its WAL, shared-memory or journal
file), a directory or a special file, nor, without ``force``, a file flagbench did not write;
and it writes atomically, so an interrupted write never leaves half a file."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

from flagbench.api.errors import FlagbenchError

#: How flagbench's outputs begin (or, for HTML, what their head holds): the report's
#: generator tag, the JSON export's format key, the two CSV exports' header rows.
SIGNATURES = (b'<meta name="generator" content="flagbench ', b'"format": "flagbench-export-',
              b"id,uid,started_at,finished_at,host,vendor,",
              b"run_id,host,vendor,case,scenario,batch_size,precision,idx,latency_s")
#: How much of an existing file is read to recognise it.
_HEAD_BYTES = 4096


#: ``--out -``: standard output, as for most tools (a file named ``-`` is ``--out ./-``).
STDOUT = "-"


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.resolve() == b.resolve():
            return True
        return os.path.samefile(a, b)  # a hard link is the same file under another name
    except (OSError, RuntimeError):  # not there, or a link loop (stat says so below)
        return a.absolute() == b.absolute()


def _is_flagbench_output(path: Path) -> bool:
    # Opened without blocking: the caller has checked it is a regular file, but it may have
    # been swapped for a FIFO since.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return False
    with os.fdopen(fd, "rb") as f:
        head = f.read(_HEAD_BYTES)
    return not head or any(sig in head for sig in SIGNATURES)


def check_output(out: str, protected: Sequence[Path], force: bool) -> Path:
    """The path ``out`` names, if a report or export may be written there; else a one-line
    FlagbenchError. ``protected`` are the results database's files. Not for ``STDOUT``,
    which the command writes itself."""
    if out == STDOUT:
        raise ValueError("--out - is standard output, not a file")
    path = Path(out).expanduser()
    if any(_same_file(path, p) for p in protected):
        raise FlagbenchError(f"--out {path} is the results database (or one of its files); "
                             "choose another path")
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise FlagbenchError(f"--out {path}: {exc.strerror}") from None
    if mode is not None:
        if stat.S_ISDIR(mode):
            raise FlagbenchError(f"--out {path} is a directory")
        if not stat.S_ISREG(mode):
            raise FlagbenchError(f"--out {path} is not a regular file (a device, FIFO or "
                                 "socket)")
        try:
            ours = _is_flagbench_output(path)
        except OSError as exc:
            raise FlagbenchError(f"--out {path}: {exc.strerror}") from None
        if not ours and not force:
            raise FlagbenchError(f"--out {path} exists and is not a flagbench report or "
                                 "export; add --force to replace it")
    if not path.parent.is_dir():
        raise FlagbenchError(f"directory {path.parent} for --out does not exist")
    return path


def write_output(text: str, out: str, protected: Sequence[Path] = (), force: bool = False
                 ) -> Path:
    """Write ``text`` to ``out`` atomically, after ``check_output``; the path written."""
    path = check_output(out, protected, force)
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".flagbench-out-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        # mkstemp creates the file private (0600); a report is for sharing: honour the umask.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise FlagbenchError(f"cannot write {path}: {exc.strerror}") from None
    return path
