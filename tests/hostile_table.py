"""Running a table of hostile inputs through the CLI: each row one command, its expected
one-line error, and the results database checked unchanged after it (issue 16)."""

from __future__ import annotations

import contextlib
import hashlib
import signal
import sqlite3
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from flagbench.store import Store
from seeding import ok_run

#: A row that takes longer than this is hanging (a FIFO read, a link loop), not slow.
ROW_LIMIT_S = 20


@dataclass(frozen=True)
class Row:
    """One hostile input: the CLI's arguments (and environment), and the text its one-line
    error must hold."""

    args: Sequence[str]
    error: str
    env: dict[str, str] = field(default_factory=dict)


def seed(db: Path) -> Path:
    """A SQLite results database holding two runs (ids 1 and 2)."""
    store = Store.open(str(db))
    store.save(ok_run("cpu", "fp32", 0.010, case="tiny-mlp"))
    store.save(ok_run("cpu", "fp32", 0.011, case="tiny-mlp", seed=1))
    store.close()
    return db


def checksum(db: Path) -> tuple[str, tuple[int, ...]]:
    """The database file's SHA-256 and its tables' row counts."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        tables = [r[0] for r in conn.execute(
            "select name from sqlite_master where type='table' order by name")]
        counts = tuple(conn.execute(f'select count(*) from "{t}"').fetchone()[0]
                       for t in tables)
    return hashlib.sha256(db.read_bytes()).hexdigest(), counts


@contextlib.contextmanager
def deadline(what: str) -> Iterator[None]:
    """Fail, instead of hanging the suite, when a row blocks."""
    def hung(*_: object) -> None:
        raise AssertionError(f"hung for {ROW_LIMIT_S} s: {what}")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(ROW_LIMIT_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def refused(flagbench: Callable[..., subprocess.CompletedProcess[str]], rows: Sequence[Row],
            db: Path, secret: str | None = None) -> int:
    """Run every row; each must exit 2 with one ``error:`` line holding its text, show no
    traceback (nor ``secret``), and leave ``db`` as it was. The number of rows run."""
    before = checksum(db)
    for row in rows:
        with deadline(" ".join(map(ascii, row.args))):
            out = flagbench(*row.args, env=row.env or None)
        lines = out.stderr.strip().splitlines()
        where = (list(row.args), out.stdout[-500:], out.stderr[-1500:])
        assert out.returncode == 2, where
        assert len(lines) == 1 and lines[0].startswith("error: "), where
        assert row.error in lines[0], (row.error, where)
        if secret is not None:
            assert secret not in out.stdout + out.stderr, where
        assert checksum(db) == before, where
    return len(rows)
