"""Runs that could not be written to the database wait here, as JSON files, to be written later.

A fleet host keeps measuring while the shared database is down; nothing it measured is lost.
Each file holds one run record with its uid, so replaying it twice stores it once. The file
names the database it was meant for by its label (never with the password).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from flagbench.api.errors import FlagbenchError
from flagbench.api.files import read_regular
from flagbench.api.limits import check_text
from flagbench.store.record import RunRecord, json_dumps
from flagbench.store.record_check import checked_record

ENV_VAR = "FLAGBENCH_SPOOL"


def spool_dir() -> Path:
    """``$FLAGBENCH_SPOOL``, else ``spool/`` in the platform's per-user data directory."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_path

    return user_data_path("flagbench", appauthor=False) / "spool"


@dataclass(frozen=True)
class SpoolEntry:
    """One spooled run, or a file in the spool that cannot be read (``record`` None)."""

    path: Path
    record: RunRecord | None
    target: str
    error: str
    spooled_at: str
    quarantined: bool = False
    """Failed the check and moved to ``quarantine/`` (``path`` is where it is now)."""


def file_name(record: RunRecord) -> str:
    """The name a record's spool file has: its uid, so a record spooled twice is one file."""
    return f"{record.uid}.json"


def body_text(record: RunRecord, target: str, error: str) -> str:
    """A spool file's content: the record, the database it was meant for and why it is here.
    What the CLI prints when not even the spool can take a run: saved as a file of the
    spool under ``file_name(record)``, it is replayed like any other."""
    return json_dumps({"target": target, "error": error,
                       "spooled_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       "record": record.to_dict()})


def put(record: RunRecord, target: str, error: str) -> Path:
    """Keep a record that could not be written to ``target``; the file's path.

    Written to a temporary file and renamed, so a crash never leaves half a spool file, and
    a write that fails (a full disk) leaves no temporary file behind.
    """
    folder = spool_dir()
    folder.mkdir(parents=True, exist_ok=True)
    text = body_text(record, target, error)
    final = folder / file_name(record)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return final


#: A spooled run holds at most a million timings, tens of MB of JSON; far more is not ours.
MAX_SPOOL_FILE = 1 << 29


QUARANTINE = "quarantine"
"""The spool's folder for files that fail the check, each with a ``.reason`` file beside it."""


def _quarantine(path: Path, reason: str) -> Path:
    """Move a spool file that failed the check out of the spool, never deleting it, with
    the reason in ``NAME.reason`` beside it; the path it has now."""
    folder = path.parent / QUARANTINE
    folder.mkdir(exist_ok=True)
    target, n = folder / path.name, 1
    while target.exists() or target.is_symlink():  # an earlier file of that name stays
        target, n = folder / f"{path.stem}.{n}{path.suffix}", n + 1
    os.replace(path, target)
    target.with_name(target.name + ".reason").write_text(reason + "\n", encoding="utf-8")
    return target


def _read(path: Path) -> SpoolEntry:
    """One spool file, every field of its record checked (``record_check``)."""
    # Never a blocking read: a FIFO planted in the spool is refused, not waited on.
    body = json.loads(read_regular(path, "spool file", MAX_SPOOL_FILE).decode())
    if not isinstance(body, dict):
        raise FlagbenchError("not a JSON object")
    fields = []
    for key in ("target", "error", "spooled_at"):
        value = body.get(key)
        if not isinstance(value, str):
            raise FlagbenchError(f"{key}: must be text")
        try:
            fields.append(check_text(value, key))
        except FlagbenchError:  # never quoted: an old file's target may hold a password
            raise FlagbenchError(f"{key}: not text the store can hold") from None
    target, error, spooled_at = fields
    return SpoolEntry(path, checked_record(body.get("record")), target, error, spooled_at)


def entries() -> list[SpoolEntry]:
    """Every spooled run, oldest first. A file that fails the check is moved to the spool's
    ``quarantine/`` folder with its reason and listed so (``record`` None, ``quarantined``)."""
    folder = spool_dir()
    if not folder.is_dir():
        return []
    out = []
    for path in folder.glob("*.json"):
        try:
            out.append(_read(path))
        except FileNotFoundError:
            continue  # replayed meanwhile by another flagbench
        except (OSError, ValueError, KeyError, TypeError, RecursionError,
                FlagbenchError) as exc:
            reason = f"unreadable spool file: {' '.join(str(exc).split())[:500]}"
            try:
                moved = _quarantine(path, reason)
            except OSError as why:  # a read-only spool: listed, kept, never replayed
                out.append(SpoolEntry(path, None, "?", f"{reason} (not quarantined: {why})",
                                      ""))
                continue
            out.append(SpoolEntry(moved, None, "?", f"quarantined in {moved}: {reason}", "",
                                  quarantined=True))
    return sorted(out, key=lambda e: (e.spooled_at, e.path.name))
