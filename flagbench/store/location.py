"""Where the database is: ``--db``, then ``FLAGBENCH_DB``, then the user's data directory."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from flagbench.api.errors import FlagbenchError
from flagbench.api.limits import check_text
from flagbench.store.redaction import redact, safe_label, secrets_in

ENV_VAR = "FLAGBENCH_DB"
#: A libpq ``key=value`` connection string, which --db does not take (it would become a
#: SQLite file named after it, password and all).
_CONNINFO = re.compile(r"\s*(host|hostaddr|dbname|user|port|service)\s*=", re.IGNORECASE)
_SQLITE_MAGIC = b"SQLite format 3\x00"


def default_db_path() -> Path:
    """``flagbench.db`` in the platform's per-user data directory."""
    from platformdirs import user_data_path

    return user_data_path("flagbench", appauthor=False) / "flagbench.db"


@dataclass(frozen=True)
class DatabaseLocation:
    """A resolved database: its SQLAlchemy URL and, for SQLite files, the path."""

    url: str
    path: Path | None
    label: str
    """How to show it to users: never with a password."""


def resolve(db: str | None) -> DatabaseLocation:
    """Turn ``--db`` (a path or any SQLAlchemy URL), the environment or the default into a URL."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    # An empty --db or FLAGBENCH_DB is a variable that did not expand (--db "$DB"), not a
    # request for the default database: runs would land, unseen, somewhere else.
    if db is not None and not db.strip():
        raise FlagbenchError("--db is empty; give a path or URL, or leave it out for the "
                             "default database")
    env = os.environ.get(ENV_VAR)
    if db is None and env is not None and not env.strip():
        raise FlagbenchError(f"{ENV_VAR} is set but empty; give a path or URL, or unset it for "
                             "the default database")
    raw = db or env or ""
    if not raw:
        default = default_db_path()
        default.parent.mkdir(parents=True, exist_ok=True)
        return DatabaseLocation(f"sqlite:///{default}", default, str(default))
    try:
        check_text(raw, "database")
    except FlagbenchError as exc:
        raise FlagbenchError(redact(str(exc), secrets_in(raw))) from None
    if "://" not in raw:
        if secrets_in(raw) or _CONNINFO.match(raw):
            raise FlagbenchError(f"database {safe_label(raw)!r} looks like a libpq connection "
                                 "string; give a URL (postgresql+psycopg://USER@HOST/DB)")
        given = Path(raw).expanduser().absolute()
        return DatabaseLocation(f"sqlite:///{given}", given, str(given))
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):
        raise FlagbenchError(f"not a database path or SQLAlchemy URL: {safe_label(raw)!r}"
                             ) from None
    label = safe_label(raw)
    path: Path | None = None
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database).expanduser().absolute()
    return DatabaseLocation(url.render_as_string(hide_password=False), path, label)


def database_files(loc: DatabaseLocation) -> tuple[Path, ...]:
    """A SQLite database's file and the files SQLite keeps beside it (WAL, shared memory,
    rollback journal): what no output may ever replace. Empty for a server database."""
    if loc.path is None:
        return ()
    return (loc.path, *(loc.path.with_name(loc.path.name + s)
                        for s in ("-wal", "-shm", "-journal")))


def check_sqlite_file(loc: DatabaseLocation, create: bool) -> None:
    """Refuse, before touching anything, a SQLite path that cannot be or is not a database."""
    path = loc.path
    if path is None:
        return
    if path.is_dir():
        raise FlagbenchError(f"database path {path} is a directory")
    if not path.exists():
        if not create:
            raise FlagbenchError(f"no database at {path}; `flagbench run` creates one")
        parent = path.parent
        if not parent.is_dir():
            raise FlagbenchError(f"directory {parent} for the database does not exist")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise FlagbenchError(f"directory {parent} for the database is not writable")
        return
    if not stat.S_ISREG(path.stat().st_mode):
        # A FIFO would block the read below for ever; /dev/null would swallow every run.
        raise FlagbenchError(f"database path {path} is not a regular file")
    if not os.access(path, os.R_OK) or (create and not os.access(path, os.W_OK)):
        raise FlagbenchError(f"database {path} is not {'writable' if create else 'readable'}")
    with open(path, "rb") as f:
        head = f.read(len(_SQLITE_MAGIC))
    if head and head != _SQLITE_MAGIC:
        raise FlagbenchError(f"{path} is not a SQLite database")
